//! The cost guard judges only moves made to save money (a tier, an archive into another class):
//! an archive to another bucket in the same class is planned and applied whatever it costs, a
//! tiny-object archive into GLACIER is skipped with the figures that decide, and `force: true`
//! overrides the guard.

use crate::helpers::*;
use shelflife::storage::s3::BucketOptions;
use shelflife::storage::ObjectStore;
use sqlx::PgPool;

const KEYS: [&str; 5] = [
    "ds/part-0.parquet",
    "ds/part-1.parquet",
    "ds/part-2.parquet",
    "ds/part-3.parquet",
    "ds/part-4.parquet",
];

/// Seeds KEYS (tiny objects), plans and applies one archive rule of `then` on a Storage priced
/// with aws-us-east-1, beside the `extra` documents; returns the plan's and the apply's output,
/// the source bucket and the archive bucket.
async fn archive_case(pool: &PgPool, then: &str, extra: &str) -> (String, String, String, String) {
    let store = store().await;
    let bucket = new_bucket(&store, "guard", BucketOptions::default()).await;
    let archive = new_bucket(&store, "guard-vault", BucketOptions::default()).await;
    for key in KEYS {
        put(&store, &bucket, key, "tiny").await;
    }
    let then = then.replace("VAULT", &archive);
    let rules =
        format!("    - {{ name: vault, when: {{ key: {{ prefix: ds/ }} }}, then: {then} }}\n");
    let dir = PolicyDir::with_storage_extra(
        &costs(),
        &format!("{}{extra}", policy_yaml("guard", &bucket, "", &rules)),
    );
    let scanned = shelflife(pool, dir.path(), &["scan"]);
    assert_eq!(scanned.status.code(), Some(0), "{}", describe(&scanned));
    let planned = shelflife(pool, dir.path(), &["plan"]);
    assert_eq!(planned.status.code(), Some(0), "{}", describe(&planned));
    let applied = shelflife(pool, dir.path(), &["apply", "--yes"]);
    assert_eq!(applied.status.code(), Some(0), "{}", describe(&applied));
    (stdout(&planned), stdout(&applied), bucket, archive)
}

/// The plan archives every key with none skipped, the apply did, and the copies stand under
/// `prefix` in the archive bucket with the sources gone; the copies' keys.
async fn assert_archived(case: &(String, String, String, String), prefix: &str) -> Vec<String> {
    let (plan, applied, bucket, archive) = case;
    assert!(
        plan.contains(" 5 objects        20 B  rule vault"),
        "{plan}"
    );
    assert!(!plan.contains("uneconomic:"), "{plan}");
    assert!(
        applied.contains("archive   done             5 objects"),
        "{applied}"
    );
    let store = store().await;
    assert!(live_keys(&store, bucket).await.is_empty(), "sources gone");
    let copies = live_keys(&store, archive).await;
    let wanted: Vec<String> = KEYS.iter().map(|k| format!("{prefix}{k}")).collect();
    assert_eq!(copies, wanted);
    copies
}

#[sqlx::test]
async fn a_same_class_archive_to_another_bucket_is_applied_whatever_it_costs(pool: PgPool) {
    let case = archive_case(&pool, "{ archive: { bucket: VAULT, prefix: kept/ } }", "").await;
    let plan = &case.0;
    assert!(
        plan.contains("cost: requests $0.00002500,"),
        "priced all the same: {plan}"
    );
    let copies = assert_archived(&case, "kept/").await;
    let (store, archive) = (store().await, &case.3);
    for copy in &copies {
        assert_eq!(read(&store, archive, copy).await, b"tiny", "{copy}");
        let head = store.head(archive, copy, None).await.expect("head");
        assert_eq!(
            head.storage_class.as_deref().unwrap_or("STANDARD"),
            "STANDARD"
        );
    }
}

#[sqlx::test]
async fn a_tiny_object_archive_into_glacier_is_skipped_with_the_deciding_figures(pool: PgPool) {
    let (plan, applied, bucket, archive) = archive_case(
        &pool,
        "{ archive: { bucket: VAULT, storageClass: GLACIER } }",
        "",
    )
    .await;
    assert!(plan.contains("uneconomic: 5 objects"), "{plan}");
    // 4 B in STANDARD against 4 B + 40 KiB of overhead in GLACIER; a copy at $0.03/1000.
    let reason = "uneconomic: GLACIER costs $0.000000147/month, more than the \
                  $0.0000000000920/month now; the move costs $0.0000300 once and never breaks even";
    assert!(plan.contains(reason), "{plan}");
    assert!(applied.contains("total: 0 done"), "{applied}");
    let store = store().await;
    assert_eq!(live_keys(&store, &bucket).await.len(), KEYS.len());
    assert!(live_keys(&store, &archive).await.is_empty());
}

/// The Storage's prices: AWS's, and on Ceph its COLD class priced as GLACIER, so that the
/// guard judges a move into COLD as it judges one into GLACIER on AWS.
fn costs() -> String {
    if on_ceph() {
        "  costs: { base: aws-us-east-1, classes: { COLD: { perGbMonth: 0.0036, \
         minStorageDuration: 90d, perObjectOverhead: 40KiB, transitionPer1000: 0.03 } } }\n"
            .into()
    } else {
        "  costs: aws-us-east-1\n".into()
    }
}

/// GLACIER, or the class that stands for it on Ceph (see [`costs`]).
fn glacier() -> &'static str {
    if on_ceph() {
        "COLD"
    } else {
        "GLACIER"
    }
}

#[sqlx::test]
async fn force_overrides_the_guard(pool: PgPool) {
    let then = format!(
        "{{ archive: {{ bucket: VAULT, storageClass: {}, force: true }} }}",
        glacier()
    );
    let case = archive_case(&pool, &then, "").await;
    let store = store().await;
    for copy in assert_archived(&case, "").await {
        let head = store.head(&case.3, &copy, None).await.expect("head");
        assert_eq!(head.storage_class.as_deref(), Some(glacier()), "{copy}");
    }
}

/// A second Storage on the same server whose STANDARD costs more than the target's.
const PRICEY: &str =
    "---\napiVersion: shelflife.dev/v1\nkind: Storage\nmetadata: { name: pricey }\n\
spec:\n  provider: generic\n  endpoint: ${S3_ENDPOINT}\n  pathStyle: true\n  \
costs: { base: aws-us-east-1, classes: { STANDARD: { perGbMonth: 0.5 } } }\n";

#[sqlx::test]
async fn an_archive_that_costs_more_per_month_is_planned_with_a_warning(pool: PgPool) {
    let case = archive_case(
        &pool,
        "{ archive: { storage: pricey, bucket: VAULT } }",
        PRICEY,
    )
    .await;
    let plan = &case.0;
    assert!(
        plan.contains("warning: the archive costs more per month than keeping the objects here"),
        "{plan}"
    );
    assert_archived(&case, "").await;
}
