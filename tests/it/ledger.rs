//! What every audit event says (policy revision, clock, worker, outcomes the plan decided),
//! runs in the chain, and the insert-and-select-only role the migration creates.

use crate::helpers::*;
use shelflife::storage::s3::{BucketOptions, PutOptions};
use shelflife::storage::ObjectStore;
use sqlx::PgPool;

const RULES: &str = "    - name: to-glacier
      when: { key: { prefix: cold/ } }
      then: { tier: { storageClass: GLACIER } }
    - name: purge
      when: { key: { prefix: tmp/ } }
      then: delete
";

/// A lock-enabled bucket whose plan has one of each: done, blocked (legal hold), uneconomic.
async fn mixed_bucket() -> String {
    let store = store().await;
    let bucket = new_bucket(&store, "ledger", BucketOptions::OBJECT_LOCK).await;
    let held = PutOptions {
        legal_hold: true,
        ..PutOptions::default()
    };
    store
        .put_object(&bucket, "tmp/held.bin", b"data".to_vec(), &held)
        .await
        .expect("put object");
    put(&store, &bucket, "tmp/free.bin", "data").await;
    put(&store, &bucket, "cold/tiny.bin", "tiny").await;
    bucket
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    key: String,
    outcome: String,
    reason: Option<String>,
    policy_revision: Option<String>,
    worker: Option<String>,
    clock: Option<chrono::DateTime<chrono::Utc>>,
    run_id: Option<i64>,
}

#[sqlx::test]
async fn every_outcome_is_an_event_with_revision_clock_and_worker_and_runs_are_chained(
    pool: PgPool,
) {
    let bucket = mixed_bucket().await;
    let dir = PolicyDir::with_storage_extra(
        "  costs: aws-us-east-1\n",
        &policy_yaml("ledger", &bucket, "", RULES),
    );
    let env = [("SHELFLIFE_POLICY_REVISION", "3f2c1e0")];
    for args in [&["scan"][..], &["plan"], &["apply", "--yes"]] {
        let out = shelflife_with_env(&pool, dir.path(), args, &env);
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT key, outcome, reason, policy_revision, worker, clock, run_id FROM audit_events \
         WHERE item_id IS NOT NULL ORDER BY key",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let outcomes: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.key.as_str(), r.outcome.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("cold/tiny.bin", "uneconomic"),
            ("tmp/free.bin", "done"),
            ("tmp/held.bin", "blocked")
        ]
    );
    assert!(rows[0].reason.as_deref().unwrap().starts_with("uneconomic"));
    assert!(rows[2].reason.as_deref().unwrap().contains("legal hold"));
    let (as_of, run_id): (chrono::DateTime<chrono::Utc>, i64) =
        sqlx::query_as("SELECT p.as_of, r.id FROM plans p, runs r")
            .fetch_one(&pool)
            .await
            .unwrap();
    for row in &rows {
        assert_eq!(row.policy_revision.as_deref(), Some("3f2c1e0"), "{row:?}");
        assert_eq!(row.clock, Some(as_of), "{row:?}");
        assert_eq!(row.run_id, Some(run_id), "{row:?}");
        assert!(row.worker.as_deref().unwrap().contains(':'), "{row:?}");
    }
    let runs: Vec<(String, String, serde_json::Value)> = sqlx::query_as(
        "SELECT action, outcome, state_after FROM audit_events WHERE item_id IS NULL ORDER BY seq",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(
        (runs[0].0.as_str(), runs[0].1.as_str()),
        ("run.start", "started")
    );
    assert_eq!(runs[0].2["command"], "apply");
    assert!(runs[0].2["args"].as_str().unwrap().contains("apply --yes"));
    assert!(!runs[0].2["host"].as_str().unwrap().is_empty());
    assert_eq!(
        (runs[1].0.as_str(), runs[1].1.as_str()),
        ("run.end", "done")
    );
    assert_eq!(runs[1].2["exit_code"], 0);
    let first_and_last: (i64, i64, i64) =
        sqlx::query_as("SELECT min(seq), max(seq), count(*) FROM audit_events")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(first_and_last, (1, 5, 5), "run.start first, run.end last");
    let verify = shelflife(&pool, dir.path(), &["audit", "verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", describe(&verify));
}

/// A login role in `shelflife_app`, for this test's database.
async fn app_login(pool: &PgPool) -> String {
    let db: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(pool)
        .await
        .unwrap();
    let suffix: String = db
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let role = format!("sl_app_{suffix}");
    let create = format!(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN \
         CREATE ROLE {role} LOGIN; END IF; END $$"
    );
    sqlx::query(&create).execute(pool).await.unwrap();
    // Granted every time: the login role outlives the test databases, and its membership goes
    // with shelflife_app if that role is ever dropped and created again.
    let create = format!("GRANT shelflife_app TO {role}");
    sqlx::query(&create).execute(pool).await.unwrap();
    let url = database_url(pool);
    url.replacen("postgres@", &format!("{role}@"), 1)
}

#[sqlx::test]
async fn the_app_role_runs_the_pipeline_but_cannot_rewrite_or_unprotect_the_audit_trail(
    pool: PgPool,
) {
    let store = store().await;
    let bucket = new_bucket(&store, "role", BucketOptions::default()).await;
    put(&store, &bucket, "tmp/a", "x").await;
    let rules = "    - name: drop\n      when: { key: { prefix: tmp/ } }\n      then: delete\n";
    let dir = PolicyDir::new(&policy_yaml("role", &bucket, "", rules));
    let url = app_login(&pool).await;
    assert!(url.contains("sl_app"), "{url}");
    let env = [("DATABASE_URL", url.as_str())];
    for args in [
        &["scan"][..],
        &["plan"],
        &["apply", "--yes"],
        &["audit", "verify"],
    ] {
        let out = shelflife_with_env(&pool, dir.path(), args, &env);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", describe(&out));
    }
    assert!(live_keys(&store, &bucket).await.is_empty());
    let app = sqlx::PgPool::connect(&url).await.unwrap();
    for sql in [
        "UPDATE audit_events SET reason = 'x'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "DELETE FROM audit_checkpoints",
        "ALTER TABLE audit_events DISABLE TRIGGER ALL",
    ] {
        let err = sqlx::query(sql).execute(&app).await.unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("permission denied") || message.contains("must be owner"),
            "{sql}: {message}"
        );
    }
    assert_eq!(count(&pool, ITEM_EVENTS).await, 1);
}

