//! Streaming a report's data files into the inventory. Per file, three parts run at once: the
//! download (hashing with MD5 as bytes arrive), a decoder on a blocking thread (gunzip + CSV,
//! or Parquet from a spooled temporary file) that encodes rows for COPY, and the COPY into an
//! open transaction. The transaction commits, with the file marked done, only when the MD5
//! matches the manifest; otherwise it rolls back and nothing of the file remains.

use super::fields::Record;
use super::{csv_gz, parquet_file, DataFile, Format, Report, ReportError, ReportSource};
use crate::inventory::context::{KeyGroups, KeySpan};
use crate::inventory::copy::{self, LockState, RowBuffer};
use crate::inventory::partitions::{self, Kind, Partition};
use crate::inventory::progress::Progress;
use crate::inventory::{ScanError, ScanTarget};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use md5::{Digest, Md5};
use sqlx::PgPool;
use std::io::{Read, Write};
use tokio::sync::mpsc;

/// Bytes of encoded rows per buffer handed to COPY; buffers go back to the decoder for reuse,
/// so memory stays the same however large the report.
const BUFFER_BYTES: usize = 1 << 20;

/// What the download hands the decoder.
pub(crate) enum Piece {
    Bytes(Bytes),
    /// The whole file arrived and its MD5 matches.
    Verified,
}

/// Ingests every data file of `report` that scan `scan_id` has not ingested yet.
pub async fn ingest(
    pool: &PgPool,
    source: &ReportSource<'_>,
    report: &Report,
    target: &ScanTarget,
    scan_id: i64,
    progress: &Progress,
) -> Result<(), ScanError> {
    let names: Vec<String> = report
        .manifest
        .files
        .iter()
        .map(|f| f.key.clone())
        .collect();
    partitions::seed(pool, scan_id, Kind::File, &names, false).await?;
    let pending: Vec<Partition> = partitions::unfinished(pool, scan_id, Kind::File)
        .try_collect()
        .await?;
    for part in pending {
        let file = report
            .manifest
            .files
            .iter()
            .find(|f| f.key == part.name)
            .expect("partitions come from this manifest");
        ingest_file(pool, source, report, file, target, scan_id, progress).await?;
    }
    Ok(())
}

async fn ingest_file(
    pool: &PgPool,
    source: &ReportSource<'_>,
    report: &Report,
    file: &DataFile,
    target: &ScanTarget,
    scan_id: i64,
    progress: &Progress,
) -> Result<(), ScanError> {
    let (bytes_tx, bytes_rx) = mpsc::channel::<Piece>(16);
    let (rows_tx, rows_rx) = mpsc::channel::<RowBuffer>(4);
    let (spare_tx, spare_rx) = mpsc::channel::<RowBuffer>(8);
    let decoder = {
        let (format, columns, prefixes) = (
            report.format,
            report.manifest.csv_columns(),
            target.prefixes.clone(),
        );
        let name = file.key.clone();
        tokio::task::spawn_blocking(move || {
            decode(
                format,
                &columns,
                &prefixes,
                scan_id,
                bytes_rx,
                (rows_tx, spare_rx),
            )
            .map_err(|message| ReportError::Data {
                file: name,
                message,
            })
        })
    };
    let mut tx = pool.begin().await?;
    let (downloaded, copied) = futures::join!(
        download(source, file, bytes_tx, progress),
        copy_rows(&mut tx, scan_id, (rows_rx, spare_tx), progress)
    );
    let decoded = decoder.await.expect("the decoder does not panic");
    downloaded?;
    let (rows, bytes, keys) = decoded?;
    copied?;
    let part = Partition {
        kind: Kind::File,
        name: file.key.clone(),
        after: None,
        next_ordinal: 0,
        objects: rows,
        bytes,
    };
    partitions::mark_done(&mut tx, scan_id, &part).await?;
    partitions::record_keys(&mut tx, scan_id, &part, &keys).await?;
    tx.commit().await?;
    tracing::info!(file = file.key, rows, "report file ingested");
    Ok(())
}

/// Streams the file to the decoder, hashing it; sends `Verified` only if the MD5 matches.
async fn download(
    source: &ReportSource<'_>,
    file: &DataFile,
    to_decoder: mpsc::Sender<Piece>,
    progress: &Progress,
) -> Result<(), ScanError> {
    let mut body = source.store.get(source.bucket, &file.key, None).await?;
    let mut md5 = Md5::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        md5.update(&chunk);
        progress.downloaded(chunk.len() as u64);
        if to_decoder.send(Piece::Bytes(chunk)).await.is_err() {
            // The decoder stopped on an error of its own, which is the one to report.
            return Ok(());
        }
    }
    let found = hex::encode(md5.finalize());
    if !found.eq_ignore_ascii_case(&file.md5) {
        return Err(ReportError::Checksum {
            file: file.key.clone(),
            expected: file.md5.clone(),
            found,
        }
        .into());
    }
    let _ = to_decoder.send(Piece::Verified).await;
    Ok(())
}

