//! `shelflife serve`: the `run --due` loop in one long-lived process, driven by the policies'
//! cron schedules, re-reading policy files when they change, with `/healthz`, `/readyz` and
//! `/metrics`. SIGTERM stops claiming work, finishes the batches in hand, and exits 0.

use super::apply::WorkArgs;
use super::context::App;
use super::exit::Exit;
use super::prune::KeepPlans;
use super::run::{known_success, RunArgs, Runner};
use crate::schedule::Metrics;
use anyhow::{Context, Result};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::routing::get;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address of the HTTP endpoints (/healthz, /readyz, /metrics).
    #[arg(long, default_value = "127.0.0.1:9090")]
    listen: SocketAddr,
    /// Seconds between looks for due policies and changed policy files.
    #[arg(long, default_value_t = 10.0)]
    tick: f64,
    #[command(flatten)]
    work: WorkArgs,
    #[command(flatten)]
    keep: KeepPlans,
}

struct Shared {
    metrics: Metrics,
    pool: PgPool,
}

pub async fn run(app: &App, args: ServeArgs) -> Result<Exit> {
    app.stop_on_signals()?;
    let pool = app.pool().await?;
    let mut set = app.load_some_policies()?;
    let mut seen = fingerprint(&app.policies);
    let shared = Arc::new(Shared {
        metrics: Metrics::new(),
        pool: pool.clone(),
    });
    for policy in &set.policies {
        known_success(&pool, policy, &shared.metrics).await;
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    println!("serving on http://{}", listener.local_addr()?);
    let router = axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(shared.clone());
    let stop = app.shutdown.clone();
    let server = tokio::spawn(
        axum::serve(listener, router)
            .with_graceful_shutdown(stopped(stop.clone()))
            .into_future(),
    );
    let run_args = RunArgs {
        policy: Vec::new(),
        due: true,
        all: false,
        join: false,
        pushgateway: None,
        work: args.work.clone(),
        keep: args.keep.clone(),
    };
    let tick = Duration::from_secs_f64(args.tick.clamp(0.1, 3600.0));
    while !stop.load(Ordering::SeqCst) {
        let now = fingerprint(&app.policies);
        if now != seen {
            seen = now;
            match app.load_some_policies() {
                Ok(new) => {
                    tracing::info!(
                        policies = new.policies.len(),
                        "policy files changed: reloaded"
                    );
                    set = new;
                }
                Err(err) => tracing::error!(
                    "policy files changed but are invalid; keeping the previous ones: {err:#}"
                ),
            }
        }
        for policy in set.policies.iter().filter(|p| p.schedule.is_some()) {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let runner = Runner {
                app,
                set: &set,
                pool: &pool,
                args: &run_args,
                metrics: &shared.metrics,
            };
            if let Err(err) = runner.policy(policy).await {
                tracing::error!(policy = %policy.name, "policy run failed: {err:#}");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = stopped(stop.clone()) => {}
        }
    }
    server.await??;
    println!("stopped");
    Ok(Exit::Ok)
}

async fn stopped(flag: Arc<AtomicBool>) {
    while !flag.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn readyz(State(shared): State<Arc<Shared>>) -> (StatusCode, &'static str) {
    match sqlx::query("SELECT 1").execute(&shared.pool).await {
        Ok(_) => (StatusCode::OK, "ready\n"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n"),
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> impl axum::response::IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        shared.metrics.encode(),
    )
}

/// A digest of every file under `path` (names and contents): changes when a policy file is
/// added, removed or edited (also through a ConfigMap's symlink swap).
fn fingerprint(path: &Path) -> String {
    let mut files = Vec::new();
    collect(path, &mut files);
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(file.to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&file).unwrap_or_default());
    }
    hex::encode(hasher.finalize())
}

fn collect(path: &Path, out: &mut Vec<std::path::PathBuf>) {
    match std::fs::read_dir(path) {
        Ok(entries) => {
            for entry in entries.flatten() {
                let name = entry.file_name();
                if !name.to_string_lossy().starts_with("..") {
                    collect(&entry.path(), out);
                }
            }
        }
        Err(_) if path.is_file() => out.push(path.to_path_buf()),
        Err(_) => {}
    }
}
