//! Matchers on per-object data (tags, Object Lock, user metadata, folder rank), three-valued
//! logic when that data is unknown, and actions whose work is already done.

use super::tests::{decide_one, key_facts, now, policy, row, rule, DELETE};
use super::*;
use crate::policy::{Lock, MetaField, Retain, Rule, TagCond, Tier};
use sqlx::types::Json;

fn tagged(key: &str, tags: &[(&str, &str)]) -> InventoryRow {
    let mut r = row(key, now() - Duration::days(40));
    let map = tags.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    r.tags = Some(Json(map.collect()));
    r
}

fn check(m: Matcher, r: &InventoryRow) -> Option<bool> {
    let p = policy(AgeSource::LastModified, vec![]);
    let versions = [r.clone()];
    matches(&m, &key_facts(&p, &versions, now())[0])
}

#[test]
fn tag_conditions_compare_values_presence_and_lists() {
    let r = tagged("a", &[("team", "ml"), ("env", "dev")]);
    let tag = |k: &str, c: TagCond| Matcher::Tag(k.into(), c);
    assert_eq!(
        check(tag("team", TagCond::Equals("ml".into())), &r),
        Some(true)
    );
    assert_eq!(
        check(tag("team", TagCond::Equals("ops".into())), &r),
        Some(false)
    );
    assert_eq!(check(tag("env", TagCond::Exists), &r), Some(true));
    assert_eq!(check(tag("tmp", TagCond::Absent), &r), Some(true));
    let envs = TagCond::In(vec!["dev".into(), "test".into()]);
    assert_eq!(check(tag("env", envs), &r), Some(true));
}

#[test]
fn unknown_tags_make_a_rule_undecidable_not_a_guess() {
    let unknown = row("a", now() - Duration::days(40));
    let keep_tag = Matcher::Tag("keep".into(), TagCond::Equals("true".into()));
    assert_eq!(check(keep_tag.clone(), &unknown), None);
    assert_eq!(
        check(Matcher::Not(Box::new(keep_tag.clone())), &unknown),
        None
    );
    // A condition known to fail settles `all` and `any` whatever the unknown one says.
    let never = Matcher::KeyPrefix("zzz".into());
    let both = Matcher::All(vec![keep_tag.clone(), never.clone()]);
    assert_eq!(check(both, &unknown), Some(false));
    let either = Matcher::Any(vec![keep_tag.clone(), Matcher::KeyPrefix("a".into())]);
    assert_eq!(check(either, &unknown), Some(true));
    let p = policy(
        AgeSource::LastModified,
        vec![rule(
            "del",
            VersionScope::Current,
            vec![Matcher::Not(Box::new(keep_tag))],
            DELETE,
        )],
    );
    assert_eq!(decide_one(&p, &unknown), Decision::Unknown);
    assert_eq!(decide_one(&p, &tagged("a", &[])), Decision::Change(0));
    assert_eq!(
        decide_one(&p, &tagged("a", &[("keep", "true")])),
        Decision::NoMatch
    );
}

#[test]
fn lock_state_and_legal_hold_are_read_from_head() {
    let mut r = row("a", now() - Duration::days(1));
    r.lock_known = false;
    assert_eq!(check(Matcher::Locked(false), &r), None, "not fetched");
    r.head_fetched = true;
    assert_eq!(check(Matcher::Locked(false), &r), Some(true));
    assert_eq!(check(Matcher::LegalHold(false), &r), Some(true));
    r.lock_mode = Some("GOVERNANCE".into());
    r.retain_until = Some(now() + Duration::days(3));
    r.legal_hold = Some(true);
    assert_eq!(check(Matcher::Locked(true), &r), Some(true));
    assert_eq!(check(Matcher::LegalHold(true), &r), Some(true));
    r.retain_until = Some(now() - Duration::days(3));
    assert_eq!(
        check(Matcher::Locked(true), &r),
        Some(false),
        "retention expired"
    );
}

#[test]
fn ttl_reads_a_number_of_days_from_a_tag_or_metadata() {
    let r = tagged("a", &[("retention-days", "30")]);
    assert_eq!(
        check(Matcher::Ttl(MetaField::Tag("retention-days".into())), &r),
        Some(true)
    );
    let long = tagged("a", &[("retention-days", "90")]);
    assert_eq!(
        check(Matcher::Ttl(MetaField::Tag("retention-days".into())), &long),
        Some(false)
    );
    let junk = tagged("a", &[("retention-days", "soon")]);
    assert_eq!(
        check(Matcher::Ttl(MetaField::Tag("retention-days".into())), &junk),
        Some(false)
    );
    let mut meta = row("a", now() - Duration::days(40));
    meta.head_fetched = true;
    meta.user_meta = Some(Json([("ttl".to_string(), "7".to_string())].into()));
    assert_eq!(
        check(Matcher::Ttl(MetaField::Metadata("ttl".into())), &meta),
        Some(true)
    );
}

