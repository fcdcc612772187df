//! Runs: the `runs` table, and their start and end as events in the chain.

use super::{append, NewEvent, Outcome};
use serde::Serialize;
use sqlx::PgPool;

/// Who and where a run is: recorded in `runs` and in its `run.start` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunInfo {
    pub command: String,
    /// `host:pid`, as in claims and events.
    pub worker: String,
    pub host: String,
    pub os_user: String,
    /// The command line, space-separated.
    pub args: String,
    /// The shelflife version.
    pub version: String,
}

/// Records the start of a command that acts on storage; its events carry the run id.
pub async fn start_run(pool: &PgPool, info: &RunInfo) -> Result<i64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let run_id: i64 = sqlx::query_scalar(
        "INSERT INTO runs (command, worker, host, os_user, args, version) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(&info.command)
    .bind(&info.worker)
    .bind(&info.host)
    .bind(&info.os_user)
    .bind(&info.args)
    .bind(&info.version)
    .fetch_one(&mut *tx)
    .await?;
    let state = serde_json::to_value(info).expect("run info serialises");
    let event = run_event(
        run_id,
        "run.start",
        Outcome::Started,
        None,
        state,
        &info.worker,
    );
    append(&mut tx, &[event]).await?;
    tx.commit().await?;
    Ok(run_id)
}

/// Records how a run ended: `done` for exit code 0, `failed` otherwise.
pub async fn finish_run(
    pool: &PgPool,
    run_id: i64,
    worker: &str,
    exit_code: i32,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE runs SET finished_at = now(), exit_code = $2 WHERE id = $1")
        .bind(run_id)
        .bind(exit_code)
        .execute(&mut *tx)
        .await?;
    let (outcome, reason) = match exit_code {
        0 => (Outcome::Done, None),
        code => (Outcome::Failed, Some(format!("exit code {code}"))),
    };
    let state = serde_json::json!({ "exit_code": exit_code });
    let event = run_event(run_id, "run.end", outcome, reason, state, worker);
    append(&mut tx, &[event]).await?;
    tx.commit().await
}

fn run_event(
    run_id: i64,
    action: &str,
    outcome: Outcome,
    reason: Option<String>,
    state_after: serde_json::Value,
    worker: &str,
) -> NewEvent {
    NewEvent {
        run_id: Some(run_id),
        plan_id: None,
        item_id: None,
        policy: String::new(),
        policy_sha256: String::new(),
        rule: String::new(),
        action: action.into(),
        storage: String::new(),
        bucket: String::new(),
        key: String::new(),
        version_id: None,
        size: 0,
        outcome,
        reason,
        state_before: serde_json::json!({}).into(),
        state_after: state_after.into(),
        policy_revision: None,
        clock: None,
        worker: Some(worker.into()),
    }
}
