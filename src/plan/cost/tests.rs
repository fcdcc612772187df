//! Costs checked against figures computed by hand from the aws-us-east-1 table.

use super::*;
use crate::policy::{costs, Delete, Tier};
use chrono::{Duration, TimeZone};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
}

fn prices() -> Prices {
    Prices {
        source: costs::builtin("aws-us-east-1"),
        ..Prices::default()
    }
}

fn object(size: i64, class: &str, age_days: i64) -> InventoryRow {
    InventoryRow {
        key: "k".into(),
        is_latest: true,
        size,
        last_modified: now() - Duration::days(age_days),
        storage_class: Some(class.into()),
        ..Default::default()
    }
}

fn tier(class: &str) -> Action {
    Action::Tier(Tier {
        storage_class: class.into(),
        force: false,
    })
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

#[test]
fn a_large_object_to_glacier_pays_back_within_hours() {
    let c = cost(
        &prices(),
        &tier("GLACIER"),
        &object(1_000_000_000, "STANDARD", 100),
        now(),
    )
    .unwrap();
    // 0.023 $/GB-month before; 0.0036 $/GB-month on (10^9 + 40 KiB overhead) bytes after.
    assert!(close(c.monthly_before, 0.023), "{c:?}");
    assert!(close(c.monthly_after, 0.0036 * 1.000_040_96), "{c:?}");
    assert!(close(c.requests, 0.03 / 1000.0), "{c:?}");
    assert_eq!(c.early_deletion, 0.0);
    let even = c.break_even_days().unwrap();
    assert!(
        close(even, 0.000_03 / ((0.023 - 0.0036 * 1.000_040_96) / 30.0)),
        "{even}"
    );
    assert_eq!(
        uneconomic(
            &prices(),
            &tier("GLACIER"),
            &object(1_000_000_000, "STANDARD", 100),
            now(),
            None
        ),
        None
    );
}

#[test]
fn a_tiny_object_to_glacier_costs_more_every_month() {
    let row = object(1000, "STANDARD", 100);
    let c = cost(&prices(), &tier("GLACIER"), &row, now()).unwrap();
    assert!(close(c.monthly_before, 0.023 * 1000.0 / 1e9), "{c:?}");
    assert!(close(c.monthly_after, 0.0036 * 41_960.0 / 1e9), "{c:?}");
    assert_eq!(c.break_even_days(), None);
    let why = uneconomic(&prices(), &tier("GLACIER"), &row, now(), None).unwrap();
    assert_eq!(
        why,
        "uneconomic: GLACIER costs $0.000000151/month, more than the $0.0000000230/month now; \
         the move costs $0.0000300 once and never breaks even"
    );
}

#[test]
fn figures_in_a_reason_are_never_printed_equal() {
    assert_eq!(
        distinct(0.000_000_051_2, 0.000_000_051_3),
        ("$0.0000000512".into(), "$0.0000000513".into())
    );
    assert_eq!(
        distinct(0.000_050_001, 0.000_050_002),
        ("$0.000050001".into(), "$0.000050002".into())
    );
    assert_eq!(usd(0.0), "$0");
    assert_eq!(usd(12.3456), "$12.3");
}

#[test]
fn a_same_class_archive_is_not_judged_an_archive_into_another_class_is() {
    use crate::policy::Archive;
    let archive = |class: Option<&str>| {
        Action::Archive(Archive {
            storage: "s".into(),
            bucket: "vault".into(),
            prefix: String::new(),
            storage_class: class.map(str::to_string),
            lock: None,
            force: false,
        })
    };
    let tiny = object(1000, "STANDARD", 100);
    let mut p = prices();
    p.destinations
        .insert("s".into(), costs::builtin("aws-us-east-1"));
    assert!(!judged(&archive(None), &tiny));
    assert!(!judged(&archive(Some("STANDARD")), &tiny));
    assert!(judged(&archive(Some("GLACIER")), &tiny));
    assert_eq!(uneconomic(&p, &archive(None), &tiny, now(), None), None);
    let why = uneconomic(&p, &archive(Some("GLACIER")), &tiny, now(), None).unwrap();
    assert!(why.starts_with("uneconomic: GLACIER costs"), "{why}");
    // Priced all the same: the copy request, and storage before and after.
    let c = cost(&p, &archive(None), &tiny, now()).unwrap();
    assert!(
        c.requests > 0.0 && close(c.monthly_after, c.monthly_before),
        "{c:?}"
    );
}

#[test]
fn removing_a_version_early_is_billed_for_the_rest_of_its_minimum_duration() {
    let delete = Action::Delete(Delete {
        permanent: false,
        bypass_governance: false,
    });
    let c = cost(
        &prices(),
        &delete,
        &object(1_000_000_000, "GLACIER_IR", 30),
        now(),
    )
    .unwrap();
    assert!(close(c.monthly_before, 0.004), "{c:?}");
    assert_eq!(c.monthly_after, 0.0);
    assert!(close(c.early_deletion, 0.004 * 60.0 / 30.0), "{c:?}");
    // A small GLACIER_IR object is billed as 128 KiB.
    let small = cost(&prices(), &delete, &object(1000, "GLACIER_IR", 200), now()).unwrap();
    assert!(
        close(small.monthly_before, 0.004 * 131_072.0 / 1e9),
        "{small:?}"
    );
    assert_eq!(small.early_deletion, 0.0);
}

#[test]
fn a_tier_undone_by_an_early_removal_is_uneconomic() {
    let row = object(1_000_000_000, "STANDARD", 40);
    let action = tier("GLACIER_IR");
    // Saves 0.019 $/month; costs 0.00002 once; removed after 10 of GLACIER_IR's 90 days.
    let soon = uneconomic(&prices(), &action, &row, now(), Some(("expire", 10.0))).unwrap();
    assert_eq!(
        soon,
        "uneconomic: saves $0.0190/month, the move costs $0.0000200 once (+ $0.0107 early \
         deletion in GLACIER_IR), break-even 0.56 months > 10 days until rule expire deletes it"
    );
    assert_eq!(
        uneconomic(&prices(), &action, &row, now(), Some(("expire", 200.0))),
        None
    );
}

#[test]
fn without_a_price_table_nothing_is_costed() {
    let none = Prices::default();
    assert_eq!(
        cost(&none, &tier("GLACIER"), &object(1, "STANDARD", 1), now()),
        None
    );
    assert_eq!(
        uneconomic(
            &none,
            &tier("GLACIER"),
            &object(1, "STANDARD", 1),
            now(),
            None
        ),
        None
    );
}

#[test]
fn a_sum_of_costs_does_not_depend_on_their_order() {
    // Terms whose f64 sum changes with the order they are added in.
    let terms: Vec<Cost> = [1e-3, 1e-16, 0.1, 0.2, 0.3, 7.7e-9, 12345.678, 1e-7]
        .iter()
        .map(|&x| Cost {
            requests: x,
            early_deletion: x / 3.0,
            transfer: x / 7.0,
            monthly_before: x * 1.1,
            monthly_after: 0.0,
        })
        .collect();
    let mut forward = CostSum::default();
    terms.iter().for_each(|c| forward.add(c));
    let mut backward = CostSum::default();
    terms.iter().rev().for_each(|c| backward.add(c));
    assert_eq!(forward.total(), backward.total());
    let floats = |it: &mut dyn Iterator<Item = &Cost>| it.fold(0.0, |s, c| s + c.monthly_before);
    assert_ne!(
        floats(&mut terms.iter()),
        floats(&mut terms.iter().rev()),
        "the terms must be ones whose f64 sum depends on order"
    );
    let expected: f64 = terms.iter().map(|c| c.requests).sum();
    assert!(close(forward.total().requests, expected));
}

#[test]
fn a_move_that_costs_more_every_month_never_breaks_even_even_when_free_once() {
    let cost = |once: f64, before: f64, after: f64| Cost {
        requests: once,
        early_deletion: 0.0,
        transfer: 0.0,
        monthly_before: before,
        monthly_after: after,
    };
    assert_eq!(cost(0.0, 1.0, 2.0).break_even_days(), None);
    assert_eq!(cost(0.0, 1.0, 1.0).break_even_days(), Some(0.0));
    assert_eq!(cost(1.0, 1.0, 1.0).break_even_days(), None);
    assert!(close(cost(1.0, 2.0, 1.0).break_even_days().unwrap(), 30.0));
}
