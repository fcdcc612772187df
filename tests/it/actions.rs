//! Each action applied to a real bucket, its end state read back with HEAD and GET: classes,
//! retention, legal holds, tags, metadata and content headers, archive copies.

use crate::flaky::Flaky;
use crate::helpers::*;
use chrono::{Duration, Utc};
use shelflife::audit::Outcome;
use shelflife::execute::{self, ApplyOptions, ApplyReport};
use shelflife::plan::PlanSummary;
use shelflife::storage::s3::{BucketOptions, PutOptions, S3Store};
use shelflife::storage::{ContentHeaders, LockMode, ObjectStore, Retention, Tags};
use sqlx::PgPool;
use std::sync::Arc;

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Metadata, content headers and tags a copy must keep.
fn described() -> PutOptions {
    PutOptions {
        metadata: tags(&[("owner", "ml-platform")]),
        tags: tags(&[("team", "vision"), ("stage", "raw")]),
        content: ContentHeaders {
            content_type: Some("application/x-parquet".into()),
            cache_control: Some("max-age=60".into()),
            content_disposition: Some("attachment; filename=\"a.parquet\"".into()),
            content_encoding: None,
            content_language: Some("en".into()),
        },
        ..Default::default()
    }
}

/// A body of `len` bytes that differs from position to position.
fn body(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

async fn put_bytes(store: &S3Store, bucket: &str, key: &str, data: Vec<u8>, o: &PutOptions) {
    store.put_object(bucket, key, data, o).await.expect("put");
}

/// Checks that `key` in `bucket` kept what `described()` gave it.
async fn assert_described(store: &S3Store, bucket: &str, key: &str) {
    let head = store.head(bucket, key, None).await.expect("head");
    let wanted = described();
    assert_eq!(head.metadata, wanted.metadata, "{key}: metadata");
    assert_eq!(head.content, wanted.content, "{key}: content headers");
    let tags = store.get_tags(bucket, key, None).await.expect("tags");
    assert_eq!(tags, wanted.tags, "{key}: tags");
}

async fn apply(pool: &PgPool, store: &dyn ObjectStore, plan: &PlanSummary) -> ApplyReport {
    apply_with(pool, store, plan, ApplyOptions::new("test")).await
}

async fn apply_with(
    pool: &PgPool,
    store: &dyn ObjectStore,
    plan: &PlanSummary,
    options: ApplyOptions,
) -> ApplyReport {
    execute::apply(pool, store, plan, &options)
        .await
        .expect("apply")
}

/// The outcome and reason recorded for `key`'s item.
async fn outcome_of(pool: &PgPool, plan_id: i64, key: &str) -> (String, Option<String>) {
    sqlx::query_as("SELECT state, reason FROM plan_items WHERE plan_id = $1 AND key = $2")
        .bind(plan_id)
        .bind(key)
        .fetch_one(pool)
        .await
        .expect("item")
}

#[sqlx::test]
async fn tier_changes_the_class_in_place_and_keeps_metadata_headers_and_tags(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "tier", BucketOptions::default()).await;
    put_bytes(&store, &bucket, "models/a.bin", body(2048), &described()).await;
    put_bytes(&store, &bucket, "models/b.bin", body(100), &described()).await;
    let rules = format!("    - name: cold\n      when: {{ key: {{ prefix: models/ }} }}\n      then: {{ tier: {{ storageClass: {}, force: true }} }}\n", cold());
    let dir = PolicyDir::new(&policy_yaml("tier", &bucket, "", &rules));
    let plan = scan_and_plan(&pool, &store, &dir.load(), "tier").await;
    assert_eq!(objects(&plan, "cold"), 2);
    // Someone moves b.bin to the class after the plan: the executor sees it and skips it.
    let mut moved = described();
    moved.storage_class = Some(cold().into());
    put_bytes(&store, &bucket, "models/b.bin", body(100), &moved).await;

    let report = apply(&pool, &store, &plan).await;
    assert_eq!(report.of("cold", "tier", Outcome::Done).0, 1, "{report:?}");
    let head = store.head(&bucket, "models/a.bin", None).await.unwrap();
    assert_eq!(head.storage_class.as_deref(), Some(cold()));
    assert_described(&store, &bucket, "models/a.bin").await;
    assert_eq!(read(&store, &bucket, "models/a.bin").await, body(2048));
    let (state, reason) = outcome_of(&pool, plan.plan_id, "models/b.bin").await;
    assert_eq!(state, "skipped");
    assert_eq!(
        reason.as_deref(),
        Some(format!("already in {}", cold()).as_str())
    );
}

