//! `shelflife run`: due policies by their schedule, one process per policy at a time.

use crate::helpers::*;
use shelflife::storage::s3::BucketOptions;
use sqlx::PgPool;

const RULES: &str = "    - name: drop\n      when: { key: { prefix: tmp/ } }\n      then: delete\n";

fn scheduled(name: &str, bucket: &str, cron: &str) -> String {
    policy_yaml(name, bucket, &format!("  schedule: \"{cron}\"\n"), RULES)
}

async fn policy_runs(pool: &PgPool, policy: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM policy_runs WHERE policy = $1 AND exit_code = 0")
        .bind(policy)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn two_runs_started_together_apply_a_policy_once(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "overlap", BucketOptions::default()).await;
    for i in 0..60 {
        put(&store, &bucket, &format!("tmp/{i:03}"), "x").await;
    }
    let dir = PolicyDir::new(&scheduled("overlap", &bucket, "@daily"));
    let spawn = || {
        command(&pool, dir.path(), &["run", "--due"], &[])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let outputs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    for out in &outputs {
        assert_eq!(out.status.code(), Some(0), "{}", describe(out));
    }
    let skipped = outputs
        .iter()
        .filter(|o| {
            let text = stdout(o);
            text.contains("running elsewhere, skipped") || text.contains("not due")
        })
        .count();
    assert_eq!(
        skipped,
        1,
        "{}\n{}",
        describe(&outputs[0]),
        describe(&outputs[1])
    );
    assert_eq!(policy_runs(&pool, "overlap").await, 1);
    let starts = "SELECT count(*) FROM audit_events WHERE action = 'run.start'";
    assert_eq!(count(&pool, starts).await, 1, "one audited run");
    assert_eq!(count(&pool, ITEM_EVENTS).await, 60, "each object once");
    assert!(live_keys(&store, &bucket).await.is_empty());
}

#[sqlx::test]
async fn due_policies_run_and_are_not_due_right_after(pool: PgPool) {
    let store = store().await;
    let yearly_bucket = new_bucket(&store, "yearly", BucketOptions::default()).await;
    let daily_bucket = new_bucket(&store, "daily", BucketOptions::default()).await;
    let manual_bucket = new_bucket(&store, "manual", BucketOptions::default()).await;
    for b in [&yearly_bucket, &daily_bucket, &manual_bucket] {
        put(&store, b, "tmp/a", "x").await;
    }
    let text = [
        scheduled("yearly", &yearly_bucket, "0 0 1 1 *"),
        scheduled("daily", &daily_bucket, "0 0 * * *"),
        policy_yaml("manual", &manual_bucket, "", RULES),
    ]
    .join("---\n");
    let dir = PolicyDir::new(&text);
    let run = |args: &[&str]| {
        let out = shelflife(&pool, dir.path(), args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", describe(&out));
        stdout(&out)
    };
    // The yearly policy has run this year: its schedule has not fired since.
    run(&["run", "--all", "--policy", "yearly"]);
    put(&store, &yearly_bucket, "tmp/b", "x").await;

    let first = run(&["run", "--due"]);
    assert!(first.contains("policy yearly: not due (next at"), "{first}");
    assert!(
        first.contains("policy manual: not due (no schedule)"),
        "{first}"
    );
    assert!(
        live_keys(&store, &daily_bucket).await.is_empty(),
        "daily was due: {first}"
    );
    assert_eq!(live_keys(&store, &yearly_bucket).await, vec!["tmp/b"]);
    assert_eq!(live_keys(&store, &manual_bucket).await, vec!["tmp/a"]);

    let second = run(&["run"]);
    assert!(
        second.contains("policy daily: not due"),
        "--due is the default: {second}"
    );
    assert_eq!(policy_runs(&pool, "daily").await, 1);
    assert_eq!(policy_runs(&pool, "yearly").await, 1);
    assert_eq!(policy_runs(&pool, "manual").await, 0);
}

#[sqlx::test]
async fn with_join_the_pods_of_one_job_share_the_apply_and_do_each_item_once(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "join", BucketOptions::default()).await;
    seed(&store, &bucket, (0..600).map(|i| format!("tmp/{i:04}"))).await;
    let dir = PolicyDir::new(&scheduled("join", &bucket, "@daily"));
    // Small batches, one at a time per process: the apply lasts long enough to be joined.
    let args = [
        "run",
        "--due",
        "--join",
        "--concurrency",
        "1",
        "--batch-size",
        "10",
    ];
    let spawn = || {
        command(&pool, dir.path(), &args, &[])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let pods = [spawn(), spawn(), spawn()];
    let outputs: Vec<_> = pods
        .into_iter()
        .map(|p| p.wait_with_output().unwrap())
        .collect();
    let all: String = outputs.iter().map(describe).collect::<Vec<_>>().join("\n");
    for out in &outputs {
        assert_eq!(out.status.code(), Some(0), "{all}");
    }
    let joined = outputs
        .iter()
        .filter(|o| stdout(o).contains("joining the apply of plan"))
        .count();
    assert!(joined >= 1, "a second pod joined: {all}");
    assert_eq!(policy_runs(&pool, "join").await, 1, "one policy run");
    assert_eq!(count(&pool, ITEM_EVENTS).await, 600, "each object once");
    let workers = "SELECT count(DISTINCT worker) FROM audit_events WHERE item_id IS NOT NULL";
    assert!(
        count(&pool, workers).await >= 2,
        "the work was shared: {all}"
    );
    assert!(live_keys(&store, &bucket).await.is_empty());
}
