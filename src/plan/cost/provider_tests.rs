//! Costs on the other providers' tables, checked against figures computed by hand.

use super::*;
use crate::policy::{costs, Archive, Delete, Tier};
use chrono::{Duration, TimeZone};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
}

fn on(table: &str) -> Prices {
    Prices {
        source: costs::builtin(table),
        ..Prices::default()
    }
}

/// A 10 GB version of `class`, `age_days` old.
fn version(class: &str, age_days: i64) -> InventoryRow {
    InventoryRow {
        key: "k".into(),
        is_latest: true,
        size: 10_000_000_000,
        last_modified: now() - Duration::days(age_days),
        storage_class: Some(class.into()),
        ..Default::default()
    }
}

fn delete() -> Action {
    Action::Delete(Delete {
        permanent: false,
        bypass_governance: false,
    })
}

/// An archive to Storage `to` (priced with `table`), in `class` or the version's own.
fn archive(prices: &mut Prices, to: &str, table: &str, class: Option<&str>) -> Action {
    prices.destinations.insert(to.into(), costs::builtin(table));
    prices.leaving.insert(to.into());
    Action::Archive(Archive {
        storage: to.into(),
        bucket: "vault".into(),
        prefix: String::new(),
        storage_class: class.map(str::to_string),
        lock: None,
        force: false,
    })
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

#[test]
fn a_b2_plan_has_no_minimum_duration_and_its_egress_is_free() {
    let mut b2 = on("backblaze-b2");
    let young = version("STANDARD", 1);
    let gone = cost(&b2, &delete(), &young, now()).unwrap();
    // 10 GB at $6/TB-month; deleted after a day with no early-deletion charge.
    assert!(close(gone.monthly_before, 0.06), "{gone:?}");
    assert_eq!(
        (gone.early_deletion, gone.requests, gone.transfer),
        (0.0, 0.0, 0.0)
    );
    // Archived to S3 GLACIER: S3's transition price, and no B2 egress (within 3x stored).
    let to_aws = archive(&mut b2, "aws", "aws-us-east-1", Some("GLACIER"));
    let moved = cost(&b2, &to_aws, &young, now()).unwrap();
    assert!(close(moved.requests, 0.03 / 1000.0), "{moved:?}");
    assert_eq!(moved.transfer, 0.0, "{moved:?}");
    assert!(
        close(moved.monthly_after, 0.0036 * (10e9 + 40960.0) / 1e9),
        "{moved:?}"
    );
}

#[test]
fn an_archive_out_of_aws_pays_egress_and_retrieval() {
    let mut aws = on("aws-us-east-1");
    let to_b2 = archive(&mut aws, "b2", "backblaze-b2", None);
    let from_ia = version("STANDARD_IA", 100);
    let moved = cost(&aws, &to_b2, &from_ia, now()).unwrap();
    // 10 GB out at $0.09/GB, read out of STANDARD_IA at $0.01/GB; one B2 copy (Class C).
    assert!(
        close(moved.transfer, 10.0 * 0.09 + 10.0 * 0.01),
        "{moved:?}"
    );
    assert!(close(moved.requests, 0.004 / 1000.0), "{moved:?}");
    assert!(close(moved.monthly_after, 0.06), "{moved:?}");
    // The same archive within the provider (not leaving) pays retrieval only.
    aws.leaving.clear();
    let inside = cost(&aws, &to_b2, &from_ia, now()).unwrap();
    assert!(close(inside.transfer, 0.1), "{inside:?}");
}

#[test]
fn wasabi_bills_ninety_days_and_r2_ia_thirty() {
    let gone = cost(&on("wasabi"), &delete(), &version("STANDARD", 10), now()).unwrap();
    assert!(
        close(gone.early_deletion, 0.00699 * 10.0 * 80.0 / 30.0),
        "{gone:?}"
    );
    let r2 = on("cloudflare-r2");
    let gone = cost(&r2, &delete(), &version("STANDARD_IA", 20), now()).unwrap();
    assert!(
        close(gone.early_deletion, 0.01 * 10.0 * 10.0 / 30.0),
        "{gone:?}"
    );
    let tier = Action::Tier(Tier {
        storage_class: "STANDARD_IA".into(),
        force: false,
    });
    let tiered = cost(&r2, &tier, &version("STANDARD", 20), now()).unwrap();
    assert!(
        close(tiered.requests, 9.0 / 1e6),
        "IA's Class A price: {tiered:?}"
    );
}

#[test]
fn gcs_archive_is_held_a_year_and_azure_cold_ninety_days() {
    let gcs = on("gcs-us-central1");
    let gone = cost(&gcs, &delete(), &version("ARCHIVE", 65), now()).unwrap();
    assert!(
        close(gone.early_deletion, 0.0012 * 10.0 * 300.0 / 30.0),
        "{gone:?}"
    );
    let azure = on("azure-eastus-lrs");
    let gone = cost(&azure, &delete(), &version("COLD", 30), now()).unwrap();
    assert!(
        close(gone.early_deletion, 0.0036 * 10.0 * 60.0 / 30.0),
        "{gone:?}"
    );
}
