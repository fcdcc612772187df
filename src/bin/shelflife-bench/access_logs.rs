//! The access-log benchmark's data: a synthetic S3 server access log published in log
//! objects, and the same requests, parsed, as COPY text for the raw-COPY baseline.

use anyhow::Result;
use futures::{stream, StreamExt, TryStreamExt};
use shelflife::access::generate::{synthetic, text_line};
use shelflife::access::{LogFormat, Op};
use shelflife::storage::s3::{BucketOptions, PutOptions, S3Store};
use std::io::Write;
use std::path::Path;

pub struct Shape {
    pub lines: usize,
    pub per_object: usize,
    pub keys: usize,
}

/// Publishes the log of `target` in `logs` under `prefix`, writing the parsed rows to `copy`.
pub async fn publish(
    store: &S3Store,
    shape: &Shape,
    (target, logs, prefix): (&str, &str, &str),
    copy: &Path,
) -> Result<()> {
    store
        .create_bucket(target, BucketOptions::default())
        .await?;
    store.create_bucket(logs, BucketOptions::default()).await?;
    let end = chrono::Utc::now();
    let mut rows = std::io::BufWriter::new(std::fs::File::create(copy)?);
    let objects = shape.lines.div_ceil(shape.per_object.max(1));
    let mut bodies = Vec::with_capacity(objects);
    for o in 0..objects {
        let mut body = String::new();
        for i in o * shape.per_object..((o + 1) * shape.per_object).min(shape.lines) {
            let line = synthetic(target, i, shape.lines, shape.keys, end);
            body.push_str(&text_line(LogFormat::S3, &line));
            body.push('\n');
            let r = &line.request;
            let op = if r.op == Op::Read { "read" } else { "other" };
            writeln!(
                rows,
                "{}\t{}\t\\N\t{}\t{op}\tt\t{}\t{}",
                r.bucket,
                r.key.as_deref().unwrap_or_default(),
                r.at.to_rfc3339(),
                r.requester.as_deref().unwrap_or_default(),
                r.user_agent.as_deref().unwrap_or_default()
            )?;
        }
        bodies.push((format!("{prefix}{o:05}"), body.into_bytes()));
    }
    rows.flush()?;
    stream::iter(bodies)
        .map(|(key, body)| async move {
            store
                .put_object(logs, &key, body, &PutOptions::default())
                .await
        })
        .buffer_unordered(4)
        .try_for_each(|_| async { Ok(()) })
        .await?;
    Ok(())
}
