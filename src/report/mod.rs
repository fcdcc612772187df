//! `report`: the audit trail of a time range as files for auditors (CSV, JSON Lines), a page
//! for people (HTML with inline SVG charts), and `manifest.json` binding them together.
//!
//! Events are streamed once from PostgreSQL: each is written to the row files as it arrives
//! and folded into [`Totals`], so memory stays bounded whatever the range.

mod files;
mod html;
mod manifest;
mod svg;
mod totals;

pub use files::{csv_header, csv_record};
pub use manifest::{FileEntry, Manifest};
pub use totals::Totals;

use crate::audit::{Evidence, StoredEvent};
use crate::plan::PlanSummary;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The kinds of file a report can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Jsonl,
    Html,
}

impl Format {
    pub fn file_name(&self) -> &'static str {
        match self {
            Format::Csv => "events.csv",
            Format::Jsonl => "events.jsonl",
            Format::Html => "report.html",
        }
    }
}

/// What to export.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Selection {
    /// Events at or after this time.
    pub since: DateTime<Utc>,
    /// Events before this time.
    pub until: DateTime<Utc>,
    /// Only these policies (empty: all; run events belong to none).
    pub policies: Vec<String>,
    /// Only these buckets (empty: all).
    pub buckets: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("writing {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes the selected events in `formats` into the directory `out` (created if missing),
/// then `manifest.json`; returns the manifest.
pub async fn export(
    pool: &PgPool,
    selection: &Selection,
    formats: &[Format],
    evidence: &Evidence,
    out: &Path,
) -> Result<Manifest, ReportError> {
    std::fs::create_dir_all(out).map_err(io_error(out))?;
    let mut rows = files::RowFiles::create(out, formats)?;
    let mut totals = Totals::default();
    let sql = format!(
        "SELECT {} FROM audit_events WHERE at >= $1 AND at < $2 \
           AND (cardinality($3::text[]) = 0 OR policy = ANY($3)) \
           AND (cardinality($4::text[]) = 0 OR bucket = ANY($4)) ORDER BY seq",
        StoredEvent::COLUMNS
    );
    let mut events = sqlx::query_as::<_, StoredEvent>(&sql)
        .bind(selection.since)
        .bind(selection.until)
        .bind(&selection.policies)
        .bind(&selection.buckets)
        .fetch(pool);
    while let Some(event) = events.try_next().await? {
        rows.write(&event)?;
        totals.add(&event);
    }
    drop(events);
    let mut written = rows.finish()?;
    let plans = plans_of(pool, &totals).await?;
    if formats.contains(&Format::Html) {
        let page = html::render(selection, &totals, &plans, evidence);
        written.push(files::write_whole(out, Format::Html, page.as_bytes())?);
    }
    let head = chain_head(pool).await?;
    let manifest = Manifest::new(selection, &totals, written, head, evidence);
    manifest.write(out)?;
    Ok(manifest)
}

/// The plans whose items the report covers, for realised costs.
async fn plans_of(
    pool: &PgPool,
    totals: &Totals,
) -> Result<BTreeMap<i64, PlanSummary>, sqlx::Error> {
    let ids: Vec<i64> = totals.done_by_plan.keys().map(|(plan, _)| *plan).collect();
    let rows: Vec<(i64, sqlx::types::Json<PlanSummary>)> =
        sqlx::query_as("SELECT id, summary FROM plans WHERE id = ANY($1)")
            .bind(&ids)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(|(id, s)| (id, s.0)).collect())
}

/// The whole chain's last event (seq, hash), `None` for an empty chain.
async fn chain_head(pool: &PgPool) -> Result<Option<(i64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
        .fetch_optional(pool)
        .await
}

/// `1536` → `1.5 KiB`.
pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value.abs() >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `0.0123` → `$0.0123`; tiny amounts keep enough digits to be non-zero.
pub fn dollars(x: f64) -> String {
    match x.abs() {
        0.0 => "$0.00".into(),
        a if a >= 1.0 => format!("${x:.2}"),
        a if a >= 0.0001 => format!("${x:.4}"),
        _ => format!("${x:.8}"),
    }
}
