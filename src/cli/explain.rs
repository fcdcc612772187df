//! `shelflife explain s3://BUCKET/KEY`: every rule of every policy targeting the key, matcher
//! by matcher, with the decision a plan at the same clock makes.

use super::context::{select, App};
use super::exit::{Exit, UsageError};
use super::output::{bytes, cost_figures, time};
use super::plan::parse_clock;
use super::Format;
use crate::plan::explain::{explain, Explanation, MatcherVerdict, VersionExplanation};
use crate::plan::Prices;
use crate::policy::Policy;
use anyhow::Result;
use chrono::Utc;
use std::fmt::Write;

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// The object, as s3://BUCKET/KEY.
    url: String,
    /// Only this version (default: every version of the key in the snapshot).
    #[arg(long)]
    version_id: Option<String>,
    /// Only this policy (repeatable; default: every policy whose target holds the key).
    #[arg(long = "policy", value_name = "NAME")]
    policy: Vec<String>,
    /// The clock, as for `plan --as-of`.
    #[arg(long)]
    as_of: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

pub async fn run(app: &App, args: ExplainArgs) -> Result<Exit> {
    let as_of = parse_clock(args.as_of.as_deref(), Utc::now())?;
    let (bucket, key) = super::context::object_url(&args.url)?;
    let set = app.load_some_policies()?;
    let targeting = |p: &&Policy| {
        p.target.bucket == bucket
            && p.target
                .prefixes
                .iter()
                .any(|pre| key.starts_with(pre.as_str()))
    };
    let policies: Vec<&Policy> = select(&set, &args.policy)?
        .into_iter()
        .filter(targeting)
        .collect();
    if policies.is_empty() {
        return Err(UsageError(format!("no selected policy targets s3://{bucket}/{key}")).into());
    }
    let pool = app.pool().await?;
    let mut all = Vec::new();
    for policy in policies {
        let prices = Prices::for_policy(&set, policy);
        all.push(
            explain(
                &pool,
                policy,
                &prices,
                key,
                args.version_id.as_deref(),
                as_of,
            )
            .await?,
        );
    }
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "explanations": all }))?
        ),
        Format::Text => print!("{}", all.iter().map(render).collect::<String>()),
    }
    Ok(Exit::Ok)
}

fn render(e: &Explanation) -> String {
    let mut out = String::new();
    let _ = match e.scan_id {
        None => writeln!(
            out,
            "policy {}: no snapshot yet; run `shelflife scan`",
            e.policy
        ),
        Some(scan) => writeln!(
            out,
            "policy {} (snapshot scan {scan}, as of {}):",
            e.policy,
            time(&e.as_of)
        ),
    };
    if e.scan_id.is_some() && e.versions.is_empty() {
        let _ = writeln!(out, "  not in the snapshot");
    }
    render_access(&mut out, e);
    if let Some(g) = &e.group {
        let read = g.last_access.map_or("never read in the logs".into(), |t| {
            format!("last read {}", time(&t))
        });
        let verdict = match (&g.rule, &g.held_by) {
            (None, _) => "no rule changes it".to_string(),
            (Some(rule), None) => format!("rule {rule} changes all its members"),
            (Some(rule), Some(why)) => format!("held whole from rule {rule}: {why}"),
        };
        let _ = writeln!(
            out,
            "  group {}: {} members, {}, newest write {}, {read}\n    decision: {verdict}",
            g.group,
            g.members,
            bytes(g.bytes),
            time(&g.newest_modified)
        );
    }
    for v in &e.versions {
        render_version(&mut out, v);
    }
    out
}

/// The key's last access as the logs show it, and where they begin.
fn render_access(out: &mut String, e: &Explanation) {
    let since = match e.access_since {
        Some(t) => format!("access logs since {}", time(&t)),
        None if e.last_access.is_none() => return,
        None => "access logs".into(),
    };
    let _ = match &e.last_access {
        None => writeln!(out, "  last access: never read in the {since}"),
        Some(a) => writeln!(out, "  last access: {a} ({since})"),
    };
}

fn render_version(out: &mut String, v: &VersionExplanation) {
    let age = v.age_days.map_or("undated".into(), |d| format!("age {d}d"));
    let _ = writeln!(
        out,
        "  {:?} version {}: {}, {}, {}, modified {}, {age}",
        v.key,
        v.version_id.as_deref().unwrap_or("-"),
        v.state,
        bytes(v.size),
        v.storage_class,
        time(&v.last_modified)
    );
    let _ = writeln!(out, "    lock: {}", v.lock);
    for (i, r) in v.rules.iter().enumerate() {
        let _ = writeln!(
            out,
            "    {}. {} [{}]: {}",
            i + 1,
            r.rule,
            r.action,
            r.result
        );
        if r.in_scope {
            r.matchers.iter().for_each(|m| render_matcher(out, m, 7));
        }
    }
    let decided = match (&v.rule, &v.action) {
        (Some(rule), Some(action)) => format!("{} ({action} by rule {rule})", v.outcome),
        _ => v.outcome.clone(),
    };
    let _ = writeln!(out, "    decision: {decided}");
    if let Some(reason) = &v.reason {
        let _ = writeln!(out, "      {reason}");
    }
    if let Some(c) = &v.cost {
        let _ = writeln!(out, "    cost: {}", cost_figures(c));
    }
}

fn render_matcher(out: &mut String, m: &MatcherVerdict, indent: usize) {
    let verdict = match m.holds {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    };
    let value = match m.value.is_empty() {
        true => String::new(),
        false => format!(" (value: {})", m.value),
    };
    let _ = writeln!(out, "{:indent$}{}: {verdict}{value}", "", m.matcher);
    m.nested
        .iter()
        .for_each(|n| render_matcher(out, n, indent + 2));
}
