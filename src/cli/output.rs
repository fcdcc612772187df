//! Text output for people: plans and apply results.

use crate::audit::Outcome;
use crate::execute::ApplyReport;
use crate::plan::{PlanState, PlanSummary};
use std::fmt::Write;

/// `1536` → `1.5 KiB`.
pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value.abs() >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A plan as reviewers read it.
pub fn render_plan(s: &PlanSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Plan {} for policy {}: {}, as of {}",
        s.plan_id,
        s.policy,
        s.target(),
        s.as_of.to_rfc3339()
    );
    let _ = writeln!(
        out,
        "  snapshot: scan {}, {} object versions",
        s.scan_id, s.population
    );
    for line in s.actions.iter().filter(|l| l.objects > 0) {
        let _ = writeln!(
            out,
            "  {:<8} {:>9} objects {:>11}  rule {}",
            line.action,
            line.objects,
            bytes(line.bytes),
            line.rule
        );
        for key in &line.samples {
            let _ = writeln!(out, "             e.g. {key:?}");
        }
    }
    if s.undated > 0 {
        let _ = writeln!(
            out,
            "  undated:  {:>9} objects (no date in the key; age matchers never match them)",
            s.undated
        );
    }
    let _ = match (&s.state, &s.refusal) {
        (PlanState::Refused, Some(why)) => {
            writeln!(out, "  limits:   REFUSED: {why}; nothing will be applied")
        }
        _ => writeln!(out, "  limits:   ok"),
    };
    let future = if s.as_of > chrono::Utc::now() {
        " --allow-future-clock"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "Plan {}: {} objects ({}) to change. Apply with: shelflife apply --plan {} --yes{future}",
        s.plan_id,
        s.changes(),
        bytes(s.change_bytes()),
        s.plan_id
    );
    out
}

/// What one apply did.
pub fn render_apply(plan: &PlanSummary, report: &ApplyReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Applied plan {} (policy {}, {}):",
        plan.plan_id,
        plan.policy,
        plan.target()
    );
    if report.outcomes.is_empty() {
        let _ = writeln!(out, "  nothing left to do");
    }
    for ((rule, action, outcome), (objects, size)) in &report.outcomes {
        let _ = writeln!(
            out,
            "  {action:<8} {outcome:<8} {objects:>9} objects {:>11}  rule {rule}",
            bytes(*size)
        );
    }
    let _ = writeln!(
        out,
        "  total: {} done, {} skipped, {} blocked, {} failed",
        report.count(Outcome::Done),
        report.count(Outcome::Skipped),
        report.count(Outcome::Blocked),
        report.count(Outcome::Failed)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_shown_in_binary_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }
}
