//! S3 Inventory reports as a scan source: find the newest complete report of an inventory
//! configuration, verify its manifest, and stream its data files (CSV.gz or Parquet) into the
//! inventory, each file in one transaction and only once its MD5 matches the manifest.

mod csv_gz;
mod fields;
pub mod generate;
pub(crate) mod ingest;
mod manifest;
mod parquet_file;

pub use ingest::ingest;
pub use manifest::{DataFile, Format, Manifest};

use crate::storage::{ErrorKind, ObjectStore, StorageError};
use futures::TryStreamExt;

/// Where an inventory configuration delivers its reports: the folder holding the dated
/// report folders (`destination-prefix/source-bucket/config-ID/`).
#[derive(Debug, Clone, Copy)]
pub struct ReportSource<'a> {
    pub store: &'a dyn ObjectStore,
    pub bucket: &'a str,
    pub prefix: &'a str,
}

/// The report a scan reads.
#[derive(Debug, Clone)]
pub struct Report {
    /// The key of its `manifest.json`.
    pub manifest_key: String,
    pub manifest: Manifest,
    pub format: Format,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("no complete inventory report under s3://{bucket}/{prefix} (a dated folder with a manifest.json)")]
    NoReport { bucket: String, prefix: String },
    #[error("manifest {key}: {message}")]
    Manifest { key: String, message: String },
    #[error("{file}: MD5 checksum mismatch: the manifest says {expected}, the file has {found}")]
    Checksum {
        file: String,
        expected: String,
        found: String,
    },
    #[error("manifest {key}: file format {format} is not supported (use CSV or Parquet)")]
    Unsupported { key: String, format: String },
    #[error("manifest {key} describes bucket {found}, but the policy targets {expected}")]
    WrongBucket {
        key: String,
        expected: String,
        found: String,
    },
    #[error("{file}: {message}")]
    Data { file: String, message: String },
}

/// The newest complete report under `source`: dated folders are tried newest first, and the
/// first with a `manifest.json` (verified against `manifest.checksum` when present) wins.
pub async fn newest(
    source: &ReportSource<'_>,
    bucket: &str,
) -> Result<Report, crate::inventory::ScanError> {
    let prefix = match source.prefix {
        "" => String::new(),
        p if p.ends_with('/') => p.to_string(),
        p => format!("{p}/"),
    };
    let pages: Vec<_> = source
        .store
        .list(source.bucket, &prefix, true, None)
        .try_collect()
        .await?;
    let mut folders: Vec<String> = pages
        .into_iter()
        .flat_map(|p| p.prefixes)
        .filter(|f| manifest::is_report_folder(f[prefix.len()..].trim_end_matches('/')))
        .collect();
    folders.sort_unstable_by(|a, b| b.cmp(a));
    for folder in folders {
        let key = format!("{folder}manifest.json");
        let Some(bytes) = fetch(source, &key).await? else {
            tracing::info!(
                manifest = key,
                "report not complete yet; trying an older one"
            );
            continue;
        };
        let checksum = fetch(source, &format!("{folder}manifest.checksum")).await?;
        let manifest = Manifest::parse(&key, &bytes, checksum.as_deref())?;
        let format = manifest.format(&key)?;
        if manifest.source_bucket != bucket {
            return Err(ReportError::WrongBucket {
                key,
                expected: bucket.to_string(),
                found: manifest.source_bucket,
            }
            .into());
        }
        return Ok(Report {
            manifest_key: key,
            manifest,
            format,
        });
    }
    Err(ReportError::NoReport {
        bucket: source.bucket.to_string(),
        prefix,
    }
    .into())
}

/// A small object's bytes, or `None` when it does not exist.
async fn fetch(source: &ReportSource<'_>, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
    let body = match source.store.get(source.bucket, key, None).await {
        Ok(body) => body,
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let chunks: Vec<bytes::Bytes> = body.try_collect().await?;
    Ok(Some(chunks.concat()))
}