#[sqlx::test]
async fn a_tier_whose_copy_landed_but_whose_answer_was_lost_is_done(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "tier-lost", BucketOptions::default()).await;
    put_bytes(&store, &bucket, "models/a.bin", body(100), &described()).await;
    let rules = format!("    - name: cold\n      when: {{ key: {{ prefix: models/ }} }}\n      then: {{ tier: {{ storageClass: {}, force: true }} }}\n", cold());
    let dir = PolicyDir::new(&policy_yaml("lost", &bucket, "", &rules));
    let plan = scan_and_plan(&pool, &store, &dir.load(), "lost").await;

    let mut through = Flaky::new(store.clone(), 1000, None);
    through.lost_copy_answers = true;
    let report = apply(&pool, &through, &plan).await;
    assert_eq!(report.of("cold", "tier", Outcome::Done).0, 1, "{report:?}");
    let head = store.head(&bucket, "models/a.bin", None).await.unwrap();
    assert_eq!(head.storage_class.as_deref(), Some(cold()));
    let after: (serde_json::Value,) = sqlx::query_as(
        "SELECT state_after FROM audit_events WHERE plan_id = $1 AND key = 'models/a.bin'",
    )
    .bind(plan.plan_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    let note = after.0["note"].as_str().unwrap_or_default();
    assert!(
        note.starts_with("the copy landed; its answer was lost"),
        "{after:?}"
    );
}

#[sqlx::test]
async fn a_failed_copy_that_did_not_land_stays_failed(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "tier-failed", BucketOptions::default()).await;
    put_bytes(&store, &bucket, "models/a.bin", body(100), &described()).await;
    let rules = "    - name: odd\n      when: { key: { prefix: models/ } }\n      then: { tier: { storageClass: NO_SUCH_CLASS, force: true } }\n";
    let dir = PolicyDir::new(&policy_yaml("odd", &bucket, "", rules));
    let plan = scan_and_plan(&pool, &store, &dir.load(), "odd").await;
    let report = apply(&pool, &store, &plan).await;
    assert_eq!(report.of("odd", "tier", Outcome::Failed).0, 1, "{report:?}");
    let head = store.head(&bucket, "models/a.bin", None).await.unwrap();
    assert_eq!(
        head.storage_class.as_deref().unwrap_or("STANDARD"),
        "STANDARD"
    );
}

#[sqlx::test]
async fn objects_over_the_copy_limit_are_tiered_part_by_part(pool: PgPool) {
    // 5 MiB parts (S3's minimum) stand in for the 5 GiB CopyObject limit.
    let store = store().await.with_part_sizes(5 << 20, 5 << 20);
    let bucket = new_bucket(&store, "tier-parts", BucketOptions::default()).await;
    let data = body((11 << 20) + 7);
    put_bytes(&store, &bucket, "ckpt/big.bin", data.clone(), &described()).await;
    let rules = format!("    - name: cold\n      when: {{ key: {{ prefix: ckpt/ }} }}\n      then: {{ tier: {{ storageClass: {}, force: true }} }}\n", cold());
    let dir = PolicyDir::new(&policy_yaml("big", &bucket, "", &rules));
    let plan = scan_and_plan(&pool, &store, &dir.load(), "big").await;

    let report = apply(&pool, &store, &plan).await;
    assert_eq!(report.count(Outcome::Done), 1, "{report:?}");
    let head = store.head(&bucket, "ckpt/big.bin", None).await.unwrap();
    assert_eq!(head.storage_class.as_deref(), Some(cold()));
    assert!(head.etag.unwrap().contains("-3"), "a 3-part copy");
    assert_described(&store, &bucket, "ckpt/big.bin").await;
    assert_eq!(read(&store, &bucket, "ckpt/big.bin").await, data);
}

