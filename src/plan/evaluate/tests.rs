use super::*;
use crate::policy::{Action, KeyDatePattern, KeyGlob, KeyRegex, Limits, Rule, Target};
use chrono::TimeZone;

pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
}

pub(crate) fn policy(age: AgeSource, rules: Vec<Rule>) -> Policy {
    Policy {
        name: "p".into(),
        labels: Default::default(),
        file: "p.yaml".into(),
        sha256: String::new(),
        schedule: None,
        timezone: chrono_tz::UTC,
        target: Target {
            storage: "s".into(),
            bucket: "b".into(),
            prefixes: vec![String::new()],
            access: None,
        },
        source: crate::policy::Source::List,
        age,
        rules,
        limits: Limits::default(),
        max_snapshot_age: None,
        audit: None,
        group: None,
    }
}

pub(crate) fn rule(name: &str, version: VersionScope, when: Vec<Matcher>, then: Action) -> Rule {
    Rule {
        name: name.into(),
        version,
        when,
        then,
    }
}

pub(crate) const DELETE: Action = Action::Delete(crate::policy::Delete {
    permanent: false,
    bypass_governance: false,
});

pub(crate) fn row(key: &str, modified: DateTime<Utc>) -> InventoryRow {
    InventoryRow {
        key: key.into(),
        version_id: None,
        is_latest: true,
        is_delete_marker: false,
        size: 100,
        etag: None,
        last_modified: modified,
        storage_class: None,
        key_versions: 1,
        // As on a bucket without Object Lock.
        lock_known: true,
        ..Default::default()
    }
}

/// One key's versions, newest first, with the context the snapshot query computes for them.
pub(crate) fn with_context(mut versions: Vec<InventoryRow>) -> Vec<InventoryRow> {
    let n = versions.len() as i64;
    let times: Vec<_> = versions.iter().map(|v| v.last_modified).collect();
    for (i, v) in versions.iter_mut().enumerate() {
        v.newer_versions = i as i64;
        v.successor_modified = i.checked_sub(1).map(|newer| times[newer]);
        v.key_versions = n;
    }
    versions
}

pub(crate) fn key_facts<'a>(
    p: &Policy,
    versions: &'a [InventoryRow],
    as_of: DateTime<Utc>,
) -> Vec<Facts<'a>> {
    versions.iter().map(|r| Facts::new(p, r, as_of)).collect()
}

/// Decides a lone current version.
pub(crate) fn decide_one(p: &Policy, r: &InventoryRow) -> Decision {
    let versions = [r.clone()];
    decide(p, &key_facts(p, &versions, now())[0], &Prices::default())
}

/// Whether `m` holds for a lone current version.
fn holds(m: Matcher, r: &InventoryRow) -> bool {
    let p = policy(AgeSource::LastModified, vec![]);
    let versions = [r.clone()];
    matches(&m, &key_facts(&p, &versions, now())[0]).expect("listing facts are always known")
}

#[test]
fn the_first_matching_rule_decides_and_keep_protects() {
    let p = policy(
        AgeSource::LastModified,
        vec![
            rule(
                "pin",
                VersionScope::Current,
                vec![Matcher::KeyPrefix("pinned/".into())],
                Action::Keep,
            ),
            rule(
                "old",
                VersionScope::Current,
                vec![Matcher::OlderThan(Duration::days(30))],
                DELETE,
            ),
        ],
    );
    let old = now() - Duration::days(31);
    assert_eq!(decide_one(&p, &row("pinned/a", old)), Decision::Keep(0));
    assert_eq!(decide_one(&p, &row("x/a", old)), Decision::Change(1));
    let exactly_30 = row("x/a", now() - Duration::days(30));
    assert_eq!(
        decide_one(&p, &exactly_30),
        Decision::NoMatch,
        "exactly 30 days is not older"
    );
}

#[test]
fn key_date_age_ignores_last_modified_and_undated_keys_never_match() {
    let pattern = KeyDatePattern::new("logs/{yyyy}/{mm}/{dd}/").unwrap();
    let p = policy(
        AgeSource::KeyDate(pattern),
        vec![rule(
            "old",
            VersionScope::Current,
            vec![Matcher::OlderThan(Duration::days(180))],
            DELETE,
        )],
    );
    assert_eq!(
        decide_one(&p, &row("logs/2025/11/01/a.jsonl", now())),
        Decision::Change(0)
    );
    assert_eq!(
        decide_one(&p, &row("logs/2026/05/01/a.jsonl", now())),
        Decision::NoMatch
    );
    let ancient = now() - Duration::days(3000);
    assert_eq!(
        decide_one(&p, &row("misc/readme", ancient)),
        Decision::NoMatch
    );
}

