//! Pacing follows the server: an apply whose requests the server throttles slows the prefixes
//! it throttled (SlowDown answers the SDK retried included), and leaves unthrottled ones alone.

use crate::helpers::*;
use crate::proxy::{Faults, Proxy};
use shelflife::audit::Outcome;
use shelflife::execute::{self, ApplyOptions, Pacer};
use shelflife::policy::Pacing;
use shelflife::storage::s3::BucketOptions;
use sqlx::PgPool;
use std::sync::Arc;

const RULES: &str = "    - { name: expire, when: { key: { prefix: tmp/ } }, then: delete }\n";

/// Plans the delete of 300 `tmp/` objects (a `keep/` one beside them) and applies it through a
/// proxy that answers SlowDown to `slow_down` percent of requests, with an unlimited pacer.
async fn apply_through(pool: &PgPool, slow_down: u64) -> (Arc<Pacer>, usize) {
    let store = store().await;
    let bucket = new_bucket(&store, "pacing", BucketOptions::default()).await;
    seed(
        &store,
        &bucket,
        (0..300).map(|i| format!("tmp/{i:04}.json")),
    )
    .await;
    seed(&store, &bucket, std::iter::once("keep/a.json".to_string())).await;
    let dir = PolicyDir::new(&policy_yaml("pacing", &bucket, "", RULES));
    let plan = scan_and_plan(pool, &store, &dir.load(), "pacing").await;
    assert_eq!(plan.changes(), 300);

    let faults = Faults {
        slow_down,
        ..Faults::default()
    };
    let proxy = Proxy::start(&s3_endpoint(), faults).await;
    let throttled = proxy.store(10, 20).await;
    let pacer = Arc::new(Pacer::new(Pacing::new(None, None)));
    let mut options = ApplyOptions::new("pacing");
    options.batch_size = 25;
    options.pacer = Some(pacer.clone());
    let report = execute::apply(pool, &throttled, &plan, &options)
        .await
        .unwrap();
    assert_eq!(report.count(Outcome::Done), 300, "{report:?}");
    assert_eq!(live_keys(&store, &bucket).await, ["keep/a.json"]);
    let slow_downs = proxy
        .counts
        .slow_downs
        .load(std::sync::atomic::Ordering::SeqCst);
    (pacer, slow_downs)
}

#[sqlx::test]
async fn a_throttled_prefix_slows_down_and_the_apply_still_finishes(pool: PgPool) {
    let (pacer, slow_downs) = apply_through(&pool, 30).await;
    assert!(slow_downs > 0);
    let rate = pacer
        .rate("tmp/x")
        .expect("tmp/ was throttled, so it is paced now");
    assert!(
        (1.0..=300.0).contains(&rate),
        "cut from what it sent: {rate}"
    );
    assert_eq!(
        pacer.rate("keep/x"),
        None,
        "an untouched prefix is not paced"
    );
}

#[sqlx::test]
async fn without_throttling_nothing_is_paced_on_a_provider_with_no_documented_limit(pool: PgPool) {
    let (pacer, slow_downs) = apply_through(&pool, 0).await;
    assert_eq!(slow_downs, 0);
    assert_eq!(pacer.rate("tmp/x"), None);
}
