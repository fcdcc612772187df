use super::*;
use crate::policy::units::parse_cron;
use crate::policy::{AgeSource, Schedule};
use chrono::TimeZone;

fn policy(expression: &str, timezone: chrono_tz::Tz) -> Policy {
    let mut p = crate::plan::evaluate::tests::policy(AgeSource::LastModified, Vec::new());
    p.schedule = Some(Schedule {
        expression: expression.into(),
        cron: parse_cron(expression).unwrap(),
    });
    p.timezone = timezone;
    p
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

#[test]
fn a_policy_is_due_once_its_schedule_fired_after_the_last_success() {
    let daily_3am = policy("0 3 * * *", chrono_tz::UTC);
    let last = utc(2026, 11, 20, 3, 0);
    assert!(!is_due(&daily_3am, Some(last), utc(2026, 11, 21, 2, 59)));
    assert!(is_due(&daily_3am, Some(last), utc(2026, 11, 21, 3, 0)));
    assert!(
        is_due(&daily_3am, None, utc(2026, 11, 21, 2, 0)),
        "never ran"
    );
}

#[test]
fn schedules_fire_in_the_policy_timezone() {
    // 03:00 in Paris is 02:00 UTC in winter.
    let paris = policy("0 3 * * *", chrono_tz::Europe::Paris);
    let last = utc(2026, 11, 20, 2, 0);
    assert!(!is_due(&paris, Some(last), utc(2026, 11, 21, 1, 59)));
    assert!(is_due(&paris, Some(last), utc(2026, 11, 21, 2, 0)));
    assert_eq!(next_fire(&paris, last), Some(utc(2026, 11, 21, 2, 0)));
}

#[test]
fn a_policy_without_a_schedule_is_never_due() {
    let mut p = policy("0 3 * * *", chrono_tz::UTC);
    p.schedule = None;
    assert!(!is_due(&p, None, utc(2026, 1, 1, 0, 0)));
    assert_eq!(next_fire(&p, utc(2026, 1, 1, 0, 0)), None);
}

#[test]
fn lock_keys_differ_per_policy_and_are_stable() {
    assert_eq!(lock_key("logs"), lock_key("logs"));
    assert_ne!(lock_key("logs"), lock_key("models"));
}