#[test]
fn key_matchers_compare_prefix_suffix_glob_and_regex() {
    let r = row("logs/2025/01/a.jsonl", now());
    assert!(holds(Matcher::KeySuffix(".jsonl".into()), &r));
    assert!(!holds(Matcher::KeySuffix(".json".into()), &r));
    assert!(holds(
        Matcher::KeyGlob(KeyGlob::new("logs/**/*.jsonl").unwrap()),
        &r
    ));
    assert!(!holds(
        Matcher::KeyGlob(KeyGlob::new("logs/*.jsonl").unwrap()),
        &r
    ));
    assert!(holds(
        Matcher::KeyRegex(KeyRegex::new("^logs/[0-9]{4}/").unwrap()),
        &r
    ));
}

#[test]
fn age_dates_size_and_class_matchers_have_strict_and_inclusive_bounds_as_documented() {
    let r = row("k", now() - Duration::days(10));
    assert!(holds(Matcher::YoungerThan(Duration::days(11)), &r));
    assert!(!holds(Matcher::YoungerThan(Duration::days(10)), &r));
    assert!(holds(Matcher::ModifiedBefore(now()), &r));
    assert!(!holds(
        Matcher::ModifiedAfter(now() - Duration::days(10)),
        &r
    ));
    assert!(holds(Matcher::SizeAtLeast(100), &r) && holds(Matcher::SizeAtMost(100), &r));
    assert!(!holds(Matcher::SizeAtLeast(101), &r));
    assert!(
        holds(Matcher::StorageClass(vec!["STANDARD".into()]), &r),
        "no class listed means STANDARD"
    );
    let mut glacier = r.clone();
    glacier.storage_class = Some("GLACIER_IR".into());
    assert!(!holds(
        Matcher::StorageClass(vec!["STANDARD".into(), "STANDARD_IA".into()]),
        &glacier
    ));
}

#[test]
fn combinators_nest() {
    let r = row("tmp/x.tmp", now());
    let any = Matcher::Any(vec![
        Matcher::KeySuffix(".bak".into()),
        Matcher::KeySuffix(".tmp".into()),
    ]);
    assert!(holds(any.clone(), &r));
    assert!(!holds(Matcher::Not(Box::new(any.clone())), &r));
    assert!(!holds(
        Matcher::All(vec![any, Matcher::SizeAtLeast(1000)]),
        &r
    ));
}

/// `model.bin`: current v3 (day 20), noncurrent v2 (day 10), noncurrent v1 (day 0).
fn three_versions() -> Vec<InventoryRow> {
    let start = now() - Duration::days(40);
    let versions = (0..3)
        .rev()
        .map(|i| InventoryRow {
            version_id: Some(format!("v{}", i + 1)),
            is_latest: i == 2,
            last_modified: start + Duration::days(10 * i as i64),
            ..row("model.bin", start)
        })
        .collect::<Vec<_>>();
    with_context(versions)
}

#[test]
fn noncurrent_time_runs_from_the_successors_write_and_newer_versions_are_counted() {
    let versions = three_versions();
    let p = policy(AgeSource::LastModified, vec![]);
    let facts = key_facts(&p, &versions, now());
    assert_eq!(facts[0].noncurrent_for, None);
    assert_eq!(
        facts[1].noncurrent_for,
        Some(Duration::days(20)),
        "v2 was replaced by v3 20 days ago"
    );
    assert_eq!(facts[2].noncurrent_for, Some(Duration::days(30)));
    assert_eq!(
        facts.iter().map(|f| f.newer_versions).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );

    let keep_one = policy(
        AgeSource::LastModified,
        vec![rule(
            "old-versions",
            VersionScope::Noncurrent,
            vec![Matcher::NewerVersionsMoreThan(1)],
            DELETE,
        )],
    );
    let decisions: Vec<_> = key_facts(&keep_one, &versions, now())
        .iter()
        .map(|f| decide(&keep_one, f, &Prices::default()))
        .collect();
    assert_eq!(
        decisions,
        vec![Decision::NoMatch, Decision::NoMatch, Decision::Change(0)],
        "the current version and one noncurrent stay"
    );
}

#[test]
fn only_expired_delete_markers_are_in_scope() {
    let p = policy(
        AgeSource::LastModified,
        vec![rule(
            "markers",
            VersionScope::DeleteMarker,
            vec![],
            Action::Delete(crate::policy::Delete {
                permanent: true,
                bypass_governance: false,
            }),
        )],
    );
    let marker = InventoryRow {
        is_delete_marker: true,
        ..row("gone", now())
    };
    assert_eq!(
        decide(
            &p,
            &key_facts(&p, std::slice::from_ref(&marker), now())[0],
            &Prices::default()
        ),
        Decision::Change(0)
    );
    let older = InventoryRow {
        is_latest: false,
        ..row("gone", now() - Duration::days(1))
    };
    let both = with_context(vec![marker, older]);
    let facts = key_facts(&p, &both, now());
    assert_eq!(
        decide(&p, &facts[0], &Prices::default()),
        Decision::NoMatch,
        "removing this marker would resurrect the object"
    );
    let current_rule = policy(
        AgeSource::LastModified,
        vec![rule("all", VersionScope::Current, vec![], DELETE)],
    );
    assert_eq!(
        decide(
            &current_rule,
            &key_facts(&current_rule, &both, now())[0],
            &Prices::default()
        ),
        Decision::NoMatch
    );
}
