//! Text output for people: plans and apply results.

use crate::audit::Outcome;
use crate::execute::ApplyReport;
use crate::plan::{ActionLine, Cost, PlanState, PlanSummary};
pub use crate::report::{bytes, dollars};
use chrono::{DateTime, SecondsFormat, Utc};
use std::fmt::Write;

/// A moment as people read it in text output: RFC 3339 to the second, in UTC (`Z`). JSON
/// output keeps full precision.
pub fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A plan as reviewers read it, like `terraform plan`.
pub fn render_plan(s: &PlanSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Plan {} for policy {}: {}, as of {}",
        s.plan_id,
        s.policy,
        s.target(),
        time(&s.as_of)
    );
    let _ = writeln!(
        out,
        "  snapshot: scan {}, {} object versions{}",
        s.scan_id,
        s.population,
        freshness(s, chrono::Utc::now())
    );
    for line in &s.actions {
        render_line(&mut out, line);
    }
    for (count, what) in [
        (
            s.undated,
            "undated (no date where spec.age reads it; age matchers never match them)",
        ),
        (
            s.unknown,
            "unknown (tags or lock state not known; never acted on; scan again)",
        ),
    ] {
        if count > 0 {
            let noun = if count == 1 { "version" } else { "versions" };
            let _ = writeln!(out, "  {count} {noun} {what}");
        }
    }
    render_access(&mut out, s);
    render_groups(&mut out, s);
    render_limits(&mut out, s);
    let _ = write!(
        out,
        "Plan {}: {} objects ({}) to change, {} blocked by Object Lock, {} skipped as uneconomic",
        s.plan_id,
        s.changes(),
        bytes(s.change_bytes()),
        s.blocked,
        s.uneconomic
    );
    if let Some(c) = &s.cost {
        let _ = write!(
            out,
            "; storage {} → {} per month ({} once)",
            dollars(c.monthly_before),
            dollars(c.monthly_after),
            dollars(c.one_time())
        );
    }
    let future = if s.as_of > chrono::Utc::now() {
        " --allow-future-clock"
    } else {
        ""
    };
    let _ = writeln!(out, ".");
    if s.state != PlanState::Refused && s.changes() > 0 {
        let _ = writeln!(
            out,
            "Apply with: shelflife apply --plan {} --yes{future}",
            s.plan_id
        );
    }
    out
}

/// A cost's figures: `requests $…, early deletion $…, storage $… → $… per month`, with the
/// retrieval and egress between them where there are any.
pub fn cost_figures(c: &Cost) -> String {
    let transfer = match c.transfer > 0.0 {
        true => format!(", retrieval and egress {}", dollars(c.transfer)),
        false => String::new(),
    };
    format!(
        "requests {}, early deletion {}{transfer}, storage {} → {} per month",
        dollars(c.requests),
        dollars(c.early_deletion),
        dollars(c.monthly_before),
        dollars(c.monthly_after)
    )
}