/// Sends the decoder's buffers into one COPY on `tx`, and hands them back emptied.
async fn copy_rows(
    tx: &mut sqlx::PgConnection,
    scan_id: i64,
    (mut rows, spare): (mpsc::Receiver<RowBuffer>, mpsc::Sender<RowBuffer>),
    progress: &Progress,
) -> Result<(), ScanError> {
    let mut copy = copy::start(tx, scan_id).await?;
    while let Some(buffer) = rows.recv().await {
        if let Err(e) = copy.send(buffer.buf.as_slice()).await {
            let _ = copy.abort("ingest failed").await;
            return Err(e.into());
        }
        progress.add(buffer.rows as i64, 0);
        let mut buffer = buffer;
        buffer.reset();
        let _ = spare.try_send(buffer);
    }
    copy.finish().await?;
    Ok(())
}

/// Runs on a blocking thread: decodes the file and hands encoded rows back; returns the rows
/// and bytes kept, and the span of its keys. Fails if the download ends without `Verified`.
fn decode(
    format: Format,
    columns: &[String],
    prefixes: &[String],
    scan_id: i64,
    from_download: mpsc::Receiver<Piece>,
    (to_copy, spare): (mpsc::Sender<RowBuffer>, mpsc::Receiver<RowBuffer>),
) -> Result<(i64, i64, KeySpan), String> {
    let mut out = Encoder {
        buffer: RowBuffer::with_capacity(scan_id, BUFFER_BYTES + 64 * 1024),
        groups: KeyGroups::default(),
        scan_id,
        to_copy,
        spare,
        prefixes,
        rows: 0,
        bytes: 0,
    };
    let mut input = Incoming {
        rx: from_download,
        current: Bytes::new(),
        verified: false,
    };
    match format {
        Format::CsvGz => {
            let cols = super::fields::Columns::from_names(columns)?;
            csv_gz::decode(&mut input, &cols, |r| out.push(r, cols.lock_known()))?;
            input.drain();
            if !input.verified {
                return Err("the download did not complete".into());
            }
        }
        Format::Parquet => {
            let mut spool = tempfile::tempfile().map_err(|e| format!("temporary file: {e}"))?;
            std::io::copy(&mut input, &mut spool).map_err(|e| format!("temporary file: {e}"))?;
            if !input.verified {
                return Err("the download did not complete".into());
            }
            spool.flush().map_err(|e| e.to_string())?;
            parquet_file::decode(spool, |r, lock_known| out.push(r, lock_known))?;
        }
    }
    let buffer = &mut out.buffer;
    let keys = out
        .groups
        .finish(&mut |v, ordinal, lock, facts| buffer.push(v, ordinal, lock.as_ref(), facts));
    out.flush()?;
    Ok((out.rows, out.bytes, keys))
}

/// The download as a `Read`, ending at `Verified` or when the download stops.
pub(crate) struct Incoming {
    pub rx: mpsc::Receiver<Piece>,
    pub current: Bytes,
    pub verified: bool,
}

impl Incoming {
    /// Reads to the end, so that a decoder that stopped early still sees the verdict.
    pub fn drain(&mut self) {
        let mut sink = [0u8; 8192];
        while matches!(self.read(&mut sink), Ok(n) if n > 0) {}
    }
}

impl Read for Incoming {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Piece::Bytes(b)) => self.current = b,
                Some(Piece::Verified) => self.verified = true,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// Keeps the rows under the target's prefixes and encodes them in buffers for COPY, each
/// key's versions with their facts once the key is complete.
struct Encoder<'a> {
    buffer: RowBuffer,
    groups: KeyGroups<Option<LockState>>,
    scan_id: i64,
    to_copy: mpsc::Sender<RowBuffer>,
    spare: mpsc::Receiver<RowBuffer>,
    prefixes: &'a [String],
    rows: i64,
    bytes: i64,
}

impl Encoder<'_> {
    fn push(&mut self, record: Record, lock_known: bool) -> Result<(), String> {
        if !self
            .prefixes
            .iter()
            .any(|p| record.key.starts_with(p.as_str()))
        {
            return Ok(());
        }
        if record.key.contains('\0') {
            return Err(format!(
                "key {:?} contains a NUL character, which the inventory cannot store",
                record.key
            ));
        }
        let (version, lock) = record.into_row(lock_known)?;
        // A report has no listing order: a key's versions are ordered newest first by time.
        let ordinal = -version.last_modified.timestamp_micros();
        self.rows += 1;
        self.bytes += version.size;
        let buffer = &mut self.buffer;
        self.groups
            .push(version, ordinal, lock, &mut |v, ordinal, lock, facts| {
                buffer.push(v, ordinal, lock.as_ref(), facts)
            });
        if self.buffer.buf.len() >= BUFFER_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), String> {
        if self.buffer.rows == 0 {
            return Ok(());
        }
        let next = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| RowBuffer::with_capacity(self.scan_id, BUFFER_BYTES + 64 * 1024));
        let full = std::mem::replace(&mut self.buffer, next);
        self.to_copy
            .blocking_send(full)
            .map_err(|_| "the database copy stopped".to_string())
    }
}
