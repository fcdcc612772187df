//! `shelflife scan`: refresh the inventory of each selected policy's target.

use super::context::{select, App};
use super::exit::{Exit, UsageError};
use super::output::bytes;
use crate::inventory::report::ReportSource;
use crate::inventory::{self, ScanOptions, ScanTarget, DEFAULT_METADATA_MAX_AGE};
use crate::plan::target_of;
use crate::policy::{MetaNeeds, Policy, PolicySet, Source};
use anyhow::{Context, Result};
use sqlx::PgPool;

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Only this policy (repeatable; default: all).
    #[arg(long = "policy", value_name = "NAME")]
    pub policy: Vec<String>,
    /// Fetch tags and lock state again when the cached copy is older than this (e.g. 1h, 7d;
    /// 0h fetches everything).
    #[arg(long, value_name = "DURATION")]
    pub metadata_max_age: Option<String>,
    /// Per-object requests (tags, HEAD) in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Sub-folders of each prefix listed at once.
    #[arg(long, default_value_t = 8)]
    pub listing_streams: usize,
    /// Resume an interrupted scan of a target started less than this long ago (0h: never).
    #[arg(long, value_name = "DURATION", default_value = "24h")]
    pub resume_within: String,
    /// Say what was scanned on stderr (for commands whose stdout is JSON).
    #[arg(skip)]
    pub to_stderr: bool,
}

impl ScanArgs {
    /// The defaults of `shelflife scan --policy NAME` (for `run`).
    pub fn defaults_for(policy: &str) -> ScanArgs {
        use clap::{Args, FromArgMatches};
        let command = ScanArgs::augment_args(clap::Command::new("scan"));
        let matches = command
            .try_get_matches_from(["scan", "--policy", policy])
            .expect("the scan defaults parse");
        ScanArgs::from_arg_matches(&matches).expect("the scan defaults parse")
    }
}

pub async fn run(app: &App, args: ScanArgs) -> Result<Exit> {
    let set = app.load_some_policies()?;
    let policies = select(&set, &args.policy)?;
    app.prefetch_stores(&set, policies.iter().map(|p| p.target.storage.as_str()));
    let pool = app.pool().await?;
    scan_policies(app, &set, &pool, &policies, &args).await
}

/// Scans the targets of `policies` (each distinct target once).
pub async fn scan_policies(
    app: &App,
    set: &PolicySet,
    pool: &PgPool,
    policies: &[&Policy],
    args: &ScanArgs,
) -> Result<Exit> {
    let max_age = match &args.metadata_max_age {
        None => DEFAULT_METADATA_MAX_AGE,
        Some(text) => crate::policy::units::parse_duration(text)
            .map_err(|m| UsageError(format!("--metadata-max-age: {m}")))?,
    };
    let resume_within = crate::policy::units::parse_duration(&args.resume_within)
        .map_err(|m| UsageError(format!("--resume-within: {m}")))?;
    for (target, needs, source) in targets(policies)? {
        let store = app.store(set, &target.storage).await?;
        let options = ScanOptions {
            needs,
            metadata_max_age: max_age,
            concurrency: args.concurrency,
            listing_streams: args.listing_streams,
            resume_within,
            ..ScanOptions::default()
        };
        let summary = match &source {
            Source::List => inventory::scan(pool, &store, &target, &options).await,
            Source::Inventory {
                storage,
                bucket,
                prefix,
            } => {
                let report_store = app.store(set, storage).await?;
                let reports = ReportSource {
                    store: &report_store,
                    bucket,
                    prefix,
                };
                inventory::scan_report(pool, &store, &target, &reports, &options).await
            }
        }
        .with_context(|| format!("scan of {target} failed"))?;
        let line = format!(
            "scanned {target}{}: {} versions, {} in {:.1}s (scan {}{})",
            match source {
                Source::List => String::new(),
                Source::Inventory { bucket, prefix, .. } =>
                    format!(" from the inventory report in s3://{bucket}/{prefix}"),
            },
            summary.versions,
            bytes(summary.bytes),
            summary.elapsed.as_secs_f64(),
            summary.scan_id,
            if summary.resumed { ", resumed" } else { "" }
        );
        match args.to_stderr {
            true => eprintln!("{line}"),
            false => println!("{line}"),
        }
    }
    for policy in access_targets(policies) {
        ingest_access(app, set, pool, policy, args.to_stderr).await?;
    }
    Ok(Exit::Ok)
}

/// One policy per distinct (target bucket, access logs).
fn access_targets<'p>(policies: &[&'p Policy]) -> Vec<&'p Policy> {
    let mut out: Vec<&Policy> = Vec::new();
    for p in policies.iter().filter(|p| p.target.access.is_some()) {
        let same = |o: &&Policy| {
            o.target.storage == p.target.storage
                && o.target.bucket == p.target.bucket
                && o.target.access == p.target.access
        };
        if !out.iter().any(same) {
            out.push(p);
        }
    }
    out
}

/// Reads the new access log objects of `policy`'s target and says what they held.
async fn ingest_access(
    app: &App,
    set: &PolicySet,
    pool: &PgPool,
    policy: &Policy,
    to_stderr: bool,
) -> Result<()> {
    let access = policy.target.access.as_ref().expect("filtered on access");
    let store = app.store(set, &access.storage).await?;
    let source = crate::access::LogSource {
        store: &store,
        storage: &access.storage,
        bucket: &access.bucket,
        prefix: &access.prefix,
        format: access.format,
    };
    let reads = crate::access::ReadsOf {
        storage: &policy.target.storage,
        bucket: &policy.target.bucket,
        ignore: &access.ignore,
    };
    let s = crate::access::ingest(pool, &source, &reads)
        .await
        .with_context(|| {
            format!(
                "ingest of the access logs in s3://{}/{} failed",
                access.bucket, access.prefix
            )
        })?;
    let since = s
        .since
        .map_or("none ingested yet".into(), |t| t.to_rfc3339());
    let mut text = format!(
        "access logs s3://{}/{} ({}) for s3://{}: {} log objects read ({} read before), {} lines, \
         {} reads counted, {} bad lines; history since {since}",
        access.bucket,
        access.prefix,
        access.format.as_str(),
        policy.target.bucket,
        s.ingested,
        s.already,
        s.lines,
        s.reads,
        s.bad_lines
    );
    for (log, bad) in &s.bad {
        text.push_str(&format!(
            "\n  bad line: s3://{}/{log} line {}: {}",
            access.bucket, bad.line, bad.message
        ));
    }
    match to_stderr {
        true => eprintln!("{text}"),
        false => println!("{text}"),
    }
    Ok(())
}

/// Each distinct target once, with everything the policies on it read beyond the listing and
/// where its inventory comes from.
fn targets(policies: &[&Policy]) -> Result<Vec<(ScanTarget, MetaNeeds, Source)>, UsageError> {
    let mut targets: Vec<(ScanTarget, MetaNeeds, Source, &str)> = Vec::new();
    for policy in policies {
        let target = target_of(policy);
        match targets.iter_mut().find(|(t, ..)| *t == target) {
            Some((_, _, source, first)) if *source != policy.source => {
                return Err(UsageError(format!(
                    "policies {first} and {} cover {target} but read its inventory from different sources",
                    policy.name
                )))
            }
            Some((_, needs, ..)) => *needs = needs.union(policy.needs()),
            None => targets.push((target, policy.needs(), policy.source.clone(), &policy.name)),
        }
    }
    Ok(targets.into_iter().map(|(t, n, s, _)| (t, n, s)).collect())
}
