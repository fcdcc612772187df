//! Apply finds a plan's items by the range of ids they were given (`plans.first_item` to
//! `last_item`) with their plan checked: plans written at the same time may interleave their
//! ranges, and each must still apply, close and delete only its own items.

use crate::helpers::*;
use shelflife::audit::Outcome;
use shelflife::execute::{self, ApplyOptions};
use shelflife::plan::{self, PlanState};
use shelflife::storage::s3::BucketOptions;
use sqlx::PgPool;

const RULES: &str = "    - { name: tmp, when: { key: { prefix: tmp/ } }, then: delete }\n";
const NOTHING: &str = "    - { name: none, when: { key: { prefix: none/ } }, then: delete }\n";

async fn items(pool: &PgPool, plan_id: i64, state: &str) -> i64 {
    count(
        pool,
        &format!("SELECT count(*) FROM plan_items WHERE plan_id = {plan_id} AND state = '{state}'"),
    )
    .await
}

#[sqlx::test]
async fn plans_with_overlapping_item_ranges_apply_and_delete_only_their_own_items(pool: PgPool) {
    let store = store().await;
    let a = new_bucket(&store, "range-a", BucketOptions::default()).await;
    let b = new_bucket(&store, "range-b", BucketOptions::default()).await;
    seed(&store, &a, (0..12).map(|i| format!("tmp/a-{i}"))).await;
    seed(&store, &b, (0..12).map(|i| format!("tmp/b-{i}"))).await;
    let dir = PolicyDir::new(&format!(
        "{}\n---\n{}\n---\n{}",
        policy_yaml("range-a", &a, "", RULES),
        policy_yaml("range-b", &b, "", RULES),
        policy_yaml("range-none", &a, "", NOTHING),
    ));
    let set = dir.load();
    let pa = scan_and_plan(&pool, &store, &set, "range-a").await;
    let pb = scan_and_plan(&pool, &store, &set, "range-b").await;
    let (ra, rb) = (
        pa.item_ids.expect("a's items"),
        pb.item_ids.expect("b's items"),
    );
    assert!(ra.last < rb.first, "{ra:?} then {rb:?}");
    // Items carry their versions' listed values exactly (they are copied in binary).
    let exact = format!(
        "SELECT count(*) FROM plan_items p JOIN plans pl ON pl.id = p.plan_id \
         JOIN inventory i ON i.scan_id = pl.scan_id AND i.key = p.key \
          AND i.version_id IS NOT DISTINCT FROM p.version_id \
         WHERE p.plan_id = {} AND p.state = 'pending' AND p.finished_at IS NULL \
           AND p.params::jsonb = '{{\"permanent\": false, \"bypassGovernance\": false}}'::jsonb \
           AND (p.size, p.etag, p.last_modified, p.storage_class, p.is_latest, p.is_delete_marker) \
               IS NOT DISTINCT FROM \
               (i.size, i.etag, i.last_modified, i.storage_class, i.is_latest, i.is_delete_marker)",
        pb.plan_id
    );
    assert_eq!(count(&pool, &exact).await, 12);

    // As if both had been written at once: a's range now spans b's items.
    sqlx::query("UPDATE plans SET last_item = $2 WHERE id = $1")
        .bind(pa.plan_id)
        .bind(rb.last)
        .execute(&pool)
        .await
        .unwrap();
    let pa = plan::load(&pool, pa.plan_id).await.unwrap();
    let report = execute::apply(&pool, &store, &pa, &ApplyOptions::new("test"))
        .await
        .unwrap();
    assert_eq!(report.count(Outcome::Done), 12, "{report:?}");
    assert!(live_keys(&store, &a).await.is_empty());
    assert_eq!(
        live_keys(&store, &b).await.len(),
        12,
        "b's objects untouched"
    );
    assert_eq!(items(&pool, pb.plan_id, "pending").await, 12);
    assert_eq!(
        plan::load(&pool, pa.plan_id).await.unwrap().state,
        PlanState::Applied,
        "b's pending items are not a's"
    );
    let sql =
        format!("SELECT count(*) FROM audit_events WHERE item_id IS NOT NULL AND bucket = '{b}'");
    assert_eq!(count(&pool, &sql).await, 0);

    // Deleting a plan deletes its items only.
    sqlx::query("DELETE FROM plans WHERE id = $1")
        .bind(pa.plan_id)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(items(&pool, pa.plan_id, "done").await, 0);
    assert_eq!(items(&pool, pb.plan_id, "pending").await, 12);

    let report = execute::apply(&pool, &store, &pb, &ApplyOptions::new("test"))
        .await
        .unwrap();
    assert_eq!(report.count(Outcome::Done), 12, "{report:?}");
    assert!(live_keys(&store, &b).await.is_empty());

    // A plan without items has no range, and applying it closes it.
    let none = plan_at(&pool, &set, "range-none", chrono::Utc::now()).await;
    assert_eq!((none.item_ids, none.state), (None, PlanState::Planned));
    let report = execute::apply(&pool, &store, &none, &ApplyOptions::new("test"))
        .await
        .unwrap();
    assert!(report.outcomes.is_empty(), "{report:?}");
    assert_eq!(
        plan::load(&pool, none.plan_id).await.unwrap().state,
        PlanState::Applied
    );
}

/// A worker that claims every other item of a plan in one pass still waits for the one another
/// worker holds: the plan closes only when every item is final.
#[sqlx::test]
async fn an_item_another_worker_holds_is_waited_for_before_the_plan_closes(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "held", BucketOptions::default()).await;
    seed(&store, &bucket, (0..6).map(|i| format!("tmp/h-{i}"))).await;
    let dir = PolicyDir::new(&policy_yaml("held", &bucket, "", RULES));
    let plan = scan_and_plan(&pool, &store, &dir.load(), "held").await;
    let ids = plan.item_ids.expect("items");
    assert_eq!(ids.last - ids.first, 5, "{ids:?}");
    // Another worker claimed the third item a moment ago, for a second.
    sqlx::query(
        "UPDATE plan_items SET state = 'claimed', claimed_by = 'other:1', attempts = 1, \
                claimed_until = now() + interval '1 second' WHERE id = $1",
    )
    .bind(ids.first + 2)
    .execute(&pool)
    .await
    .unwrap();
    let report = execute::apply(&pool, &store, &plan, &ApplyOptions::new("test"))
        .await
        .unwrap();
    // Its claim expired unfinished, so this worker took the item over.
    assert_eq!(report.count(Outcome::Done), 6, "{report:?}");
    assert!(live_keys(&store, &bucket).await.is_empty());
    assert_eq!(items(&pool, plan.plan_id, "done").await, 6);
    assert_eq!(
        plan::load(&pool, plan.plan_id).await.unwrap().state,
        PlanState::Applied
    );
}