#[test]
fn age_can_come_from_a_tag() {
    let p = policy(
        AgeSource::Field(MetaField::Tag("created".into())),
        vec![rule(
            "old",
            VersionScope::Current,
            vec![Matcher::OlderThan(Duration::days(100))],
            DELETE,
        )],
    );
    let old = tagged("a", &[("created", "2025-01-01")]);
    assert_eq!(decide_one(&p, &old), Decision::Change(0));
    let undated = tagged("a", &[]);
    assert_eq!(decide_one(&p, &undated), Decision::NoMatch);
}

#[test]
fn an_action_with_nothing_left_to_do_lets_later_rules_decide() {
    let cold = Action::Tier(Tier {
        storage_class: "GLACIER_IR".into(),
        force: false,
    });
    let p = policy(
        AgeSource::LastModified,
        vec![
            rule(
                "cold",
                VersionScope::Current,
                vec![Matcher::OlderThan(Duration::days(30))],
                cold,
            ),
            rule(
                "expire",
                VersionScope::Current,
                vec![Matcher::OlderThan(Duration::days(180))],
                DELETE,
            ),
        ],
    );
    let mut r = row("a", now() - Duration::days(200));
    assert_eq!(
        decide_one(&p, &r),
        Decision::Change(0),
        "still STANDARD: tier first"
    );
    r.storage_class = Some("GLACIER_IR".into());
    assert_eq!(
        decide_one(&p, &r),
        Decision::Change(1),
        "already cold: the delete rule decides"
    );
    r.last_modified = now() - Duration::days(40);
    assert_eq!(decide_one(&p, &r), Decision::NoMatch);
}

#[test]
fn a_lock_already_long_enough_is_not_planned_again() {
    let seven_years = Lock {
        mode: crate::storage::LockMode::Compliance,
        retain: Retain::For(Duration::days(7 * 365)),
        bypass_governance: false,
    };
    let locking = |lock: Lock| {
        let then = Action::Lock(lock);
        policy(
            AgeSource::LastModified,
            vec![rule("lock", VersionScope::Current, vec![], then)],
        )
    };
    let p = locking(seven_years);
    let mut r = row("m", now() - Duration::days(10));
    r.head_fetched = true;
    assert_eq!(decide_one(&p, &r), Decision::Change(0));
    r.lock_mode = Some("COMPLIANCE".into());
    r.retain_until = Some(r.last_modified + Duration::days(7 * 365));
    assert_eq!(decide_one(&p, &r), Decision::NoMatch);
    r.lock_mode = Some("GOVERNANCE".into());
    let until = r.retain_until.unwrap();
    assert_eq!(
        decide_one(&p, &r),
        Decision::Blocked(0, Block::Governed(until)),
        "S3 changes GOVERNANCE into COMPLIANCE only with the governance bypass"
    );
    let bypass = Lock {
        bypass_governance: true,
        ..seven_years
    };
    assert_eq!(
        decide_one(&locking(bypass), &r),
        Decision::Change(0),
        "GOVERNANCE is upgraded with the bypass"
    );
    r.retain_until = Some(now() - Duration::days(1));
    assert_eq!(
        decide_one(&p, &r),
        Decision::Change(0),
        "GOVERNANCE retention that has run out is no obstacle"
    );
}

#[test]
fn folder_rank_keeps_the_newest_objects_of_each_folder() {
    let p = policy(
        AgeSource::LastModified,
        vec![rule(
            "old",
            VersionScope::Current,
            vec![Matcher::NewerInFolderMoreThan(2)],
            DELETE,
        )],
    );
    let mut r = row("runs/a/step-1.ckpt", now());
    assert_eq!(decide_one(&p, &r), Decision::Unknown, "rank not computed");
    r.newer_in_folder = Some(2);
    assert_eq!(decide_one(&p, &r), Decision::NoMatch);
    r.newer_in_folder = Some(3);
    assert_eq!(decide_one(&p, &r), Decision::Change(0));
}

fn locked(mode: &str, days: i64, hold: bool) -> InventoryRow {
    let mut r = row("model.bin", now() - Duration::days(400));
    r.head_fetched = true;
    r.lock_mode = (days != 0).then(|| mode.to_string());
    r.retain_until = (days != 0).then(|| now() + Duration::days(days));
    r.legal_hold = Some(hold);
    r
}