/// Migration 9's role block, for a role named `role`.
fn role_block(role: &str) -> String {
    let migration = include_str!("../../migrations/20261122000009_ledger.sql");
    let start = migration.find("DO $$").expect("the role block");
    migration[start..].replace("shelflife_app", role)
}

#[sqlx::test]
async fn two_migrations_creating_the_role_at_once_both_succeed(pool: PgPool) {
    // Roles are cluster-wide: a first run of the test suite (or several databases of one
    // cluster) migrates databases concurrently, and both transactions find no role yet.
    let role = unique_bucket("sl_race").replace('-', "_");
    let block = role_block(&role);
    let mut first = pool.begin().await.unwrap();
    sqlx::raw_sql(&block).execute(&mut *first).await.unwrap();
    let second = async {
        let mut tx = pool.begin().await?;
        // Waits on the first transaction's uncommitted role, then sees it committed.
        sqlx::raw_sql(&block).execute(&mut *tx).await?;
        tx.commit().await
    };
    let commit_first = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        first.commit().await.unwrap();
    };
    let (second, ()) = tokio::join!(second, commit_first);
    let cleanup =
        format!("REASSIGN OWNED BY {role} TO CURRENT_USER; DROP OWNED BY {role}; DROP ROLE {role}");
    sqlx::raw_sql(&cleanup).execute(&pool).await.unwrap();
    second.expect("the second migration succeeds");
}

#[sqlx::test]
async fn a_policy_can_have_each_checkpoint_written_to_a_locked_bucket(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "evidence-src", BucketOptions::default()).await;
    let evidence = new_bucket(&store, "evidence", BucketOptions::OBJECT_LOCK).await;
    put(&store, &bucket, "tmp/a", "x").await;
    let rules = "    - name: drop\n      when: { key: { prefix: tmp/ } }\n      then: delete\n";
    let audit = format!(
        "  audit:\n    checkpoints: {{ bucket: {evidence}, prefix: ckpt/, \
         lock: {{ mode: COMPLIANCE, retainFor: 1d }} }}\n"
    );
    let dir = PolicyDir::new(&policy_yaml("evidence", &bucket, &audit, rules));
    for args in [&["validate"][..], &["scan"], &["plan"], &["apply", "--yes"]] {
        let out = shelflife(&pool, dir.path(), args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", describe(&out));
    }
    let (id, seq, head): (i64, i64, String) =
        sqlx::query_as("SELECT id, seq, head FROM audit_checkpoints")
            .fetch_one(&pool)
            .await
            .unwrap();
    let key = format!("ckpt/{id:012}-seq{seq}.json");
    assert_eq!(live_keys(&store, &evidence).await, vec![key.clone()]);
    let document: serde_json::Value =
        serde_json::from_slice(&read(&store, &evidence, &key).await).unwrap();
    assert_eq!(document["seq"], seq);
    assert_eq!(document["head"], head.as_str());
    assert!(document["message"]
        .as_str()
        .unwrap()
        .ends_with(document["at"].as_str().unwrap()));
    let stored = store.head(&evidence, &key, None).await.unwrap();
    let retention = stored.retention.expect("locked");
    assert_eq!(retention.mode, shelflife::storage::LockMode::Compliance);
    assert!(retention.retain_until > chrono::Utc::now() + chrono::Duration::hours(23));
    let version = stored.version_id.clone();
    let target = shelflife::storage::DeleteTarget {
        key: key.clone(),
        version_id: version,
        if_match: None,
    };
    let answers = store
        .delete_batch(&evidence, &[target], true)
        .await
        .unwrap();
    assert!(
        answers[0].is_err(),
        "a COMPLIANCE checkpoint cannot be deleted: {answers:?}"
    );
    assert_eq!(live_keys(&store, &evidence).await, vec![key]);
}

#[test]
fn checkpoint_settings_are_validated_with_their_place() {
    let bad = "  audit:\n    checkpoints: { storage: nowhere, bucket: b }\n";
    let dir = PolicyDir::new(&policy_yaml(
        "evidence",
        "b",
        bad,
        "    - name: drop\n      when: { key: { prefix: tmp/ } }\n      then: delete\n",
    ));
    let out = std::process::Command::new(binary())
        .args(["validate", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let text = stdout(&out) + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("policies.yaml:7:29: evidence: unknown storage \"nowhere\""),
        "the error points at the storage name: {text}"
    );
}
