//! Shadowed rules: a rule that can never decide anything because an earlier rule matches every
//! version it would. The check is sound (no false warnings) but not complete: it compares
//! matchers one by one and knows which implies which.

use super::matcher::{Matcher, VersionScope};
use super::model::{Action, Rule};

/// For each rule shadowed by an earlier one: (shadowed index, shadowing index).
pub fn shadowed(rules: &[Rule]) -> Vec<(usize, usize)> {
    (1..rules.len())
        .filter_map(|later| {
            (0..later)
                .find(|&earlier| covers(&rules[earlier], &rules[later]))
                .map(|e| (later, e))
        })
        .collect()
}

/// Whether every version `b` matches is matched by `a`, and `a` then decides. Actions that can
/// find their work already done (tier, tag, lock, legal hold) let later rules decide, so they
/// never shadow.
fn covers(a: &Rule, b: &Rule) -> bool {
    let decisive = matches!(
        a.then,
        Action::Keep | Action::Delete(_) | Action::Archive(_)
    );
    decisive
        && scope_covers(a.version, b.version)
        && a.when
            .iter()
            .all(|ma| b.when.iter().any(|mb| implies(mb, ma)))
}

fn scope_covers(a: VersionScope, b: VersionScope) -> bool {
    a == b || a == VersionScope::Any
}

/// Whether every version satisfying `b` also satisfies `a`.
fn implies(b: &Matcher, a: &Matcher) -> bool {
    use Matcher::*;
    match (b, a) {
        (KeyPrefix(pb), KeyPrefix(pa)) => pb.starts_with(pa.as_str()),
        (KeySuffix(sb), KeySuffix(sa)) => sb.ends_with(sa.as_str()),
        (OlderThan(db), OlderThan(da)) | (NoncurrentFor(db), NoncurrentFor(da)) => db >= da,
        (YoungerThan(db), YoungerThan(da)) => db <= da,
        (SizeAtLeast(nb), SizeAtLeast(na)) => nb >= na,
        (SizeAtMost(nb), SizeAtMost(na)) => nb <= na,
        (ModifiedBefore(tb), ModifiedBefore(ta)) => tb <= ta,
        (ModifiedAfter(tb), ModifiedAfter(ta)) => tb >= ta,
        (NewerVersionsMoreThan(nb), NewerVersionsMoreThan(na)) => nb >= na,
        (StorageClass(cb), StorageClass(ca)) => cb.iter().all(|c| ca.contains(c)),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn rule(version: VersionScope, when: Vec<Matcher>) -> Rule {
        Rule {
            name: "r".into(),
            version,
            when,
            then: Action::Delete(Default::default()),
        }
    }

    #[test]
    fn a_broader_earlier_rule_shadows_a_narrower_later_one() {
        let broad = rule(
            VersionScope::Current,
            vec![
                Matcher::KeyPrefix("logs/".into()),
                Matcher::OlderThan(Duration::days(30)),
            ],
        );
        let narrow = rule(
            VersionScope::Current,
            vec![
                Matcher::KeyPrefix("logs/2020/".into()),
                Matcher::OlderThan(Duration::days(90)),
            ],
        );
        assert_eq!(shadowed(&[broad.clone(), narrow.clone()]), vec![(1, 0)]);
        assert_eq!(
            shadowed(&[narrow, broad.clone()]),
            vec![],
            "the narrow rule first leaves the broad one useful"
        );
        let catch_all = rule(VersionScope::Any, vec![]);
        let noncurrent = rule(VersionScope::Noncurrent, vec![Matcher::SizeAtLeast(1)]);
        assert_eq!(
            shadowed(&[catch_all, noncurrent, broad]),
            vec![(1, 0), (2, 0)]
        );
    }

    #[test]
    fn rules_over_other_versions_or_extra_conditions_are_not_shadowed() {
        let current = rule(VersionScope::Current, vec![]);
        let noncurrent = rule(VersionScope::Noncurrent, vec![]);
        assert!(shadowed(&[current, noncurrent]).is_empty());
        let big = rule(VersionScope::Current, vec![Matcher::SizeAtLeast(100)]);
        let any_size = rule(
            VersionScope::Current,
            vec![Matcher::KeySuffix(".bin".into())],
        );
        assert!(shadowed(&[big, any_size]).is_empty());
    }
}
