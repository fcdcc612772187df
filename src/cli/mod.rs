//! The command line: argument parsing, dispatch, and the exit code contract.

mod apply;
mod context;
mod exit;
mod explain;
mod locate;
mod output;
mod plan;
mod prune;
mod report;
mod restore;
mod run;
mod scan;
mod serve;
mod validate;

pub use exit::{code_for, Exit, UsageError};

use crate::telemetry::{self, LogFormat};
use clap::{Parser, Subcommand};
use context::App;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "shelflife",
    version,
    about = "Lifecycle policies for S3-compatible object storage: validate, scan, plan, apply, audit"
)]
pub struct Cli {
    /// PostgreSQL URL of the inventory, plans and audit trail.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    database_url: Option<String>,
    /// Policy file or directory (directories are read recursively).
    #[arg(
        long,
        env = "SHELFLIFE_POLICIES",
        default_value = "policies",
        global = true
    )]
    policies: PathBuf,
    /// Log line format (logs go to stderr).
    #[arg(
        long,
        env = "SHELFLIFE_LOG_FORMAT",
        value_enum,
        default_value = "pretty",
        global = true
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Lint policy files; no network. Exit 0 when valid (warnings allowed), 2 when not.
    Validate {
        /// Files or directories (default: --policies).
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Print a JSON Schema: of policy files (for editors and CI), or of `plan --format json`.
    Schema {
        #[arg(value_enum, default_value = "policy")]
        of: SchemaOf,
    },
    /// Database administration.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Refresh the inventories of the policies' targets.
    Scan(scan::ScanArgs),
    /// Decide what each policy would do, save the plan, and show it. Changes nothing.
    Plan(plan::PlanArgs),
    /// Execute saved plans.
    Apply(apply::ApplyArgs),
    /// Plan bringing a policy's target (or a prefix of it) back to how it was at a moment, from
    /// its object versions; saved as a plan that `apply` applies. Changes nothing itself.
    Restore(restore::RestoreArgs),
    /// Plan the reverse of what a run (or a plan) did, from the audit trail: delete markers
    /// removed, archives and tiers copied back, tags and legal holds put back; what cannot be
    /// undone is listed with why. Saved as plans that `apply` applies. Changes nothing itself.
    Undo(restore::UndoArgs),
    /// Where did an object go: its versions in the inventory, what each policy, plan and run
    /// did to it (archive destinations included), its state now, and thaws in progress.
    Locate(locate::LocateArgs),
    /// Scan, plan and apply each selected policy: by default those due by their schedule.
    /// One process per policy at a time; a policy running elsewhere is skipped.
    Run(run::RunArgs),
    /// The `run --due` loop as a service, driven by the policies' schedules, with /healthz,
    /// /readyz and /metrics; SIGTERM finishes the batches in hand and exits.
    Serve(serve::ServeArgs),
    /// Show how each policy's rules decide one object: every matcher, the values compared, the
    /// decision, its cost and the lock state.
    Explain(explain::ExplainArgs),
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Export the audit trail of a time range: CSV, JSON Lines and an HTML report, with a
    /// manifest of their SHA-256. Exits 2 when the chain does not verify (the files say so too).
    Report(report::ReportArgs),
    /// Demo data for the quickstart.
    #[command(hide = true)]
    Demo {
        #[command(subcommand)]
        command: DemoCommand,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum SchemaOf {
    Policy,
    Plan,
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Apply the schema migrations (other commands also do it).
    Migrate,
    /// Delete the items of old plans now, for every policy with saved plans (`run` and `serve`
    /// do it for each policy they run); also scans left unfinished for longer than that, the
    /// snapshots of targets no policy has and not scanned for that long, and the cached tags
    /// and lock state of versions that no scan holds (a scan does it for its own prefixes).
    Prune(prune::KeepPlans),
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain; exit 2 when it is broken.
    Verify,
}

#[derive(Debug, Subcommand)]
enum DemoCommand {
    /// Create ML-platform-shaped buckets and objects on a Storage's endpoint.
    Seed {
        /// The Storage document whose endpoint receives the data.
        #[arg(long, default_value = "local")]
        storage: String,
    },
}

/// Parses the arguments, runs the command and returns the process exit code.
pub async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    let app = App::new(cli.database_url, cli.policies);
    let result = match cli.command {
        Command::Validate { paths, format } => validate::run(&app, paths, format),
        Command::Schema { of } => serde_json::to_string_pretty(&match of {
            SchemaOf::Policy => crate::policy::json_schema(),
            SchemaOf::Plan => crate::plan::json_schema(),
        })
        .map(|json| {
            println!("{json}");
            Exit::Ok
        })
        .map_err(Into::into),
        Command::Db {
            command: DbCommand::Migrate,
        } => app.pool().await.map(|_| {
            println!("database schema is up to date");
            Exit::Ok
        }),
        Command::Db {
            command: DbCommand::Prune(args),
        } => prune::run(&app, args).await,
        Command::Scan(args) => scan::run(&app, args).await,
        Command::Plan(args) => plan::run(&app, args).await,
        Command::Apply(args) => apply::run(&app, args).await,
        Command::Restore(args) => restore::run(&app, args).await,
        Command::Undo(args) => restore::undo(&app, args).await,
        Command::Locate(args) => locate::run(&app, args).await,
        Command::Explain(args) => explain::run(&app, args).await,
        Command::Run(args) => run::run(&app, args).await,
        Command::Serve(args) => serve::run(&app, args).await,
        Command::Audit {
            command: AuditCommand::Verify,
        } => apply::verify(&app).await,
        Command::Report(args) => report::run(&app, args).await,
        Command::Demo {
            command: DemoCommand::Seed { storage },
        } => app.seed_demo(&storage).await,
    };
    match result {
        Ok(exit) => std::process::ExitCode::from(exit as u8),
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::from(code_for(&err) as u8)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
