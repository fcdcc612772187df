//! Matchers on per-object data (tags, Object Lock state, user metadata, folder rank) and the
//! scan that fetches it, end to end on real buckets.

use crate::helpers::*;
use chrono::{Duration, Utc};
use shelflife::audit::Outcome;
use shelflife::execute::{self, ApplyOptions};
use shelflife::plan::PlanSummary;
use shelflife::storage::s3::{BucketOptions, PutOptions, S3Store};
use shelflife::storage::{LockMode, Tags};
use sqlx::PgPool;

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn put_with(store: &S3Store, bucket: &str, key: &str, options: PutOptions) {
    store
        .put_object(bucket, key, b"data".to_vec(), &options)
        .await
        .expect("put object");
}

async fn apply(pool: &PgPool, store: &S3Store, plan: &PlanSummary) {
    let report = execute::apply(pool, store, plan, &ApplyOptions::new("test"))
        .await
        .expect("apply");
    assert_eq!(report.count(Outcome::Done), plan.changes(), "{report:?}");
}

const TAG_RULES: &str = "    - name: keep-tagged
      when: { tags: { keep: true } }
      then: keep
    - name: drop-dev
      when: { tags: { env: { in: [dev, test] } } }
      then: delete
    - name: drop-unowned
      when: { tags: { owner: { absent: true } } }
      then: delete
";

#[sqlx::test]
async fn tags_select_what_is_deleted_and_a_keep_tag_protects(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "tags", BucketOptions::default()).await;
    for (key, t) in [
        ("a.log", tags(&[("keep", "true"), ("env", "dev")])),
        ("b.log", tags(&[("env", "dev"), ("owner", "ml")])),
        ("c.log", tags(&[("env", "prod"), ("owner", "ml")])),
        ("d.log", Tags::new()),
    ] {
        let options = PutOptions {
            tags: t,
            ..PutOptions::default()
        };
        put_with(&store, &bucket, key, options).await;
    }
    let dir = PolicyDir::new(&policy_yaml("tags", &bucket, "", TAG_RULES));
    let plan = scan_and_plan(&pool, &store, &dir.load(), "tags").await;
    let counts: Vec<i64> = ["keep-tagged", "drop-dev", "drop-unowned"]
        .iter()
        .map(|r| objects(&plan, r))
        .collect();
    assert_eq!(counts, vec![1, 1, 1], "{plan:#?}");
    assert_eq!(plan.unknown, 0);
    apply(&pool, &store, &plan).await;
    let mut left = live_keys(&store, &bucket).await;
    left.sort();
    assert_eq!(left, vec!["a.log", "c.log"]);

    // The next scan reuses the cached tags of versions it has seen.
    let fetched_at = || {
        sqlx::query_scalar::<_, chrono::DateTime<Utc>>(
            "SELECT tags_at FROM object_meta WHERE bucket = $1 AND key = 'c.log'",
        )
        .bind(&bucket)
        .fetch_one(&pool)
    };
    let first = fetched_at().await.unwrap();
    let again = scan_and_plan(&pool, &store, &dir.load(), "tags").await;
    assert_eq!(again.changes(), 0, "{again:#?}");
    assert_eq!(
        fetched_at().await.unwrap(),
        first,
        "c.log's tags were asked again"
    );
}

const LOCK_RULES: &str = "    - name: skip-locked
      when: { locked: true }
      then: keep
    - name: skip-held
      when: { legalHold: on }
      then: keep
    - name: delete-rest
      when: { key: { suffix: .bin } }
      then: delete
";

#[sqlx::test]
async fn lock_and_legal_hold_matchers_read_each_version_state(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "locks", BucketOptions::OBJECT_LOCK).await;
    let until = Utc::now() + Duration::days(1);
    let locked = PutOptions {
        retention: Some((LockMode::Governance, until)),
        ..PutOptions::default()
    };
    put_with(&store, &bucket, "locked.bin", locked).await;
    let held = PutOptions {
        legal_hold: true,
        ..PutOptions::default()
    };
    put_with(&store, &bucket, "held.bin", held).await;
    put_with(&store, &bucket, "free.bin", PutOptions::default()).await;

    let dir = PolicyDir::new(&policy_yaml("locks", &bucket, "", LOCK_RULES));
    let plan = scan_and_plan(&pool, &store, &dir.load(), "locks").await;
    let counts: Vec<i64> = ["skip-locked", "skip-held", "delete-rest"]
        .iter()
        .map(|r| objects(&plan, r))
        .collect();
    // The keep rules protect nothing a later rule could change: Object Lock already blocks the
    // delete of those two versions.
    assert_eq!(counts, vec![0, 0, 1], "{plan:#?}");
    assert_eq!(plan.blocked, 0, "kept first, so not blocked");
    let line = plan
        .actions
        .iter()
        .find(|l| l.rule == "delete-rest")
        .unwrap();
    assert_eq!(sample_keys(line), ["free.bin"]);
}

