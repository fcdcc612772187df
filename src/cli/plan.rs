//! `shelflife plan`: evaluate policies, save plans, show them like `terraform plan`.

use super::context::{select, App};
use super::exit::{Exit, UsageError};
use super::output::render_plan;
use super::Format;
use crate::plan::{self, PlanState, Prices};
use crate::policy::units::{parse_date, parse_duration};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Only this policy (repeatable; default: all).
    #[arg(long = "policy", value_name = "NAME")]
    policy: Vec<String>,
    /// Evaluate ages against this clock: RFC 3339, a date, or relative to now (`+90d`, `-12h`).
    #[arg(long)]
    as_of: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Also write the output to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Exit 10 when the plan has changes, 0 when it has none.
    #[arg(long)]
    detailed_exitcode: bool,
}

/// Parses `--as-of`: absolute (RFC 3339 or YYYY-MM-DD) or relative to `now` (`+90d`, `-12h`).
pub fn parse_clock(text: Option<&str>, now: DateTime<Utc>) -> Result<DateTime<Utc>, UsageError> {
    match text {
        None => Ok(now),
        Some(text) => parse_time("--as-of", text, now),
    }
}

/// Parses the time given to `flag`: absolute (RFC 3339 or YYYY-MM-DD) or relative to `now`.
pub fn parse_time(flag: &str, text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, UsageError> {
    let bad = |m: String| UsageError(format!("{flag}: {m}"));
    if let Some(rest) = text.strip_prefix('+') {
        return Ok(now + parse_duration(rest).map_err(bad)?);
    }
    if let Some(rest) = text.strip_prefix('-') {
        return Ok(now - parse_duration(rest).map_err(bad)?);
    }
    parse_date(text).map_err(bad)
}

pub async fn run(app: &App, args: PlanArgs) -> Result<Exit> {
    let as_of = parse_clock(args.as_of.as_deref(), Utc::now())?;
    let set = app.load_some_policies()?;
    let policies = select(&set, &args.policy)?;
    let pool = app.pool().await?;
    let mut summaries = Vec::new();
    for policy in policies {
        let prices = Prices::for_policy(&set, policy);
        let summary = plan::create(&pool, policy, &prices, as_of)
            .await
            .with_context(|| format!("planning policy {}", policy.name))?;
        summaries.push(summary);
    }
    let text = match args.format {
        Format::Json => {
            serde_json::to_string_pretty(&serde_json::json!({ "plans": summaries }))? + "\n"
        }
        Format::Text => summaries
            .iter()
            .map(render_plan)
            .collect::<Vec<_>>()
            .join("\n"),
    };
    print!("{text}");
    if let Some(out) = &args.out {
        std::fs::write(out, &text).with_context(|| format!("writing {}", out.display()))?;
    }
    if summaries.iter().any(|s| s.state == PlanState::Refused) {
        return Ok(Exit::LimitExceeded);
    }
    let changes = summaries.iter().any(|s| s.changes() > 0);
    Ok(if args.detailed_exitcode && changes {
        Exit::ChangesPending
    } else {
        Exit::Ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn clocks_are_absolute_or_relative_to_now() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(parse_clock(None, now).unwrap(), now);
        assert_eq!(
            parse_clock(Some("+90d"), now).unwrap(),
            now + chrono::Duration::days(90)
        );
        assert_eq!(
            parse_clock(Some("-12h"), now).unwrap(),
            now - chrono::Duration::hours(12)
        );
        assert_eq!(
            parse_clock(Some("2027-03-01"), now).unwrap(),
            Utc.with_ymd_and_hms(2027, 3, 1, 0, 0, 0).unwrap()
        );
        assert!(parse_clock(Some("tomorrow"), now).is_err());
    }
}
