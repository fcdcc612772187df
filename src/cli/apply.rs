//! `shelflife apply` and `shelflife audit verify`.

use super::context::{select, worker_name, App};
use super::exit::{Exit, UsageError};
use super::output::render_apply;
use crate::audit::{self, AuditKey, Outcome};
use crate::execute::{self, ApplyError, ApplyOptions, Pacer};
use crate::plan::{self, PlanState, PlanSummary};
use crate::policy::{Action, Pacing, PolicySet};
use crate::storage::ObjectStore;
use anyhow::{Context, Result};
use sqlx::PgPool;
use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// The plan to apply (default: the newest plan of each selected policy).
    #[arg(long)]
    plan: Option<i64>,
    /// Only this policy (repeatable; default: all).
    #[arg(long = "policy", value_name = "NAME")]
    policy: Vec<String>,
    /// Do not ask for confirmation (required when not on a terminal).
    #[arg(long)]
    yes: bool,
    /// Apply a plan whose clock (`plan --as-of`) is in the future; recorded in the audit trail.
    #[arg(long)]
    allow_future_clock: bool,
    #[command(flatten)]
    work: WorkArgs,
}

/// How an apply shares out its work.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkArgs {
    /// Batches worked on at once (requests in flight).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Items claimed at a time (one DeleteObjects request holds up to 1000).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(i64).range(1..=1000))]
    pub batch_size: i64,
    /// Seconds a claim protects items unless renewed: how soon a killed worker's items are
    /// taken up by another.
    #[arg(long, default_value_t = 60.0)]
    pub claim_ttl: f64,
}

impl WorkArgs {
    /// Options for this worker, with a client for each archive destination (the plans' own
    /// storages are used directly).
    pub async fn options(&self, app: &App, set: &PolicySet, worker: &str) -> Result<ApplyOptions> {
        if !(self.claim_ttl > 0.0 && self.claim_ttl.is_finite()) {
            return Err(
                UsageError("--claim-ttl must be a positive number of seconds".into()).into(),
            );
        }
        let mut options = ApplyOptions::new(worker);
        options.shutdown = app.shutdown.clone();
        options.concurrency = usize::from(self.concurrency);
        options.batch_size = self.batch_size;
        options.claim_ttl = chrono::Duration::milliseconds((self.claim_ttl * 1000.0) as i64);
        for name in archive_storages(set) {
            let store: Arc<dyn ObjectStore> = Arc::new(app.store(set, &name).await?);
            options.destinations.insert(name, store);
        }
        Ok(options)
    }
}

/// The per-prefix pacing of Storage `name`.
fn pacer(set: &PolicySet, name: &str) -> Arc<Pacer> {
    let pacing = set
        .storages
        .get(name)
        .map_or(Pacing::new(None, None), |s| s.pacing);
    Arc::new(Pacer::new(pacing))
}

/// Storages named as archive destinations by any policy.
fn archive_storages(set: &PolicySet) -> BTreeSet<String> {
    set.policies
        .iter()
        .flat_map(|p| &p.rules)
        .filter_map(|r| match &r.then {
            Action::Archive(a) => Some(a.storage.clone()),
            _ => None,
        })
        .collect()
}

pub async fn run(app: &App, args: ApplyArgs) -> Result<Exit> {
    audit_key()?;
    let set = app.load_some_policies()?;
    // Errors in the selection are reported by `plans_to_apply`, which ignores it for --plan.
    if let Ok(policies) = select(&set, &args.policy) {
        app.prefetch_stores(&set, policies.iter().map(|p| p.target.storage.as_str()));
    }
    let pool = app.pool().await?;
    let plans = plans_to_apply(&pool, &set, &args).await?;
    if let Some(refused) = plans.iter().find(|p| p.state == PlanState::Refused) {
        let reason = refused.refusal.clone().unwrap_or_default();
        return Err(ApplyError::Refused {
            plan_id: refused.plan_id,
            reason,
        }
        .into());
    }
    if plans.is_empty() {
        println!("nothing to apply");
        return Ok(Exit::Ok);
    }
    if !args.yes {
        confirm(&plans)?;
    }
    let run = Execution {
        command: "apply",
        work: &args.work,
        allow_future_clock: args.allow_future_clock,
    };
    run.plans(app, &set, &pool, &plans)
        .await
        .map(|done| done.exit)
}

/// What an [`Execution`] did.
pub(super) struct Executed {
    pub exit: Exit,
    pub run_id: i64,
    pub reports: Vec<execute::ApplyReport>,
}

/// One audited run over saved plans: `apply`, or the apply step of `run`.
pub(super) struct Execution<'a> {
    pub command: &'static str,
    pub work: &'a WorkArgs,
    pub allow_future_clock: bool,
}

