//! `shelflife restore` and `shelflife undo`: plan the way back, to a moment or from what a run
//! did, saved as plans that `apply` applies.

use super::context::{select, App};
use super::exit::{Exit, UsageError};
use super::output::{bytes, freshness, render_limits, render_line, time};
use super::plan::parse_time;
use super::scan::{scan_policies, ScanArgs};
use super::Format;
use crate::plan::{self, PlanState, PlanSummary, Prices, Withheld};
use crate::restore;
use crate::storage::ThawTier;
use anyhow::{Context, Result};
use chrono::Utc;
use std::fmt::Write;

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The policy whose target is restored.
    #[arg(long, value_name = "NAME")]
    policy: String,
    /// The moment whose state is brought back: RFC 3339, a date, or relative to now (`-6h`).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    as_of: String,
    /// Only keys under this prefix (inside the policy's target).
    #[arg(long)]
    prefix: Option<String>,
    /// Put a delete marker on keys created after the moment (default: keep and list them).
    /// No version is ever deleted.
    #[arg(long)]
    remove_newer: bool,
    /// Copy the state of the moment into this bucket (on the policy's storage) instead of
    /// restoring in place; existing keys there are never overwritten.
    #[arg(long, value_name = "BUCKET", conflicts_with = "remove_newer")]
    to_bucket: Option<String>,
    /// With --to-bucket: put the copies under this prefix (copy key = prefix + key).
    #[arg(
        long,
        value_name = "PREFIX",
        requires = "to_bucket",
        default_value = ""
    )]
    to_prefix: String,
    #[command(flatten)]
    thaw: ThawArgs,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

/// Thawing versions in archived classes (GLACIER, DEEP_ARCHIVE) before they are copied.
#[derive(Debug, Clone, clap::Args)]
pub struct ThawArgs {
    /// Thaw archived versions first (RestoreObject), readable for this many days; the plan's
    /// items wait as `thawing` and a later `apply` completes them. Without it they are listed
    /// as not restorable.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=3650))]
    thaw_days: Option<u32>,
    /// The thaw's speed and price: Expedited, Standard or Bulk.
    #[arg(long, value_name = "TIER", default_value = "Standard", value_parser = parse_tier)]
    thaw_tier: ThawTier,
}

impl ThawArgs {
    fn thaw(&self) -> Option<restore::Thaw> {
        self.thaw_days.map(|days| restore::Thaw {
            days,
            tier: self.thaw_tier,
        })
    }
}

fn parse_tier(text: &str) -> Result<ThawTier, String> {
    ThawTier::parse(text).ok_or_else(|| format!("{text:?}: expected Expedited, Standard or Bulk"))
}

#[derive(Debug, clap::Args)]
pub struct UndoArgs {
    /// Reverse what this run did (one undo plan per plan it applied).
    #[arg(
        long,
        value_name = "ID",
        conflicts_with = "plan",
        required_unless_present = "plan"
    )]
    run: Option<i64>,
    /// Reverse what was done of this plan, by every run that applied it.
    #[arg(long, value_name = "ID")]
    plan: Option<i64>,
    #[command(flatten)]
    thaw: ThawArgs,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

