//! What every command needs: the policy set, the database, storage clients.

use super::exit::{Exit, UsageError};
use crate::policy::{self, Policy, PolicySet};
use crate::storage::s3::S3Store;
use crate::storage::RetryConfig;
use anyhow::{Context, Result};
use sqlx::PgPool;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

pub struct App {
    database_url: Option<String>,
    pub policies: PathBuf,
    /// Set on SIGTERM or Ctrl-C: applies stop claiming, finish what they hold and return.
    pub shutdown: Arc<AtomicBool>,
}

impl App {
    pub fn new(database_url: Option<String>, policies: PathBuf) -> Self {
        App {
            database_url,
            policies,
            shutdown: Arc::default(),
        }
    }

    /// From now on SIGTERM and SIGINT set [`App::shutdown`] instead of killing the process.
    pub fn stop_on_signals(&self) -> Result<()> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let flag = self.shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            tracing::warn!("shutdown requested: finishing the batches in hand, claiming no more");
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        Ok(())
    }

    /// Loads and validates the policy directory; warnings are logged.
    pub fn load_policies(&self) -> Result<PolicySet> {
        let loaded = policy::load(std::slice::from_ref(&self.policies))
            .with_context(|| format!("invalid policies in {}", self.policies.display()))?;
        for warning in &loaded.warnings {
            tracing::warn!("{warning}");
        }
        Ok(loaded.set)
    }

    /// The policies, refusing a set without any: a CronJob pointed at an empty or wrong
    /// directory must fail, not succeed every night doing nothing.
    pub fn load_some_policies(&self) -> Result<PolicySet> {
        let set = self.load_policies()?;
        if set.policies.is_empty() {
            return Err(UsageError(format!(
                "no policies in {}: no `kind: Policy` document found; check --policies or SHELFLIFE_POLICIES",
                self.policies.display()
            ))
            .into());
        }
        Ok(set)
    }

    /// Connects to the database and applies pending migrations.
    pub async fn pool(&self) -> Result<PgPool> {
        let url = self.database_url.as_deref().ok_or_else(|| {
            UsageError("no database: set DATABASE_URL or pass --database-url".into())
        })?;
        Ok(crate::db::connect_and_migrate(url).await?)
    }

    /// A client for the Storage document `name`.
    pub async fn store(&self, set: &PolicySet, name: &str) -> Result<S3Store> {
        let storage = set.storages.get(name).ok_or_else(|| {
            UsageError(format!(
                "no Storage named {name:?} in {}",
                self.policies.display()
            ))
        })?;
        let retry = RetryConfig {
            max_attempts: storage.retry.max_attempts,
            initial_backoff: storage.retry.initial_backoff,
            max_backoff: storage.retry.max_backoff,
            total_budget: storage.retry.total_budget,
            ..RetryConfig::default()
        };
        Ok(S3Store::connect(storage, &retry).await?)
    }

    pub async fn seed_demo(&self, storage: &str) -> Result<Exit> {
        let set = self.load_policies()?;
        let store = self.store(&set, storage).await?;
        let counts = crate::demo::seed(&store).await?;
        for (bucket, objects) in counts {
            println!("seeded s3://{bucket}: {objects} object versions");
        }
        Ok(Exit::Ok)
    }
}

/// The policies named with `--policy`, or all of them; an unknown name is a usage error.
pub fn select<'a>(set: &'a PolicySet, names: &[String]) -> Result<Vec<&'a Policy>> {
    if names.is_empty() {
        return Ok(set.policies.iter().collect());
    }
    names
        .iter()
        .map(|name| {
            set.policy(name).ok_or_else(|| {
                let known: Vec<&str> = set.policies.iter().map(|p| p.name.as_str()).collect();
                UsageError(format!(
                    "no policy named {name:?} (known: {})",
                    known.join(", ")
                ))
                .into()
            })
        })
        .collect()
}

/// Identifies this process in claims and the audit trail: `host:pid`.
pub fn worker_name() -> String {
    format!("{}:{}", host_name(), std::process::id())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown-host".into())
}

/// Who and where this process runs `command`, for the runs table and the audit trail.
pub fn run_info(command: &str, worker: &str) -> crate::audit::RunInfo {
    let os_user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| format!("uid {}", current_uid()));
    crate::audit::RunInfo {
        command: command.into(),
        worker: worker.into(),
        host: host_name(),
        os_user,
        args: std::env::args().collect::<Vec<_>>().join(" "),
        version: env!("CARGO_PKG_VERSION").into(),
    }
}

/// The real user id, from /proc (containers often have no USER variable).
fn current_uid() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().next().map(str::to_string))
        })
        .unwrap_or_else(|| "unknown".into())
}

/// `s3://BUCKET/KEY` as (bucket, key).
pub fn object_url(url: &str) -> Result<(&str, &str), UsageError> {
    url.strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        .ok_or_else(|| UsageError(format!("{url:?} is not s3://BUCKET/KEY")))
}