const TTL_RULES: &str = "    - name: ttl-from-tag
      when: { ttl: { tag: retention-days } }
      then: delete
    - name: ttl-from-metadata
      when: { ttl: { metadata: Retention-Days } }
      then: delete
";

const TAG_AGE_RULES: &str = "    - name: old-by-tag
      when: { age: { olderThan: 30d } }
      then: delete
";

#[sqlx::test]
async fn ttl_and_tag_dates_measure_age_from_object_data(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "ttl", BucketOptions::default()).await;
    let tagged = |t: Tags| PutOptions {
        tags: t,
        ..PutOptions::default()
    };
    put_with(
        &store,
        &bucket,
        "expired.json",
        tagged(tags(&[("retention-days", "0")])),
    )
    .await;
    put_with(
        &store,
        &bucket,
        "young.json",
        tagged(tags(&[("retention-days", "3650")])),
    )
    .await;
    let meta = PutOptions {
        metadata: tags(&[("retention-days", "0")]),
        ..PutOptions::default()
    };
    put_with(&store, &bucket, "meta.json", meta).await;
    put_with(
        &store,
        &bucket,
        "created-2020.json",
        tagged(tags(&[("created", "2020-01-01")])),
    )
    .await;
    put_with(&store, &bucket, "undated.json", PutOptions::default()).await;

    let ttl = policy_yaml("ttl", &bucket, "", TTL_RULES);
    let by_tag = policy_yaml(
        "by-tag",
        &bucket,
        "  age: { from: \"tag:created\" }\n",
        TAG_AGE_RULES,
    );
    let dir = PolicyDir::new(&format!("{ttl}---\n{by_tag}"));
    let plan = scan_and_plan(&pool, &store, &dir.load(), "ttl").await;
    assert_eq!(objects(&plan, "ttl-from-tag"), 1, "{plan:#?}");
    assert_eq!(objects(&plan, "ttl-from-metadata"), 1, "{plan:#?}");
    let plan = scan_and_plan(&pool, &store, &dir.load(), "by-tag").await;
    let line = plan
        .actions
        .iter()
        .find(|l| l.rule == "old-by-tag")
        .unwrap();
    assert_eq!(sample_keys(line), ["created-2020.json"], "{plan:#?}");
    assert_eq!(plan.undated, 4, "objects without a created tag are undated");
}

const FOLDER_RULES: &str = "    - name: keep-3-newest-per-run
      when: { newerInFolder: { moreThan: 2 }, key: { suffix: .ckpt } }
      then: delete
";

#[sqlx::test]
async fn folder_rank_keeps_the_newest_checkpoints_of_each_run(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "ckpt", BucketOptions::VERSIONED).await;
    for step in 1..=5 {
        put(&store, &bucket, &format!("runs/a/step-{step}.ckpt"), "w").await;
    }
    for step in 1..=2 {
        put(&store, &bucket, &format!("runs/b/step-{step}.ckpt"), "w").await;
    }
    put(&store, &bucket, "other/step-0.ckpt", "w").await;
    let target = "  target: { storage: local, bucket: BUCKET, prefixes: [runs/b/, runs/a/] }\n";
    let text = policy_yaml("ckpt", &bucket, "", FOLDER_RULES).replace(
        &format!("  target: {{ storage: local, bucket: {bucket} }}\n"),
        &target.replace("BUCKET", &bucket),
    );
    let dir = PolicyDir::new(&text);
    let plan = scan_and_plan(&pool, &store, &dir.load(), "ckpt").await;
    assert_eq!(
        plan.population, 7,
        "other/ is outside the target's prefixes"
    );
    apply(&pool, &store, &plan).await;
    let mut left = live_keys(&store, &bucket).await;
    left.sort();
    let expected = [
        "other/step-0.ckpt",
        "runs/a/step-3.ckpt",
        "runs/a/step-4.ckpt",
        "runs/a/step-5.ckpt",
        "runs/b/step-1.ckpt",
        "runs/b/step-2.ckpt",
    ];
    assert_eq!(left, expected);
}
