//! Nothing the plan did not name is touched: objects overwritten between the snapshot and
//! `apply` survive with their new content, on versioned and unversioned buckets, scanned from
//! a live listing or from an S3 Inventory report, whichever way the Storage makes deletes
//! conditional (`none`: HEAD and compare; `single`: DeleteObject with If-Match, which moto
//! enforces; `batch`: the ETag in DeleteObjects, which AWS enforces and moto does not, so only
//! the requests are checked). Tier and archive leave an overwritten object alone too, and
//! `spec.maxSnapshotAge` refuses a snapshot that is too old.

use crate::helpers::*;
use crate::proxy::{Faults, Proxy};
use chrono::{DateTime, Duration, Utc};
use shelflife::inventory::report::generate::{Publish, ReportRow};
use shelflife::inventory::report::Format;
use shelflife::inventory::LockState;
use shelflife::storage::s3::{BucketOptions, S3Store};
use shelflife::storage::ObjectStore;
use sqlx::PgPool;

/// Unchanged objects the plan deletes; one key with bytes a URL must encode.
const OLD: [&str; 3] = ["a/old-0", "a/old-1", "a/odd key+é %2F"];
/// Objects overwritten after the scan, with content of another size.
const FRESH: [&str; 2] = ["a/fresh-0", "a/fresh-1"];
const NEW_BODY: &str =
    "rewritten after the scan: ninety-nine bytes of content nobody planned to delete............";

const DELETE_A: &str = "    - { name: expire, when: { key: { prefix: a/ } }, then: delete }\n";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Source {
    List,
    Report,
}

/// How the scan reads the bucket: the policy lines, and the report published now when `Report`.
async fn source_spec(
    store: &S3Store,
    bucket: &str,
    source: Source,
    taken: DateTime<Utc>,
) -> String {
    if source == Source::List {
        return String::new();
    }
    let reports = new_bucket(store, "changed-reports", BucketOptions::default()).await;
    publish_report(store, bucket, &reports, taken).await;
    format!("  source: {{ inventory: {{ storage: local, bucket: {reports}, prefix: inv/ }} }}\n")
}

/// An S3 Inventory report (CSV.gz) of `bucket` as it is now, as if written at `taken`. On an
/// unversioned bucket it has no version ids, as S3's reports of such buckets do.
async fn publish_report(store: &S3Store, bucket: &str, reports: &str, taken: DateTime<Utc>) {
    let rows: Vec<ReportRow> = versions(store, bucket)
        .await
        .into_iter()
        .map(|mut version| {
            if version.version_id.as_deref() == Some("null") {
                version.version_id = None;
            }
            ReportRow {
                version,
                lock: LockState::default(),
            }
        })
        .collect();
    let file = shelflife::inventory::report::generate::write_csv_gz(Vec::new(), bucket, rows)
        .expect("csv.gz");
    let publish = Publish {
        store,
        bucket: reports,
        prefix: "inv",
        source_bucket: bucket,
        taken,
        format: Format::CsvGz,
    };
    publish
        .upload(vec![("part-0.csv.gz".into(), file)], |_| {})
        .await
        .expect("publish report");
}

fn storage_extra(mode: &str) -> String {
    format!("  conditionalDelete: {mode}\n")
}

