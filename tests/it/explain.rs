//! `explain` against the plan: on a versioned bucket with every kind of version, both must
//! decide the same for each one.

use crate::helpers::*;
use chrono::{Duration, Utc};
use shelflife::plan::{explain::explain, Prices};
use shelflife::storage::s3::BucketOptions;
use sqlx::PgPool;
use std::collections::BTreeMap;

/// Rules over every kind of version (shared with `facts.rs`).
pub(crate) const MIXED: &str = "    - name: keep-pinned
      when: { key: { prefix: pinned/ } }
      then: keep
    - name: old-versions
      when: { version: noncurrent, newerVersions: { moreThan: 1 } }
      then: delete
    - name: stale-versions
      when: { version: noncurrent, noncurrentFor: 5d }
      then: delete
    - name: markers
      when: { version: delete-marker }
      then: delete
    - name: cold
      when: { key: { prefix: data/ }, age: { olderThan: 3d } }
      then: { tier: { storageClass: GLACIER } }
    - name: tmp
      when: { any: [ { key: { suffix: .tmp } }, { size: { atMost: 1B } } ] }
      then: delete
";

/// A versioned bucket with current, noncurrent and delete-marker versions, planned and then
/// explained version by version: the two must agree on every one.
#[sqlx::test]
async fn explain_agrees_with_the_plan_for_every_version_of_a_mixed_bucket(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "mixed", BucketOptions::VERSIONED).await;
    for (key, body) in [
        ("pinned/a.tmp", "x"),
        ("model.bin", "v1"),
        ("model.bin", "v2"),
        ("model.bin", "v3"),
        ("data/tiny.bin", "t"),
        ("data/big.bin", &"b".repeat(200_000)),
        ("scratch/a.tmp", "scratch"),
        ("gone.txt", "g"),
        ("e", ""),
    ] {
        put(&store, &bucket, key, body).await;
    }
    delete(&store, &bucket, "gone.txt", None).await;
    put(&store, &bucket, "sole-marker", "m").await;
    let first = versions(&store, &bucket).await;
    let sole = first
        .iter()
        .find(|v| v.key == "sole-marker")
        .unwrap()
        .version_id
        .clone();
    delete(&store, &bucket, "sole-marker", None).await;
    delete(&store, &bucket, "sole-marker", sole).await;

    let dir = PolicyDir::with_storage_extra(
        "  costs: aws-us-east-1\n",
        &policy_yaml("mixed", &bucket, "", MIXED),
    );
    let set = dir.load();
    let policy = set.policy("mixed").unwrap();
    scan_policy(&pool, &store, policy).await;
    let as_of = Utc::now() + Duration::days(6);
    let plan = plan_at(&pool, &set, "mixed", as_of).await;
    let expected: BTreeMap<&str, i64> = [
        ("keep-pinned", 1),
        ("old-versions", 1),   // model.bin v1: two newer versions
        ("stale-versions", 2), // model.bin v2 and gone.txt's object, replaced 6 days ago
        ("markers", 1),        // sole-marker's marker; gone.txt's is not expired
        ("cold", 1),           // data/big.bin; data/tiny.bin is uneconomic, then tmp takes it
        ("tmp", 3),            // scratch/a.tmp, e (0 B), data/tiny.bin (1 B)
    ]
    .into_iter()
    .collect();
    let got: BTreeMap<&str, i64> = plan
        .actions
        .iter()
        .map(|l| (l.rule.as_str(), l.objects))
        .collect();
    assert_eq!(got, expected, "{plan:#?}");

    // Every version in the snapshot, explained, against the plan's items.
    let items: Vec<(String, Option<String>, String, String)> =
        sqlx::query_as("SELECT key, version_id, rule, state FROM plan_items WHERE plan_id = $1")
            .bind(plan.plan_id)
            .fetch_all(&pool)
            .await
            .unwrap();
    let item_of: BTreeMap<(String, Option<String>), (String, String)> = items
        .into_iter()
        .map(|(k, v, r, s)| ((k, v), (r, s)))
        .collect();
    let keys: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT key FROM inventory WHERE scan_id = $1")
            .bind(plan.scan_id)
            .fetch_all(&pool)
            .await
            .unwrap();
    let prices = Prices::for_policy(&set, policy);
    let mut kept = 0;
    let mut explained = 0;
    for key in &keys {
        let e = explain(&pool, policy, &prices, key, None, as_of)
            .await
            .unwrap();
        for v in &e.versions {
            explained += 1;
            let item = item_of.get(&(v.key.clone(), v.version_id.clone()));
            let expected_state = match v.outcome.as_str() {
                "change" => Some("pending"),
                "blocked" => Some("blocked"),
                "uneconomic" => Some("skipped"),
                _ => None,
            };
            let from_explain = expected_state.map(|s| (v.rule.clone().unwrap(), s.to_string()));
            assert_eq!(item.cloned(), from_explain, "{key:?} {v:#?}");
            let protects = v
                .reason
                .as_deref()
                .is_some_and(|r| r.starts_with("protects"));
            kept += i64::from(v.outcome == "keep" && protects);
        }
    }
    assert_eq!(explained as i64, plan.population);
    assert_eq!(kept, 1);

    // The command line shows the work.
    let out = shelflife(
        &pool,
        dir.path(),
        &[
            "explain",
            &format!("s3://{bucket}/data/tiny.bin"),
            "--as-of",
            "+6d",
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let text = stdout(&out);
    assert!(text.contains("5. cold [tier]: match"), "{text}");
    assert!(
        text.contains("decision: change (delete by rule tmp)"),
        "{text}"
    );
    assert!(text.contains("age.olderThan 3d: yes (value: 6"), "{text}");
}
