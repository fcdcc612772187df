//! Demo data shaped like an ML platform's buckets, for the quickstart (`shelflife demo seed`).
//!
//! - `inference-logs`: date-partitioned JSONL (`logs/yyyy/mm/dd/…`) over the last 400 days, a
//!   few month-old ones large enough to archive;
//! - `datasets` (versioned): dataset parts, manifests rewritten a few times;
//! - `checkpoints` (versioned): per-run steps, `latest.ckpt` overwritten several times;
//! - `models` (Object Lock): released model files, some under retention or legal hold;
//! - `inventory-reports`: an S3 Inventory report (CSV.gz) of `datasets`, which the `datasets`
//!   policy scans instead of listing;
//! - `feature-store` and `access-logs`: tables of parts, and 120 days of S3 server access logs
//!   saying which tables are still read (`access.rs`).

mod access;
mod inventory;

use crate::storage::s3::{BucketOptions, PutOptions, S3Store};
use crate::storage::{LockMode, StorageError};
use chrono::{Duration, Utc};
use futures::{stream, StreamExt, TryStreamExt};
use std::collections::BTreeMap;

/// Uploads at once.
const CONCURRENCY: usize = 32;

/// Days ago whose inference logs are tagged keep=true.
const INCIDENT_DAYS: [i64; 2] = [45, 250];

const PLAIN: BucketOptions = BucketOptions {
    versioned: false,
    object_lock: false,
};

const BUCKETS: [(&str, BucketOptions); 5] = [
    ("inference-logs", PLAIN),
    ("inference-logs-archive", PLAIN),
    ("datasets", BucketOptions::VERSIONED),
    ("checkpoints", BucketOptions::VERSIONED),
    ("models", BucketOptions::OBJECT_LOCK),
];

/// One object to upload.
struct Upload {
    bucket: &'static str,
    key: String,
    size: usize,
    options: PutOptions,
}

/// Creates the demo buckets and objects; returns object versions written per bucket.
pub async fn seed(store: &S3Store) -> Result<BTreeMap<String, usize>, StorageError> {
    for (bucket, options) in BUCKETS.into_iter().chain(access::BUCKETS) {
        store.create_bucket(bucket, options).await?;
    }
    // Rounds run one after another so that rewritten keys get distinct, ordered versions.
    let rounds = [first_round(), rewrites(1), rewrites(2)];
    let mut counts = BTreeMap::new();
    for round in rounds {
        for u in &round {
            *counts.entry(u.bucket.to_string()).or_insert(0) += 1;
        }
        stream::iter(round)
            .map(|u| async move {
                store
                    .put_object(u.bucket, &u.key, body(&u.key, u.size), &u.options)
                    .await
            })
            .buffer_unordered(CONCURRENCY)
            .try_for_each(|_version| async { Ok(()) })
            .await?;
    }
    let logs = access::publish_logs(store).await?;
    counts.insert("access-logs/feature-store (log objects)".into(), logs);
    let reported = inventory::publish(store).await?;
    counts.insert(
        format!(
            "{}/datasets/datasets/weekly (report rows)",
            inventory::REPORTS_BUCKET
        ),
        reported,
    );
    Ok(counts)
}

fn first_round() -> Vec<Upload> {
    let mut uploads = Vec::new();
    let today = Utc::now().date_naive();
    for days_ago in 0..400 {
        let day = today - Duration::days(days_ago);
        for model in ["llama-7b", "mistral-7b"] {
            for part in 0..2 {
                let key = format!("logs/{}/{model}-part-{part}.jsonl", day.format("%Y/%m/%d"));
                let mut upload = plain("inference-logs", key, log_size(days_ago, model, part));
                // Two incident days an investigation asked to keep.
                if INCIDENT_DAYS.contains(&days_ago) {
                    upload.options.tags.insert("keep".into(), "true".into());
                }
                uploads.push(upload);
            }
        }
    }
    uploads.push(plain("inference-logs", "logs/README.txt".into(), 512));
    for dataset in 0..10 {
        for part in 0..20 {
            let key = format!("datasets/corpus-{dataset:02}/part-{part:04}.parquet");
            uploads.push(plain(
                "datasets",
                key,
                10_000 + spread(dataset * 20 + part, 40_000),
            ));
        }
    }
    uploads.extend(checkpoints_and_models());
    uploads.extend(access::tables());
    uploads
}

fn checkpoints_and_models() -> Vec<Upload> {
    let mut uploads = Vec::new();
    for run in 0..10 {
        for step in 0..10 {
            let key = format!("runs/run-{run:02}/step-{:06}.ckpt", step * 1000);
            uploads.push(plain(
                "checkpoints",
                key,
                50_000 + spread(run * 10 + step, 50_000),
            ));
        }
    }
    let until = Utc::now() + Duration::days(7 * 365);
    for (i, name) in [
        "sentiment",
        "ranker",
        "embedder",
        "classifier",
        "summarizer",
    ]
    .iter()
    .enumerate()
    {
        for version in ["v1", "v2"] {
            let mut options = PutOptions::default();
            if version == "v1" {
                options.retention = Some((LockMode::Governance, until));
            }
            options.legal_hold = i == 0 && version == "v2";
            if i == 1 && version == "v2" {
                // Legal asked for a hold; the models policy sets it.
                options.tags.insert("legal-hold".into(), "true".into());
            }
            let key = format!("models/{name}/{version}/model.safetensors");
            uploads.push(Upload {
                bucket: "models",
                key,
                size: 100_000,
                options,
            });
        }
    }
    uploads
}

/// Later rounds: rewrite manifests and `latest.ckpt`, so versioned buckets have history.
fn rewrites(round: usize) -> Vec<Upload> {
    let mut uploads = Vec::new();
    for dataset in 0..10 {
        uploads.push(plain(
            "datasets",
            format!("datasets/corpus-{dataset:02}/manifest.json"),
            1000 + round,
        ));
    }
    for run in 0..10 {
        uploads.push(plain(
            "checkpoints",
            format!("runs/run-{run:02}/latest.ckpt"),
            60_000 + round,
        ));
    }
    uploads
}

/// A few KB a log, but a month-old `llama-7b` part-0 log is 1 MiB: large enough that moving it
/// to GLACIER pays back before the policy deletes it at 180 days, so the quickstart shows an
/// archive happen beside the small ones the cost guard skips.
fn log_size(days_ago: i64, model: &str, part: usize) -> usize {
    match (model, part, days_ago) {
        ("llama-7b", 0, 31..=44) => 1 << 20,
        _ => 200 + spread(days_ago as usize + part, 3800),
    }
}

fn plain(bucket: &'static str, key: String, size: usize) -> Upload {
    Upload {
        bucket,
        key,
        size,
        options: PutOptions::default(),
    }
}

/// A deterministic spread of sizes: `n` scattered over `0..range`.
fn spread(n: usize, range: usize) -> usize {
    (n.wrapping_mul(2_654_435_761)) % range
}

/// Object content: the key repeated, so objects are recognisable when downloaded.
fn body(key: &str, size: usize) -> Vec<u8> {
    key.bytes()
        .chain(std::iter::once(b'\n'))
        .cycle()
        .take(size)
        .collect()
}
