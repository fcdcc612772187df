//! Checks across a whole validated policy: capabilities its matchers need from the provider, and
//! the cost guard (a transition whose class's minimum storage duration a later removal breaks).

use super::load::Reporter;
use super::location::Seg;
use super::model::*;
use chrono::Duration;
use std::collections::BTreeMap;

/// Runs every whole-policy check, reporting problems at the rules concerned.
pub fn policy(r: &mut Reporter, policy: &Policy, storages: &BTreeMap<String, Storage>) {
    let Some(storage) = storages.get(&policy.target.storage) else {
        return;
    };
    if let AgeSource::Field(MetaField::Tag(_)) = &policy.age {
        require(
            r,
            &policy.name,
            &["spec", "age"],
            storage,
            Capability::Tagging,
            "age.from tag:",
        );
    }
    for (i, rule) in policy.rules.iter().enumerate() {
        let scope = format!("{}/{}", policy.name, rule.name);
        let at = rule_path(i, "when");
        for (capability, what) in needs(rule) {
            require_at(r, &scope, &at, storage, capability, what);
        }
    }
    if let Some(table) = costs_of(storage) {
        min_storage_duration(r, policy, &table);
    }
    access_and_groups(r, policy);
}

/// Access conditions need the target's access logs; groups are decided over current objects.
fn access_and_groups(r: &mut Reporter, policy: &Policy) {
    let no_logs = policy.target.access.is_none();
    if no_logs && matches!(policy.age, AgeSource::LastAccess) {
        let at = super::validate::path(&["spec", "age", "from"]);
        let msg = "age.from: last-access needs the bucket's access logs: add spec.target.access";
        r.error(&policy.name, &at, msg);
    }
    for (i, rule) in policy.rules.iter().enumerate() {
        let scope = format!("{}/{}", policy.name, rule.name);
        let mut on_access = false;
        for m in &rule.when {
            m.visit(&mut |m| {
                on_access |= matches!(
                    m,
                    Matcher::AccessedWithin(_) | Matcher::NotAccessedWithin(_)
                )
            });
        }
        if no_logs && on_access {
            let msg = "accessed needs the bucket's access logs: add spec.target.access";
            r.error(&scope, &rule_path(i, "when"), msg);
        }
        if policy.group.is_some() && rule.version != VersionScope::Current {
            let msg = "a policy with spec.group decides groups of current objects; \
                       version must be current";
            r.error(&scope, &rule_path(i, "when"), msg);
        }
    }
}

/// The capabilities a rule's conditions need, with the condition's name.
fn needs(rule: &Rule) -> Vec<(Capability, &'static str)> {
    let mut out = Vec::new();
    if rule.version != VersionScope::Current {
        out.push((
            Capability::Versioning,
            "a rule over noncurrent versions or delete markers",
        ));
    }
    for m in &rule.when {
        m.visit(&mut |m| match m {
            Matcher::Tag(..) | Matcher::Ttl(MetaField::Tag(_)) => {
                out.push((Capability::Tagging, "a tag condition"))
            }
            Matcher::Locked(_) => out.push((Capability::ObjectLock, "locked")),
            Matcher::LegalHold(_) => out.push((Capability::LegalHold, "legalHold")),
            _ => {}
        });
    }
    out.dedup();
    out
}

fn rule_path(i: usize, field: &str) -> Vec<Seg> {
    let mut p = super::validate::path(&["spec", "rules"]);
    p.push(Seg::Index(i));
    p.push(Seg::Key(field.into()));
    p
}

fn require(r: &mut Reporter, scope: &str, at: &[&str], s: &Storage, c: Capability, what: &str) {
    require_at(r, scope, &super::validate::path(at), s, c, what);
}

fn require_at(r: &mut Reporter, scope: &str, at: &[Seg], s: &Storage, c: Capability, what: &str) {
    if let Some(msg) = super::provider::lacking(s, c, what) {
        r.error(scope, at, msg);
    }
}

/// The storage's price table; AWS storages without one are priced with the built-in table.
pub fn costs_of(storage: &Storage) -> Option<CostTable> {
    match (&storage.costs, storage.provider) {
        (Some(table), _) => Some(table.clone()),
        (None, provider) => super::costs::builtin(provider.price_table()?),
    }
}

/// A tier rule moves versions into a class billed for at least N days; a removal rule that takes
/// the same versions fewer than N days later makes every transition cost more than it saves.
fn min_storage_duration(r: &mut Reporter, policy: &Policy, table: &CostTable) {
    for (i, tier_rule) in policy.rules.iter().enumerate() {
        let Action::Tier(tier) = &tier_rule.then else {
            continue;
        };
        let Some(cost) = table.class(&tier.storage_class) else {
            continue;
        };
        if tier.force || cost.min_storage_days == 0 {
            continue;
        }
        let tiered_at = older_than(tier_rule).unwrap_or_else(Duration::zero);
        let minimum = Duration::days(cost.min_storage_days.into());
        let breaking = policy.rules.iter().find_map(|other| {
            let removed_at = older_than(other)?;
            let same_versions = other.then.removes()
                && other.version == tier_rule.version
                && conditions_within(other, tier_rule);
            (same_versions && removed_at < tiered_at + minimum).then_some((other, removed_at))
        });
        if let Some((remover, removed_at)) = breaking {
            let msg = format!(
                "tiering to {} after {}d breaks its {}-day minimum storage duration: rule {:?} removes the same versions after {}d, so each is billed for days it is not stored; tier earlier, remove later, or set force: true",
                tier.storage_class,
                tiered_at.num_days(),
                cost.min_storage_days,
                remover.name,
                removed_at.num_days()
            );
            let mut at = rule_path(i, "then");
            at.extend([Seg::Key("tier".into()), Seg::Key("storageClass".into())]);
            r.error(&format!("{}/{}", policy.name, tier_rule.name), &at, msg);
        }
    }
}

/// The rule's top-level `age.olderThan`.
fn older_than(rule: &Rule) -> Option<Duration> {
    rule.when.iter().find_map(|m| match m {
        Matcher::OlderThan(d) => Some(*d),
        _ => None,
    })
}

/// Whether every condition of `remover` other than its age is also one of `tierer`'s, so each
/// version the tier rule moves is one the removal rule later takes.
fn conditions_within(remover: &Rule, tierer: &Rule) -> bool {
    remover
        .when
        .iter()
        .filter(|m| !matches!(m, Matcher::OlderThan(_)))
        .all(|m| tierer.when.contains(m))
}
