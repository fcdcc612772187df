//! The HTML report for people: one self-contained page (inline CSS and SVG, no scripts, a
//! Content-Security-Policy that forbids fetching anything).

use super::svg::{stacked_bars, Series};
use super::totals::{Count, Totals, BLOCKED_LISTED};
use super::{bytes, dollars, Selection};
use crate::audit::{format_time, Evidence};
use crate::plan::{Cost, PlanSummary};
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The outcomes charted per day, in stacking order.
const OUTCOMES: [Series; 7] = [
    Series {
        name: "done",
        color: "#2a8a5a",
    },
    Series {
        name: "skipped",
        color: "#9aa5b1",
    },
    Series {
        name: "uneconomic",
        color: "#d9a43b",
    },
    Series {
        name: "changed",
        color: "#3b8fd9",
    },
    Series {
        name: "blocked",
        color: "#6b5bd2",
    },
    Series {
        name: "failed",
        color: "#c8413b",
    },
    Series {
        name: "thawing",
        color: "#7fc4d9",
    },
];

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem;color:#1d2733;max-width:64rem}\
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}table{border-collapse:collapse;width:100%;font-size:.9rem}\
th,td{border-bottom:1px solid #e3e6ea;padding:.3rem .5rem;text-align:left;vertical-align:top}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.ok{background:#e5f5ec;border:1px solid #2a8a5a}.bad{background:#fbe9e8;border:1px solid #c8413b}.banner{padding:.6rem 1rem;border-radius:6px}\
.chart text{font-size:11px;fill:#44505c}.chart .empty{font-size:14px}.meta{color:#5b6672}code{word-break:break-all}";

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub fn render(
    selection: &Selection,
    totals: &Totals,
    plans: &BTreeMap<i64, PlanSummary>,
    evidence: &Evidence,
) -> String {
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>shelflife audit report</title><style>{STYLE}</style></head><body>"
    );
    header(&mut page, selection, totals);
    verification(&mut page, evidence);
    charts(&mut page, totals);
    rules(&mut page, totals);
    costs(&mut page, totals, plans);
    groups(&mut page, plans);
    blocked(&mut page, totals);
    page.push_str("</body></html>\n");
    page
}

fn header(page: &mut String, s: &Selection, totals: &Totals) {
    let filters = match (s.policies.is_empty(), s.buckets.is_empty()) {
        (true, true) => "all policies and buckets".to_string(),
        _ => format!(
            "policies: {}; buckets: {}",
            list_or_all(&s.policies),
            list_or_all(&s.buckets)
        ),
    };
    let _ = write!(
        page,
        "<h1>shelflife audit report</h1><p class=\"meta\">{} to {} · {} · generated {} by shelflife {}</p>\
         <p>{} events · {} runs ({} ended with an error)</p>",
        if s.since == chrono::DateTime::UNIX_EPOCH {
            "From the first event".to_string()
        } else {
            format_time(s.since)
        },
        format_time(s.until),
        escape(&filters),
        format_time(chrono::Utc::now()),
        env!("CARGO_PKG_VERSION"),
        totals.events,
        totals.runs,
        totals.failed_runs
    );
}

fn list_or_all(names: &[String]) -> String {
    if names.is_empty() {
        "all".into()
    } else {
        names.join(", ")
    }
}

fn verification(page: &mut String, evidence: &Evidence) {
    let class = if evidence.holds() { "ok" } else { "bad" };
    let _ = write!(
        page,
        "<h2>Chain verification</h2><div class=\"banner {class}\">"
    );
    for line in evidence.lines() {
        let _ = write!(page, "<p><code>{}</code></p>", escape(&line));
    }
    page.push_str("</div>");
}

fn charts(page: &mut String, totals: &Totals) {
    let days = every_day(totals);
    let objects: Vec<(NaiveDate, Vec<f64>)> = days
        .iter()
        .map(|(day, counts)| {
            (
                *day,
                OUTCOMES
                    .iter()
                    .map(|s| of(counts, s.name).objects as f64)
                    .collect(),
            )
        })
        .collect();
    let done_bytes: Vec<(NaiveDate, Vec<f64>)> = days
        .iter()
        .map(|(day, counts)| (*day, vec![of(counts, "done").bytes as f64]))
        .collect();
    page.push_str("<h2>Objects per day, by outcome</h2>");
    page.push_str(&stacked_bars("Objects per day", &objects, &OUTCOMES, |v| {
        format!("{v:.0}")
    }));
    page.push_str("<h2>Bytes acted on per day</h2>");
    page.push_str(&stacked_bars(
        "Bytes done per day",
        &done_bytes,
        &OUTCOMES[..1],
        |v| bytes(v as i64),
    ));
}

fn of(counts: &BTreeMap<String, Count>, outcome: &str) -> Count {
    counts.get(outcome).copied().unwrap_or_default()
}

/// Every day from the first to the last with events, empty days included.
fn every_day(totals: &Totals) -> Vec<(NaiveDate, BTreeMap<String, Count>)> {
    let (Some(first), Some(last)) = (totals.by_day.keys().next(), totals.by_day.keys().last())
    else {
        return Vec::new();
    };
    first
        .iter_days()
        .take_while(|d| d <= last)
        .map(|d| (d, totals.by_day.get(&d).cloned().unwrap_or_default()))
        .collect()
}

fn rules(page: &mut String, totals: &Totals) {
    page.push_str(
        "<h2>Totals per policy, rule and action</h2><table><tr><th>policy</th><th>rule</th>\
         <th>action</th><th>outcome</th><th>objects</th><th>bytes</th></tr>",
    );
    for ((policy, rule, action, outcome), c) in &totals.by_rule {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(policy),
            escape(rule),
            escape(action),
            escape(outcome),
            c.objects,
            bytes(c.bytes)
        );
    }
    if totals.by_rule.is_empty() {
        page.push_str("<tr><td colspan=\"6\">no actions in this range</td></tr>");
    }
    page.push_str("</table>");
}

