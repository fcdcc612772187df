//! The demo's S3 Inventory report: what S3 would deliver for the `datasets` bucket, a CSV.gz
//! report in the real layout under `inventory-reports/datasets/datasets/weekly/`, so the
//! `datasets` policy scans from a report rather than a listing.

use crate::inventory::report::generate::{self, Publish, ReportRow};
use crate::inventory::report::Format;
use crate::inventory::LockState;
use crate::storage::s3::{BucketOptions, S3Store};
use crate::storage::{ObjectStore, StorageError};
use chrono::Utc;
use futures::TryStreamExt;

pub const REPORTS_BUCKET: &str = "inventory-reports";
const SOURCE: &str = "datasets";
const PREFIX: &str = "datasets/datasets/weekly";

/// Publishes a report of the `datasets` bucket as it is now; returns its rows.
pub async fn publish(store: &S3Store) -> Result<usize, StorageError> {
    store
        .create_bucket(REPORTS_BUCKET, BucketOptions::default())
        .await?;
    let pages: Vec<_> = store.list_versions(SOURCE, "").try_collect().await?;
    let rows: Vec<ReportRow> = pages
        .into_iter()
        .flatten()
        .map(|version| ReportRow {
            version,
            lock: LockState::default(),
        })
        .collect();
    let count = rows.len();
    let data = generate::write_csv_gz(Vec::new(), SOURCE, rows).map_err(|e| {
        StorageError::new(
            crate::storage::ErrorKind::Other,
            "writing the demo report",
            e.to_string(),
        )
    })?;
    let publish = Publish {
        store,
        bucket: REPORTS_BUCKET,
        prefix: PREFIX,
        source_bucket: SOURCE,
        taken: Utc::now(),
        format: Format::CsvGz,
    };
    publish
        .upload(vec![("datasets-0.csv.gz".into(), data)], |_| {})
        .await?;
    Ok(count)
}