fn run_ok(pool: &PgPool, dir: &PolicyDir, args: &[&str]) -> String {
    let out = shelflife(pool, dir.path(), args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", describe(&out));
    stdout(&out)
}

/// Items recorded `changed`, with their reasons, by key.
async fn changed_items(pool: &PgPool) -> Vec<(String, String)> {
    sqlx::query_as("SELECT key, reason FROM audit_events WHERE outcome = 'changed' ORDER BY key")
        .fetch_all(pool)
        .await
        .expect("changed events")
}

/// Seeds OLD and FRESH, scans and plans a delete of `a/`, overwrites FRESH (and, on a versioned
/// bucket, rewrites `a/same` with identical bytes: a new version with the same ETag), applies.
async fn delete_case(pool: PgPool, versioned: bool, source: Source, mode: &str) {
    if refused_on_ceph(&pool, mode) {
        return;
    }
    let store = store().await;
    let options = if versioned {
        BucketOptions::VERSIONED
    } else {
        BucketOptions::default()
    };
    let bucket = new_bucket(&store, "changed", options).await;
    let mut fresh: Vec<&str> = FRESH.to_vec();
    if versioned {
        fresh.push("a/same");
    }
    for key in OLD.iter().chain(&fresh) {
        put(&store, &bucket, key, "x").await;
    }
    let spec = source_spec(&store, &bucket, source, Utc::now()).await;
    let dir = PolicyDir::with_storage_extra(
        &storage_extra(mode),
        &policy_yaml("fresh", &bucket, &spec, DELETE_A),
    );
    run_ok(&pool, &dir, &["scan"]);
    let plan = run_ok(&pool, &dir, &["plan"]);
    assert!(
        plan.contains(&format!("{} objects", OLD.len() + fresh.len())),
        "{plan}"
    );
    for key in FRESH {
        put(&store, &bucket, key, NEW_BODY).await;
    }
    if versioned {
        put(&store, &bucket, "a/same", "x").await;
    }

    let applied = run_ok(&pool, &dir, &["apply", "--yes"]);
    let mut survivors: Vec<String> = fresh.iter().map(|k| k.to_string()).collect();
    survivors.sort();
    assert_eq!(live_keys(&store, &bucket).await, survivors, "{applied}");
    for key in FRESH {
        assert_eq!(
            read(&store, &bucket, key).await,
            NEW_BODY.as_bytes(),
            "{key}"
        );
    }
    let latest_are_data = versions(&store, &bucket)
        .await
        .into_iter()
        .filter(|v| fresh.contains(&v.key.as_str()) && v.is_latest)
        .all(|v| !v.is_delete_marker);
    assert!(latest_are_data, "no delete marker over a fresh key");
    let total = format!(
        "total: {} done, 0 skipped, {} changed since scan, 0 blocked, 0 failed",
        OLD.len(),
        fresh.len()
    );
    assert!(applied.contains(&total), "{applied}");
    assert!(applied.contains("delete    changed"), "{applied}");
    let changed = changed_items(&pool).await;
    assert_eq!(
        changed.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        survivors
    );
    for (key, reason) in &changed {
        assert!(
            reason.starts_with("changed since scan: "),
            "{key}: {reason}"
        );
    }
    let skipped: i64 = count(
        &pool,
        "SELECT count(*) FROM plan_items WHERE state = 'skipped' AND reason LIKE 'changed since scan%'",
    )
    .await;
    assert_eq!(skipped, fresh.len() as i64);
    let verified = shelflife(&pool, dir.path(), &["audit", "verify"]);
    assert_eq!(verified.status.code(), Some(0), "{}", describe(&verified));
}

#[sqlx::test]
async fn listing_unversioned_head_then_delete(pool: PgPool) {
    delete_case(pool, false, Source::List, "none").await;
}

#[sqlx::test]
async fn listing_unversioned_delete_if_match(pool: PgPool) {
    delete_case(pool, false, Source::List, "single").await;
}

#[sqlx::test]
async fn listing_versioned_head_then_delete(pool: PgPool) {
    delete_case(pool, true, Source::List, "none").await;
}

#[sqlx::test]
async fn listing_versioned_delete_if_match(pool: PgPool) {
    delete_case(pool, true, Source::List, "single").await;
}

#[sqlx::test]
async fn report_unversioned_head_then_delete(pool: PgPool) {
    delete_case(pool, false, Source::Report, "none").await;
}

#[sqlx::test]
async fn report_unversioned_delete_if_match(pool: PgPool) {
    delete_case(pool, false, Source::Report, "single").await;
}

#[sqlx::test]
async fn report_versioned_head_then_delete(pool: PgPool) {
    delete_case(pool, true, Source::Report, "none").await;
}

#[sqlx::test]
async fn report_versioned_delete_if_match(pool: PgPool) {
    delete_case(pool, true, Source::Report, "single").await;
}

/// Ceph's RGW ignores delete conditions (it deleted overwritten objects when these cases ran
/// with them), so on Ceph a `provider: ceph` Storage that asks for them (`mode` other than
/// `none`) is refused before any request; whether it was.
fn refused_on_ceph(pool: &PgPool, mode: &str) -> bool {
    if !on_ceph() || mode == "none" {
        return false;
    }
    let dir = PolicyDir::with_storage_extra(
        &storage_extra(mode),
        &policy_yaml("fresh", "any-bucket", "", DELETE_A),
    );
    let out = shelflife(pool, dir.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let said = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(
        said.contains("provider ceph does not enforce delete conditions"),
        "{said}"
    );
    true
}

/// An overwritten object is neither tiered nor archived (the copy would hold content nobody
/// planned to archive), and its source stays.
async fn tier_and_archive_case(pool: PgPool, mode: &str) {
    if refused_on_ceph(&pool, mode) {
        return;
    }
    let store = store().await;
    let bucket = new_bucket(&store, "changed-moves", BucketOptions::default()).await;
    let archive = new_bucket(&store, "changed-archive", BucketOptions::default()).await;
    for key in ["t/old", "t/fresh", "r/old", "r/fresh"] {
        put(&store, &bucket, key, "x").await;
    }
    let cold = cold();
    let rules = format!(
        "    - {{ name: cold, when: {{ key: {{ prefix: t/ }} }}, then: {{ tier: {{ storageClass: {cold}, force: true }} }} }}\n    - {{ name: away, when: {{ key: {{ prefix: r/ }} }}, then: {{ archive: {{ bucket: {archive}, prefix: cold/, force: true }} }} }}\n"
    );
    let dir = PolicyDir::with_storage_extra(
        &storage_extra(mode),
        &policy_yaml("moves", &bucket, "", &rules),
    );
    run_ok(&pool, &dir, &["scan"]);
    run_ok(&pool, &dir, &["plan"]);
    for key in ["t/fresh", "r/fresh"] {
        put(&store, &bucket, key, NEW_BODY).await;
    }
    let applied = run_ok(&pool, &dir, &["apply", "--yes"]);

    let class = |key: &'static str| {
        let store = store.clone();
        let bucket = bucket.clone();
        async move {
            let head = store.head(&bucket, key, None).await.expect("head");
            head.storage_class.unwrap_or_else(|| "STANDARD".into())
        }
    };
    assert_eq!(class("t/old").await, cold, "{applied}");
    assert_eq!(class("t/fresh").await, "STANDARD", "{applied}");
    assert_eq!(live_keys(&store, &archive).await, vec!["cold/r/old"]);
    assert_eq!(
        live_keys(&store, &bucket).await,
        vec!["r/fresh", "t/fresh", "t/old"]
    );
    for key in ["t/fresh", "r/fresh"] {
        assert_eq!(
            read(&store, &bucket, key).await,
            NEW_BODY.as_bytes(),
            "{key}"
        );
    }
    let changed = changed_items(&pool).await;
    assert_eq!(
        changed.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        vec!["r/fresh", "t/fresh"],
        "{applied}"
    );
    assert!(
        applied.contains("total: 2 done, 0 skipped, 2 changed since scan"),
        "{applied}"
    );
}

#[sqlx::test]
async fn tier_and_archive_skip_what_changed_head_first(pool: PgPool) {
    tier_and_archive_case(pool, "none").await;
}

#[sqlx::test]
async fn tier_and_archive_skip_what_changed_with_server_conditions(pool: PgPool) {
    tier_and_archive_case(pool, "single").await;
}

/// `batch` (AWS's conditional DeleteObjects): each current version's planned ETag goes in the
/// request and no HEAD precedes it. moto does not enforce that element, so this checks what
/// is sent; the server's refusal (`PreconditionFailed`) is mapped to `changed` in the unit tests.
#[sqlx::test]
async fn batch_mode_sends_every_planned_etag_in_delete_objects(pool: PgPool) {
    if refused_on_ceph(&pool, "batch") {
        return;
    }
    let store = store().await;
    let bucket = new_bucket(&store, "changed-batch", BucketOptions::default()).await;
    let mut etags = Vec::new();
    for key in OLD {
        put(&store, &bucket, key, "x").await;
        let head = store.head(&bucket, key, None).await.expect("head");
        etags.push(head.etag.expect("etag"));
    }
    let dir = PolicyDir::with_storage_extra(
        &storage_extra("batch"),
        &policy_yaml("batch", &bucket, "", DELETE_A),
    );
    run_ok(&pool, &dir, &["scan"]);
    run_ok(&pool, &dir, &["plan"]);
    let proxy = Proxy::start(&s3_endpoint(), Faults::default()).await;
    let args = ["apply", "--yes"];
    // The command blocks its thread; the proxy runs on this test's runtime meanwhile.
    let mut command = command(
        &pool,
        dir.path(),
        &args,
        &[("S3_ENDPOINT", &proxy.endpoint)],
    );
    let out = tokio::task::spawn_blocking(move || command.output().expect("run"))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        proxy.logged("HEAD").is_empty(),
        "no HEAD before a batch delete"
    );
    let deletes = proxy.logged("POST");
    assert_eq!(deletes.len(), 1, "one DeleteObjects");
    for etag in &etags {
        let element = format!("<ETag>{}</ETag>", etag.replace('"', "&quot;"));
        let plain = format!("<ETag>{etag}</ETag>");
        assert!(
            deletes[0].contains(&element) || deletes[0].contains(&plain),
            "{etag} in {}",
            deletes[0]
        );
    }
    assert!(live_keys(&store, &bucket).await.is_empty());
}

