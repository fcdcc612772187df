//! Validating a Storage document: endpoint, credentials, retries, checksum mode and prices.

use super::costs::{self, ClassCost, ClassCostWire, CostTable, InlineCostsWire};
use super::load::Reporter;
use super::location::Seg;
use super::model::*;
use super::units::{expand_env, parse_duration};
use super::validate::{path, EnvLookup};
use super::wire::*;

pub fn storage(
    r: &mut Reporter,
    name: &str,
    spec: serde_yaml::Value,
    env: EnvLookup,
) -> Option<Storage> {
    let wire: StorageSpecWire = r.parse(name, &[Seg::Key("spec".into())], spec)?;
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
    let given = wire.endpoint.is_some();
    let expanded = expand("endpoint", wire.endpoint);
    // An endpoint that failed to expand is already reported; "needs an endpoint" would repeat it.
    let unexpanded = given && expanded.is_none();
    let endpoint = expanded.filter(|e| !e.is_empty());
    let region = expand("region", wire.region).filter(|e| !e.is_empty());
    if !unexpanded {
        check_endpoint(r, name, wire.provider, endpoint.as_deref());
    }
    let costs = wire.costs.and_then(|v| cost_table(r, name, v));
    let drops = wire.provider.capabilities().drops_delete_conditions;
    if let (Some(evidence), Some(c)) = (drops, wire.conditional_delete) {
        if c != ConditionalDeleteWire::None {
            // A condition the server drops deletes the changed object: refuse it outright.
            let msg = format!(
                "provider {} does not enforce delete conditions ({evidence}); leave \
                 conditionalDelete out, so each object is checked with HEAD just before",
                wire.provider.name()
            );
            r.error(name, &path(&["spec", "conditionalDelete"]), &msg);
        }
    }
    if wire.requests_per_second == Some(0) {
        let msg = "requestsPerSecond must be at least 1 (leave it out for no fixed ceiling)";
        r.error(name, &path(&["spec", "requestsPerSecond"]), msg);
    }
    let retry = retry(r, name, wire.retry);
    let credentials = credentials(r, name, wire.credentials)?;
    let aws = wire.provider == Provider::Aws;
    Some(Storage {
        name: name.to_string(),
        retry,
        credentials,
        provider: wire.provider,
        endpoint,
        region: region.unwrap_or_else(|| "us-east-1".into()),
        path_style: wire.path_style.unwrap_or(!aws),
        pacing: Pacing::new(
            wire.provider.capabilities().prefix_requests_per_second,
            wire.requests_per_second,
        ),
        checksum: wire.checksum.unwrap_or(if aws {
            ChecksumMode::WhenSupported
        } else {
            ChecksumMode::WhenRequired
        }),
        conditional_delete: wire
            .conditional_delete
            .unwrap_or(wire.provider.capabilities().conditional_delete),
        costs,
    })
}

/// `costs: aws-us-east-1`, or an inline table (optionally on top of a built-in one).
fn cost_table(r: &mut Reporter, name: &str, value: serde_yaml::Value) -> Option<CostTable> {
    let at = path(&["spec", "costs"]);
    let unknown = |r: &mut Reporter, at: &[Seg], table: &str| {
        let msg = format!(
            "unknown price table {table:?}: the built-in tables are {}",
            costs::BUILTIN.join(", ")
        );
        r.error(name, at, msg);
    };
    if let serde_yaml::Value::String(table) = &value {
        let found = costs::builtin(table);
        if found.is_none() {
            unknown(r, &at, table);
        }
        return found;
    }
    let wire: InlineCostsWire = r.parse(name, &at, value)?;
    let mut table = match &wire.base {
        None => CostTable {
            name: format!("{name}-inline"),
            classes: Default::default(),
            request_per_1000: 0.0,
            egress_per_gb: 0.0,
            free_egress_multiple: 0.0,
        },
        Some(base) => match costs::builtin(base) {
            Some(table) => table,
            None => {
                unknown(r, &path(&["spec", "costs", "base"]), base);
                return None;
            }
        },
    };
    let based = wire.base.is_some();
    for (class, w) in wire.classes {
        let base = table.class(&class).copied().unwrap_or_default();
        let cost = class_cost(r, name, &class, w, base)?;
        table.classes.insert(class, cost);
    }
    if !based {
        // Tagging and lock calls cost what a PUT does where the table says nothing else.
        table.request_per_1000 = table
            .class("STANDARD")
            .map_or(0.0, |c| c.transition_per_1000);
    }
    let figures = [
        (
            "requestPer1000",
            wire.request_per_1000,
            &mut table.request_per_1000,
        ),
        ("egressPerGb", wire.egress_per_gb, &mut table.egress_per_gb),
        (
            "freeEgressMultiple",
            wire.free_egress_multiple,
            &mut table.free_egress_multiple,
        ),
    ];
    for (field, given, figure) in figures {
        match given {
            Some(v) if v < 0.0 => r.error(
                name,
                &path(&["spec", "costs", field]),
                "must not be negative",
            ),
            Some(v) => *figure = v,
            None => {}
        }
    }
    Some(table)
}

