//! `shelflife run`: scan, plan and apply each selected policy, one process per policy at a
//! time (an advisory lock), and with `--due` only policies whose schedule fired since their
//! last successful run.

use super::apply::{Executed, Execution, WorkArgs};
use super::context::{select, worker_name, App};
use super::exit::Exit;
use super::output::render_plan;
use super::prune::KeepPlans;
use super::scan::{self, ScanArgs};
use crate::plan::{self, PlanState, PlanSummary, Prices};
use crate::policy::{Policy, PolicySet};
use crate::schedule::{self, Metrics, PolicyLock};
use anyhow::Result;
use chrono::Utc;
use sqlx::PgPool;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Only this policy (repeatable; default: all).
    #[arg(long = "policy", value_name = "NAME")]
    pub policy: Vec<String>,
    /// Only policies whose schedule fired since their last successful run (the default).
    #[arg(long, conflicts_with = "all")]
    pub due: bool,
    /// Every selected policy, due or not (policies without a schedule too).
    #[arg(long)]
    pub all: bool,
    /// When another process holds a policy, wait for its plan and work on its apply too
    /// (several pods of one Job), instead of skipping it.
    #[arg(long)]
    pub join: bool,
    /// Push the run's metrics to this Prometheus Pushgateway at the end (grouped by job and
    /// policy, no instance label).
    #[arg(long, value_name = "URL", env = "SHELFLIFE_PUSHGATEWAY")]
    pub pushgateway: Option<String>,
    #[command(flatten)]
    pub work: WorkArgs,
    #[command(flatten)]
    pub keep: KeepPlans,
}

pub async fn run(app: &App, args: RunArgs) -> Result<Exit> {
    app.stop_on_signals()?;
    let set = app.load_some_policies()?;
    let policies = select(&set, &args.policy)?;
    app.prefetch_stores(&set, policies.iter().map(|p| p.target.storage.as_str()));
    let pool = app.pool().await?;
    let metrics = Metrics::new();
    let mut worst = Exit::Ok;
    for policy in policies {
        let runner = Runner {
            app,
            set: &set,
            pool: &pool,
            args: &args,
            metrics: &metrics,
        };
        let exit = match runner.policy(policy).await {
            Ok(exit) => exit,
            Err(err) => {
                eprintln!("error: policy {}: {err:#}", policy.name);
                super::code_for(&err)
            }
        };
        worst = worse(worst, exit);
        known_success(&pool, policy, &metrics).await;
    }
    if let Some(gateway) = &args.pushgateway {
        // The run's outcome stands whether or not its metrics arrive; a missing push shows
        // as a stale `push_time_seconds` on the gateway.
        match schedule::push::push(gateway, &metrics.encode()).await {
            Ok(()) => tracing::info!(%gateway, "metrics pushed"),
            Err(err) => eprintln!("warning: metrics not pushed: {err}"),
        }
    }
    Ok(worst)
}

/// Sets the policy's last-success gauge from `policy_runs`, so it survives processes (a
/// CronJob's pod pushes it even when its own run failed or was skipped).
pub async fn known_success(pool: &PgPool, policy: &Policy, metrics: &Metrics) {
    match schedule::last_success(pool, &policy.name).await {
        Ok(Some(at)) => metrics.succeeded_at(&policy.name, at),
        Ok(None) => {}
        Err(err) => tracing::warn!(policy = %policy.name, "last success unknown: {err}"),
    }
}

