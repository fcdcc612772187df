//! Helpers for `scripts/bench` (not part of the product CLI): generate an S3 Inventory report of
//! N rows in the real layout on the local S3 server (plus the same rows as a COPY text file for
//! the raw-COPY baseline), and seed a bucket with N objects for the listing benchmark.

use anyhow::{Context, Result};
use chrono::{Duration, TimeZone, Utc};
use clap::Parser;
use futures::{stream, StreamExt, TryStreamExt};
use md5::Digest;
use shelflife::inventory::context::KeyGroups;
use shelflife::inventory::report::generate::{self, Publish, ReportRow};
use shelflife::inventory::report::Format;
use shelflife::inventory::{LockState, RowBuffer};
use shelflife::policy::{ChecksumMode, Credentials, Pacing, Provider, Storage};
use shelflife::storage::s3::{BucketOptions, PutOptions, S3Store};
use shelflife::storage::{DeleteTarget, ObjectStore, ObjectVersion, RetryConfig};
use std::io::Write;
use std::path::PathBuf;

#[path = "shelflife-bench/access_logs.rs"]
mod access_logs;

#[derive(Parser)]
enum Command {
    /// Publish a CSV.gz report of `rows` synthetic versions of `source`, in files of
    /// `file_rows`, and write the same rows as COPY text to `copy_file`.
    GenReport {
        #[arg(long)]
        rows: usize,
        #[arg(long, default_value_t = 1_000_000)]
        file_rows: usize,
        #[arg(long)]
        source: String,
        #[arg(long)]
        reports: String,
        #[arg(long)]
        prefix: String,
        #[arg(long)]
        copy_file: PathBuf,
    },
    /// Create versioned `bucket` (unversioned with `--plain`) holding `objects` small objects
    /// spread over 16 folders. With `--report BUCKET --prefix P`, also publish a CSV.gz S3
    /// Inventory report of them there (so a benchmark can scan 100k objects without moto's
    /// listing, which slows down quadratically with bucket size), and with `--keys FILE` write
    /// their keys and ETags, one tab-separated pair per line.
    SeedBucket {
        #[arg(long)]
        bucket: String,
        #[arg(long)]
        objects: usize,
        #[arg(long)]
        plain: bool,
        #[arg(long, requires = "prefix")]
        report: Option<String>,
        #[arg(long)]
        prefix: Option<String>,
        #[arg(long)]
        keys: Option<PathBuf>,
    },
    /// Create versioned `bucket` with `objects` small objects, then, after a pause, overwrite
    /// each: the restore benchmark's history. Prints the moment between the two rounds (RFC
    /// 3339) and writes each key with its first version id, tab-separated, to `versions`.
    SeedHistory {
        #[arg(long)]
        bucket: String,
        #[arg(long)]
        objects: usize,
        #[arg(long)]
        versions: PathBuf,
    },
    /// The raw baseline of the restore benchmark: CopyObject of each version in `versions`
    /// (written by `seed-history`) onto its key, `concurrency` requests at a time, with no
    /// checks and no bookkeeping.
    RawCopy {
        #[arg(long)]
        bucket: String,
        #[arg(long)]
        versions: PathBuf,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
    /// Create `target` (empty) and `logs`, and publish `lines` lines of a synthetic S3 server
    /// access log of `target` under `prefix` in `logs`, `per_object` lines per log object;
    /// write the same requests, parsed, as COPY text to `copy_file`.
    GenAccessLogs {
        #[arg(long)]
        lines: usize,
        #[arg(long, default_value_t = 50_000)]
        per_object: usize,
        #[arg(long, default_value_t = 20_000)]
        keys: usize,
        #[arg(long)]
        target: String,
        #[arg(long)]
        logs: String,
        #[arg(long)]
        prefix: String,
        #[arg(long)]
        copy_file: PathBuf,
    },
    /// Print the keys of `bucket`'s current versions, one per line.
    ListKeys {
        #[arg(long)]
        bucket: String,
    },
    /// The raw baseline of the apply benchmark: DeleteObjects over the keys in `keys` (written
    /// by `seed-bucket --keys`), in batches of `batch`, `concurrency` requests at a time, with
    /// no bookkeeping. With `--if-match`, each object carries its ETag (the `ETag` element),
    /// as apply's conditional deletes do.
    RawDelete {
        #[arg(long)]
        bucket: String,
        #[arg(long)]
        keys: PathBuf,
        #[arg(long)]
        if_match: bool,
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
    /// Appends `events` audit events to the chain in `DATABASE_URL`, from `workers` concurrent
    /// appenders (own connections), in transactions of `batch` events as the executor does.
    AuditAppend {
        #[arg(long)]
        events: usize,
        #[arg(long, default_value_t = 1)]
        workers: usize,
        #[arg(long, default_value_t = 25)]
        batch: usize,
    },
    /// Counts, in `DATABASE_URL`, the versions of the latest snapshot that the rules' filter of
    /// `policy` (from the policy directory `policies`) lets through now, and prints the count:
    /// the filter's cost alone, with nothing decided, sent or written.
    FilterCount {
        #[arg(long)]
        policies: PathBuf,
        #[arg(long)]
        policy: String,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    let command = Command::parse();
    match command {
        Command::AuditAppend {
            events,
            workers,
            batch,
        } => return audit_append(events, workers, batch).await,
        Command::FilterCount { policies, policy } => return filter_count(policies, &policy).await,
        _ => {}
    }
    let endpoint = std::env::var("S3_ENDPOINT").context("S3_ENDPOINT (scripts/services env)")?;
    let storage = Storage {
        name: "local".into(),
        provider: Provider::Generic,
        endpoint: Some(endpoint),
        region: "us-east-1".into(),
        path_style: true,
        pacing: Pacing::new(None, None),
        retry: Default::default(),
        credentials: Credentials::DefaultChain,
        checksum: ChecksumMode::WhenRequired,
        conditional_delete: shelflife::policy::ConditionalDelete::None,
        costs: None,
    };
    let store = S3Store::connect(&storage, &RetryConfig::default()).await?;
    match command {
        Command::GenReport {
            rows,
            file_rows,
            source,
            reports,
            prefix,
            copy_file,
        } => {
            gen_report(
                &store, rows, file_rows, &source, &reports, &prefix, &copy_file,
            )
            .await
        }
        Command::SeedBucket {
            bucket,
            objects,
            plain,
            report,
            prefix,
            keys,
        } => {
            let seeded = seed(&store, &bucket, objects, plain).await?;
            if let Some(path) = keys {
                let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
                for v in &seeded {
                    let etag = v.etag.as_deref().unwrap_or_default();
                    writeln!(out, "{}\t{etag}", v.key)?;
                }
                out.flush()?;
            }
            match (report, prefix) {
                (Some(reports), Some(prefix)) => {
                    report_of(&store, &bucket, &reports, &prefix, seeded).await
                }
                _ => Ok(()),
            }
        }
        Command::ListKeys { bucket } => list_keys(&store, &bucket).await,
        Command::GenAccessLogs {
            lines,
            per_object,
            keys,
            target,
            logs,
            prefix,
            copy_file,
        } => {
            let shape = access_logs::Shape {
                lines,
                per_object,
                keys,
            };
            access_logs::publish(&store, &shape, (&target, &logs, &prefix), &copy_file).await
        }
        Command::SeedHistory {
            bucket,
            objects,
            versions,
        } => seed_history(&store, &bucket, objects, &versions).await,
        Command::RawCopy {
            bucket,
            versions,
            concurrency,
        } => raw_copy(&store, &bucket, &versions, concurrency).await,
        Command::RawDelete {
            bucket,
            keys,
            if_match,
            batch,
            concurrency,
        } => {
            let store = if if_match {
                let storage = Storage {
                    conditional_delete: shelflife::policy::ConditionalDelete::Batch,
                    ..storage
                };
                S3Store::connect(&storage, &RetryConfig::default()).await?
            } else {
                store
            };
            let targets = delete_targets(&keys, if_match)?;
            raw_delete(&store, &bucket, &targets, batch, concurrency).await
        }
        Command::AuditAppend { .. } | Command::FilterCount { .. } => {
            unreachable!("handled above")
        }
    }
}

/// The plan benchmark's bound: the policy's filter counted alone.
async fn filter_count(policies: PathBuf, name: &str) -> Result<()> {
    let set = shelflife::policy::load(&[policies])?.set;
    let policy = set.policy(name).context("no such policy")?;
    let url = std::env::var("DATABASE_URL").context("DATABASE_URL")?;
    let pool = shelflife::db::connect_and_migrate(&url).await?;
    println!(
        "{}",
        shelflife::plan::filter_count(&pool, policy, Utc::now()).await?
    );
    Ok(())
}

/// The audit benchmark: `workers` tasks append `events` in all, `batch` per transaction.
async fn audit_append(events: usize, workers: usize, batch: usize) -> Result<()> {
    let url = std::env::var("DATABASE_URL").context("DATABASE_URL")?;
    let pool = shelflife::db::connect_and_migrate(&url).await?;
    let per_worker = events / workers.max(1);
    // One plan clock for the run, as the executor's events carry their plan's: events that
    // share it go in one statement per batch.
    let clock = Utc::now();
    let tasks = (0..workers.max(1)).map(|w| {
        let pool = pool.clone();
        tokio::spawn(async move {
            for start in (0..per_worker).step_by(batch) {
                let chunk: Vec<_> = (start..(start + batch).min(per_worker))
                    .map(|i| bench_event(w, i, clock))
                    .collect();
                let mut tx = pool.begin().await?;
                shelflife::audit::append(&mut tx, &chunk).await?;
                tx.commit().await?;
            }
            Ok::<_, sqlx::Error>(())
        })
    });
    for task in futures::future::join_all(tasks).await {
        task??;
    }
    Ok(())
}

fn bench_event(
    worker: usize,
    i: usize,
    clock: chrono::DateTime<Utc>,
) -> shelflife::audit::NewEvent {
    shelflife::audit::NewEvent {
        run_id: None,
        plan_id: None,
        item_id: None,
        policy: "bench".into(),
        policy_sha256: "ab".repeat(32),
        rule: "expire".into(),
        action: "delete".into(),
        storage: "local".into(),
        bucket: "bench".into(),
        key: format!("worker-{worker}/object-{i:09}.bin"),
        version_id: Some(format!("v{i}")),
        size: 1024,
        outcome: shelflife::audit::Outcome::Done,
        reason: None,
        state_before: serde_json::json!({ "storage_class": "STANDARD", "is_latest": true }).into(),
        state_after: serde_json::json!({ "deleted": true }).into(),
        policy_revision: Some("0123456789abcdef".into()),
        clock: Some(clock),
        worker: Some(format!("bench:{worker}")),
    }
}

/// Row `i` of the synthetic report: 1000 keys per folder, every tenth key with a noncurrent
/// version before its current one.
fn row(i: usize) -> ReportRow {
    let base = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    let noncurrent = i % 10 == 1;
    let key_index = if noncurrent { i - 1 } else { i };
    ReportRow {
        version: ObjectVersion {
            key: format!("data/{:05}/object {key_index:09}.bin", key_index / 1000),
            version_id: Some(format!("v{i:012x}")),
            is_latest: !noncurrent,
            is_delete_marker: false,
            size: (i as i64 * 7919) % 10_000_000,
            etag: Some(format!("\"{:032x}\"", i as u128 * 2_654_435_761)),
            last_modified: base + Duration::seconds(i as i64)
                - Duration::days(i64::from(noncurrent)),
            storage_class: Some("STANDARD".into()),
        },
        lock: LockState::default(),
    }
}

async fn gen_report(
    store: &S3Store,
    rows: usize,
    file_rows: usize,
    source: &str,
    reports: &str,
    prefix: &str,
    copy_file: &PathBuf,
) -> Result<()> {
    let mut copy = std::io::BufWriter::new(std::fs::File::create(copy_file)?);
    let mut files = Vec::new();
    for (n, start) in (0..rows).step_by(file_rows.max(1)).enumerate() {
        let end = (start + file_rows).min(rows);
        // The raw COPY baseline gets the same rows as the scan writes, facts included.
        let mut text = RowBuffer::new(0);
        let mut groups = KeyGroups::default();
        for i in start..end {
            let r = row(i);
            let ordinal = -r.version.last_modified.timestamp_micros();
            groups.push(
                r.version,
                ordinal,
                r.lock,
                &mut |v, ordinal, lock, facts| text.push(v, ordinal, Some(lock), facts),
            );
            if text.rows >= 10_000 {
                copy.write_all(&text.buf)?;
                text.reset();
            }
        }
        groups.finish(&mut |v, ordinal, lock, facts| text.push(v, ordinal, Some(lock), facts));
        copy.write_all(&text.buf)?;
        let data = generate::write_csv_gz(Vec::new(), source, (start..end).map(row))?;
        files.push((format!("part-{n:05}.csv.gz"), data));
    }
    copy.flush()?;
    let manifest = publish_csv(store, source, reports, prefix, files).await?;
    println!("{manifest}");
    Ok(())
}

/// Seeds `bucket`; returns the versions written, as an inventory would list them.
async fn seed(
    store: &S3Store,
    bucket: &str,
    objects: usize,
    plain: bool,
) -> Result<Vec<ObjectVersion>> {
    let options = if plain {
        BucketOptions::default()
    } else {
        BucketOptions::VERSIONED
    };
    store.create_bucket(bucket, options).await?;
    let written = stream::iter(0..objects)
        .map(|i| async move {
            let key = format!("folder-{:02}/object-{i:08}", i % 16);
            // The server stamps the object between this moment and the answer; a report must
            // not claim a later time than the server's (apply compares them to the second).
            let before = Utc::now().timestamp();
            let version_id = store
                .put_object(bucket, &key, b"x".to_vec(), &PutOptions::default())
                .await?;
            Ok::<_, anyhow::Error>(ObjectVersion {
                key,
                version_id,
                is_latest: true,
                is_delete_marker: false,
                size: 1,
                etag: Some(format!("\"{:x}\"", md5::Md5::digest(b"x"))),
                last_modified: chrono::DateTime::from_timestamp(before, 0).expect("now"),
                storage_class: Some("STANDARD".into()),
            })
        })
        .buffer_unordered(32)
        .try_collect()
        .await?;
    Ok(written)
}

/// Publishes an S3 Inventory report (CSV.gz) of `versions` of `source` under `prefix` in
/// bucket `reports`.
async fn report_of(
    store: &S3Store,
    source: &str,
    reports: &str,
    prefix: &str,
    versions: Vec<ObjectVersion>,
) -> Result<()> {
    let rows = versions.into_iter().map(|version| ReportRow {
        version,
        lock: LockState::default(),
    });
    let data = generate::write_csv_gz(Vec::new(), source, rows)?;
    let files = vec![("part-00000.csv.gz".into(), data)];
    publish_csv(store, source, reports, prefix, files).await?;
    Ok(())
}

/// Uploads CSV.gz report `files` of `source` with their manifest under `prefix` in bucket
/// `reports` (created if missing); returns the manifest's key.
async fn publish_csv(
    store: &S3Store,
    source: &str,
    reports: &str,
    prefix: &str,
    files: Vec<(String, Vec<u8>)>,
) -> Result<String> {
    store
        .create_bucket(reports, BucketOptions::default())
        .await?;
    let publish = Publish {
        store,
        bucket: reports,
        prefix,
        source_bucket: source,
        taken: Utc::now(),
        format: Format::CsvGz,
    };
    Ok(publish.upload(files, |_| {}).await?)
}

async fn list_keys(store: &S3Store, bucket: &str) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut pages = store.list_versions(bucket, "");
    while let Some(page) = pages.try_next().await? {
        for v in page.iter().filter(|v| v.is_latest && !v.is_delete_marker) {
            writeln!(out, "{}", v.key)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// The targets in a `seed-bucket --keys` file: key, tab, ETag per line.
fn delete_targets(keys: &PathBuf, if_match: bool) -> Result<Vec<DeleteTarget>> {
    let text = std::fs::read_to_string(keys)?;
    text.lines()
        .map(|line| {
            let (key, etag) = line.split_once('\t').context("a line without a tab")?;
            let mut target = DeleteTarget::new(key, None);
            target.if_match = if_match.then(|| etag.to_string());
            Ok(target)
        })
        .collect()
}

async fn raw_delete(
    store: &S3Store,
    bucket: &str,
    targets: &[DeleteTarget],
    batch: usize,
    concurrency: usize,
) -> Result<()> {
    let failed: usize = stream::iter(targets.chunks(batch.max(1)))
        .map(|chunk| store.delete_batch(bucket, chunk, false))
        .buffer_unordered(concurrency.max(1))
        .map_ok(|answers| answers.iter().filter(|a| a.is_err()).count())
        .try_fold(0, |sum, n| async move { Ok(sum + n) })
        .await?;
    anyhow::ensure!(failed == 0, "{failed} keys were not deleted");
    println!("deleted {}", targets.len());
    Ok(())
}

/// Writes `objects` objects, then overwrites them after the moment it prints.
async fn seed_history(
    store: &S3Store,
    bucket: &str,
    objects: usize,
    versions: &PathBuf,
) -> Result<()> {
    let first = seed(store, bucket, objects, false).await?;
    let moment = Utc::now();
    // Past the moment by more than a second: servers stamp Last-Modified in whole seconds.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let options = PutOptions::default();
    stream::iter(&first)
        .map(|v| store.put_object(bucket, &v.key, b"overwritten".to_vec(), &options))
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(versions)?);
    for v in &first {
        writeln!(
            out,
            "{}\t{}",
            v.key,
            v.version_id.as_deref().unwrap_or("null")
        )?;
    }
    out.flush()?;
    println!("{}", moment.to_rfc3339());
    Ok(())
}

/// Copies each listed version onto its key.
async fn raw_copy(
    store: &S3Store,
    bucket: &str,
    versions: &PathBuf,
    concurrency: usize,
) -> Result<()> {
    let text = std::fs::read_to_string(versions)?;
    let requests: Vec<shelflife::storage::CopyRequest> = text
        .lines()
        .map(|line| {
            let (key, version) = line.split_once('\t').context("a line without a tab")?;
            Ok(shelflife::storage::CopyRequest {
                source_bucket: bucket.to_string(),
                source_key: key.to_string(),
                source_version_id: Some(version.to_string()),
                source_if_match: None,
                source_size: 1,
                dest_bucket: bucket.to_string(),
                dest_key: key.to_string(),
                storage_class: None,
                retention: None,
            })
        })
        .collect::<Result<_>>()?;
    stream::iter(&requests)
        .map(|request| store.copy(request))
        .buffer_unordered(concurrency.max(1))
        .try_collect::<Vec<_>>()
        .await?;
    println!("copied {}", requests.len());
    Ok(())
}
