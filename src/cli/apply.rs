//! `shelflife apply` and `shelflife audit verify`.

use super::context::{select, worker_name, App};
use super::exit::{Exit, UsageError};
use super::output::render_apply;
use crate::audit::{self, Outcome, Verification};
use crate::execute::{self, ApplyError, ApplyOptions};
use crate::plan::{self, PlanState, PlanSummary};
use anyhow::{Context, Result};
use sqlx::PgPool;
use std::io::{BufRead, IsTerminal, Write};

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
}

pub async fn run(app: &App, args: ApplyArgs) -> Result<Exit> {
    let set = app.load_policies()?;
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
    let worker = worker_name();
    let run_id = audit::start_run(&pool, "apply", &worker).await?;
    let result = apply_all(app, &set, &pool, &plans, &args, worker, run_id).await;
    let code = match &result {
        Ok(exit) => *exit,
        Err(err) => super::code_for(err),
    };
    audit::finish_run(&pool, run_id, code as i32).await?;
    result
}

async fn apply_all(
    app: &App,
    set: &crate::policy::PolicySet,
    pool: &PgPool,
    plans: &[PlanSummary],
    args: &ApplyArgs,
    worker: String,
    run_id: i64,
) -> Result<Exit> {
    let mut options = ApplyOptions::new(worker);
    options.run_id = Some(run_id);
    options.allow_future_clock = args.allow_future_clock;
    let mut failed = 0;
    for plan in plans {
        let store = app.store(set, &plan.storage).await?;
        let report = execute::apply(pool, &store, plan, &options)
            .await
            .with_context(|| format!("applying plan {} (policy {})", plan.plan_id, plan.policy))?;
        print!("{}", render_apply(plan, &report));
        failed += report.count(Outcome::Failed);
    }
    Ok(if failed > 0 {
        Exit::PartialFailure
    } else {
        Exit::Ok
    })
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
    let pool = app.pool().await?;
    match audit::verify(&pool).await? {
        Verification::Intact { events, head } => {
            println!("audit trail intact: {events} events, head {head}");
            Ok(Exit::Ok)
        }
        Verification::Broken {
            seq,
            expected,
            found,
            what,
        } => {
            println!("audit trail BROKEN at seq {seq}: {what}: expected {expected}, found {found}");
            Ok(Exit::Invalid)
        }
    }
}
