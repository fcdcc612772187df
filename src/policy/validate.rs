//! Semantic validation: wire documents become the typed model, and every problem is reported
//! at the node it concerns.

use super::actions::Cx;
use super::load::{Reporter, SourceDoc};
use super::location::Seg;
use super::model::*;
use super::units::{parse_cron, parse_duration, parse_size};
use super::wire::*;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};

pub const API_VERSION: &str = "shelflife.dev/v1";

/// How `${VAR}` references are resolved.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

pub(super) fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

pub(super) fn path(segs: &[&str]) -> Vec<Seg> {
    segs.iter().map(|s| key(s)).collect()
}

/// Validates all documents together (references and uniqueness span files).
pub fn build_set(
    docs: Vec<SourceDoc>,
    env: EnvLookup,
    diagnostics: &mut Vec<super::Diagnostic>,
) -> PolicySet {
    let mut set = PolicySet::default();
    let mut pending = Vec::new();
    // (kind, name) → where it was first defined.
    let mut names: HashMap<(String, String), String> = HashMap::new();
    for src in docs {
        let name = src.doc.metadata.name.clone();
        let mut r = Reporter {
            file: &src.file,
            index: &src.index,
            diagnostics,
        };
        if src.doc.api_version != API_VERSION {
            let msg = format!(
                "apiVersion must be {API_VERSION:?}, found {:?}",
                src.doc.api_version
            );
            r.error(&name, &path(&["apiVersion"]), msg);
        }
        if !valid_name(&name) {
            let msg = format!("metadata.name {name:?} must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit");
            r.error(&name, &path(&["metadata", "name"]), msg);
        }
        let name_at = path(&["metadata", "name"]);
        let pos = src.index.value(&name_at);
        let here = format!("{}:{}", src.file.display(), pos.line);
        match names.entry((src.doc.kind.clone(), name.clone())) {
            Entry::Occupied(first) => {
                let msg = format!(
                    "duplicate {} name {name:?} (first defined at {})",
                    src.doc.kind,
                    first.get()
                );
                r.error(&name, &name_at, msg);
            }
            Entry::Vacant(slot) => {
                slot.insert(here);
            }
        }
        match src.doc.kind.as_str() {
            "Storage" => {
                if let Some(storage) =
                    super::storage_spec::storage(&mut r, &name, src.doc.spec.clone(), env)
                {
                    set.storages.insert(name, storage);
                }
            }
            "Policy" => pending.push(src),
            other => {
                let msg = format!("unknown kind {other:?}: expected Storage or Policy");
                r.error(&name, &path(&["kind"]), msg);
            }
        }
    }
    for src in pending {
        let mut r = Reporter {
            file: &src.file,
            index: &src.index,
            diagnostics,
        };
        if let Some(p) = policy(&mut r, &src, &set.storages) {
            set.policies.push(p);
        }
    }
    set
}

fn valid_name(name: &str) -> bool {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    !name.is_empty() && name.len() <= 63 && ok_chars && !name.starts_with('-')
}

fn policy(
    r: &mut Reporter,
    src: &SourceDoc,
    storages: &BTreeMap<String, Storage>,
) -> Option<Policy> {
    let name = src.doc.metadata.name.as_str();
    let wire: PolicySpecWire = r.parse(name, &[key("spec")], src.doc.spec.clone())?;
    let errors_before = r.diagnostics.len();
    let schedule = schedule(r, name, wire.schedule.as_deref());
    let timezone = timezone(r, name, wire.timezone.as_deref());
    let target = super::target::target(r, name, wire.target, storages);
    let source = super::target::source(r, name, wire.source, storages);
    let age = age_source(r, name, wire.age);
    let rules = rules(r, name, wire.rules, &target, storages);
    let limits = limits(r, name, wire.limits.unwrap_or_default());
    let max_snapshot_age = wire.max_snapshot_age.and_then(|text| {
        let at = path(&["spec", "maxSnapshotAge"]);
        let age = parse_duration(&text).and_then(|age| {
            (age > chrono::Duration::zero())
                .then_some(age)
                .ok_or_else(|| "maxSnapshotAge must be longer than 0".to_string())
        });
        age.map_err(|m| r.error(name, &at, m)).ok()
    });
    let audit = wire
        .audit
        .and_then(|a| checkpoint_copy(r, name, a.checkpoints, &target, storages));
    let group = wire.group.and_then(|g| {
        super::group::GroupPattern::new(&g.pattern)
            .map_err(|m| r.error(name, &path(&["spec", "group", "pattern"]), m))
            .ok()
    });
    if r.diagnostics[errors_before..]
        .iter()
        .any(|d| d.severity == super::Severity::Error)
    {
        return None;
    }
    let policy = Policy {
        name: name.to_string(),
        labels: src.doc.metadata.labels.clone(),
        file: src.file.clone(),
        sha256: src.file_sha256.clone(),
        schedule,
        timezone,
        target,
        source: source?,
        age: age?,
        rules: rules?,
        limits,
        max_snapshot_age,
        audit,
        group,
    };
    super::checks::policy(r, &policy, storages);
    Some(policy)
}

fn checkpoint_copy(
    r: &mut Reporter,
    name: &str,
    wire: super::evidence::CheckpointsWire,
    target: &Target,
    storages: &BTreeMap<String, Storage>,
) -> Option<super::evidence::CheckpointCopy> {
    let mut cx = Cx {
        r,
        scope: name,
        at: path(&["spec", "audit", "checkpoints"]),
        target: storages.get(&target.storage),
        storages,
        bucket: &target.bucket,
        prefixes: &target.prefixes,
    };
    wire.validate(&mut cx)
}