const LOCK_RULES: &str = "    - name: hold
      when: { key: { prefix: hold/ } }
      then: { legalHold: on }
    - name: label
      when: { key: { prefix: label/ } }
      then: { tag: { set: { stage: archived }, remove: [team] } }
    - name: retain
      when: { key: { prefix: models/ } }
      then: { lock: { mode: GOVERNANCE, retainFor: 30d } }
";

/// A version under GOVERNANCE retention (a day) and a COMPLIANCE `lock` rule over it, applied.
async fn governance_to_compliance(pool: &PgPool, bypass: bool) -> (S3Store, String, i64) {
    let store = store().await;
    let bucket = new_bucket(&store, "upgrade", BucketOptions::OBJECT_LOCK).await;
    let mut governed = described();
    governed.retention = Some((LockMode::Governance, Utc::now() + Duration::days(1)));
    put_bytes(&store, &bucket, "models/v1.bin", body(10), &governed).await;
    let rules = format!("    - name: promote\n      when: {{ key: {{ prefix: models/ }} }}\n      then: {{ lock: {{ mode: COMPLIANCE, retainFor: 2d, bypassGovernance: {bypass} }} }}\n");
    let dir = PolicyDir::new(&policy_yaml("upgrade", &bucket, "", &rules));
    let plan = scan_and_plan(pool, &store, &dir.load(), "upgrade").await;
    assert_eq!(plan.changes(), usize::from(bypass) as i64, "{plan:?}");
    apply(pool, &store, &plan).await;
    (store, bucket, plan.plan_id)
}

#[sqlx::test]
async fn governance_retention_becomes_compliance_only_with_the_bypass(pool: PgPool) {
    let (store, bucket, plan_id) = governance_to_compliance(&pool, false).await;
    let (state, reason) = outcome_of(&pool, plan_id, "models/v1.bin").await;
    assert_eq!(state, "blocked");
    assert!(reason.unwrap().contains("needs bypassGovernance: true"));
    let head = store.head(&bucket, "models/v1.bin", None).await.unwrap();
    assert_eq!(head.retention.unwrap().mode, LockMode::Governance);

    let (store, bucket, plan_id) = governance_to_compliance(&pool, true).await;
    assert_eq!(outcome_of(&pool, plan_id, "models/v1.bin").await.0, "done");
    let retention = store
        .head(&bucket, "models/v1.bin", None)
        .await
        .unwrap()
        .retention;
    let retention = retention.expect("retention");
    assert_eq!(retention.mode, LockMode::Compliance);
    assert!(retention.retain_until > Utc::now() + Duration::days(1));
}

