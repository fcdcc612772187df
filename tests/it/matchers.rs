//! The policy language's matchers, end to end on real versioned buckets.

use crate::helpers::*;
use chrono::Utc;
use shelflife::audit::Outcome;
use shelflife::execute::{self, ApplyOptions};
use shelflife::plan::{PlanSummary, VersionKind};
use shelflife::storage::s3::{BucketOptions, PutOptions, S3Store};
use sqlx::PgPool;

async fn plan_and_apply(
    pool: &PgPool,
    store: &S3Store,
    dir: &PolicyDir,
    name: &str,
) -> PlanSummary {
    let set = dir.load();
    let policy = set.policy(name).expect("policy");
    scan_policy(pool, store, policy).await;
    let plan = plan_at(pool, &set, name, Utc::now()).await;
    let report = execute::apply(pool, store, &plan, &ApplyOptions::new("test"))
        .await
        .expect("apply");
    assert_eq!(report.count(Outcome::Done), plan.changes(), "{report:?}");
    plan
}

const VERSION_RULES: &str = "    - name: old-versions
      when: { version: noncurrent, newerVersions: { moreThan: 1 } }
      then: delete
    - name: expired-markers
      when: { version: delete-marker }
      then: delete
";

#[sqlx::test]
async fn noncurrent_versions_beyond_the_newest_and_expired_markers_are_removed(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "versions", BucketOptions::VERSIONED).await;
    let mut model = Vec::new();
    for body in ["v1", "v2", "v3", "v4"] {
        model.push(put(&store, &bucket, "model.bin", body).await);
    }
    let solo = put(&store, &bucket, "solo", "x").await;
    delete(&store, &bucket, "solo", None).await;
    delete(&store, &bucket, "hidden", None).await;
    put(&store, &bucket, "hidden", "still here").await;
    delete(&store, &bucket, "hidden", None).await;
    // Only the marker is left of `solo`: an expired delete marker.
    delete(&store, &bucket, "solo", solo).await;

    let dir = PolicyDir::new(&policy_yaml("versions", &bucket, "", VERSION_RULES));
    let plan = plan_and_apply(&pool, &store, &dir, "versions").await;
    assert_eq!(objects(&plan, "old-versions"), 2, "v1 and v2 of model.bin");
    assert_eq!(
        objects(&plan, "expired-markers"),
        1,
        "only solo's marker: hidden's marker still hides a version"
    );

    let left = versions(&store, &bucket).await;
    let model_left: Vec<_> = left
        .iter()
        .filter(|v| v.key == "model.bin")
        .map(|v| v.version_id.clone())
        .collect();
    assert_eq!(
        model_left,
        vec![model[3].clone(), model[2].clone()],
        "the current version and the newest noncurrent stay"
    );
    assert!(
        left.iter().all(|v| v.key != "solo"),
        "the expired marker is gone: {left:#?}"
    );
    let hidden: Vec<_> = left.iter().filter(|v| v.key == "hidden").collect();
    assert!(
        hidden.iter().any(|v| v.is_latest && v.is_delete_marker)
            && hidden.iter().filter(|v| !v.is_delete_marker).count() == 1,
        "hidden keeps its marker and its version: {hidden:#?}"
    );
    // Deleting the absent key wrote a marker beneath the version where the server does so (RGW,
    // as S3; moto writes none). It is not expired (a version stands over it), so it stays.
    let markers_beneath = usize::from(on_ceph());
    assert_eq!(hidden.len(), 2 + markers_beneath, "{hidden:#?}");
}