fn schedule(r: &mut Reporter, name: &str, text: Option<&str>) -> Option<Schedule> {
    let text = text?;
    parse_cron(text)
        .map(|cron| Schedule {
            expression: text.to_string(),
            cron,
        })
        .map_err(|m| r.error(name, &path(&["spec", "schedule"]), m))
        .ok()
}

fn timezone(r: &mut Reporter, name: &str, text: Option<&str>) -> chrono_tz::Tz {
    let text = text.unwrap_or("Etc/UTC");
    text.parse().unwrap_or_else(|_| {
        let msg = format!("unknown timezone {text:?}: expected an IANA name such as Europe/Paris");
        r.error(name, &path(&["spec", "timezone"]), msg);
        chrono_tz::UTC
    })
}

fn age_source(r: &mut Reporter, name: &str, wire: Option<AgeSourceWire>) -> Option<AgeSource> {
    let Some(wire) = wire else {
        return Some(AgeSource::LastModified);
    };
    match (wire.from.as_str(), wire.pattern) {
        ("last-modified", None) => Some(AgeSource::LastModified),
        ("last-access", None) => Some(AgeSource::LastAccess),
        ("key-date", Some(pattern)) => KeyDatePattern::new(&pattern)
            .map(AgeSource::KeyDate)
            .map_err(|m| r.error(name, &path(&["spec", "age", "pattern"]), m))
            .ok(),
        ("key-date", None) => {
            r.error(
                name,
                &path(&["spec", "age"]),
                "age.from: key-date needs a pattern, e.g. \"logs/{yyyy}/{mm}/{dd}/\"",
            );
            None
        }
        (_, Some(_)) => {
            r.error(
                name,
                &path(&["spec", "age", "pattern"]),
                "pattern is only used with from: key-date",
            );
            None
        }
        (field, None) if field.starts_with("tag:") || field.starts_with("metadata:") => {
            let field = match field.split_once(':') {
                Some(("tag", name)) if !name.is_empty() => MetaField::Tag(name.to_string()),
                Some((_, name)) if !name.is_empty() => {
                    MetaField::Metadata(name.to_ascii_lowercase())
                }
                _ => {
                    let msg = format!(
                        "age.from {field:?} needs a name after the colon, e.g. tag:created-at"
                    );
                    r.error(name, &path(&["spec", "age", "from"]), msg);
                    return None;
                }
            };
            Some(AgeSource::Field(field))
        }
        (other, _) => {
            r.error(
                name,
                &path(&["spec", "age", "from"]),
                format!("unknown age source {other:?}: expected last-modified, last-access, key-date, tag:NAME or metadata:NAME"),
            );
            None
        }
    }
}

fn rules(
    r: &mut Reporter,
    policy: &str,
    wires: Vec<RuleWire>,
    target: &Target,
    storages: &BTreeMap<String, Storage>,
) -> Option<Vec<Rule>> {
    if wires.is_empty() {
        r.error(
            policy,
            &path(&["spec", "rules"]),
            "a policy needs at least one rule",
        );
        return None;
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let rule_count = wires.len();
    for (i, wire) in wires.into_iter().enumerate() {
        let base = vec![key("spec"), key("rules"), Seg::Index(i)];
        let scope = format!("{policy}/{}", wire.name);
        if !valid_name(&wire.name) {
            let msg = format!(
                "rule name {:?} must be 1-63 characters of a-z, 0-9 and '-'",
                wire.name
            );
            r.error(&scope, &[base.clone(), vec![key("name")]].concat(), msg);
        }
        if !seen.insert(wire.name.clone()) {
            r.error(
                &scope,
                &[base.clone(), vec![key("name")]].concat(),
                format!("duplicate rule name {:?}", wire.name),
            );
        }
        let when_at = [base.clone(), vec![key("when")]].concat();
        let when = super::when::when(r, &scope, &when_at, wire.when);
        let mut cx = Cx {
            r: &mut *r,
            scope: &scope,
            at: [base.clone(), vec![key("then")]].concat(),
            target: storages.get(&target.storage),
            storages,
            bucket: &target.bucket,
            prefixes: &target.prefixes,
        };
        let then = super::actions::action(&mut cx, wire.then);
        if let (Some(when), Some(then)) = (when, then) {
            out.push(Rule {
                name: wire.name,
                version: when.version,
                when: when.matchers,
                then,
            });
        }
    }
    // Indices match the YAML only when every rule validated (otherwise the set is invalid anyway).
    let all_valid = out.len() == rule_count && seen.len() == rule_count;
    for (later, earlier) in super::shadow::shadowed(&out)
        .into_iter()
        .filter(|_| all_valid)
    {
        let (shadowed, by) = (&out[later], &out[earlier]);
        let path = [spec_rules(), vec![Seg::Index(later), key("name")]].concat();
        let msg = format!("rule {:?} can never match: the earlier rule {:?} matches every version it would (shadowed)", shadowed.name, by.name);
        r.warning(&format!("{policy}/{}", shadowed.name), &path, msg);
    }
    Some(out)
}

fn spec_rules() -> Vec<Seg> {
    vec![key("spec"), key("rules")]
}

fn limits(r: &mut Reporter, name: &str, wire: LimitsWire) -> Limits {
    let max_bytes = wire.max_bytes.and_then(|s| {
        parse_size(&s)
            .map_err(|m| r.error(name, &path(&["spec", "limits", "maxBytes"]), m))
            .ok()
    });
    if let Some(p) = wire.max_percent {
        if !(0.0..=100.0).contains(&p) {
            r.error(
                name,
                &path(&["spec", "limits", "maxPercent"]),
                format!("maxPercent must be between 0 and 100, found {p}"),
            );
        }
    }
    Limits {
        max_objects: wire.max_objects,
        max_bytes,
        max_percent: wire.max_percent,
    }
}