/// Realised cost per policy and rule: each plan's priced line, in proportion to what was done.
fn costs(page: &mut String, totals: &Totals, plans: &BTreeMap<i64, PlanSummary>) {
    let mut per_rule: BTreeMap<(String, String), (i64, Cost)> = BTreeMap::new();
    for ((plan_id, rule), done) in &totals.done_by_plan {
        let Some(plan) = plans.get(plan_id) else {
            continue;
        };
        let Some(cost) = plan.realised(rule, *done) else {
            continue;
        };
        let entry = per_rule
            .entry((plan.policy.clone(), rule.clone()))
            .or_insert((0, Cost::default()));
        entry.0 += done;
        entry.1 = entry.1.plus(&cost);
    }
    page.push_str(
        "<h2>Realised cost and savings</h2><table><tr><th>policy</th><th>rule</th><th>objects done</th>\
         <th>one-time cost</th><th>monthly storage before</th><th>after</th><th>saved per month</th></tr>",
    );
    let mut total = Cost::default();
    for ((policy, rule), (done, c)) in &per_rule {
        total = total.plus(c);
        cost_row(page, &escape(policy), &escape(rule), *done, c);
    }
    match per_rule.is_empty() {
        true => page.push_str(
            "<tr><td colspan=\"7\">no priced actions done (Storage without a cost table)</td></tr>",
        ),
        false => cost_row(
            page,
            "<b>total</b>",
            "",
            per_rule.values().map(|v| v.0).sum(),
            &total,
        ),
    }
    page.push_str("</table>");
}

/// Dataset groups the covered plans decided: changed whole, or held whole by a member.
fn groups(page: &mut String, plans: &BTreeMap<i64, PlanSummary>) {
    let grouped: Vec<(&i64, &PlanSummary)> =
        plans.iter().filter(|(_, p)| p.groups.is_some()).collect();
    if grouped.is_empty() {
        return;
    }
    page.push_str(
        "<h2>Dataset groups</h2><table><tr><th>plan</th><th>policy</th><th>group</th>\
         <th>members</th><th>bytes</th><th>decision</th><th>member samples</th></tr>",
    );
    for (id, plan) in grouped {
        let Some(g) = &plan.groups else { continue };
        for s in &g.samples {
            let rule = s.rule.as_deref().unwrap_or("-");
            let decision = match &s.held_by {
                None => format!("{rule}: all members"),
                Some(why) => format!("held whole from {rule}: {why}"),
            };
            let _ = write!(
                page,
                "<tr><td class=\"n\">{id}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
                escape(&plan.policy),
                escape(&s.group),
                s.members,
                super::bytes(s.bytes),
                escape(&decision),
                escape(&s.member_samples.join(", "))
            );
        }
    }
    page.push_str("</table>");
}

fn cost_row(page: &mut String, policy: &str, rule: &str, done: i64, c: &Cost) {
    let _ = write!(
        page,
        "<tr><td>{policy}</td><td>{rule}</td><td class=\"n\">{done}</td><td class=\"n\">{}</td>\
         <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
        dollars(c.one_time()),
        dollars(c.monthly_before),
        dollars(c.monthly_after),
        dollars(c.monthly_saving())
    );
}

fn blocked(page: &mut String, totals: &Totals) {
    let _ = write!(
        page,
        "<h2>Blocked by Object Lock ({})</h2><table><tr><th>policy</th><th>rule</th><th>action</th>\
         <th>object</th><th>eligible</th><th>reason</th></tr>",
        totals.blocked_total
    );
    for b in &totals.blocked {
        let version = b
            .version_id
            .as_deref()
            .map(|v| format!(" (version {})", escape(v)))
            .unwrap_or_default();
        let eligible = match b.eligible_at {
            Some(at) => format_time(at),
            None if b.reason.contains("legal hold") => "legal hold".into(),
            None => "unknown".into(),
        };
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>s3://{}/{}</code>{version}</td><td>{}</td><td>{}</td></tr>",
            escape(&b.policy),
            escape(&b.rule),
            escape(&b.action),
            escape(&b.bucket),
            escape(&b.key),
            escape(&eligible),
            escape(&b.reason)
        );
    }
    if totals.blocked_total > BLOCKED_LISTED as u64 {
        let _ = write!(
            page,
            "<tr><td colspan=\"6\">… and {} more (all are in the CSV and JSON Lines files)</td></tr>",
            totals.blocked_total - BLOCKED_LISTED as u64
        );
    }
    page.push_str("</table>");
}