#[test]
fn removing_a_locked_version_is_blocked_until_it_becomes_eligible() {
    let p = policy(
        AgeSource::LastModified,
        vec![rule("old", VersionScope::Current, vec![], DELETE)],
    );
    let until = now() + Duration::days(30);
    assert_eq!(
        decide_one(&p, &locked("COMPLIANCE", 30, false)),
        Decision::Blocked(0, Block::Retained(LockMode::Compliance, until))
    );
    assert_eq!(
        decide_one(&p, &locked("GOVERNANCE", 30, false)),
        Decision::Blocked(0, Block::Retained(LockMode::Governance, until))
    );
    assert_eq!(
        decide_one(&p, &locked("", 0, true)),
        Decision::Blocked(0, Block::LegalHold)
    );
    assert_eq!(
        decide_one(&p, &locked("COMPLIANCE", -1, false)),
        Decision::Change(0),
        "expired"
    );
    let mut unknown = locked("", 0, false);
    unknown.head_fetched = false;
    unknown.lock_known = false;
    assert_eq!(
        decide_one(&p, &unknown),
        Decision::Unknown,
        "never guessed unlocked"
    );
    let bypass = policy(
        AgeSource::LastModified,
        vec![rule(
            "old",
            VersionScope::Current,
            vec![],
            Action::Delete(crate::policy::Delete {
                permanent: true,
                bypass_governance: true,
            }),
        )],
    );
    assert_eq!(
        decide_one(&bypass, &locked("GOVERNANCE", 30, false)),
        Decision::Change(0)
    );
    assert!(matches!(
        decide_one(&bypass, &locked("COMPLIANCE", 30, false)),
        Decision::Blocked(..)
    ));
}

#[test]
fn a_lock_never_shortens_or_weakens_retention_in_force() {
    let lock = |mode, days| Lock {
        mode,
        retain: Retain::For(Duration::days(days)),
        bypass_governance: false,
    };
    let p = policy(AgeSource::LastModified, vec![]);
    let r = locked("COMPLIANCE", 30, false);
    let f = Facts::new(&p, &r, now());
    let born = r.last_modified;
    // Wants GOVERNANCE to day 400 + 500 from its write: longer, but stays COMPLIANCE.
    assert_eq!(
        lock_target(&lock(LockMode::Governance, 500), &f),
        (LockMode::Compliance, born + Duration::days(500))
    );
    // Wants less than what is in force: keeps the later date.
    assert_eq!(
        lock_target(&lock(LockMode::Governance, 401), &f),
        (LockMode::Compliance, now() + Duration::days(30))
    );
    let free = locked("", 0, false);
    let f = Facts::new(&p, &free, now());
    assert_eq!(
        lock_target(&lock(LockMode::Governance, 500), &f),
        (LockMode::Governance, born + Duration::days(500))
    );
}

fn aws_prices() -> crate::plan::Prices {
    crate::plan::Prices {
        source: crate::policy::costs::builtin("aws-us-east-1"),
        ..Default::default()
    }
}

/// Rule "cold" tiers to `class` after `tier_days`; rule "expire" deletes after `expire_days`.
fn tier_then_expire(class: &str, force: bool, tier_days: i64, expire_days: i64) -> Vec<Rule> {
    let tier = Action::Tier(Tier {
        storage_class: class.into(),
        force,
    });
    let older = |d| vec![Matcher::OlderThan(Duration::days(d))];
    vec![
        rule("cold", VersionScope::Current, older(tier_days), tier),
        rule("expire", VersionScope::Current, older(expire_days), DELETE),
    ]
}

#[test]
fn an_uneconomic_tier_lets_a_later_rule_decide_and_force_overrides_the_guard() {
    let prices = aws_prices();
    let rules = |force| tier_then_expire("GLACIER", force, 30, 180);
    let p = policy(AgeSource::LastModified, rules(false));
    let mut tiny = row("t", now() - Duration::days(40));
    tiny.size = 1000;
    let f = |r: &InventoryRow| decide(&p, &Facts::new(&p, r, now()), &prices);
    assert!(matches!(f(&tiny), Decision::Uneconomic(0, ref why) if why.contains("more than")));
    let mut big = tiny.clone();
    big.size = 10_000_000_000;
    assert_eq!(
        f(&big),
        Decision::Change(0),
        "140 days of GLACIER savings repay the transition"
    );
    tiny.last_modified = now() - Duration::days(200);
    assert_eq!(
        f(&tiny),
        Decision::Change(1),
        "the delete rule takes what the tier skips"
    );
    let forced = policy(AgeSource::LastModified, rules(true));
    tiny.last_modified = now() - Duration::days(40);
    assert_eq!(
        decide(&forced, &Facts::new(&forced, &tiny, now()), &prices),
        Decision::Change(0)
    );
}

#[test]
fn a_tier_shortly_before_a_removal_is_uneconomic() {
    let prices = aws_prices();
    let p = policy(
        AgeSource::LastModified,
        tier_then_expire("GLACIER_IR", false, 30, 45),
    );
    // Saves 10 GB × 0.019 $/month for 5 days ($0.032), but leaves GLACIER_IR 85 days before
    // its 90-day minimum ($0.113).
    let mut r = row("big", now() - Duration::days(40));
    r.size = 10_000_000_000;
    match decide(&p, &Facts::new(&p, &r, now()), &prices) {
        Decision::Uneconomic(0, why) => {
            assert!(
                why.contains("> 5 days until rule expire deletes it"),
                "{why}"
            )
        }
        other => panic!("{other:?}"),
    }
}
