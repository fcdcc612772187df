//! Forecasts for the cost guard: when would a later rule remove a version that a tier or an
//! archive moves now? The answer comes from the rules themselves, evaluated (by the same
//! [`decide_with`]) at each future moment when one of their time-dependent matchers can change.

use super::{decide_with, Decision, Facts};
use crate::plan::cost::{self, Prices};
use crate::policy::{Action, Matcher, Policy};
use chrono::{DateTime, Duration, Utc};

/// How far ahead forecasts look.
const HORIZON_YEARS: i64 = 100;

/// Why rule `i`'s tier or archive of the version would lose money, if it would.
pub(super) fn uneconomic(
    policy: &Policy,
    i: usize,
    facts: &Facts,
    prices: &Prices,
) -> Option<String> {
    let action = &policy.rules[i].then;
    if !matches!(action, Action::Tier(_) | Action::Archive(_)) {
        return None;
    }
    let removed = removal(policy, i, facts);
    let removed = removed.as_ref().map(|(rule, days)| (rule.as_str(), *days));
    cost::uneconomic(prices, action, facts.row, facts.as_of, removed)
}

/// The first moment, from now on, at which a rule would remove the version once rule `i` has
/// moved it: the rule's name and the days until then.
fn removal(policy: &Policy, i: usize, facts: &Facts) -> Option<(String, f64)> {
    let mut moved = facts.row.clone();
    if let Action::Tier(t) = &policy.rules[i].then {
        moved.storage_class = Some(t.storage_class.clone());
    }
    let base = Facts {
        row: &moved,
        ..facts.clone()
    };
    moments(policy, &base).into_iter().find_map(|t| {
        match decide_with(policy, &base.at(t), None, Some(i)) {
            Decision::Change(j) if policy.rules[j].then.removes() => {
                let days = (t - facts.as_of).num_seconds() as f64 / 86_400.0;
                Some((policy.rules[j].name.clone(), days))
            }
            _ => None,
        }
    })
}

/// Now, and every later moment at which a matcher of `policy` may change its verdict on the
/// version (an age or noncurrent threshold passed, retention ended), in order.
fn moments(policy: &Policy, f: &Facts) -> Vec<DateTime<Utc>> {
    let just_after = |t: DateTime<Utc>| t + Duration::microseconds(1);
    let successor = f.row.successor_modified.filter(|_| !f.row.is_latest);
    let mut times = vec![f.as_of];
    if let Some(Some((_, until))) = f.retention() {
        times.push(until);
    }
    for rule in &policy.rules {
        for m in &rule.when {
            m.visit(&mut |m| match m {
                Matcher::OlderThan(d) => times.extend(f.born.map(|b| just_after(b + *d))),
                Matcher::YoungerThan(d) => times.extend(f.born.map(|b| b + *d)),
                Matcher::NoncurrentFor(d) => times.extend(successor.map(|s| just_after(s + *d))),
                Matcher::Ttl(field) => {
                    let days = f
                        .field(field)
                        .flatten()
                        .and_then(|v| v.trim().parse::<u32>().ok());
                    let due = f.born.zip(days).map(|(b, n)| b + Duration::days(n.into()));
                    times.extend(due.map(just_after));
                }
                _ => {}
            });
        }
    }
    let end = f.as_of + Duration::days(365 * HORIZON_YEARS);
    times.retain(|t| *t >= f.as_of && *t <= end);
    times.sort();
    times.dedup();
    times
}
