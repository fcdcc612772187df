//! The executor under trouble: throttling and dropped connections, processes killed with
//! SIGKILL mid-apply, and several processes sharing one plan. Each ends with every item in a
//! final state and exactly one audit event per item.

use crate::helpers::*;
use crate::proxy::{Faults, Proxy};
use shelflife::audit::{self, Outcome, Verification};
use shelflife::execute::{self, ApplyOptions};
use shelflife::storage::s3::{BucketOptions, S3Store};
use sqlx::PgPool;
use std::process::Stdio;
use std::time::Duration;

/// Items of `plan_id` not yet in a final state.
pub async fn open_items(pool: &PgPool, plan_id: i64) -> i64 {
    let sql = format!(
        "SELECT count(*) FROM plan_items WHERE plan_id = {plan_id} AND state IN ('pending', 'claimed')"
    );
    count(pool, &sql).await
}

/// Checks one audit event per item of `plan_id`, and the chain intact.
pub async fn assert_one_event_per_item(pool: &PgPool, plan_id: i64) {
    let items = count(
        pool,
        &format!("SELECT count(*) FROM plan_items WHERE plan_id = {plan_id}"),
    )
    .await;
    let events = count(
        pool,
        &format!("SELECT count(*) FROM audit_events WHERE plan_id = {plan_id}"),
    )
    .await;
    let distinct = count(
        pool,
        &format!("SELECT count(DISTINCT item_id) FROM audit_events WHERE plan_id = {plan_id}"),
    )
    .await;
    assert_eq!((events, distinct), (items, items), "one event per item");
    assert!(matches!(
        audit::verify(pool).await.unwrap(),
        Verification::Intact { .. }
    ));
}

/// What a bucket holds, without version ids: (key, delete marker, class, latest), sorted.
async fn shape(store: &S3Store, bucket: &str) -> Vec<(String, bool, Option<String>, bool)> {
    let mut all: Vec<_> = versions(store, bucket)
        .await
        .into_iter()
        .map(|v| (v.key, v.is_delete_marker, v.storage_class, v.is_latest))
        .collect();
    all.sort();
    all
}

/// Deletes `tmp/`, tiers `cold/` into the backend's cold class.
fn rules() -> String {
    format!(
        "    - name: drop-tmp
      when: {{ key: {{ prefix: tmp/ }} }}
      then: delete
    - name: cool
      when: {{ key: {{ prefix: cold/ }} }}
      then: {{ tier: {{ storageClass: {}, force: true }} }}
",
        cold()
    )
}

#[sqlx::test]
async fn an_apply_through_throttling_and_resets_finishes_with_one_event_per_item(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "faults", BucketOptions::default()).await;
    seed(
        &store,
        &bucket,
        (0..200).map(|i| format!("tmp/{i:04}.json")),
    )
    .await;
    seed(&store, &bucket, (0..40).map(|i| format!("cold/{i:04}.bin"))).await;
    let dir = PolicyDir::new(&policy_yaml("faults", &bucket, "", &rules()));
    let plan = scan_and_plan(&pool, &store, &dir.load(), "faults").await;
    assert_eq!(plan.changes(), 240);

    let faults = Faults {
        slow_down: 15,
        reset_before: 8,
        reset_after: 5,
    };
    let proxy = Proxy::start(&s3_endpoint(), faults).await;
    let faulty = proxy.store(12, 50).await;
    let mut options = ApplyOptions::new("through-faults");
    options.batch_size = 50;
    options.concurrency = 3;
    let report = execute::apply(&pool, &faulty, &plan, &options)
        .await
        .unwrap();

    let injected = &proxy.counts;
    assert!(
        injected
            .slow_downs
            .load(std::sync::atomic::Ordering::SeqCst)
            > 5
    );
    assert!(injected.resets.load(std::sync::atomic::Ordering::SeqCst) > 5);
    let reasons: Vec<(Option<String>,)> =
        sqlx::query_as("SELECT reason FROM audit_events WHERE outcome <> 'done'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(report.count(Outcome::Done), 240, "{report:?} {reasons:?}");
    assert_eq!(open_items(&pool, plan.plan_id).await, 0);
    assert_one_event_per_item(&pool, plan.plan_id).await;
    let live = live_keys(&store, &bucket).await;
    assert_eq!(live.len(), 40);
    assert!(live.iter().all(|k| k.starts_with("cold/")));
    for (_, _, class, _) in shape(&store, &bucket).await {
        assert_eq!(class.as_deref(), Some(cold()));
    }
}

