//! Access conditions and last-access ages: three-valued until the logs cover the window, and
//! decided on the group's facts for group members.

use super::tests::{decide_one, now, policy, row, rule, DELETE};
use super::*;
use crate::inventory::GroupFacts;

fn days(n: i64) -> Duration {
    Duration::days(n)
}

fn stale(age: AgeSource) -> Policy {
    let when = vec![Matcher::NotAccessedWithin(days(90))];
    policy(
        age,
        vec![rule("stale", VersionScope::Current, when, DELETE)],
    )
}

#[test]
fn not_accessed_is_unknown_until_the_logs_cover_the_window() {
    let p = stale(AgeSource::LastModified);
    let mut r = row("a", now() - days(400));
    // No log ingested: nothing is known.
    assert_eq!(decide_one(&p, &r), Decision::Unknown);
    // Logs since 30 days: an object written long before may have been read 31..90 days ago.
    r.access_since = Some(now() - days(30));
    assert_eq!(decide_one(&p, &r), Decision::Unknown);
    assert!(access_unknown(&p, &Facts::new(&p, &r, now())));
    // A read inside the window is known whatever the coverage.
    r.last_access = Some(now() - days(3));
    assert_eq!(decide_one(&p, &r), Decision::NoMatch);
    // Logs since 100 days and no read: not accessed within 90 days.
    r.last_access = None;
    r.access_since = Some(now() - days(100));
    assert_eq!(decide_one(&p, &r), Decision::Change(0));
    // A read 95 days ago, outside the window, does not keep it.
    r.last_access = Some(now() - days(95));
    assert_eq!(decide_one(&p, &r), Decision::Change(0));
    // Written after the logs began and never read since: known.
    let mut young = row("b", now() - days(10));
    young.access_since = Some(now() - days(20));
    assert_eq!(decide_one(&p, &young), Decision::Change(0));
    let within = vec![Matcher::AccessedWithin(days(7))];
    let hot = policy(
        AgeSource::LastModified,
        vec![rule("hot", VersionScope::Current, within, DELETE)],
    );
    young.last_access = Some(now() - days(1));
    assert_eq!(decide_one(&hot, &young), Decision::Change(0));
}

#[test]
fn last_access_age_is_the_later_of_read_and_write_and_unknown_without_history() {
    let when = vec![Matcher::OlderThan(days(30))];
    let p = policy(
        AgeSource::LastAccess,
        vec![rule("cold", VersionScope::Current, when, DELETE)],
    );
    let mut r = row("a", now() - days(100));
    assert_eq!(decide_one(&p, &r), Decision::Unknown);
    r.access_since = Some(now() - days(200));
    // Never read since it was written 100 days ago.
    assert_eq!(decide_one(&p, &r), Decision::Change(0));
    r.last_access = Some(now() - days(10));
    assert_eq!(decide_one(&p, &r), Decision::NoMatch);
    // A read before an overwrite: the overwrite is the later event.
    r.last_access = Some(now() - days(150));
    assert_eq!(Facts::new(&p, &r, now()).age, Some(days(100)));
}

#[test]
fn group_members_are_decided_on_the_group_facts() {
    let p = stale(AgeSource::LastModified);
    let mut cold = row("datasets/a/x", now() - days(400));
    cold.access_since = Some(now() - days(500));
    cold.group = Some(GroupFacts {
        key: "datasets/a/".into(),
        newest_modified: now() - days(300),
        oldest_modified: now() - days(400),
        last_access: None,
        members: 2,
        bytes: 200,
    });
    assert_eq!(decide_one(&p, &cold), Decision::Change(0));
    let mut read = cold.clone();
    read.group.as_mut().unwrap().last_access = Some(now() - days(2));
    assert_eq!(decide_one(&p, &read), Decision::NoMatch);
    let age = policy(
        AgeSource::LastModified,
        vec![rule(
            "old",
            VersionScope::Current,
            vec![Matcher::OlderThan(days(350))],
            DELETE,
        )],
    );
    // The group's age is its newest member's: 300 days, though this member is 400 days old.
    assert_eq!(decide_one(&age, &cold), Decision::NoMatch);
}
