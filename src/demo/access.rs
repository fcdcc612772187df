//! The feature store and its access logs: `feature-store` holds tables of parts
//! (`tables/{table}/part-NNNN.parquet`), and `access-logs` one S3 server access log object a
//! day for the last 120 days, in which some tables are read daily, one was last read 100 days
//! ago, one has a single part read 3 days ago, and one was never read.

use super::{Upload, PLAIN};
use crate::access::generate::{line, log_object, Verb};
use crate::access::LogFormat;
use crate::storage::s3::{BucketOptions, PutOptions, S3Store};
use crate::storage::StorageError;
use chrono::{Duration, Utc};

pub const BUCKETS: [(&str, BucketOptions); 2] = [("feature-store", PLAIN), ("access-logs", PLAIN)];

const TABLES: [&str; 4] = ["clicks", "embeddings-v1", "embeddings-v2", "labels-2025"];
const PARTS: usize = 4;
/// Large enough that STANDARD_IA pays back its transition within weeks.
const PART_BYTES: usize = 2 << 20;
const LOG_DAYS: i64 = 120;

/// The tables' parts.
pub fn tables() -> Vec<Upload> {
    let mut uploads = Vec::new();
    for table in TABLES {
        for part in 0..PARTS {
            uploads.push(Upload {
                bucket: "feature-store",
                key: format!("tables/{table}/part-{part:04}.parquet"),
                size: PART_BYTES,
                options: PutOptions::default(),
            });
        }
    }
    uploads
}

/// Writes the log objects; how many.
pub async fn publish_logs(store: &S3Store) -> Result<usize, StorageError> {
    let now = Utc::now();
    for days_ago in 0..LOG_DAYS {
        let day = now - Duration::days(days_ago);
        let part = |table: &str, n: usize| format!("tables/{table}/part-{n:04}.parquet");
        let mut lines = vec![line(Verb::Get, "feature-store", &part("clicks", 0), day)];
        if days_ago >= 100 {
            lines.push(line(
                Verb::Get,
                "feature-store",
                &part("embeddings-v1", 1),
                day,
            ));
        }
        if days_ago == 3 {
            lines.push(line(
                Verb::Head,
                "feature-store",
                &part("embeddings-v2", 2),
                day,
            ));
        }
        let key = format!("feature-store/{}-00-00-00-DEMO", day.format("%Y-%m-%d"));
        let log = log_object(LogFormat::S3, &lines, &[]);
        store
            .put_object("access-logs", &key, log, &PutOptions::default())
            .await?;
    }
    Ok(LOG_DAYS as usize)
}
