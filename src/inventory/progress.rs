//! Scan progress: a progress bar when stderr is a terminal, otherwise a structured log line
//! (versions, bytes, rate) every few seconds. Shared by concurrent partitions.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const LOG_EVERY: Duration = Duration::from_secs(10);

pub struct Progress {
    scan_id: i64,
    versions: AtomicI64,
    bytes: AtomicI64,
    /// Report bytes downloaded, when reading an inventory report.
    downloaded: AtomicU64,
    started: Instant,
    last_log: Mutex<Instant>,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Progress of scan `scan_id`; `download_total` is the size of the report files to read.
    pub fn new(scan_id: i64, download_total: Option<u64>) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| bar(download_total));
        let now = Instant::now();
        Progress {
            scan_id,
            versions: AtomicI64::new(0),
            bytes: AtomicI64::new(0),
            downloaded: AtomicU64::new(0),
            started: now,
            last_log: Mutex::new(now),
            bar,
        }
    }

    /// Versions written to the inventory, and their total size.
    pub fn add(&self, versions: i64, bytes: i64) {
        let total = self.versions.fetch_add(versions, Ordering::Relaxed) + versions;
        let total_bytes = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        match &self.bar {
            Some(bar) => {
                let rate = total as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
                bar.set_message(format!(
                    "{total} versions, {}, {rate:.0} versions/s",
                    indicatif::HumanBytes(total_bytes.max(0) as u64)
                ));
                if bar.length().is_none() {
                    bar.set_position(total as u64);
                }
            }
            None => self.maybe_log(total, total_bytes),
        }
    }

    /// Bytes of report files read.
    pub fn downloaded(&self, bytes: u64) {
        let total = self.downloaded.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if let Some(bar) = &self.bar {
            bar.set_position(total);
        }
    }

    fn maybe_log(&self, versions: i64, bytes: i64) {
        let Ok(mut last) = self.last_log.try_lock() else {
            return;
        };
        if last.elapsed() < LOG_EVERY {
            return;
        }
        *last = Instant::now();
        let rate = versions as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        tracing::info!(
            scan_id = self.scan_id,
            versions,
            bytes,
            downloaded = self.downloaded.load(Ordering::Relaxed),
            versions_per_sec = rate.round(),
            "scan progress"
        );
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn bar(download_total: Option<u64>) -> ProgressBar {
    let bar = match download_total {
        Some(total) => ProgressBar::new(total).with_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({eta}) {msg}",
            )
            .expect("valid template"),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                .expect("valid template"),
        ),
    };
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
