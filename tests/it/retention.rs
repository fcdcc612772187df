//! Plan retention (`--keep-plans`): old plans lose their items, never the latest plan of a
//! policy nor one a worker holds claims in; a pruned plan never applied cannot be applied.

use crate::helpers::*;
use shelflife::storage::s3::BucketOptions;
use sqlx::PgPool;

const EXPIRE_TMP: &str =
    "    - name: drop-tmp\n      when: { key: { prefix: tmp/ } }\n      then: delete\n";

async fn items_of(pool: &PgPool, plan_id: i64) -> i64 {
    count(
        pool,
        &format!("SELECT count(*) FROM plan_items WHERE plan_id = {plan_id}"),
    )
    .await
}

/// Backdates plan `plan_id` by `days`, as if it had been made then.
async fn age(pool: &PgPool, plan_id: i64, days: i32) {
    sqlx::query("UPDATE plans SET created_at = now() - make_interval(days => $2) WHERE id = $1")
        .bind(plan_id)
        .bind(days)
        .execute(pool)
        .await
        .unwrap();
}

async fn plan_ids(pool: &PgPool) -> Vec<i64> {
    sqlx::query_scalar("SELECT id FROM plans ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn old_plans_lose_their_items_and_a_pruned_unapplied_plan_cannot_be_applied(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "keep", BucketOptions::default()).await;
    for key in ["tmp/1", "tmp/2", "tmp/3", "data/4"] {
        put(&store, &bucket, key, "x").await;
    }
    let dir = PolicyDir::new(&policy_yaml("tmp", &bucket, "", EXPIRE_TMP));
    let run = |args: &[&str]| shelflife(&pool, dir.path(), args);
    assert!(run(&["scan"]).status.success());
    for _ in 0..3 {
        assert!(run(&["plan"]).status.success());
    }
    let [old, claimed, latest] = plan_ids(&pool).await[..] else {
        panic!("three plans")
    };
    for id in [old, claimed, latest] {
        age(&pool, id, 40).await;
    }
    sqlx::query("UPDATE plan_items SET state = 'claimed', claimed_by = 'w' WHERE plan_id = $1")
        .bind(claimed)
        .execute(&pool)
        .await
        .unwrap();

    let off = run(&["db", "prune", "--keep-plans", "off"]);
    assert!(off.status.success(), "{}", describe(&off));
    assert_eq!(items_of(&pool, old).await, 3, "off keeps everything");
    let kept = run(&["db", "prune", "--keep-plans", "41d"]);
    assert!(kept.status.success(), "{}", describe(&kept));
    assert_eq!(items_of(&pool, old).await, 3, "younger than the retention");

    let pruned = run(&["db", "prune"]);
    assert!(pruned.status.success(), "{}", describe(&pruned));
    assert!(
        stdout(&pruned).contains("deleted 3 items of 1 plan older"),
        "{}",
        describe(&pruned)
    );
    let left: Vec<i64> = vec![
        items_of(&pool, old).await,
        items_of(&pool, claimed).await,
        items_of(&pool, latest).await,
    ];
    assert_eq!(left, [0, 3, 3], "only the old, unclaimed, not-latest plan");
    let figures = count(
        &pool,
        &format!("SELECT (summary->'limits'->>'objects')::int8 FROM plans WHERE id = {old}"),
    )
    .await;
    assert_eq!(figures, 3, "the plan's figures remain");

    let refused = run(&["apply", "--plan", &old.to_string(), "--yes"]);
    assert_eq!(refused.status.code(), Some(2), "{}", describe(&refused));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("plan again"));
    assert_eq!(live_keys(&store, &bucket).await.len(), 4, "nothing touched");
    assert_eq!(count(&pool, ITEM_EVENTS).await, 0);

    let applied = run(&["apply", "--yes"]);
    assert!(applied.status.success(), "{}", describe(&applied));
    assert_eq!(live_keys(&store, &bucket).await, ["data/4"]);
}

#[sqlx::test]
async fn run_prunes_the_policy_it_ran(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "keeprun", BucketOptions::default()).await;
    put(&store, &bucket, "tmp/1", "x").await;
    let dir = PolicyDir::new(&policy_yaml("tmp", &bucket, "", EXPIRE_TMP));
    let run = |args: &[&str]| shelflife(&pool, dir.path(), args);
    let first = run(&["run", "--all"]);
    assert!(first.status.success(), "{}", describe(&first));
    let [applied] = plan_ids(&pool).await[..] else {
        panic!("one plan")
    };
    assert_eq!(items_of(&pool, applied).await, 1);
    age(&pool, applied, 31).await;
    let second = run(&["run", "--all"]);
    assert!(second.status.success(), "{}", describe(&second));
    assert!(
        stdout(&second).contains("deleted 1 item of 1 plan older"),
        "{}",
        describe(&second)
    );
    assert_eq!(items_of(&pool, applied).await, 0);
    let again = run(&["apply", "--plan", &applied.to_string(), "--yes"]);
    assert!(
        again.status.success(),
        "an applied plan stays applied: {}",
        describe(&again)
    );
    assert_eq!(
        count(&pool, ITEM_EVENTS).await,
        1,
        "its action stays in the trail"
    );
}