/// Applies plan `plan_id` in small batches through a proxy, killing the process (SIGKILL) after
/// 3, 5, ... 21 requests, ten times, then lets one more apply finish it (asserted).
pub async fn apply_killed_at_ten_moments(pool: &PgPool, dir: &PolicyDir, plan_id: i64) {
    let id = plan_id.to_string();
    let args = [
        "apply",
        "--plan",
        &id,
        "--yes",
        "--claim-ttl",
        "1",
        "--batch-size",
        "5",
        "--concurrency",
        "2",
    ];
    let mut kills = 0;
    for i in 0..30 {
        if kills == 10 || open_items(pool, plan_id).await == 0 {
            break;
        }
        let proxy = Proxy::start(&s3_endpoint(), Faults::default()).await;
        let mut child = command(pool, dir.path(), &args, &[("S3_ENDPOINT", &proxy.endpoint)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        loop {
            if child.try_wait().unwrap().is_some() {
                break; // finished before its moment came
            }
            if proxy.requests() >= kill_after(i) {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    assert_eq!(kills, 10, "killed at ten moments before the plan was done");
    // Off the test's runtime thread, so the proxy keeps delivering what killed runs had sent:
    // a request in flight still reaches the server, as it would over a real network.
    let resume = ["apply", "--plan", &id, "--yes", "--claim-ttl", "1"];
    let mut resume = command(pool, dir.path(), &resume, &[]);
    let last = tokio::task::spawn_blocking(move || resume.output().unwrap())
        .await
        .unwrap();
    assert_eq!(last.status.code(), Some(0), "{}", describe(&last));
}

/// The number of requests after which the `i`th run is killed: 3, 5, ... 21, so that together
/// the ten runs stop well before the end of the plan.
fn kill_after(i: usize) -> usize {
    3 + 2 * i
}

#[sqlx::test]
async fn apply_killed_at_ten_moments_resumes_to_the_end_state_of_an_uninterrupted_run(
    pool: PgPool,
) {
    let store = store().await;
    let killed = new_bucket(&store, "killed", BucketOptions::VERSIONED).await;
    let calm = new_bucket(&store, "calm", BucketOptions::VERSIONED).await;
    // Versioned archives, so a copy made twice shows as an extra version.
    let killed_archive = new_bucket(&store, "killed-arch", BucketOptions::VERSIONED).await;
    let calm_archive = new_bucket(&store, "calm-arch", BucketOptions::VERSIONED).await;
    // Keys of the three actions alternate, so every claimed batch mixes them.
    let keys = || (0..30).flat_map(|i| ["tmp", "ckpt", "arch"].map(|s| format!("run/{i:03}.{s}")));
    for bucket in [&killed, &calm] {
        seed(&store, bucket, keys()).await;
    }
    let with_archive = |archive: &str| {
        format!("    - name: drop-tmp\n      when: {{ key: {{ suffix: .tmp }} }}\n      then: delete\n    - name: cool\n      when: {{ key: {{ suffix: .ckpt }} }}\n      then: {{ tier: {{ storageClass: {}, force: true }} }}\n    - name: away\n      when: {{ key: {{ suffix: .arch }} }}\n      then: {{ archive: {{ bucket: {archive}, prefix: old/, force: true }} }}\n", cold())
    };
    let policies = format!(
        "{}---\n{}",
        policy_yaml("killed", &killed, "", &with_archive(&killed_archive)),
        policy_yaml("calm", &calm, "", &with_archive(&calm_archive))
    );
    let dir = PolicyDir::new(&policies);
    let set = dir.load();
    let plan = scan_and_plan(&pool, &store, &set, "killed").await;
    let reference = scan_and_plan(&pool, &store, &set, "calm").await;
    let id = plan.plan_id.to_string();
    let reference_id = reference.plan_id.to_string();
    let calm_run = shelflife(
        &pool,
        dir.path(),
        &["apply", "--plan", &reference_id, "--yes"],
    );
    assert_eq!(calm_run.status.code(), Some(0), "{}", describe(&calm_run));

    apply_killed_at_ten_moments(&pool, &dir, plan.plan_id).await;

    assert_eq!(open_items(&pool, plan.plan_id).await, 0);
    assert_one_event_per_item(&pool, plan.plan_id).await;
    let done = format!("SELECT count(*) FROM plan_items WHERE plan_id = {id} AND state = 'done'");
    assert_eq!(
        count(&pool, &done).await,
        90,
        "every item done, none skipped"
    );
    assert_eq!(
        shape(&store, &killed).await,
        shape(&store, &calm).await,
        "same versions, markers and classes as the uninterrupted run"
    );
    let retried = format!(
        "SELECT count(DISTINCT action) FROM plan_items WHERE plan_id = {id} AND attempts > 1"
    );
    assert_eq!(
        count(&pool, &retried).await,
        3,
        "kills caught each action mid-way"
    );
    let archived = shape(&store, &killed_archive).await;
    assert_eq!(archived.len(), 30, "one copy of each archived version");
    assert_eq!(archived, shape(&store, &calm_archive).await);
}

#[sqlx::test]
async fn three_processes_share_one_plan_and_do_each_item_exactly_once(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "shared", BucketOptions::default()).await;
    seed(
        &store,
        &bucket,
        (0..5000).map(|i| format!("tmp/{i:05}.json")),
    )
    .await;
    let rules = "    - name: drop-tmp\n      when: { key: { prefix: tmp/ } }\n      then: delete\n";
    let dir = PolicyDir::new(&policy_yaml("shared", &bucket, "", rules));
    let plan = scan_and_plan(&pool, &store, &dir.load(), "shared").await;
    assert_eq!(plan.changes(), 5000);
    let id = plan.plan_id.to_string();
    let args = [
        "apply",
        "--plan",
        &id,
        "--yes",
        "--batch-size",
        "100",
        "--concurrency",
        "2",
    ];

    let workers: Vec<_> = (0..3)
        .map(|_| {
            command(&pool, dir.path(), &args, &[])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for worker in workers {
        let output = worker.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    }

    let done = format!("SELECT count(*) FROM plan_items WHERE plan_id = {id} AND state = 'done'");
    assert_eq!(count(&pool, &done).await, 5000);
    assert_one_event_per_item(&pool, plan.plan_id).await;
    let runs = format!("SELECT count(DISTINCT run_id) FROM audit_events WHERE plan_id = {id}");
    assert!(count(&pool, &runs).await >= 2, "the work was shared");
    assert!(live_keys(&store, &bucket).await.is_empty());
}

#[sqlx::test]
async fn apply_exits_5_when_storage_is_unreachable_then_4_when_items_fail_and_resumes(
    pool: PgPool,
) {
    let store = store().await;
    let bucket = new_bucket(&store, "exits", BucketOptions::default()).await;
    seed(&store, &bucket, (0..10).map(|i| format!("tmp/{i}.json"))).await;
    seed(&store, &bucket, (0..2).map(|i| format!("models/{i}.bin"))).await;
    // Retention on a bucket without Object Lock: the server refuses, so those items fail.
    let rules = format!(
        "{}    - name: retain\n      when: {{ key: {{ prefix: models/ }} }}\n      then: {{ lock: {{ mode: GOVERNANCE, retainFor: 1d }} }}\n",
        rules()
    );
    let dir = PolicyDir::new(&policy_yaml("exits", &bucket, "", &rules));
    let plan = scan_and_plan(&pool, &store, &dir.load(), "exits").await;
    let id = plan.plan_id.to_string();
    let args = ["apply", "--plan", &id, "--yes"];

    // Batches of two: the batches claimed ahead of the failed one are given back too.
    let away = shelflife_with_env(
        &pool,
        dir.path(),
        &["apply", "--plan", &id, "--yes", "--batch-size", "2"],
        &[("S3_ENDPOINT", "http://127.0.0.1:9")],
    );
    assert_eq!(away.status.code(), Some(5), "{}", describe(&away));
    let pending = format!(
        "SELECT count(*) FROM plan_items WHERE plan_id = {} AND state = 'pending'",
        plan.plan_id
    );
    assert_eq!(count(&pool, &pending).await, 12, "released, pending again");
    assert_eq!(count(&pool, ITEM_EVENTS).await, 0);

    let out = shelflife(&pool, dir.path(), &args);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    assert!(
        stdout(&out).contains("10 done, 0 skipped, 0 changed since scan, 0 blocked, 2 failed"),
        "{}",
        describe(&out)
    );
    assert_eq!(
        live_keys(&store, &bucket).await,
        vec!["models/0.bin", "models/1.bin"]
    );
    let (state, reason): (String, String) = sqlx::query_as(
        "SELECT state, reason FROM plan_items WHERE plan_id = $1 AND key = 'models/0.bin'",
    )
    .bind(plan.plan_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(state, "failed");
    assert!(reason.contains("PutObjectRetention"), "{reason}");
    assert_one_event_per_item(&pool, plan.plan_id).await;
}
