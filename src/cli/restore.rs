//! `shelflife restore`: plan the way back to a moment, saved as a plan that `apply` applies.

use super::context::{select, App};
use super::exit::{Exit, UsageError};
use super::output::{bytes, freshness, render_limits, render_line, time};
use super::plan::parse_time;
use super::scan::{scan_policies, ScanArgs};
use super::Format;
use crate::plan::{self, PlanState, PlanSummary, Prices, Withheld};
use crate::restore;
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
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
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

/// A restore plan as reviewers read it.
pub fn render_restore(s: &PlanSummary) -> String {
    let mut out = String::new();
    let Some(r) = &s.restore else {
        return super::output::render_plan(s);
    };
    let under = match r.prefix.as_str() {
        "" => String::new(),
        p => format!(" under {p:?}"),
    };
    let _ = writeln!(
        out,
        "Restore plan {} for policy {}: {}{under}, back to {}",
        s.plan_id,
        s.policy,
        s.target(),
        time(&r.to)
    );
    let _ = writeln!(
        out,
        "  snapshot: scan {}, {} object versions{}",
        s.scan_id,
        s.population,
        freshness(s, Utc::now())
    );
    let _ = writeln!(out, "  {} keys changed since then", r.keys_changed);
    for line in &s.actions {
        render_line(&mut out, line);
    }
    withheld(&mut out, "newer, kept", &r.newer_kept);
    withheld(&mut out, "cannot restore", &r.cannot);
    render_limits(&mut out, s);
    let _ = writeln!(
        out,
        "Plan {}: {} keys ({}) to restore or remove, {} newer kept, {} cannot be restored{}.",
        s.plan_id,
        s.changes(),
        bytes(s.change_bytes()),
        r.newer_kept.objects,
        r.cannot.objects,
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