/// A report written three days ago is shown as such, and a policy allowing 36 hours refuses
/// to act on it: exit 2, nothing deleted, no item event.
#[sqlx::test]
async fn an_old_snapshot_is_shown_and_refused_past_max_snapshot_age(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "changed-stale", BucketOptions::default()).await;
    for key in OLD {
        put(&store, &bucket, key, "x").await;
    }
    let taken = Utc::now() - Duration::days(3);
    let spec = source_spec(&store, &bucket, Source::Report, taken).await;
    let spec = format!("{spec}  maxSnapshotAge: 36h\n");
    let dir = PolicyDir::new(&policy_yaml("stale", &bucket, &spec, DELETE_A));
    run_ok(&pool, &dir, &["scan"]);
    let plan = run_ok(&pool, &dir, &["plan"]);
    assert!(plan.contains("from the S3 Inventory report of"), "{plan}");
    assert!(plan.contains("(3d 0h old)"), "{plan}");

    for args in [&["apply", "--yes"][..], &["run", "--all"][..]] {
        let out = shelflife(&pool, dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("older than the policy's maxSnapshotAge (1day 12h)"),
            "{stderr}"
        );
        assert!(stderr.contains("nothing was changed"), "{stderr}");
    }
    assert_eq!(live_keys(&store, &bucket).await.len(), OLD.len());
    assert_eq!(count(&pool, ITEM_EVENTS).await, 0);

    // A live listing is as old as the scan: the same policy without the report acts.
    let listed = policy_yaml("stale", &bucket, "  maxSnapshotAge: 36h\n", DELETE_A);
    let dir = PolicyDir::new(&listed);
    let plan = run_ok(&pool, &dir, &["run", "--all"]);
    assert!(plan.contains("listed at"), "{plan}");
    assert!(live_keys(&store, &bucket).await.is_empty(), "{plan}");
}