/// One class of an inline table; a field it leaves out keeps `base`'s value (the base table's
/// class of that name, or zero).
fn class_cost(
    r: &mut Reporter,
    name: &str,
    class: &str,
    w: ClassCostWire,
    base: ClassCost,
) -> Option<ClassCost> {
    let at = |field: &str| path(&["spec", "costs", "classes", class, field]);
    let min_storage_days = match w.min_storage_duration.as_deref().map(parse_duration) {
        None => base.min_storage_days,
        Some(Ok(d)) => d.num_days().max(0) as u32,
        Some(Err(msg)) => {
            r.error(name, &at("minStorageDuration"), msg);
            return None;
        }
    };
    let size = |r: &mut Reporter, field: &str, v: Option<SizeWire>, base: u64| match v {
        None => Some(base),
        Some(v) => v.bytes().map_err(|m| r.error(name, &at(field), m)).ok(),
    };
    let min_billable_bytes = size(
        r,
        "minBillableSize",
        w.min_billable_size,
        base.min_billable_bytes,
    )?;
    let overhead_bytes = size(
        r,
        "perObjectOverhead",
        w.per_object_overhead,
        base.overhead_bytes,
    )?;
    let negative = |p: Option<f64>| p.is_some_and(|p| p < 0.0);
    if w.per_gb_month < 0.0 || negative(w.transition_per_1000) || negative(w.retrieval_per_gb) {
        r.error(name, &at("perGbMonth"), "prices must not be negative");
    }
    Some(ClassCost {
        per_gb_month: w.per_gb_month,
        min_storage_days,
        min_billable_bytes,
        overhead_bytes,
        transition_per_1000: w.transition_per_1000.unwrap_or(base.transition_per_1000),
        retrieval_per_gb: w.retrieval_per_gb.unwrap_or(base.retrieval_per_gb),
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
                format!("provider {} needs an endpoint", provider.name()),
            );
        }
        _ => {}
    }
}

/// The retry settings, defaults for what is not given; a bad value is reported and defaulted.
fn retry(r: &mut Reporter, name: &str, wire: Option<RetryWire>) -> Retry {
    let mut retry = Retry::default();
    let Some(wire) = wire else { return retry };
    if let Some(n) = wire.max_attempts {
        if (1..=50).contains(&n) {
            retry.max_attempts = n;
        } else {
            let at = path(&["spec", "retry", "maxAttempts"]);
            r.error(
                name,
                &at,
                format!("maxAttempts must be between 1 and 50, found {n}"),
            );
        }
    }
    let mut time = |field: &'static str, text: Option<String>, into: &mut std::time::Duration| {
        let Some(text) = text else { return };
        match humantime::parse_duration(text.trim()) {
            Ok(d) if !d.is_zero() => *into = d,
            _ => r.error(
                name,
                &path(&["spec", "retry", field]),
                format!("invalid {field} {text:?}: expected a duration such as 250ms, 20s or 5m"),
            ),
        }
    };
    time(
        "initialBackoff",
        wire.initial_backoff,
        &mut retry.initial_backoff,
    );
    time("maxBackoff", wire.max_backoff, &mut retry.max_backoff);
    time("totalBudget", wire.total_budget, &mut retry.total_budget);
    if retry.max_backoff < retry.initial_backoff {
        let at = path(&["spec", "retry", "maxBackoff"]);
        r.error(
            name,
            &at,
            "maxBackoff must not be shorter than initialBackoff".to_string(),
        );
    }
    retry
}
