//! `shelflife report`: export the audit trail of a time range.

use super::context::App;
use super::exit::{Exit, UsageError};
use super::plan::parse_time;
use crate::audit;
use crate::report::{self, Format, Selection};
use anyhow::Result;
use chrono::{DateTime, Utc};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Events at or after this time: RFC 3339, a date, or relative (`-30d`). Default: the first.
    #[arg(long, allow_hyphen_values = true)]
    since: Option<String>,
    /// Events before this time (same forms). Default: now.
    #[arg(long, allow_hyphen_values = true)]
    until: Option<String>,
    /// Only events of this policy (repeatable).
    #[arg(long)]
    policy: Vec<String>,
    /// Only events on this bucket (repeatable).
    #[arg(long)]
    bucket: Vec<String>,
    /// Files to write (repeatable). Default: all three.
    #[arg(long, value_enum)]
    format: Vec<FormatArg>,
    /// Directory to write into (created if missing); `manifest.json` goes beside the files.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FormatArg {
    Csv,
    Jsonl,
    Html,
}

pub async fn run(app: &App, args: ReportArgs) -> Result<Exit> {
    let now = Utc::now();
    let since = match &args.since {
        Some(text) => parse_time("--since", text, now)?,
        None => DateTime::<Utc>::UNIX_EPOCH,
    };
    let until = match &args.until {
        Some(text) => parse_time("--until", text, now)?,
        None => now + chrono::Duration::seconds(1),
    };
    if since >= until {
        // An empty window is a typo, not a report: say so rather than export nothing.
        return Err(UsageError(format!(
            "--since {} is not before --until {}",
            super::output::time(&since),
            super::output::time(&until)
        ))
        .into());
    }
    let mut formats: Vec<Format> = args
        .format
        .iter()
        .map(|f| match f {
            FormatArg::Csv => Format::Csv,
            FormatArg::Jsonl => Format::Jsonl,
            FormatArg::Html => Format::Html,
        })
        .collect();
    if formats.is_empty() {
        formats = vec![Format::Csv, Format::Jsonl, Format::Html];
    }
    let selection = Selection {
        since,
        until,
        policies: args.policy,
        buckets: args.bucket,
    };
    let trusted = super::apply::trusted_key()?;
    let pool = app.pool().await?;
    let evidence = audit::evidence(&pool, trusted.as_ref()).await?;
    let manifest = report::export(&pool, &selection, &formats, &evidence, &args.out).await?;
    for file in &manifest.files {
        println!(
            "wrote {} ({} bytes, sha256 {})",
            args.out.join(&file.name).display(),
            file.bytes,
            file.sha256
        );
    }
    println!(
        "wrote {} ({} events)",
        args.out.join("manifest.json").display(),
        manifest.rows.events
    );
    Ok(super::apply::show_evidence(&evidence))
}