#[sqlx::test]
async fn lock_legal_hold_and_tag_actions_leave_the_versions_as_the_rules_say(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "lock", BucketOptions::OBJECT_LOCK).await;
    let far = Utc::now() + Duration::days(400);
    let mut long = described();
    long.retention = Some((LockMode::Governance, far));
    for key in [
        "models/new.bin",
        "models/raced.bin",
        "hold/x.bin",
        "label/y.bin",
    ] {
        put_bytes(&store, &bucket, key, body(10), &described()).await;
    }
    put_bytes(&store, &bucket, "models/long.bin", body(10), &long).await;
    let dir = PolicyDir::new(&policy_yaml("lock", &bucket, "", LOCK_RULES));
    let plan = scan_and_plan(&pool, &store, &dir.load(), "lock").await;
    // After the scan, raced.bin gets COMPLIANCE retention: the executor must not downgrade it.
    let raced = store.head(&bucket, "models/raced.bin", None).await.unwrap();
    let compliance = Retention {
        mode: LockMode::Compliance,
        retain_until: Utc::now() + Duration::days(2),
    };
    let version = raced.version_id.as_deref();
    store
        .put_retention(&bucket, "models/raced.bin", version, &compliance, false)
        .await
        .unwrap();

    apply(&pool, &store, &plan).await;
    let new = store.head(&bucket, "models/new.bin", None).await.unwrap();
    let retention = new.retention.expect("retention set");
    assert_eq!(retention.mode, LockMode::Governance);
    let expected = plan.as_of + Duration::days(30);
    assert!((retention.retain_until - expected).num_seconds().abs() <= 1);
    let long_now = store.head(&bucket, "models/long.bin", None).await.unwrap();
    assert_eq!(
        long_now.retention.unwrap().retain_until.timestamp(),
        far.timestamp()
    );
    let raced_now = store.head(&bucket, "models/raced.bin", None).await.unwrap();
    assert_eq!(raced_now.retention.unwrap().mode, LockMode::Compliance);
    let (state, reason) = outcome_of(&pool, plan.plan_id, "models/raced.bin").await;
    assert_eq!(state, "skipped");
    assert!(reason.unwrap().contains("never shortens or downgrades"));

    assert!(
        store
            .head(&bucket, "hold/x.bin", None)
            .await
            .unwrap()
            .legal_hold
    );
    let labelled = store.get_tags(&bucket, "label/y.bin", None).await.unwrap();
    assert_eq!(labelled, tags(&[("stage", "archived")]));
    let untouched = store.head(&bucket, "label/y.bin", None).await.unwrap();
    assert_eq!(untouched.metadata, described().metadata);
}

#[sqlx::test]
async fn archive_copies_with_class_and_lock_verifies_then_deletes_the_source(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "src", BucketOptions::default()).await;
    let archive = new_bucket(&store, "archive", BucketOptions::OBJECT_LOCK).await;
    put_bytes(
        &store,
        &bucket,
        "runs/r1/ckpt.bin",
        body(4096),
        &described(),
    )
    .await;
    put_bytes(&store, &bucket, "runs/r1/keep.txt", body(5), &described()).await;
    let rules = format!("    - name: keep-text\n      when: {{ key: {{ suffix: .txt }} }}\n      then: keep\n    - name: to-archive\n      when: {{ key: {{ prefix: runs/ }} }}\n      then: {{ archive: {{ bucket: {archive}, prefix: cold/, storageClass: {}, lock: {{ mode: GOVERNANCE, retainFor: 1d }}, force: true }} }}\n", colder());
    let dir = PolicyDir::new(&policy_yaml("arch", &bucket, "", &rules));
    let plan = scan_and_plan(&pool, &store, &dir.load(), "arch").await;

    let report = apply(&pool, &store, &plan).await;
    assert_eq!(report.count(Outcome::Done), 1, "{report:?}");
    assert_eq!(live_keys(&store, &bucket).await, vec!["runs/r1/keep.txt"]);
    let copy = store
        .head(&archive, "cold/runs/r1/ckpt.bin", None)
        .await
        .unwrap();
    assert_eq!(copy.storage_class.as_deref(), Some(colder()));
    assert_eq!(copy.retention.unwrap().mode, LockMode::Governance);
    assert_described(&store, &archive, "cold/runs/r1/ckpt.bin").await;
    assert_eq!(
        read(&store, &archive, "cold/runs/r1/ckpt.bin").await,
        body(4096)
    );
    let after: serde_json::Value =
        sqlx::query_scalar("SELECT state_after FROM audit_events WHERE key = 'runs/r1/ckpt.bin'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(after["destination"]["bucket"], archive.as_str());
    assert_eq!(after["destination"]["key"], "cold/runs/r1/ckpt.bin");
    assert_eq!(
        after["destination"]["version_id"],
        copy.version_id.unwrap().as_str()
    );
    assert_eq!(after["source_deleted"], true);
}

