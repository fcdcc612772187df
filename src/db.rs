//! The PostgreSQL connection and the embedded migrations.

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};
use std::str::FromStr;
use std::time::Duration;

/// The schema in `migrations/`, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Failures to reach or prepare the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid database URL: {0}")]
    InvalidUrl(#[source] sqlx::Error),
    #[error("cannot connect to the database: {0}")]
    Unreachable(#[source] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Connects to `url` and brings the schema up to date.
pub async fn connect_and_migrate(url: &str) -> Result<PgPool, DbError> {
    // Reading a 10M-row snapshot or copying a million plan items takes seconds by design;
    // sqlx's default would print each such statement in full as a warning.
    let options = PgConnectOptions::from_str(url)
        .map_err(DbError::InvalidUrl)?
        .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(15))
        .connect_with(options)
        .await
        .map_err(DbError::Unreachable)?;
    // The migrations' connection goes back to the pool in a task of its own, so the statement
    // after them found none idle and opened a second connection (5 ms) on the way to an apply's
    // first request; apply's claimer and recorder need two anyway. It opens during the
    // migrations' check instead.
    let second = tokio::spawn({
        let pool = pool.clone();
        async move { pool.acquire().await.map(drop) }
    });
    MIGRATOR.run(&pool).await?;
    // Failing to open it is not an error here: a statement that needs it will say.
    let _ = second.await;
    Ok(pool)
}
