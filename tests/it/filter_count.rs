//! `plan::filter_count`, the plan benchmark's bound: the versions a policy's rules' filter lets
//! through, counted by PostgreSQL with the plan's own statement and parameters.

use crate::helpers::*;
use shelflife::plan::{self, PlanError};
use shelflife::storage::s3::BucketOptions;
use sqlx::PgPool;

const RULES: &str = "    - { name: keep-one, when: { key: { prefix: tmp/4 } }, then: keep }
    - { name: tmp, when: { key: { prefix: tmp/ } }, then: delete }
    - { name: bak, when: { key: { suffix: .bak } }, then: delete }
    - { name: never, when: { size: { atLeast: 1TB } }, then: delete }
";
const KEEP_ONLY: &str = "    - { name: keep-all, when: { key: { prefix: tmp/ } }, then: keep }\n";

#[sqlx::test]
async fn counts_what_the_rules_may_change_and_leaves_keeps_to_the_plan(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "filter-count", BucketOptions::default()).await;
    let keys = [
        "tmp/0",
        "tmp/1",
        "tmp/2",
        "tmp/3",
        "tmp/4",
        "logs/a.bak",
        "logs/b",
        "c",
    ];
    seed(&store, &bucket, keys.iter().map(|k| k.to_string())).await;
    let dir = PolicyDir::new(&format!(
        "{}\n---\n{}",
        policy_yaml("counted", &bucket, "", RULES),
        policy_yaml("kept", &bucket, "", KEEP_ONLY),
    ));
    let set = dir.load();
    let counted = set.policy("counted").unwrap();
    let now = chrono::Utc::now();
    assert!(matches!(
        plan::filter_count(&pool, counted, now).await,
        Err(PlanError::NoSnapshot { .. })
    ));

    let summary = scan_and_plan(&pool, &store, &set, "counted").await;
    assert_eq!(objects(&summary, "tmp") + objects(&summary, "bak"), 5);
    // The filter leaves `keep` rules out, so tmp/4 is counted: only deciding keeps it.
    assert_eq!(plan::filter_count(&pool, counted, now).await.unwrap(), 6);
    let kept = set.policy("kept").unwrap();
    assert_eq!(plan::filter_count(&pool, kept, now).await.unwrap(), 0);
}
