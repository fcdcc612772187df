//! Semantic validation: wire documents become the typed model, and every problem is reported
//! at the node it concerns.

use super::load::{Reporter, SourceDoc};
use super::location::Seg;
use super::model::*;
use super::units::{expand_env, parse_cron, parse_size};
use super::wire::*;
use std::collections::{BTreeMap, HashSet};

pub const API_VERSION: &str = "shelflife.dev/v1";

/// How `${VAR}` references are resolved.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

fn path(segs: &[&str]) -> Vec<Seg> {
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
    let mut names: HashSet<(String, String)> = HashSet::new();
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
        if !names.insert((src.doc.kind.clone(), name.clone())) {
            let msg = format!("duplicate {} name {name:?}", src.doc.kind);
            r.error(&name, &path(&["metadata", "name"]), msg);
        }
        match src.doc.kind.as_str() {
            "Storage" => {
                if let Some(storage) = storage(&mut r, &name, src.doc.spec.clone(), env) {
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

fn storage(
    r: &mut Reporter,
    name: &str,
    spec: serde_yaml::Value,
    env: EnvLookup,
) -> Option<Storage> {
    let wire: StorageSpecWire = r.parse(name, &[key("spec")], spec)?;
    let mut expand = |field: &str, value: Option<String>| -> Option<String> {
        let value = value?;
        match expand_env(&value, env) {
            Ok(v) => Some(v),
            Err(msg) => {
                r.error(name, &path(&["spec", field]), msg);
                None
            }
        }
    };
    let endpoint = expand("endpoint", wire.endpoint).filter(|e| !e.is_empty());
    let region = expand("region", wire.region).filter(|e| !e.is_empty());
    check_endpoint(r, name, wire.provider, endpoint.as_deref());
    if let Some(costs) = &wire.costs {
        if costs != "aws-us-east-1" {
            r.error(
                name,
                &path(&["spec", "costs"]),
                format!("unknown price table {costs:?}: the built-in table is \"aws-us-east-1\""),
            );
        }
    }
    let max_attempts = wire.retry.and_then(|r| r.max_attempts).unwrap_or(8);
    if !(1..=50).contains(&max_attempts) {
        r.error(
            name,
            &path(&["spec", "retry", "maxAttempts"]),
            format!("maxAttempts must be between 1 and 50, found {max_attempts}"),
        );
    }
    let credentials = credentials(r, name, wire.credentials)?;
    Some(Storage {
        name: name.to_string(),
        max_attempts,
        credentials,
        provider: wire.provider,
        endpoint,
        region: region.unwrap_or_else(|| "us-east-1".into()),
        path_style: wire.path_style.unwrap_or(wire.provider != Provider::Aws),
        requests_per_second: wire.requests_per_second.unwrap_or(3000),
    })
}

fn credentials(r: &mut Reporter, name: &str, wire: Option<CredentialsWire>) -> Option<Credentials> {
    let Some(wire) = wire else {
        return Some(Credentials::DefaultChain);
    };
    let mut source = |field: &str, env: Option<String>, file: Option<String>, required: bool| match (
        env, file,
    ) {
        (Some(env), None) => Some(Some(SecretSource::Env(env))),
        (None, Some(file)) => Some(Some(SecretSource::File(file.into()))),
        (None, None) if !required => Some(None),
        (env, _) => {
            let both = env.is_some();
            let msg = if both {
                format!("give either {field}Env or {field}File, not both")
            } else {
                format!("credentials need {field}Env or {field}File")
            };
            r.error(name, &path(&["spec", "credentials"]), msg);
            None
        }
    };
    let access_key_id = source(
        "accessKeyId",
        wire.access_key_id_env,
        wire.access_key_id_file,
        true,
    );
    let secret_access_key = source(
        "secretAccessKey",
        wire.secret_access_key_env,
        wire.secret_access_key_file,
        true,
    );
    let session_token = source(
        "sessionToken",
        wire.session_token_env,
        wire.session_token_file,
        false,
    );
    Some(Credentials::Static {
        access_key_id: access_key_id??,
        secret_access_key: secret_access_key??,
        session_token: session_token?,
    })
}

fn check_endpoint(r: &mut Reporter, name: &str, provider: Provider, endpoint: Option<&str>) {
    match endpoint {
        Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => {
            r.error(
                name,
                &path(&["spec", "endpoint"]),
                format!("endpoint {url:?} must start with http:// or https://"),
            );
        }
        None if provider != Provider::Aws => {
            r.error(
                name,
                &path(&["spec", "provider"]),
                format!(
                    "provider {} needs an endpoint",
                    format!("{provider:?}").to_lowercase()
                ),
            );
        }
        _ => {}
    }
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
    check_target(r, name, &wire.target, storages);
    let _ = wire.source;
    let age = age_source(r, name, wire.age);
    let rules = rules(r, name, wire.rules);
    let limits = limits(r, name, wire.limits.unwrap_or_default());
    if r.diagnostics[errors_before..]
        .iter()
        .any(|d| d.severity == super::Severity::Error)
    {
        return None;
    }
    Some(Policy {
        name: name.to_string(),
        labels: src.doc.metadata.labels.clone(),
        file: src.file.clone(),
        sha256: src.file_sha256.clone(),
        schedule,
        timezone,
        target: Target {
            storage: wire.target.storage,
            bucket: wire.target.bucket,
            prefix: wire.target.prefix.unwrap_or_default(),
        },
        age: age?,
        rules: rules?,
        limits,
    })
}

fn schedule(r: &mut Reporter, name: &str, text: Option<&str>) -> Option<cron::Schedule> {
    let text = text?;
    parse_cron(text)
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

fn check_target(
    r: &mut Reporter,
    name: &str,
    target: &TargetWire,
    storages: &BTreeMap<String, Storage>,
) {
    if !storages.contains_key(&target.storage) {
        let known: Vec<&str> = storages.keys().map(String::as_str).collect();
        let msg = format!(
            "unknown storage {:?} (defined: {})",
            target.storage,
            known.join(", ")
        );
        r.error(name, &path(&["spec", "target", "storage"]), msg);
    }
    if target.bucket.is_empty() {
        r.error(
            name,
            &path(&["spec", "target", "bucket"]),
            "bucket must not be empty",
        );
    }
}

fn age_source(r: &mut Reporter, name: &str, wire: Option<AgeSourceWire>) -> Option<AgeSource> {
    let Some(wire) = wire else {
        return Some(AgeSource::LastModified);
    };
    match (wire.from.as_str(), wire.pattern) {
        ("last-modified", None) => Some(AgeSource::LastModified),
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
        ("last-modified", Some(_)) => {
            r.error(
                name,
                &path(&["spec", "age", "pattern"]),
                "pattern is only used with from: key-date",
            );
            None
        }
        (other, _) => {
            r.error(
                name,
                &path(&["spec", "age", "from"]),
                format!("unknown age source {other:?}: expected last-modified or key-date"),
            );
            None
        }
    }
}

fn rules(r: &mut Reporter, policy: &str, wires: Vec<RuleWire>) -> Option<Vec<Rule>> {
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
        let then = action(
            r,
            &scope,
            &[base.clone(), vec![key("then")]].concat(),
            wire.then,
        );
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
    let all_valid = out.len() == rule_count;
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

fn action(r: &mut Reporter, scope: &str, at: &[Seg], value: serde_yaml::Value) -> Option<Action> {
    if let Some(word) = value.as_str() {
        return match word {
            "keep" => Some(Action::Keep),
            "delete" => Some(Action::Delete { permanent: false }),
            other => {
                r.error(scope, at, format!("unknown action {other:?}: expected keep or delete, or a map such as {{ delete: {{ permanent: true }} }}"));
                None
            }
        };
    }
    // The map form names the action by its single key: `{ delete: { permanent: true } }`.
    let single = value
        .as_mapping()
        .filter(|m| m.len() == 1)
        .and_then(|m| m.iter().next());
    let Some((serde_yaml::Value::String(kind), body)) = single else {
        r.error(
            scope,
            at,
            "an action is a word (keep, delete) or a map with exactly one key naming the action",
        );
        return None;
    };
    let body_at = [at, &[key(kind)]].concat();
    let body = match body {
        serde_yaml::Value::Null => serde_yaml::Value::Mapping(Default::default()),
        other => other.clone(),
    };
    match kind.as_str() {
        "keep" => r
            .parse::<EmptyWire>(scope, &body_at, body)
            .map(|_| Action::Keep),
        "delete" => r
            .parse::<DeleteWire>(scope, &body_at, body)
            .map(|d| Action::Delete {
                permanent: d.permanent,
            }),
        other => {
            r.error_at_key(
                scope,
                &body_at,
                format!("unknown action {other:?}: expected keep or delete"),
            );
            None
        }
    }
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
