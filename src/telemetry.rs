//! Logging: pretty on terminals, JSON lines for jobs; always on stderr so stdout stays the
//! command's output. Silent by default in tests (nothing installs a subscriber there).

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// The log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Installs the global subscriber; the filter comes from `SHELFLIFE_LOG` (default `info`).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("SHELFLIFE_LOG")
        .unwrap_or_else(|_| EnvFilter::new("shelflife=info,warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Json => builder.json().with_current_span(false).init(),
        LogFormat::Pretty => builder.with_target(false).compact().init(),
    }
}
