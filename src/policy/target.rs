//! A policy's target (storage, bucket, prefixes) and inventory source, and the check that a
//! storage reference names a defined Storage.

use super::load::Reporter;
use super::location::Seg;
use super::model::*;
use super::validate::path;
use super::wire::*;
use std::collections::BTreeMap;

pub fn target(
    r: &mut Reporter,
    name: &str,
    wire: TargetWire,
    storages: &BTreeMap<String, Storage>,
) -> Target {
    known_storage(
        r,
        name,
        &path(&["spec", "target", "storage"]),
        &wire.storage,
        storages,
    );
    if let Err(msg) = bucket_name(&wire.bucket) {
        r.error(name, &path(&["spec", "target", "bucket"]), msg);
    }
    let mut prefixes = match (wire.prefix, wire.prefixes) {
        (Some(_), Some(_)) => {
            let at = path(&["spec", "target", "prefixes"]);
            r.error(name, &at, "give prefix or prefixes, not both");
            Vec::new()
        }
        (Some(p), None) => vec![p],
        (None, Some(list)) if list.is_empty() => {
            let at = path(&["spec", "target", "prefixes"]);
            r.error(name, &at, "prefixes needs at least one prefix");
            Vec::new()
        }
        (None, Some(list)) => list,
        (None, None) => vec![String::new()],
    };
    prefixes.sort();
    for pair in prefixes.windows(2) {
        if pair[1].starts_with(pair[0].as_str()) {
            let msg = format!(
                "prefix {:?} lies inside prefix {:?}; prefixes must not overlap",
                pair[1], pair[0]
            );
            r.error(name, &path(&["spec", "target", "prefixes"]), msg);
        }
    }
    let access = wire.access.and_then(|a| access(r, name, a, storages));
    Target {
        storage: wire.storage,
        bucket: wire.bucket,
        prefixes,
        access,
    }
}

/// `spec.target.access`: the log location and what is ignored.
fn access(
    r: &mut Reporter,
    name: &str,
    wire: AccessWire,
    storages: &BTreeMap<String, Storage>,
) -> Option<Access> {
    let logs = wire.logs;
    let at = |field: &str| path(&["spec", "target", "access", "logs", field]);
    let known = known_storage(r, name, &at("storage"), &logs.storage, storages);
    if let Err(msg) = bucket_name(&logs.bucket) {
        r.error(name, &at("bucket"), msg);
    }
    let format = crate::access::LogFormat::parse(&logs.format);
    if format.is_none() {
        let msg = format!(
            "unknown log format {:?}: expected s3, cloudtrail, rgw-ops or minio-audit",
            logs.format
        );
        r.error(name, &at("format"), msg);
    }
    Some(Access {
        storage: logs.storage,
        bucket: logs.bucket,
        prefix: logs.prefix.unwrap_or_default(),
        format: format.filter(|_| known)?,
        ignore: crate::access::Ignore {
            requesters: wire.ignore.map(|i| i.requesters).unwrap_or_default(),
        },
    })
}

/// Whether `bucket` can name a bucket on some S3-compatible store. The union of what
/// providers accept (Ceph's relaxed names and GCS allow `_` and capitals, up to 255
/// characters), so a name is refused only where every provider would refuse it.
pub fn bucket_name(bucket: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    match bucket.chars().find(|c| !allowed(*c)) {
        _ if bucket.is_empty() => Err("bucket must not be empty".into()),
        Some(c) => Err(format!(
            "bucket {bucket:?} contains {c:?}; bucket names hold only letters, digits, '.', '-' and '_'"
        )),
        None if bucket.len() > 255 => Err(format!(
            "bucket name is {} characters long; at most 255 are allowed",
            bucket.len()
        )),
        None => Ok(()),
    }
}

/// Whether `storage` names a defined Storage; reports it at `at` when not.
pub fn known_storage(
    r: &mut Reporter,
    scope: &str,
    at: &[Seg],
    storage: &str,
    storages: &BTreeMap<String, Storage>,
) -> bool {
    let known = storages.contains_key(storage);
    if !known {
        let defined: Vec<&str> = storages.keys().map(String::as_str).collect();
        let msg = format!(
            "unknown storage {storage:?} (defined: {})",
            defined.join(", ")
        );
        r.error(scope, at, msg);
    }
    known
}

/// `source: list` or `source: { inventory: { storage, bucket, prefix } }`.
pub fn source(
    r: &mut Reporter,
    name: &str,
    wire: Option<serde_yaml::Value>,
    storages: &BTreeMap<String, Storage>,
) -> Option<Source> {
    let Some(value) = wire else {
        return Some(Source::List);
    };
    let at = path(&["spec", "source"]);
    match r.parse::<SourceWire>(name, &at, super::load::single_key_as_tag(value))? {
        SourceWire::List => Some(Source::List),
        SourceWire::Inventory(loc) => {
            if let Err(msg) = bucket_name(&loc.bucket) {
                r.error(name, &path(&["spec", "source", "inventory", "bucket"]), msg);
            }
            let at = path(&["spec", "source", "inventory", "storage"]);
            known_storage(r, name, &at, &loc.storage, storages).then_some(Source::Inventory {
                storage: loc.storage,
                bucket: loc.bucket,
                prefix: loc.prefix,
            })
        }
    }
}
