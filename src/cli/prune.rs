//! The plan retention (`--keep-plans`): `run` and `serve` prune each policy they run after its
//! run; `shelflife db prune` prunes every policy's plans at once, and also deletes scans left
//! unfinished for longer, snapshots of targets no policy has and not scanned for as long, and
//! the cached per-object data of versions no scan holds.

use super::context::App;
use super::exit::Exit;
use crate::inventory;
use crate::plan::{self, Pruned};
use crate::policy::units::parse_duration;
use anyhow::Result;
use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

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

fn plural(count: u64, what: &str) -> String {
    match count {
        1 => format!("1 {what}"),
        _ => format!("{count} {what}s"),
    }
}

fn describe(p: Pruned) -> String {
    format!(
        "deleted {} of {} older than --keep-plans (their figures and the audit trail remain)",
        plural(p.items, "item"),
        plural(p.plans, "plan")
    )
}

/// `shelflife db prune`.
pub async fn run(app: &App, args: KeepPlans) -> Result<Exit> {
    let pool = app.pool().await?;
    match args.keep.0 {
        None => println!("--keep-plans off: plans and unfinished scans kept"),
        Some(keep) => {
            let before = Utc::now() - keep;
            let pruned = plan::prune_all(&pool, before).await?;
            println!("{}", describe(pruned));
            prune_scans(app, &pool, before).await?;
        }
    }
    let cached = inventory::forget_all_gone_versions(&pool).await?;
    println!(
        "deleted the cached tags and lock state of {} no scan holds",
        plural(cached, "version")
    );
    Ok(Exit::Ok)
}

/// Scans left unfinished, and snapshots of targets no policy has, older than `before`. The
/// policies are what tell a removed target; without any, no snapshot is dropped.
async fn prune_scans(app: &App, pool: &PgPool, before: DateTime<Utc>) -> Result<()> {
    let scans = inventory::drop_abandoned_scans(pool, before).await?;
    println!(
        "deleted {} left unfinished for longer than --keep-plans",
        plural(scans, "scan")
    );
    let set = match app.load_some_policies() {
        Ok(set) => set,
        Err(err) => {
            eprintln!("warning: snapshots kept: {err:#}");
            return Ok(());
        }
    };
    let targets: Vec<_> = set.policies.iter().map(plan::target_of).collect();
    let (dropped, versions) = inventory::drop_untargeted_snapshots(pool, &targets, before).await?;
    println!(
        "deleted the snapshots of {} ({}) that no policy in {} targets and that were last \
         scanned longer than --keep-plans ago",
        plural(dropped, "target"),
        plural(versions.unsigned_abs(), "version"),
        app.policies.display()
    );
    Ok(())
}
