//! The built-in price tables: list prices (US dollars, pay-as-you-go, first tier) as each
//! provider published them on its pricing page, dated. Prices change: a `costs:` block in the
//! Storage overrides any of them (README, "Costs").

use super::{ClassCost, CostTable};

/// One row: class, $/GB-month, minimum days, minimum billable bytes, per-object overhead bytes,
/// $ per 1000 transitions (copies) into the class, $ per GB read out of the class.
type Row = (&'static str, f64, u32, u64, u64, f64, f64);

const KIB: u64 = 1024;

/// A table's figures beside its classes.
struct Table {
    name: &'static str,
    /// $ per 1000 other write requests (tagging, retention, legal hold).
    request_per_1000: f64,
    /// $ per GB copied out to another provider.
    egress_per_gb: f64,
    /// Egress is free up to this multiple of the bytes stored.
    free_egress_multiple: f64,
    rows: &'static [Row],
}

/// Amazon S3, us-east-1, as published in 2025 (aws.amazon.com/s3/pricing/): storage, requests
/// (PUT/COPY/POST and lifecycle transitions per 1000), retrieval (standard tier) and data
/// transfer out to the internet (first 10 TB).
const AWS_US_EAST_1: Table = Table {
    name: "aws-us-east-1",
    request_per_1000: 0.005,
    egress_per_gb: 0.09,
    free_egress_multiple: 0.0,
    rows: &[
        ("STANDARD", 0.023, 0, 0, 0, 0.005, 0.0),
        ("INTELLIGENT_TIERING", 0.023, 0, 0, 0, 0.01, 0.0),
        ("STANDARD_IA", 0.0125, 30, 128 * KIB, 0, 0.01, 0.01),
        ("ONEZONE_IA", 0.01, 30, 128 * KIB, 0, 0.01, 0.01),
        ("GLACIER_IR", 0.004, 90, 128 * KIB, 0, 0.02, 0.03),
        ("GLACIER", 0.0036, 90, 0, 40 * KIB, 0.03, 0.01),
        ("DEEP_ARCHIVE", 0.00099, 180, 0, 40 * KIB, 0.05, 0.02),
        ("REDUCED_REDUNDANCY", 0.024, 0, 0, 0, 0.005, 0.0),
    ],
};

/// Backblaze B2, as published 2023-10 and current in 2026 (backblaze.com/cloud-storage/pricing,
/// .../transaction-pricing): $6/TB-month, no minimum storage duration; copies are Class C
/// ($0.004 per 1000); retention and legal-hold calls are Class A (free); egress is free up to
/// three times the average stored amount, then $0.01/GB.
const BACKBLAZE_B2: Table = Table {
    name: "backblaze-b2",
    request_per_1000: 0.0,
    egress_per_gb: 0.01,
    free_egress_multiple: 3.0,
    rows: &[("STANDARD", 0.006, 0, 0, 0, 0.004, 0.0)],
};

/// Wasabi, pay-as-you-go, as published 2025 (wasabi.com/pricing, and its minimum storage
/// duration and object size policies): $6.99/TB-month, 90-day minimum, objects under 4 KB billed
/// as 4 KB; no request or egress fees (egress within the stored amount, its fair-use policy).
const WASABI: Table = Table {
    name: "wasabi",
    request_per_1000: 0.0,
    egress_per_gb: 0.0,
    free_egress_multiple: 1.0,
    rows: &[("STANDARD", 0.00699, 90, 4 * KIB, 0, 0.0, 0.0)],
};

/// Cloudflare R2, as published 2025 (developers.cloudflare.com/r2/pricing/): Standard and
/// Infrequent Access (30-day minimum, $0.01/GB retrieval); Class A operations $4.50 and $9.00
/// per million; no egress fees.
const CLOUDFLARE_R2: Table = Table {
    name: "cloudflare-r2",
    request_per_1000: 0.0045,
    egress_per_gb: 0.0,
    free_egress_multiple: 0.0,
    rows: &[
        ("STANDARD", 0.015, 0, 0, 0, 0.0045, 0.0),
        ("STANDARD_IA", 0.01, 30, 0, 0, 0.009, 0.01),
    ],
};

/// Google Cloud Storage, regional us-central1, as published 2025 (cloud.google.com/storage/
/// pricing): Nearline 30, Coldline 90, Archive 365 days minimum; Class A operations per 1000
/// by class; retrieval per GB by class; internet egress (premium tier, first TB) $0.12/GB.
const GCS_US_CENTRAL1: Table = Table {
    name: "gcs-us-central1",
    request_per_1000: 0.005,
    egress_per_gb: 0.12,
    free_egress_multiple: 0.0,
    rows: &[
        ("STANDARD", 0.02, 0, 0, 0, 0.005, 0.0),
        ("NEARLINE", 0.01, 30, 0, 0, 0.01, 0.01),
        ("COLDLINE", 0.004, 90, 0, 0, 0.02, 0.02),
        ("ARCHIVE", 0.0012, 365, 0, 0, 0.05, 0.05),
    ],
};

/// Azure Blob Storage, LRS, East US, as published 2025 (azure.microsoft.com/pricing/details/
/// storage/blobs/): Hot (also as STANDARD, the class S3 gateways report), Cool 30, Cold 90,
/// Archive 180 days minimum; write operations per 1000 by tier; retrieval per GB by tier;
/// internet egress $0.087/GB.
const AZURE_EASTUS_LRS: Table = Table {
    name: "azure-eastus-lrs",
    request_per_1000: 0.005,
    egress_per_gb: 0.087,
    free_egress_multiple: 0.0,
    rows: &[
        ("STANDARD", 0.018, 0, 0, 0, 0.005, 0.0),
        ("HOT", 0.018, 0, 0, 0, 0.005, 0.0),
        ("COOL", 0.01, 30, 0, 0, 0.01, 0.01),
        ("COLD", 0.0036, 90, 0, 0, 0.018, 0.03),
        ("ARCHIVE", 0.00099, 180, 0, 0, 0.01, 0.02),
    ],
};

const TABLES: [&Table; 6] = [
    &AWS_US_EAST_1,
    &BACKBLAZE_B2,
    &WASABI,
    &CLOUDFLARE_R2,
    &GCS_US_CENTRAL1,
    &AZURE_EASTUS_LRS,
];

/// The built-in tables' names.
pub const NAMES: [&str; 6] = [
    AWS_US_EAST_1.name,
    BACKBLAZE_B2.name,
    WASABI.name,
    CLOUDFLARE_R2.name,
    GCS_US_CENTRAL1.name,
    AZURE_EASTUS_LRS.name,
];

/// A built-in table, or `None` for an unknown name.
pub fn builtin(name: &str) -> Option<CostTable> {
    let table = TABLES.into_iter().find(|t| t.name == name)?;
    let classes =
        table
            .rows
            .iter()
            .map(|&(class, price, days, min, overhead, transition, read)| {
                let cost = ClassCost {
                    per_gb_month: price,
                    min_storage_days: days,
                    min_billable_bytes: min,
                    overhead_bytes: overhead,
                    transition_per_1000: transition,
                    retrieval_per_gb: read,
                };
                (class.to_string(), cost)
            });
    Some(CostTable {
        name: table.name.into(),
        classes: classes.collect(),
        request_per_1000: table.request_per_1000,
        egress_per_gb: table.egress_per_gb,
        free_egress_multiple: table.free_egress_multiple,
    })
}
