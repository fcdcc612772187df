//! What every command needs: the policy set, the database, storage clients.

use super::exit::{Exit, UsageError};
use crate::policy::{self, Policy, PolicySet};
use crate::storage::s3::S3Store;
use crate::storage::{RetryConfig, StorageError};
use anyhow::{Context, Result};
use sqlx::PgPool;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

pub struct App {
    database_url: Option<String>,
    pub policies: PathBuf,
    /// Set on SIGTERM or Ctrl-C: applies stop claiming, finish what they hold and return.
    pub shutdown: Arc<AtomicBool>,
    /// Clients being connected ahead of their first use ([`App::prefetch_stores`]).
    early: Mutex<HashMap<String, EarlyStore>>,
}

/// A client connecting in the background, with the Storage document it was made from.
struct EarlyStore {
    storage: policy::Storage,
    client: JoinHandle<Result<S3Store, StorageError>>,
}

impl App {
    pub fn new(database_url: Option<String>, policies: PathBuf) -> Self {
        App {
            database_url,
            policies,
            shutdown: Arc::default(),
            early: Mutex::default(),
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

    /// Starts connecting clients for the Storage documents `names` in the background, so that
    /// their setup overlaps the database's: the first client of a process reads the system's
    /// root certificates (about 150 files on Debian, 10 ms), which used to stand between the
    /// database work and an apply's first request. [`App::store`] takes them.
    pub fn prefetch_stores<'n>(&self, set: &PolicySet, names: impl IntoIterator<Item = &'n str>) {
        let mut early = self.early.lock().expect("no holder panics");
        for name in names {
            let Some(storage) = set.storages.get(name) else {
                continue;
            };
            early.entry(name.to_string()).or_insert_with(|| {
                let (spec, retry) = (storage.clone(), retry_config(storage));
                EarlyStore {
                    client: tokio::spawn(async move { S3Store::connect(&spec, &retry).await }),
                    storage: storage.clone(),
                }
            });
        }
    }

    /// A client for the Storage document `name`: the one [`App::prefetch_stores`] started for
    /// the same document, or a new one.
    pub async fn store(&self, set: &PolicySet, name: &str) -> Result<S3Store> {
        let storage = set.storages.get(name).ok_or_else(|| {
            UsageError(format!(
                "no Storage named {name:?} in {}",
                self.policies.display()
            ))
        })?;
        let early = self.early.lock().expect("no holder panics").remove(name);
        if let Some(early) = early.filter(|e| e.storage == *storage) {
            if let Ok(connected) = early.client.await {
                return Ok(connected?);
            }
        }
        Ok(S3Store::connect(storage, &retry_config(storage)).await?)
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

/// How requests to `storage` are retried.
fn retry_config(storage: &policy::Storage) -> RetryConfig {
    RetryConfig {
        max_attempts: storage.retry.max_attempts,
        initial_backoff: storage.retry.initial_backoff,
        max_backoff: storage.retry.max_backoff,
        total_budget: storage.retry.total_budget,
        ..RetryConfig::default()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{ChecksumMode, ConditionalDelete, Credentials, Pacing, Provider};
    use crate::policy::{Retry, SecretSource, Storage};

    /// A Storage whose keys are read from `key_file` when a client connects.
    fn storage(endpoint: &str, key_file: &std::path::Path) -> Storage {
        let key = SecretSource::File(key_file.to_path_buf());
        Storage {
            name: "s".into(),
            provider: Provider::Generic,
            endpoint: Some(endpoint.into()),
            region: "us-east-1".into(),
            path_style: true,
            pacing: Pacing::new(None, None),
            retry: Retry::default(),
            credentials: Credentials::Static {
                access_key_id: key.clone(),
                secret_access_key: key,
                session_token: None,
            },
            checksum: ChecksumMode::WhenRequired,
            conditional_delete: ConditionalDelete::None,
            costs: None,
        }
    }

    fn set_of(storage: Storage) -> PolicySet {
        let storages = [(storage.name.clone(), storage)].into();
        PolicySet {
            storages,
            policies: Vec::new(),
        }
    }

    /// Prefetches Storage `s` of `set` while its key file exists, then removes the file: from
    /// then on only the prefetched client can be had without an error.
    async fn prefetched_then_key_removed(app: &App, set: &PolicySet, key: &std::path::Path) {
        std::fs::write(key, "key").unwrap();
        app.prefetch_stores(set, ["s"]);
        for _ in 0..1000 {
            if app.early.lock().unwrap()["s"].client.is_finished() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        std::fs::remove_file(key).unwrap();
    }

    #[tokio::test]
    async fn store_takes_the_client_prefetched_for_the_same_document_only() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key");
        let app = App::new(None, dir.path().to_path_buf());
        let first = set_of(storage("http://127.0.0.1:1", &key));
        prefetched_then_key_removed(&app, &first, &key).await;
        assert!(
            app.store(&first, "s").await.is_ok(),
            "the prefetched client"
        );
        assert!(
            app.store(&first, "s").await.is_err(),
            "taken once, then new"
        );

        let changed = set_of(storage("http://127.0.0.1:2", &key));
        prefetched_then_key_removed(&app, &first, &key).await;
        let err = app.store(&changed, "s").await.unwrap_err();
        assert!(
            format!("{err:#}").contains("credentials of storage s"),
            "{err:#}"
        );
    }
}
