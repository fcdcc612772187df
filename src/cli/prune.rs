//! The plan retention (`--keep-plans`): `run` and `serve` prune each policy they run after its
//! run; `shelflife db prune` prunes every policy's plans at once.

use super::context::App;
use super::exit::Exit;
use crate::plan::{self, Pruned};
use crate::policy::units::parse_duration;
use anyhow::Result;
use chrono::{Duration, Utc};

/// How long plans keep their items.
#[derive(Debug, Clone, clap::Args)]
pub struct KeepPlans {
    /// Delete the per-version items of plans older than this (e.g. 30d, 12w), except each
    /// policy's latest plan; their figures and the audit trail remain. `off` keeps them all.
    #[arg(
        long = "keep-plans",
        env = "SHELFLIFE_KEEP_PLANS",
        default_value = "30d",
        value_name = "DURATION|off",
        value_parser = parse_keep
    )]
    pub keep: Keep,
}

/// A retention, or none (`off`).
#[derive(Debug, Clone, Copy)]
pub struct Keep(pub Option<Duration>);

fn parse_keep(text: &str) -> Result<Keep, String> {
    match text {
        "off" => Ok(Keep(None)),
        _ => parse_duration(text).map(|d| Keep(Some(d))),
    }
}

impl KeepPlans {
    /// Prunes `policy`'s plans; a failure is logged, never fails the run that calls it.
    pub async fn prune_policy(&self, pool: &sqlx::PgPool, policy: &str) {
        let Some(keep) = self.keep.0 else {
            return;
        };
        match plan::prune(pool, policy, Utc::now() - keep).await {
            Ok(pruned) if pruned.plans > 0 => println!("policy {policy}: {}", describe(pruned)),
            Ok(_) => {}
            Err(err) => tracing::warn!(policy, "old plans not pruned: {err}"),
        }
    }
}

fn describe(p: Pruned) -> String {
    let n = |count: u64, what: &str| match count {
        1 => format!("1 {what}"),
        _ => format!("{count} {what}s"),
    };
    format!(
        "deleted {} of {} older than --keep-plans (their figures and the audit trail remain)",
        n(p.items, "item"),
        n(p.plans, "plan")
    )
}

/// `shelflife db prune`.
pub async fn run(app: &App, args: KeepPlans) -> Result<Exit> {
    let Some(keep) = args.keep.0 else {
        println!("--keep-plans off: nothing pruned");
        return Ok(Exit::Ok);
    };
    let pool = app.pool().await?;
    let pruned = plan::prune_all(&pool, Utc::now() - keep).await?;
    println!("{}", describe(pruned));
    Ok(Exit::Ok)
}
