//! scan → plan → apply through the library, against real PostgreSQL and the local S3 server.

use crate::helpers::*;
use chrono::Utc;
use shelflife::audit::{self, Verification};
use shelflife::execute::{self, ApplyOptions};
use shelflife::plan::PlanState;
use shelflife::storage::s3::{BucketOptions, S3Store};
use sqlx::PgPool;

const KEY_DATE: &str = "  age: { from: key-date, pattern: \"logs/{yyyy}/{mm}/{dd}/\" }\n";

const RULES: &str = "    - name: keep-pinned
      when: { key: { prefix: logs/2020/01/03/ } }
      then: keep
    - name: expire
      when: { age: { olderThan: 30d } }
      then: delete
";

async fn audited_keys(pool: &PgPool, plan_id: i64) -> Vec<String> {
    sqlx::query_scalar("SELECT key FROM audit_events WHERE plan_id = $1 ORDER BY key")
        .bind(plan_id)
        .fetch_all(pool)
        .await
        .unwrap()
}

/// A bucket of date-partitioned logs: two old, one old but pinned, one recent, and two keys
/// without a `logs/yyyy/mm/dd/` date.
async fn logs_bucket(store: &S3Store) -> (String, String) {
    let bucket = new_bucket(store, "logs", BucketOptions::default()).await;
    let today = Utc::now().format("logs/%Y/%m/%d/today.jsonl").to_string();
    for key in [
        "logs/2020/01/01/a.jsonl",
        "logs/2020/01/02/b c%20d.jsonl",
        "logs/2020/01/03/pinned.jsonl",
        today.as_str(),
        "logs/README",
        "other/2020/01/01/outside-rule.jsonl",
    ] {
        put(store, &bucket, key, "{}").await;
    }
    (bucket, today)
}

#[sqlx::test]
async fn apply_deletes_exactly_the_matching_objects_and_audits_each_once(pool: PgPool) {
    let store = store().await;
    let (bucket, today) = logs_bucket(&store).await;
    let dir = PolicyDir::new(&policy_yaml("logs", &bucket, KEY_DATE, RULES));
    let set = dir.load();

    let plan = scan_and_plan(&pool, &store, &set, "logs").await;
    assert_eq!(plan.state, PlanState::Planned);
    assert_eq!(plan.changes(), 2, "{plan:#?}");
    assert_eq!(plan.actions[0].objects, 1, "the pinned log is kept");
    assert_eq!(
        plan.undated, 2,
        "logs/README and other/... carry no logs/yyyy/mm/dd date"
    );

    let report = execute::apply(&pool, &store, &plan, &ApplyOptions::new("test"))
        .await
        .unwrap();
    assert_eq!(report.count(audit::Outcome::Done), 2);

    let mut expected = vec![
        "logs/2020/01/03/pinned.jsonl".to_string(),
        today,
        "logs/README".to_string(),
        "other/2020/01/01/outside-rule.jsonl".to_string(),
    ];
    expected.sort();
    let mut remaining = live_keys(&store, &bucket).await;
    remaining.sort();
    assert_eq!(remaining, expected);
    assert_eq!(
        audited_keys(&pool, plan.plan_id).await,
        vec!["logs/2020/01/01/a.jsonl", "logs/2020/01/02/b c%20d.jsonl"]
    );
    assert!(matches!(
        audit::verify(&pool).await.unwrap(),
        Verification::Intact { events: 2, .. }
    ));
}

#[sqlx::test]
async fn reapplying_a_plan_changes_nothing_and_writes_no_new_audit_rows(pool: PgPool) {
    let store = store().await;
    let (bucket, _) = logs_bucket(&store).await;
    let dir = PolicyDir::new(&policy_yaml("logs", &bucket, KEY_DATE, RULES));
    let plan = scan_and_plan(&pool, &store, &dir.load(), "logs").await;
    let options = ApplyOptions::new("test");
    execute::apply(&pool, &store, &plan, &options)
        .await
        .unwrap();
    let after_first = versions(&store, &bucket).await;
    let events = count(&pool, "SELECT count(*) FROM audit_events").await;

    let again = execute::apply(&pool, &store, &plan, &options)
        .await
        .unwrap();
    assert!(again.outcomes.is_empty(), "{again:?}");
    assert_eq!(versions(&store, &bucket).await, after_first);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM audit_events").await,
        events
    );
    let state: String = sqlx::query_scalar("SELECT state FROM plans WHERE id = $1")
        .bind(plan.plan_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(state, "applied");
}

#[sqlx::test]
async fn planning_alone_changes_nothing(pool: PgPool) {
    let store = store().await;
    let (bucket, _) = logs_bucket(&store).await;
    let dir = PolicyDir::new(&policy_yaml("logs", &bucket, KEY_DATE, RULES));
    let before = versions(&store, &bucket).await;
    let plan = scan_and_plan(&pool, &store, &dir.load(), "logs").await;
    assert_eq!(plan.changes(), 2);
    assert_eq!(versions(&store, &bucket).await, before);
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM plan_items WHERE state <> 'pending'"
        )
        .await,
        0
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_events").await, 0);
}

#[sqlx::test]
async fn deleting_a_current_version_on_a_versioned_bucket_leaves_a_delete_marker(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "versioned", BucketOptions::VERSIONED).await;
    put(&store, &bucket, "tmp/old.bin", "v1").await;
    put(&store, &bucket, "tmp/old.bin", "v2").await;
    put(&store, &bucket, "keep/me.bin", "x").await;
    let rules = "    - name: drop-tmp\n      when: { key: { prefix: tmp/ } }\n      then: delete\n";
    let dir = PolicyDir::new(&policy_yaml("tmp", &bucket, "", rules));
    let plan = scan_and_plan(&pool, &store, &dir.load(), "tmp").await;
    assert_eq!(plan.population, 3);
    assert_eq!(
        plan.changes(),
        1,
        "only the current version of tmp/old.bin is planned"
    );

    execute::apply(&pool, &store, &plan, &ApplyOptions::new("test"))
        .await
        .unwrap();
    let after = versions(&store, &bucket).await;
    let tmp: Vec<_> = after.iter().filter(|v| v.key == "tmp/old.bin").collect();
    assert_eq!(
        tmp.len(),
        3,
        "both versions remain behind a new delete marker: {tmp:#?}"
    );
    assert!(tmp.iter().any(|v| v.is_delete_marker && v.is_latest));
    assert_eq!(live_keys(&store, &bucket).await, vec!["keep/me.bin"]);
    let after_state: serde_json::Value = sqlx::query_scalar("SELECT state_after FROM audit_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        after_state["delete_marker_version_id"].is_string(),
        "{after_state}"
    );
}