#[sqlx::test]
async fn archive_to_another_storage_streams_in_parts_and_verifies_by_checksum(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "src", BucketOptions::VERSIONED).await;
    let archive = new_bucket(&store, "other", BucketOptions::default()).await;
    let data = body((10 << 20) + 3);
    put_bytes(&store, &bucket, "data/set.tar", data.clone(), &described()).await;
    let cold = "apiVersion: shelflife.dev/v1\nkind: Storage\nmetadata: { name: cold }\nspec:\n  provider: generic\n  endpoint: ${S3_ENDPOINT}\n  pathStyle: true\n";
    let rules = format!("    - name: away\n      when: {{ key: {{ prefix: data/ }} }}\n      then: {{ archive: {{ storage: cold, bucket: {archive}, force: true }} }}\n");
    let dir = PolicyDir::new(&format!(
        "{}---\n{cold}",
        policy_yaml("away", &bucket, "", &rules)
    ));
    let plan = scan_and_plan(&pool, &store, &dir.load(), "away").await;
    // The other storage's client uploads in 5 MiB parts: the copy gets a multipart ETag, so
    // verification reads both bodies.
    let other: Arc<dyn ObjectStore> = Arc::new(store.clone().with_part_sizes(5 << 20, 5 << 20));
    let mut options = ApplyOptions::new("test");
    options.destinations.insert("cold".into(), other);

    let report = apply_with(&pool, &store, &plan, options).await;
    assert_eq!(report.count(Outcome::Done), 1, "{report:?}");
    let copy = store.head(&archive, "data/set.tar", None).await.unwrap();
    assert!(copy.etag.unwrap().ends_with("-3\""), "uploaded in 3 parts");
    assert_eq!(read(&store, &archive, "data/set.tar").await, data);
    assert_described(&store, &archive, "data/set.tar").await;
    // The archived version is gone from the source: nothing of the key is left.
    assert!(versions(&store, &bucket).await.is_empty());
}

#[sqlx::test]
async fn a_compliance_locked_version_is_never_deleted_even_from_a_tampered_plan(pool: PgPool) {
    tampered_plan_case(pool, false).await;
}

/// Ceph's RGW refuses the same delete with a bare AccessDenied: the version is HEADed, and
/// found locked, the item is blocked all the same.
#[sqlx::test]
async fn a_bare_access_denied_for_a_locked_version_is_still_blocked(pool: PgPool) {
    tampered_plan_case(pool, true).await;
}

/// A plan edited to delete a COMPLIANCE-locked version, applied through a store that answers
/// lock refusals tersely or not.
async fn tampered_plan_case(pool: PgPool, terse: bool) {
    let store = store().await;
    let bucket = new_bucket(&store, "tamper", BucketOptions::OBJECT_LOCK).await;
    let mut locked = described();
    locked.retention = Some((LockMode::Compliance, Utc::now() + Duration::days(3)));
    put_bytes(&store, &bucket, "model/v1.bin", body(10), &locked).await;
    let rules = "    - name: drop\n      when: { key: { prefix: model/ } }\n      then: { delete: { permanent: true } }\n";
    let dir = PolicyDir::new(&policy_yaml("tamper", &bucket, "", rules));
    let plan = scan_and_plan(&pool, &store, &dir.load(), "tamper").await;
    assert_eq!(plan.changes(), 0, "the planner blocks it");
    // Someone edits the plan in the database to delete the version anyway.
    sqlx::query("UPDATE plan_items SET state = 'pending', eligible_at = NULL WHERE plan_id = $1")
        .bind(plan.plan_id)
        .execute(&pool)
        .await
        .unwrap();
    let before = versions(&store, &bucket).await;

    let mut through = Flaky::new(store.clone(), 1000, None);
    through.terse_locks = terse;
    let report = apply(&pool, &through, &plan).await;
    assert_eq!(report.count(Outcome::Blocked), 1, "{report:?}");
    assert_eq!(versions(&store, &bucket).await, before);
    let (state, reason) = outcome_of(&pool, plan.plan_id, "model/v1.bin").await;
    assert_eq!(state, "blocked");
    assert!(
        reason.unwrap().contains("AccessDenied"),
        "the server's answer is recorded"
    );
}