pub(super) fn render_line(out: &mut String, line: &ActionLine) {
    let held = line.blocked.objects + line.uneconomic.objects;
    if line.objects == 0 && held == 0 {
        return;
    }
    let _ = writeln!(
        out,
        "  {:<9} {:>9} objects {:>11}  rule {}",
        line.action,
        line.objects,
        bytes(line.bytes),
        line.rule
    );
    if let Some(c) = &line.cost {
        let even = match (line.action.as_str(), line.break_even_days) {
            ("tier" | "archive", Some(d)) => format!("; break-even {d:.1} days"),
            ("tier" | "archive", None) => "; never breaks even".into(),
            _ => String::new(),
        };
        let _ = writeln!(out, "            cost: {}{even}", cost_figures(c));
        if line.action == "archive" && c.monthly_after > c.monthly_before {
            let _ = writeln!(
                out,
                "            warning: the archive costs more per month than keeping the objects \
                 here ({} → {}); planned anyway, since the cost guard judges only moves into \
                 another class",
                crate::plan::usd(c.monthly_before),
                crate::plan::usd(c.monthly_after)
            );
        }
    }
    for sample in &line.samples {
        let _ = writeln!(out, "            e.g. {sample}");
    }
    for (what, w) in [("blocked", &line.blocked), ("uneconomic", &line.uneconomic)] {
        if w.objects == 0 {
            continue;
        }
        let next = w
            .next_eligible
            .map(|t| format!("; first eligible {}", time(&t)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "            {what}: {} objects ({}){next}",
            w.objects,
            bytes(w.bytes)
        );
        for sample in &w.samples {
            let _ = writeln!(out, "              {}: {}", sample.version, sample.reason);
        }
    }
}

pub(super) fn render_limits(out: &mut String, s: &PlanSummary) {
    let l = &s.limits;
    let mut parts = Vec::new();
    if let Some(max) = l.max_objects {
        parts.push(format!("{} of maxObjects {max}", l.objects));
    }
    if let Some(max) = l.max_bytes {
        parts.push(format!("{} of maxBytes {max}", l.bytes));
    }
    if let Some(max) = l.max_percent {
        parts.push(format!("{:.2}% of maxPercent {max}%", l.percent));
    }
    let within = match parts.is_empty() {
        true => "none set".to_string(),
        false => parts.join(", "),
    };
    let _ = match (&s.state, &s.refusal) {
        (PlanState::Refused, Some(why)) => {
            writeln!(out, "  limits: REFUSED: {why}; nothing will be applied")
        }
        _ => writeln!(out, "  limits: ok ({within})"),
    };
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
        let realised = match (
            outcome == Outcome::Done.as_str(),
            plan.realised(rule, *objects),
        ) {
            (true, Some(cost)) => format!(
                "  realised: {} one-time, {}/month saved",
                dollars(cost.one_time()),
                dollars(cost.monthly_saving())
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  {action:<9} {outcome:<8} {objects:>9} objects {:>11}  rule {rule}{realised}",
            bytes(*size)
        );
    }
    let since = match plan.restore.is_some() || plan.undo.is_some() {
        true => "plan",
        false => "scan",
    };
    let thawing = match report.count(Outcome::Thawing) {
        0 => String::new(),
        n => format!(", {n} thawing (apply again once thawed)"),
    };
    let _ = writeln!(
        out,
        "  total: {} done, {} skipped, {} changed since {since}, {} blocked, {} failed{thawing}",
        report.count(Outcome::Done),
        report.count(Outcome::Skipped),
        report.count(Outcome::Changed),
        report.count(Outcome::Blocked),
        report.count(Outcome::Failed)
    );
    out
}

/// Where the snapshot's state came from and how old it is, e.g. `, from the S3 Inventory
/// report of 2026-11-20T01:00:00Z (3d 13h old)`.
pub(super) fn freshness(s: &PlanSummary, now: chrono::DateTime<chrono::Utc>) -> String {
    let Some(taken) = s.snapshot_taken_at else {
        return String::new();
    };
    let source = if s.snapshot_from_report {
        "from the S3 Inventory report of"
    } else {
        "listed at"
    };
    format!(", {source} {} ({} old)", time(&taken), age(now - taken))
}

/// A coarse age: days and hours, hours and minutes, or minutes.
pub fn age(age: chrono::Duration) -> String {
    let minutes = age.num_minutes().max(0);
    let (d, h, m) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (d, h) {
        (0, 0) => format!("{m}m"),
        (0, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// How far back the access logs go, and what they could not decide.
fn render_access(out: &mut String, s: &PlanSummary) {
    if s.access_unknown == 0 && s.access_since.is_none() {
        return;
    }
    let since = s
        .access_since
        .map_or("no access log ingested yet".into(), |t| {
            format!("access logs since {}", time(&t))
        });
    let _ = writeln!(out, "  {since}");
    if s.access_unknown > 0 {
        let _ = writeln!(
            out,
            "  {} versions access unknown (not in the logs, which do not reach back over the rule's window; never acted on)",
            s.access_unknown
        );
    }
}

/// Dataset groups: how many a rule changes whole, and which are held whole, by which member.
fn render_groups(out: &mut String, s: &PlanSummary) {
    let Some(g) = &s.groups else { return };
    let _ = writeln!(
        out,
        "  groups ({}): {} groups, {} changed whole, {} held whole",
        g.pattern, g.groups, g.changed, g.held
    );
    for sample in &g.samples {
        let rule = sample.rule.as_deref().unwrap_or("-");
        let read = sample
            .last_access
            .map_or("never read in the logs".into(), |t| {
                format!("last read {}", time(&t))
            });
        let verdict = match &sample.held_by {
            None => format!("{rule} (all members)"),
            Some(why) => format!("held whole from {rule}: {why}"),
        };
        let _ = writeln!(
            out,
            "    {}: {} members, {}, {read} -> {verdict}",
            sample.group,
            sample.members,
            bytes(sample.bytes)
        );
        let _ = writeln!(out, "      members: {}", sample.member_samples.join(", "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_coarse() {
        let m = chrono::Duration::minutes;
        assert_eq!(age(m(5)), "5m");
        assert_eq!(age(m(125)), "2h 5m");
        assert_eq!(age(m(3 * 1440 + 61)), "3d 1h");
        assert_eq!(age(m(-3)), "0m", "a report from a clock slightly ahead");
    }

    #[test]
    fn sizes_are_shown_in_binary_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }
}