const SELECTION_RULES: &str = "    - name: keep-pinned
      when: { key: { glob: \"data/**/keep-*\" } }
      then: keep
    - name: cold-and-big
      when:
        storageClass: [CLASS]
        size: { atLeast: 10 }
        modifiedAfter: 2020-01-01
        age: { youngerThan: 1d }
      then: delete
    - name: scratch
      when:
        any: [ { key: { suffix: .tmp } }, { size: { atMost: 0B } } ]
      then: delete
    - name: outside-data
      when:
        not: { key: { regex: \"^data/\" } }
        modifiedBefore: 2100-01-01
      then: delete
";

#[sqlx::test]
async fn key_size_class_date_and_combined_matchers_select_exactly(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "select", BucketOptions::default()).await;
    let ia = PutOptions {
        storage_class: Some(cold().into()),
        ..PutOptions::default()
    };
    let body = vec![b'x'; 100];
    for key in ["data/a/keep-1.bin", "data/a/x.bin"] {
        store
            .put_object(&bucket, key, body.clone(), &ia)
            .await
            .unwrap();
    }
    let standard = PutOptions::default();
    store
        .put_object(&bucket, "data/b/y.bin", body.clone(), &standard)
        .await
        .unwrap();
    store
        .put_object(&bucket, "data/z.tmp", vec![b'x'; 5], &standard)
        .await
        .unwrap();
    store
        .put_object(&bucket, "data/empty", Vec::new(), &standard)
        .await
        .unwrap();
    store
        .put_object(&bucket, "other/w.bin", body, &standard)
        .await
        .unwrap();

    let dir = PolicyDir::new(&policy_yaml(
        "select",
        &bucket,
        "",
        &SELECTION_RULES.replace("CLASS", cold()),
    ));
    let plan = plan_and_apply(&pool, &store, &dir, "select").await;
    let counts: Vec<i64> = ["keep-pinned", "cold-and-big", "scratch", "outside-data"]
        .iter()
        .map(|r| objects(&plan, r))
        .collect();
    assert_eq!(counts, vec![1, 1, 2, 1], "{plan:#?}");
    let mut left = live_keys(&store, &bucket).await;
    left.sort();
    assert_eq!(left, vec!["data/a/keep-1.bin", "data/b/y.bin"]);
}

const NONCURRENT_FOR_RULES: &str = "    - name: replaced-a-week-ago
      when:
        version: noncurrent
        noncurrentFor: 7d
        all: [ { size: { atLeast: 1 } }, { key: { prefix: model } } ]
      then: { delete: { permanent: true } }
";

#[sqlx::test]
async fn noncurrent_for_counts_from_when_the_successor_was_written(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "since", BucketOptions::VERSIONED).await;
    put(&store, &bucket, "model.bin", "v1").await;
    put(&store, &bucket, "model.bin", "v2").await;
    put(&store, &bucket, "other.bin", "v1").await;
    put(&store, &bucket, "other.bin", "v2").await;
    let dir = PolicyDir::new(&policy_yaml("since", &bucket, "", NONCURRENT_FOR_RULES));
    let set = dir.load();
    scan_and_plan(&pool, &store, &set, "since").await;
    let at = |days| Utc::now() + chrono::Duration::days(days);
    let soon = plan_at(&pool, &set, "since", at(3)).await;
    assert_eq!(soon.changes(), 0, "replaced only now: {soon:#?}");
    let later = plan_at(&pool, &set, "since", at(8)).await;
    assert_eq!(objects(&later, "replaced-a-week-ago"), 1, "{later:#?}");
    let line = later.line("replaced-a-week-ago").unwrap();
    assert_eq!(sample_keys(line), ["model.bin"]);
    assert_eq!(line.samples[0].version, Some(VersionKind::Noncurrent));
    assert!(line.samples[0]
        .to_string()
        .starts_with("\"model.bin\" (noncurrent version "));
}

const WILDCARD_RULES: &str = "    - name: odd-prefix
      when: { key: { prefix: \"odd\\\\dir_%/\" } }
      then: delete
    - name: odd-suffix
      when: { key: { suffix: \"_%.t\\\\mp\" } }
      then: delete
    - name: odd-regex
      when: { key: { regex: \"a_b%c\" } }
      then: delete
";

/// Key matchers are narrowed in SQL with LIKE patterns before the rules decide; `%`, `_`
/// and `\` in their text must still match only themselves, and never hide a key.
#[sqlx::test]
async fn key_matchers_with_like_wildcards_in_their_text_match_them_literally(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "wildcards", BucketOptions::default()).await;
    for key in [
        "odd\\dir_%/1.bin",
        "oddXdir_%/decoy.bin",
        "x/y_%.t\\mp",
        "x/y%_.t\\mp",
        "q/a_b%c.bin",
        "q/aXbYc.bin",
    ] {
        put(&store, &bucket, key, "x").await;
    }
    let dir = PolicyDir::new(&policy_yaml("wildcards", &bucket, "", WILDCARD_RULES));
    let plan = plan_and_apply(&pool, &store, &dir, "wildcards").await;
    let counts: Vec<i64> = ["odd-prefix", "odd-suffix", "odd-regex"]
        .iter()
        .map(|r| objects(&plan, r))
        .collect();
    assert_eq!(counts, vec![1, 1, 1], "{plan:#?}");
    let mut left = live_keys(&store, &bucket).await;
    left.sort();
    assert_eq!(
        left,
        vec!["oddXdir_%/decoy.bin", "q/aXbYc.bin", "x/y%_.t\\mp"]
    );
}