impl Execution<'_> {
    /// Applies `plans` as one run: recorded in `runs` and the chain, ended with a checkpoint
    /// (published where the policies ask).
    pub async fn plans(
        &self,
        app: &App,
        set: &PolicySet,
        pool: &PgPool,
        plans: &[PlanSummary],
    ) -> Result<Executed> {
        let key = audit_key()?;
        let worker = worker_name();
        let info = super::context::run_info(self.command, &worker);
        let run_id = audit::start_run(pool, &info).await?;
        let result = self.apply_all(app, set, pool, plans, &worker, run_id).await;
        let code = match &result {
            Ok((exit, _)) => *exit,
            Err(err) => super::code_for(err),
        };
        audit::finish_run(pool, run_id, &worker, code as i32).await?;
        let checkpoint = audit::write_checkpoint(pool, Some(run_id), key.as_ref()).await?;
        tracing::info!(
            seq = checkpoint.seq,
            head = %checkpoint.head,
            signed = checkpoint.signed,
            "audit checkpoint"
        );
        publish_checkpoint(app, set, plans, &checkpoint).await?;
        result.map(|(exit, reports)| Executed {
            exit,
            run_id,
            reports,
        })
    }

    async fn apply_all(
        &self,
        app: &App,
        set: &PolicySet,
        pool: &PgPool,
        plans: &[PlanSummary],
        worker: &str,
        run_id: i64,
    ) -> Result<(Exit, Vec<execute::ApplyReport>)> {
        let mut options = self.work.options(app, set, worker).await?;
        options.run_id = Some(run_id);
        options.allow_future_clock = self.allow_future_clock;
        let (mut failed, mut reports) = (0, Vec::new());
        for plan in plans {
            options.pacer = Some(pacer(set, &plan.storage));
            options.max_snapshot_age = set
                .policies
                .iter()
                .find(|p| p.name == plan.policy)
                .and_then(|p| p.max_snapshot_age);
            let store = app.store(set, &plan.storage).await?;
            let report = execute::apply(pool, &store, plan, &options)
                .await
                .with_context(|| {
                    format!("applying plan {} (policy {})", plan.plan_id, plan.policy)
                })?;
            print!("{}", render_apply(plan, &report));
            failed += report.count(Outcome::Failed);
            reports.push(report);
        }
        let exit = if failed > 0 {
            Exit::PartialFailure
        } else {
            Exit::Ok
        };
        Ok((exit, reports))
    }
}

/// Writes the checkpoint to the bucket of every applied policy that asks for it
/// (`spec.audit.checkpoints`), once per destination.
async fn publish_checkpoint(
    app: &App,
    set: &PolicySet,
    plans: &[PlanSummary],
    checkpoint: &audit::Checkpoint,
) -> Result<()> {
    let mut copies: Vec<&crate::policy::CheckpointCopy> = plans
        .iter()
        .filter_map(|p| set.policy(&p.policy)?.audit.as_ref())
        .collect();
    copies.sort_by_key(|c| (&c.storage, &c.bucket, &c.prefix));
    copies.dedup_by_key(|c| (&c.storage, &c.bucket, &c.prefix));
    for copy in copies {
        let store = app.store(set, &copy.storage).await?;
        let key = audit::publish_checkpoint(&store, copy, checkpoint)
            .await
            .with_context(|| {
                format!(
                    "checkpoint {} is in the database but could not be written to s3://{}/{}",
                    checkpoint.id, copy.bucket, copy.prefix
                )
            })?;
        println!("audit checkpoint written to s3://{}/{key}", copy.bucket);
    }
    Ok(())
}

/// The checkpoint signing key, from `SHELFLIFE_AUDIT_KEY_FILE` (none: unsigned checkpoints).
fn audit_key() -> Result<Option<AuditKey>> {
    match std::env::var_os("SHELFLIFE_AUDIT_KEY_FILE") {
        None => Ok(None),
        Some(path) => AuditKey::from_file(path.as_ref())
            .map(Some)
            .map_err(|m| UsageError(m).into()),
    }
}

/// The key checkpoints must be signed with: `SHELFLIFE_AUDIT_PUBLIC_KEY_FILE`, or the public half
/// of `SHELFLIFE_AUDIT_KEY_FILE`.
pub(super) fn trusted_key() -> Result<Option<ed25519_dalek::VerifyingKey>> {
    if let Some(path) = std::env::var_os("SHELFLIFE_AUDIT_PUBLIC_KEY_FILE") {
        let key = audit::public_key_from_file(path.as_ref()).map_err(UsageError)?;
        return Ok(Some(key));
    }
    Ok(audit_key()?.map(|k| k.public()))
}

async fn plans_to_apply(
    pool: &PgPool,
    set: &crate::policy::PolicySet,
    args: &ApplyArgs,
) -> Result<Vec<PlanSummary>> {
    if let Some(id) = args.plan {
        return Ok(vec![plan::load(pool, id).await?]);
    }
    let mut plans = Vec::new();
    for policy in select(set, &args.policy)? {
        match plan::latest_for(pool, &policy.name).await? {
            None => println!(
                "policy {}: no plan yet; run `shelflife plan` first",
                policy.name
            ),
            Some(p) if p.state == PlanState::Applied => println!(
                "policy {}: plan {} is already applied",
                policy.name, p.plan_id
            ),
            Some(p) => plans.push(p),
        }
    }
    Ok(plans)
}

/// Asks on the terminal; refuses without one.
fn confirm(plans: &[PlanSummary]) -> Result<()> {
    let changes: i64 = plans.iter().map(PlanSummary::changes).sum();
    if !std::io::stdin().is_terminal() {
        return Err(UsageError(
            "apply changes storage: pass --yes to confirm when not on a terminal".into(),
        )
        .into());
    }
    let ids: Vec<String> = plans.iter().map(|p| p.plan_id.to_string()).collect();
    print!(
        "Apply plan(s) {} ({changes} objects)? Only 'yes' is accepted: ",
        ids.join(", ")
    );
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() != "yes" {
        return Err(UsageError("apply cancelled".into()).into());
    }
    Ok(())
}

pub async fn verify(app: &App) -> Result<Exit> {
    let trusted = trusted_key()?;
    let pool = app.pool().await?;
    let evidence = audit::evidence(&pool, trusted.as_ref()).await?;
    Ok(show_evidence(&evidence))
}

/// Prints what verification found; exit 0 when it holds, 2 (tampering) when not.
pub(super) fn show_evidence(evidence: &audit::Evidence) -> Exit {
    for line in evidence.lines() {
        println!("{line}");
    }
    if evidence.holds() {
        Exit::Ok
    } else {
        Exit::Invalid
    }
}