pub async fn undo(app: &App, args: UndoArgs) -> Result<Exit> {
    let scope = match (args.run, args.plan) {
        (Some(run), _) => restore::Scope::Run(run),
        (None, Some(plan)) => restore::Scope::Plan(plan),
        (None, None) => return Err(UsageError("give --run ID or --plan ID".into()).into()),
    };
    let pool = app.pool().await?;
    let plans = restore::undo::create(&pool, scope, args.thaw.thaw())
        .await
        .with_context(|| format!("planning the undo of {scope}"))?;
    match args.format {
        Format::Json => {
            let json = serde_json::json!({ "plans": plans });
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        Format::Text => {
            let texts: Vec<String> = plans.iter().map(render_restore).collect();
            print!("{}", texts.join("\n"));
        }
    }
    Ok(Exit::Ok)
}

pub async fn run(app: &App, args: RestoreArgs) -> Result<Exit> {
    let now = Utc::now();
    let to = parse_time("--as-of", &args.as_of, now)?;
    if to > now {
        let msg = format!(
            "--as-of {} is in the future: a restore brings back a past state",
            time(&to)
        );
        return Err(UsageError(msg).into());
    }
    let set = app.load_some_policies()?;
    let policy = select(&set, std::slice::from_ref(&args.policy))?[0];
    let pool = app.pool().await?;
    let snapshot = crate::inventory::latest_snapshot(&pool, &plan::target_of(policy)).await?;
    if snapshot.is_none_or(|s| s.taken_at < to) {
        // The inventory must know every version written up to the moment.
        let mut scan = ScanArgs::defaults_for(&policy.name);
        scan.to_stderr = args.format == Format::Json;
        scan_policies(app, &set, &pool, &[policy], &scan).await?;
    }
    let request = restore::Request {
        policy,
        to,
        prefix: args.prefix,
        remove_newer: args.remove_newer,
        thaw: args.thaw.thaw(),
        side: args.to_bucket.map(|bucket| restore::SideCopy {
            bucket,
            prefix: args.to_prefix,
        }),
    };
    let prices = Prices::for_policy(&set, policy);
    let summary = restore::create(&pool, &request, &prices)
        .await
        .with_context(|| format!("planning a restore of policy {}", policy.name))?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
        Format::Text => print!("{}", render_restore(&summary)),
    }
    Ok(match summary.state {
        PlanState::Refused => Exit::LimitExceeded,
        _ => Exit::Ok,
    })
}

/// A restore or undo plan as reviewers read it.
pub fn render_restore(s: &PlanSummary) -> String {
    let mut out = String::new();
    let (heading, cannot) = match (&s.restore, &s.undo) {
        (Some(r), _) => (restore_heading(s, r), &r.cannot),
        (None, Some(u)) => (undo_heading(s, u), &u.cannot),
        (None, None) => return super::output::render_plan(s),
    };
    out.push_str(&heading);
    for line in &s.actions {
        render_line(&mut out, line);
    }
    let kept = s.restore.as_ref().map(|r| &r.newer_kept);
    if let Some(kept) = kept {
        withheld(&mut out, "newer, kept", kept);
    }
    withheld(&mut out, "cannot be brought back", cannot);
    render_limits(&mut out, s);
    let _ = writeln!(
        out,
        "Plan {}: {} objects ({}) to bring back or remove, {} newer kept, {} cannot be brought back{}.",
        s.plan_id,
        s.changes(),
        bytes(s.change_bytes()),
        kept.map_or(0, |k| k.objects),
        cannot.objects,
        cost(s)
    );
    if s.state != PlanState::Refused && s.changes() > 0 {
        let _ = writeln!(
            out,
            "Apply with: shelflife apply --plan {} --yes",
            s.plan_id
        );
    }
    out
}

fn restore_heading(s: &PlanSummary, r: &restore::RestoreInfo) -> String {
    let under = match r.prefix.as_str() {
        "" => String::new(),
        p => format!(" under {p:?}"),
    };
    let into = match &r.side {
        Some(side) => format!(", copied into s3://{}/{}", side.bucket, side.prefix),
        None => String::new(),
    };
    format!(
        "Restore plan {} for policy {}: {}{under}, back to {}{into}\n  snapshot: scan {}, {} \
         object versions{}\n  {} keys changed since then\n",
        s.plan_id,
        s.policy,
        s.target(),
        time(&r.to),
        s.scan_id,
        s.population,
        freshness(s, Utc::now()),
        r.keys_changed
    )
}

fn undo_heading(s: &PlanSummary, u: &restore::UndoInfo) -> String {
    let of = match u.run_id {
        Some(run) => format!("what run {run} did with plan {}", u.of_plan),
        None => format!("what was done of plan {}", u.of_plan),
    };
    format!(
        "Undo plan {} for policy {}: {}, reversing {of}\n  {} events of things done read\n",
        s.plan_id,
        s.policy,
        s.target(),
        u.events
    )
}

fn cost(s: &PlanSummary) -> String {
    match &s.cost {
        Some(c) => format!(
            "; {} once, storage +{} per month",
            super::output::dollars(c.one_time()),
            super::output::dollars(c.monthly_after - c.monthly_before)
        ),
        None => String::new(),
    }
}

fn withheld(out: &mut String, what: &str, w: &Withheld) {
    if w.objects == 0 {
        return;
    }
    let _ = writeln!(out, "  {what}: {} keys ({})", w.objects, bytes(w.bytes));
    for sample in &w.samples {
        let _ = writeln!(out, "            {}: {}", sample.version, sample.reason);
    }
}
