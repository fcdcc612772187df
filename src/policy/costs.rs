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
}

/// A named price table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CostTable {
    pub name: String,
    pub classes: BTreeMap<String, ClassCost>,
}

impl CostTable {
    pub fn class(&self, name: &str) -> Option<&ClassCost> {
        self.classes.get(name)
    }
}

/// The built-in tables by name.
pub const BUILTIN: &[&str] = &["aws-us-east-1"];

/// A built-in table, or `None` for an unknown name.
pub fn builtin(name: &str) -> Option<CostTable> {
    (name == "aws-us-east-1").then(aws_us_east_1)
}

/// Amazon S3 list prices in us-east-1 (standard tiers, first 50 TB), as published in 2025.
fn aws_us_east_1() -> CostTable {
    const KIB128: u64 = 128 * 1024;
    const ARCHIVE_OVERHEAD: u64 = 40 * 1024;
    let rows: [(&str, f64, u32, u64, u64, f64); 8] = [
        ("STANDARD", 0.023, 0, 0, 0, 0.005),
        ("INTELLIGENT_TIERING", 0.023, 0, 0, 0, 0.01),
        ("STANDARD_IA", 0.0125, 30, KIB128, 0, 0.01),
        ("ONEZONE_IA", 0.01, 30, KIB128, 0, 0.01),
        ("GLACIER_IR", 0.004, 90, KIB128, 0, 0.02),
        ("GLACIER", 0.0036, 90, 0, ARCHIVE_OVERHEAD, 0.03),
        ("DEEP_ARCHIVE", 0.00099, 180, 0, ARCHIVE_OVERHEAD, 0.05),
        ("REDUCED_REDUNDANCY", 0.024, 0, 0, 0, 0.005),
    ];
    let classes = rows
        .into_iter()
        .map(|(class, price, days, min_bytes, overhead, transition)| {
            let cost = ClassCost {
                per_gb_month: price,
                min_storage_days: days,
                min_billable_bytes: min_bytes,
                overhead_bytes: overhead,
                transition_per_1000: transition,
            };
            (class.to_string(), cost)
        })
        .collect();
    CostTable {
        name: "aws-us-east-1".into(),
        classes,
    }
}

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
}
