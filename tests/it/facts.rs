//! Version facts stored at ingest (a report whose keys come grouped) against facts derived by
//! window functions (a listing, or a report that is not grouped): plans of the same bucket
//! must hold the same items either way.

use crate::explain::MIXED;
use crate::helpers::*;
use chrono::{DateTime, Duration, TimeZone, Utc};
use shelflife::inventory::report::generate::{self, Publish, ReportRow};
use shelflife::inventory::report::{Format, ReportSource};
use shelflife::inventory::{self, LockState, ScanOptions};
use shelflife::plan::{explain::explain, Prices};
use shelflife::policy::PolicySet;
use shelflife::storage::s3::{BucketOptions, S3Store};
use sqlx::PgPool;

/// A versioned bucket with keys of one to four versions, delete markers (one the sole
/// version left of its key) and a pinned key. Versions of a key are written a second apart:
/// the listing's times have whole seconds, and a report orders a key's versions by time.
async fn mixed_bucket(store: &S3Store) -> String {
    let bucket = new_bucket(store, "facts", BucketOptions::VERSIONED).await;
    let rounds: [&[&str]; 4] = [
        &[
            "pinned/a.bin",
            "model.bin",
            "b.tmp",
            "gone.txt",
            "twice.txt",
            "sole-marker",
        ],
        &["pinned/a.bin", "model.bin", "twice.txt"],
        &["model.bin"],
        &["model.bin"],
    ];
    for (n, keys) in rounds.iter().enumerate() {
        if n > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        }
        for key in *keys {
            put(store, &bucket, key, &format!("v{n}")).await;
        }
        if n == 1 {
            delete(store, &bucket, "gone.txt", None).await;
            let sole = versions(store, &bucket)
                .await
                .into_iter()
                .find(|v| v.key == "sole-marker")
                .and_then(|v| v.version_id);
            delete(store, &bucket, "sole-marker", None).await;
            delete(store, &bucket, "sole-marker", sole).await;
        }
    }
    bucket
}

/// Publishes `rows` as a one-file CSV.gz report under `prefix` and scans the policy's target
/// from it; whether the scan stored the version facts.
async fn scan_report(
    pool: &PgPool,
    store: &S3Store,
    set: &PolicySet,
    (reports, prefix): (&str, &str),
    rows: Vec<ReportRow>,
) -> bool {
    let policy = set.policy("facts").unwrap();
    let target = shelflife::plan::target_of(policy);
    let file = generate::write_csv_gz(Vec::new(), &target.bucket, rows).unwrap();
    Publish {
        store,
        bucket: reports,
        prefix,
        source_bucket: &target.bucket,
        taken: Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap(),
        format: Format::CsvGz,
    }
    .upload(vec![("part-0.csv.gz".into(), file)], |_| {})
    .await
    .unwrap();
    let source = ReportSource {
        store,
        bucket: reports,
        prefix,
    };
    let scan = inventory::scan_report(pool, store, &target, &source, &ScanOptions::default())
        .await
        .unwrap();
    sqlx::query_scalar("SELECT version_facts FROM scans WHERE id = $1")
        .bind(scan.scan_id)
        .fetch_one(pool)
        .await
        .unwrap()
}

type Item = (String, String, Option<String>, String);

/// The plan's items: rule, key, version and state, in a stable order.
async fn items(pool: &PgPool, plan_id: i64) -> Vec<Item> {
    sqlx::query_as(
        "SELECT rule, key, version_id, state FROM plan_items WHERE plan_id = $1 \
         ORDER BY key COLLATE \"C\", version_id",
    )
    .bind(plan_id)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The items of plans at `clocks`, over the target's newest snapshot.
async fn plans(pool: &PgPool, set: &PolicySet, clocks: &[DateTime<Utc>]) -> Vec<Vec<Item>> {
    let mut all = Vec::new();
    for as_of in clocks {
        let plan = plan_at(pool, set, "facts", *as_of).await;
        all.push(items(pool, plan.plan_id).await);
    }
    all
}

/// `explain` of every key decides each version as the plan `items` did.
async fn explain_agrees(pool: &PgPool, set: &PolicySet, as_of: DateTime<Utc>, items: &[Item]) {
    let policy = set.policy("facts").unwrap();
    let prices = Prices::for_policy(set, policy);
    let mut keys: Vec<&str> = items.iter().map(|i| i.1.as_str()).collect();
    keys.dedup();
    let mut explained = Vec::new();
    for key in keys {
        let e = explain(pool, policy, &prices, key, None, as_of)
            .await
            .unwrap();
        for v in e.versions.into_iter().filter(|v| v.outcome == "change") {
            explained.push((v.rule.unwrap(), v.key, v.version_id, "pending".to_string()));
        }
    }
    let mut pending: Vec<Item> = items.iter().filter(|i| i.3 == "pending").cloned().collect();
    let by_version = |i: &Item| (i.1.clone(), i.2.clone());
    explained.sort_by_key(by_version);
    pending.sort_by_key(by_version);
    assert!(!pending.is_empty());
    assert_eq!(explained, pending);
}

#[sqlx::test]
async fn stored_facts_plan_the_same_items_as_facts_derived_by_window_functions(pool: PgPool) {
    let store = store().await;
    let bucket = mixed_bucket(&store).await;
    let reports = new_bucket(&store, "facts-reports", BucketOptions::default()).await;
    let dir = PolicyDir::new(&policy_yaml("facts", &bucket, "", MIXED));
    let set = dir.load();
    // Before and after the noncurrent versions are 5 days old.
    let clocks = [
        Utc::now() + Duration::days(1),
        Utc::now() + Duration::days(6),
    ];

    scan_policy(&pool, &store, set.policy("facts").unwrap()).await;
    let expected = plans(&pool, &set, &clocks).await;
    let rules = |items: &[Item]| -> Vec<String> { items.iter().map(|i| i.0.clone()).collect() };
    assert!(!rules(&expected[0]).contains(&"stale-versions".to_string()));
    for rule in ["old-versions", "stale-versions", "markers", "tmp"] {
        assert!(
            rules(&expected[1]).contains(&rule.to_string()),
            "{rule}: {expected:#?}"
        );
    }

    // As S3 Inventory lists them: by key, a key's versions together.
    let rows: Vec<ReportRow> = versions(&store, &bucket)
        .await
        .into_iter()
        .map(|version| ReportRow {
            version,
            lock: LockState::default(),
        })
        .collect();
    let stored = scan_report(&pool, &store, &set, (&reports, "grouped"), rows.clone()).await;
    assert!(stored, "a grouped report stores the facts");
    assert_eq!(plans(&pool, &set, &clocks).await, expected);
    explain_agrees(&pool, &set, clocks[1], &expected[1]).await;

    // Keys out of order: the facts cannot be worked out while ingesting.
    let mut shuffled = rows;
    shuffled.reverse();
    let stored = scan_report(&pool, &store, &set, (&reports, "shuffled"), shuffled).await;
    assert!(
        !stored,
        "an ungrouped report leaves the facts to the planner"
    );
    assert_eq!(plans(&pool, &set, &clocks).await, expected);
}
