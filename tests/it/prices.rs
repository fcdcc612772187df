//! A Storage's provider picks its price table: the same objects planned on a `b2` Storage and
//! on an `aws` one (both this test's S3 server) carry B2's and S3's figures, and a B2 archive
//! into S3 pays S3's transition but no B2 egress.

use crate::helpers::*;
use shelflife::storage::s3::BucketOptions;
use sqlx::PgPool;

/// A Storage of `provider` on the test's S3 server, with no `costs:`.
fn storage(name: &str, provider: &str) -> String {
    format!(
        "---\napiVersion: shelflife.dev/v1\nkind: Storage\nmetadata: {{ name: {name} }}\nspec:\n  \
         provider: {provider}\n  endpoint: ${{S3_ENDPOINT}}\n  pathStyle: true\n  \
         checksum: when-required\n  retry: {{ maxAttempts: 2 }}\n"
    )
}

/// Plans `then` for three 1 MB objects on Storage `on` (a `provider` one); the plan's first
/// action line as JSON.
async fn planned(pool: &PgPool, provider: &str, then: &str) -> serde_json::Value {
    let store = store().await;
    let bucket = new_bucket(&store, "prices", BucketOptions::default()).await;
    let vault = new_bucket(&store, "prices-vault", BucketOptions::default()).await;
    let body = "x".repeat(1_000_000);
    for key in ["ds/a", "ds/b", "ds/c"] {
        put(&store, &bucket, key, &body).await;
    }
    let policy = format!(
        "apiVersion: shelflife.dev/v1\nkind: Policy\nmetadata: {{ name: priced }}\nspec:\n  \
         target: {{ storage: on, bucket: {bucket} }}\n  rules:\n    \
         - {{ name: r, when: {{ key: {{ prefix: ds/ }} }}, then: {} }}\n{}{}",
        then.replace("VAULT", &vault),
        storage("on", provider),
        storage("s3", "aws"),
    );
    let dir = PolicyDir::new(&policy);
    let scanned = shelflife(pool, dir.path(), &["scan"]);
    assert_eq!(scanned.status.code(), Some(0), "{}", describe(&scanned));
    let out = shelflife(pool, dir.path(), &["plan", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let plans: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    plans["plans"][0]["actions"][0].clone()
}

fn figure(line: &serde_json::Value, field: &str) -> f64 {
    line["cost"][field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} in {line}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1e-12)
}

#[sqlx::test]
async fn a_b2_storage_is_priced_with_b2s_table_and_an_aws_one_with_s3s(pool: PgPool) {
    let b2 = planned(&pool, "b2", "delete").await;
    assert_eq!(b2["objects"], 3, "{b2}");
    // 3 MB at $0.006/GB-month; no minimum duration, so no early deletion the same day.
    assert!(close(figure(&b2, "monthly_before"), 3e-3 * 0.006), "{b2}");
    assert_eq!(figure(&b2, "early_deletion"), 0.0, "{b2}");
    let aws = planned(&pool, "aws", "delete").await;
    assert!(close(figure(&aws, "monthly_before"), 3e-3 * 0.023), "{aws}");
}

#[sqlx::test]
async fn a_b2_archive_into_s3_pays_s3s_transition_and_no_b2_egress(pool: PgPool) {
    let then =
        "{ archive: { storage: s3, bucket: VAULT, storageClass: STANDARD_IA, force: true } }";
    let line = planned(&pool, "b2", then).await;
    assert_eq!(line["objects"], 3, "{line}");
    assert!(
        close(figure(&line, "requests"), 3.0 * 0.01 / 1000.0),
        "{line}"
    );
    assert_eq!(
        figure(&line, "transfer"),
        0.0,
        "within three times what B2 stores: {line}"
    );
    // Each 1 MB copy is billed STANDARD_IA's 128 KiB minimum or more: its own size.
    assert!(
        close(figure(&line, "monthly_after"), 3e-3 * 0.0125),
        "{line}"
    );
}
