//! Price tables: what a GB-month costs in each storage class, and the billing rules that make a
//! cheap class expensive when used wrongly (minimum storage duration, minimum billable size,
//! per-object overhead, transition requests).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The prices of one storage class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassCost {
    /// US dollars per GB (10^9 bytes) and month.
    pub per_gb_month: f64,
    /// Objects removed or moved out earlier are billed for the rest of this many days.
    pub min_storage_days: u32,
    /// Smaller objects are billed as this many bytes.
    pub min_billable_bytes: u64,
    /// Extra bytes billed per object (archive-class index entries).
    pub overhead_bytes: u64,
    /// US dollars per 1000 transition (or copy) requests into this class.
    pub transition_per_1000: f64,
    /// US dollars per GB read out of this class by a move (tier, archive copy).
    pub retrieval_per_gb: f64,
}

/// A named price table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CostTable {
    pub name: String,
    pub classes: BTreeMap<String, ClassCost>,
    /// US dollars per 1000 other write requests (tagging, retention, legal hold).
    pub request_per_1000: f64,
    /// US dollars per GB an archive copies out to another provider.
    pub egress_per_gb: f64,
    /// Egress is free up to this multiple of the bytes stored (B2: 3).
    pub free_egress_multiple: f64,
}

impl CostTable {
    pub fn class(&self, name: &str) -> Option<&ClassCost> {
        self.classes.get(name)
    }
}

mod tables;

/// The built-in tables by name.
pub const BUILTIN: &[&str] = &tables::NAMES;

pub use tables::builtin;

/// `costs:` in a Storage document: a built-in table's name or an inline table.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)] // only its JSON Schema is used; the value is read by hand for good errors
pub enum CostsWire {
    Builtin(String),
    Inline(InlineCostsWire),
}

/// An inline price table.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InlineCostsWire {
    /// Start from a built-in table and override some classes.
    pub base: Option<String>,
    pub classes: BTreeMap<String, ClassCostWire>,
    /// US dollars per 1000 tagging, retention and legal-hold requests (default: the base's,
    /// else STANDARD's transitionPer1000).
    pub request_per_1000: Option<f64>,
    /// US dollars per GB an archive copies out to another provider (default: the base's, else 0).
    pub egress_per_gb: Option<f64>,
    /// Egress is free up to this multiple of the bytes stored (default: the base's, else 0).
    pub free_egress_multiple: Option<f64>,
}

/// The prices of one class; unset fields are zero (or the base table's value).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClassCostWire {
    /// US dollars per GB-month.
    pub per_gb_month: f64,
    /// e.g. `90d`.
    pub min_storage_duration: Option<String>,
    /// e.g. `128KiB`.
    pub min_billable_size: Option<super::wire::SizeWire>,
    /// e.g. `40KiB`.
    pub per_object_overhead: Option<super::wire::SizeWire>,
    /// US dollars per 1000 transition requests into the class.
    pub transition_per_1000: Option<f64>,
    /// US dollars per GB read out of the class by a move.
    pub retrieval_per_gb: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_table_knows_the_archive_classes() {
        let t = builtin("aws-us-east-1").unwrap();
        assert_eq!(t.class("GLACIER_IR").unwrap().min_storage_days, 90);
        assert_eq!(t.class("DEEP_ARCHIVE").unwrap().min_storage_days, 180);
        assert!(
            t.class("STANDARD").unwrap().per_gb_month > t.class("GLACIER").unwrap().per_gb_month
        );
        assert!(builtin("gcp-eu").is_none());
    }

    #[test]
    fn every_builtin_table_loads_and_has_a_standard_class() {
        for name in BUILTIN {
            let t = builtin(name).unwrap();
            assert_eq!(&t.name, name);
            assert!(t.class("STANDARD").is_some(), "{name}");
        }
        let b2 = builtin("backblaze-b2").unwrap();
        assert_eq!(b2.class("STANDARD").unwrap().per_gb_month, 0.006);
        assert_eq!(b2.class("STANDARD").unwrap().min_storage_days, 0);
        assert_eq!(b2.free_egress_multiple, 3.0);
        assert_eq!(
            builtin("wasabi")
                .unwrap()
                .class("STANDARD")
                .unwrap()
                .min_storage_days,
            90
        );
        let r2 = builtin("cloudflare-r2").unwrap();
        assert_eq!(r2.class("STANDARD_IA").unwrap().min_storage_days, 30);
        let gcs = builtin("gcs-us-central1").unwrap();
        let days = |c: &str| gcs.class(c).unwrap().min_storage_days;
        assert_eq!(
            (days("NEARLINE"), days("COLDLINE"), days("ARCHIVE")),
            (30, 90, 365)
        );
        let azure = builtin("azure-eastus-lrs").unwrap();
        let days = |c: &str| azure.class(c).unwrap().min_storage_days;
        assert_eq!((days("COOL"), days("COLD"), days("ARCHIVE")), (30, 90, 180));
    }
}