/// The exit code that says more: usage and limit errors (no retry) over partial failures and
/// unavailability (retry), any failure over success.
fn worse(a: Exit, b: Exit) -> Exit {
    let rank = |e: Exit| match e {
        Exit::Ok | Exit::ChangesPending => 0,
        Exit::Unexpected => 1,
        Exit::PartialFailure => 2,
        Exit::Unavailable => 3,
        Exit::LimitExceeded => 4,
        Exit::Invalid => 5,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// What every step of a policy run needs.
#[derive(Clone, Copy)]
pub struct Runner<'a> {
    pub app: &'a App,
    pub set: &'a PolicySet,
    pub pool: &'a PgPool,
    pub args: &'a RunArgs,
    pub metrics: &'a Metrics,
}

impl Runner<'_> {
    /// Runs one policy under its lock; a policy another process is running is skipped (exit 0).
    pub async fn policy(&self, policy: &Policy) -> Result<Exit> {
        let Runner {
            pool,
            args,
            metrics,
            ..
        } = *self;
        let Some(lock) = PolicyLock::try_acquire(pool, &policy.name).await? else {
            if args.join {
                return self.join(policy).await;
            }
            tracing::info!(policy = %policy.name, "another process is running this policy; skipped");
            println!("policy {}: running elsewhere, skipped", policy.name);
            metrics.run(&policy.name, "skipped");
            return Ok(Exit::Ok);
        };
        let result = self.locked(policy).await;
        lock.release().await?;
        let outcome = match &result {
            Ok(None) => "skipped",
            Ok(Some(Exit::Ok)) => "success",
            _ => "failure",
        };
        metrics.run(&policy.name, outcome);
        result.map(|exit| exit.unwrap_or(Exit::Ok))
    }

    /// `--join`: the process holding the policy scans and plans; once its plan is being applied,
    /// this one claims items of it too (each item is claimed by one worker), then ends. If the
    /// holder ends first, or its plan was refused, there is nothing to join.
    async fn join(&self, policy: &Policy) -> Result<Exit> {
        let Runner {
            app, pool, metrics, ..
        } = *self;
        loop {
            if let Some(plan_id) = schedule::plan_in_progress(pool, &policy.name).await? {
                println!(
                    "policy {}: running elsewhere; joining the apply of plan {plan_id}",
                    policy.name
                );
                let plan = plan::load(pool, plan_id).await?;
                let done = self.apply(policy, plan).await?;
                metrics.run(&policy.name, "joined");
                return Ok(done.exit);
            }
            if let Some(lock) = PolicyLock::try_acquire(pool, &policy.name).await? {
                lock.release().await?;
                println!(
                    "policy {}: finished elsewhere, nothing to join",
                    policy.name
                );
                metrics.run(&policy.name, "skipped");
                return Ok(Exit::Ok);
            }
            if app.shutdown.load(std::sync::atomic::Ordering::SeqCst) {
                return Ok(Exit::Ok);
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }

    /// Under the lock: due again checked (the previous holder may just have run it), then scan,
    /// plan and apply, recorded in `policy_runs`.
    async fn locked(&self, policy: &Policy) -> Result<Option<Exit>> {
        let Runner { pool, args, .. } = *self;
        let now = Utc::now();
        if !args.all {
            let last = schedule::last_success(pool, &policy.name).await?;
            if !schedule::is_due(policy, last, now) {
                let next = schedule::next_fire(policy, now)
                    .map_or("no schedule".to_string(), |t| format!("next at {t}"));
                println!("policy {}: not due ({next})", policy.name);
                return Ok(None);
            }
        }
        let id = schedule::start(pool, &policy.name, &worker_name()).await?;
        let result = self.scan_plan_apply(policy).await;
        let (code, run_id) = match &result {
            Ok((exit, run_id)) => (*exit, *run_id),
            Err(err) => (super::code_for(err), None),
        };
        schedule::finish(pool, id, run_id, code as i32).await?;
        args.keep.prune_policy(pool, &policy.name).await;
        result.map(|(exit, _)| Some(exit))
    }

    async fn scan_plan_apply(&self, policy: &Policy) -> Result<(Exit, Option<i64>)> {
        let Runner {
            app,
            set,
            pool,
            metrics,
            ..
        } = *self;
        let labels = schedule::metrics::PolicyLabels {
            policy: policy.name.clone(),
        };
        let started = std::time::Instant::now();
        let scan_args = ScanArgs::defaults_for(&policy.name);
        scan::scan_policies(app, set, pool, &[policy], &scan_args).await?;
        let scanned = started.elapsed().as_secs_f64();
        metrics.scan_seconds.get_or_create(&labels).observe(scanned);
        let prices = Prices::for_policy(set, policy);
        let summary = plan::create(pool, policy, &prices, Utc::now()).await?;
        print!("{}", render_plan(&summary));
        if summary.state == PlanState::Refused {
            return Ok((Exit::LimitExceeded, None));
        }
        let done = self.apply(policy, summary).await?;
        Ok((done.exit, Some(done.run_id)))
    }

    /// Applies `plan` as this run's worker, timing it and counting its outcomes.
    async fn apply(&self, policy: &Policy, plan: PlanSummary) -> Result<Executed> {
        let execution = Execution {
            command: "run",
            work: &self.args.work,
            allow_future_clock: false,
        };
        let started = std::time::Instant::now();
        let done = execution
            .plans(self.app, self.set, self.pool, &[plan])
            .await?;
        let labels = schedule::metrics::PolicyLabels {
            policy: policy.name.clone(),
        };
        let seconds = started.elapsed().as_secs_f64();
        self.metrics
            .apply_seconds
            .get_or_create(&labels)
            .observe(seconds);
        for report in &done.reports {
            self.metrics.outcomes(&policy.name, &report.outcomes);
        }
        Ok(done)
    }
}
