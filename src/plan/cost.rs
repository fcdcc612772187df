//! What an action costs and saves, from the storages' price tables, and the guard that skips a
//! tier or archive that would lose money.
//!
//! Conventions (README, "Costs"): US dollars; a month is 30 days; a GB is 10^9 bytes; an
//! object is billed as `max(size, minimum billable size) + per-object overhead`; a version is
//! taken to have been in its class since it was last modified; removing or moving it out of its
//! class before the class's minimum storage duration is billed for the remaining days.

use crate::inventory::InventoryRow;
use crate::policy::{Action, ClassCost, CostTable, Policy, PolicySet};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub const DAYS_PER_MONTH: f64 = 30.0;
const GB: f64 = 1e9;

/// The price tables a policy's actions are costed with.
#[derive(Debug, Clone, Default)]
pub struct Prices {
    /// The target storage's table; without one, plans carry no costs and no guard applies.
    pub source: Option<CostTable>,
    /// The tables of archive destinations, by storage name.
    pub destinations: BTreeMap<String, Option<CostTable>>,
    /// Archive destinations on another provider or endpoint: a copy there pays the source's
    /// egress.
    pub leaving: BTreeSet<String>,
}

impl Prices {
    pub fn for_policy(set: &PolicySet, policy: &Policy) -> Prices {
        let table = |name: &str| set.storages.get(name).and_then(crate::policy::costs_of);
        let archives = policy.rules.iter().filter_map(|r| match &r.then {
            Action::Archive(a) => Some(a.storage.as_str()),
            _ => None,
        });
        let source = set.storages.get(&policy.target.storage);
        let elsewhere = |name: &str| {
            let (Some(from), Some(to)) = (source, set.storages.get(name)) else {
                return false;
            };
            from.name != to.name && (from.provider != to.provider || from.endpoint != to.endpoint)
        };
        Prices {
            source: table(&policy.target.storage),
            destinations: archives
                .clone()
                .map(|s| (s.to_string(), table(s)))
                .collect(),
            leaving: archives
                .filter(|s| elsewhere(s))
                .map(str::to_string)
                .collect(),
        }
    }
}

/// What an action costs for some versions, in US dollars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Cost {
    /// Requests: transitions, copies, tagging and retention calls (deletes are free).
    pub requests: f64,
    /// Minimum-storage-duration charges for versions leaving their class early.
    pub early_deletion: f64,
    /// Reading versions out of their class (retrieval) and copying them out to another
    /// provider (egress).
    #[serde(default)]
    pub transfer: f64,
    /// Monthly storage cost of the versions as they are.
    pub monthly_before: f64,
    /// Monthly storage cost after the action (0 when removed; the archive copy's when archived).
    pub monthly_after: f64,
}

impl Cost {
    pub fn one_time(&self) -> f64 {
        self.requests + self.early_deletion + self.transfer
    }

    /// The figures scaled by `share` (the part of a line that was done).
    pub fn scaled(&self, share: f64) -> Cost {
        self.zip(&Cost::default(), |a, _| a * share)
    }

    pub fn plus(&self, other: &Cost) -> Cost {
        self.zip(other, |a, b| a + b)
    }

    fn terms(&self) -> [f64; 5] {
        [
            self.requests,
            self.early_deletion,
            self.transfer,
            self.monthly_before,
            self.monthly_after,
        ]
    }

    fn from_terms(
        [requests, early_deletion, transfer, monthly_before, monthly_after]: [f64; 5],
    ) -> Cost {
        Cost {
            requests,
            early_deletion,
            transfer,
            monthly_before,
            monthly_after,
        }
    }

    fn zip(&self, other: &Cost, f: impl Fn(f64, f64) -> f64) -> Cost {
        let (a, b) = (self.terms(), other.terms());
        Cost::from_terms(std::array::from_fn(|i| f(a[i], b[i])))
    }

    /// Monthly saving (negative: the action costs more every month).
    pub fn monthly_saving(&self) -> f64 {
        self.monthly_before - self.monthly_after
    }

    /// Days until the monthly saving repays the one-time cost; `None` when it never does.
    pub fn break_even_days(&self) -> Option<f64> {
        let daily = self.monthly_saving() / DAYS_PER_MONTH;
        match self.one_time() {
            _ if daily < 0.0 => None,
            once if once <= 0.0 => Some(0.0),
            _ if daily == 0.0 => None,
            once => Some(once / daily),
        }
    }
}

/// A running total of costs that does not depend on the order of its terms: each is counted
/// in whole pico-dollars. Rows reach the planner in no particular order (PostgreSQL's
/// parallel scan), and a sum of `f64`s would then differ in its last digits between two plans
/// of the same snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CostSum([i128; 5]);

const PICO: f64 = 1e12;

impl CostSum {
    pub fn add(&mut self, c: &Cost) {
        for (sum, term) in self.0.iter_mut().zip(c.terms()) {
            // `as` saturates (and maps NaN to 0); so does the sum, for absurd price tables.
            *sum = sum.saturating_add((term * PICO).round() as i128);
        }
    }

    pub fn total(&self) -> Cost {
        Cost::from_terms(self.0.map(|pico| pico as f64 / PICO))
    }
}

/// Bytes billed for an object of `size` in `class`.
fn billable(class: &ClassCost, size: i64) -> f64 {
    (size.max(0) as u64).max(class.min_billable_bytes) as f64 + class.overhead_bytes as f64
}

fn monthly(class: &ClassCost, size: i64) -> f64 {
    class.per_gb_month * billable(class, size) / GB
}

/// The charge for the rest of `class`'s minimum storage duration, for a version `days` in it.
fn early_charge(class: &ClassCost, size: i64, days: f64) -> f64 {
    let left = f64::from(class.min_storage_days) - days;
    match left > 0.0 {
        true => monthly(class, size) * left / DAYS_PER_MONTH,
        false => 0.0,
    }
}

fn class_of(row: &InventoryRow) -> &str {
    row.storage_class.as_deref().unwrap_or("STANDARD")
}

/// What moving a version of `size` out of class `from` costs in bytes moved: the class's
/// retrieval price, and the source's egress when an archive copies it to another provider
/// (beyond the part the table's free allowance covers: each version moves its own bytes once).
fn transfer(prices: &Prices, action: &Action, from: &ClassCost, size: i64) -> f64 {
    let gb = size.max(0) as f64 / GB;
    let leaves = matches!(action, Action::Archive(a) if prices.leaving.contains(&a.storage));
    let egress = match (leaves, prices.source.as_ref()) {
        (true, Some(t)) => t.egress_per_gb * gb * (1.0 - t.free_egress_multiple).max(0.0),
        _ => 0.0,
    };
    from.retrieval_per_gb * gb + egress
}

/// Where an action puts a version, for costing: the price of the class it ends up in.
fn destination<'p>(prices: &'p Prices, action: &Action) -> Dest<'p> {
    let source = prices.source.as_ref();
    match action {
        Action::Delete(_) => Dest::Gone,
        Action::Tier(t) => Dest::Class(source.and_then(|s| s.class(&t.storage_class))),
        Action::Archive(a) => {
            let table = prices.destinations.get(&a.storage).and_then(Option::as_ref);
            // A copy that names no class lands in the destination's default, as PutObject's.
            let class = a.storage_class.as_deref().unwrap_or("STANDARD");
            Dest::Class(table.and_then(|t| t.class(class)))
        }
        Action::Keep | Action::Lock(_) | Action::LegalHold(_) | Action::Tag(_) => Dest::Same,
    }
}

enum Dest<'p> {
    Gone,
    Same,
    /// `None`: the table has no such class (or there is no table).
    Class(Option<&'p ClassCost>),
}

/// What `action` costs for `row` at `as_of`; `None` without a price for the classes involved.
pub fn cost(
    prices: &Prices,
    action: &Action,
    row: &InventoryRow,
    as_of: DateTime<Utc>,
) -> Option<Cost> {
    let table = prices.source.as_ref()?;
    if row.is_delete_marker {
        return Some(Cost::default());
    }
    let from = table.class(class_of(row))?;
    let before = monthly(from, row.size);
    let days = (as_of - row.last_modified).num_seconds() as f64 / 86_400.0;
    let put = match action {
        Action::Keep => 0.0,
        _ => table.request_per_1000 / 1000.0,
    };
    Some(match destination(prices, action) {
        Dest::Gone => Cost {
            early_deletion: early_charge(from, row.size, days),
            monthly_before: before,
            ..Cost::default()
        },
        Dest::Same => Cost {
            requests: put,
            monthly_before: before,
            monthly_after: before,
            ..Cost::default()
        },
        Dest::Class(to) => Cost {
            requests: to?.transition_per_1000 / 1000.0,
            early_deletion: early_charge(from, row.size, days),
            transfer: transfer(prices, action, from, row.size),
            monthly_before: before,
            monthly_after: monthly(to?, row.size),
        },
    })
}

/// What copying `row` back over newer content (a restore) costs: one copy request, reading it
/// out of its class, and the storage of the new current version (the versions it covers stay,
/// noncurrent); `None` without a price for its class.
pub fn restore_cost(prices: &Prices, row: &InventoryRow) -> Option<Cost> {
    let table = prices.source.as_ref()?;
    let class = table.class(class_of(row))?;
    Some(Cost {
        requests: table.request_per_1000 / 1000.0,
        transfer: class.retrieval_per_gb * row.size.max(0) as f64 / GB,
        monthly_after: monthly(class, row.size),
        ..Cost::default()
    })
}

/// Whether the cost guard judges `action` on `row`: a tier, or an archive that changes the
/// version's class. Those are moves made to save money. An archive to another bucket or
/// Storage in the same class (or none named) is made for other reasons (a separate, locked
/// archive) and is never vetoed on price; the plan still shows what it costs.
pub fn judged(action: &Action, row: &InventoryRow) -> bool {
    match action {
        Action::Tier(_) => true,
        Action::Archive(a) => a
            .storage_class
            .as_deref()
            .is_some_and(|c| c != class_of(row)),
        _ => false,
    }
}

/// Why moving `row` with `action` (a tier, or an archive into another class) loses money, if it
/// does: it costs more every month, or it is removed (by rule `removed.0`, in `removed.1` days)
/// before the saving repays the one-time cost plus the new class's own minimum-duration
/// charge. The reason states the figures that decide.
pub fn uneconomic(
    prices: &Prices,
    action: &Action,
    row: &InventoryRow,
    as_of: DateTime<Utc>,
    removed: Option<(&str, f64)>,
) -> Option<String> {
    if !judged(action, row) {
        return None;
    }
    let cost = cost(prices, action, row, as_of)?;
    let saving = cost.monthly_saving();
    let class = moved_to(action).unwrap_or("the new class");
    if saving <= 0.0 {
        let (after, before) = distinct(cost.monthly_after, cost.monthly_before);
        let monthly = match saving == 0.0 {
            true => format!("{class} saves nothing per month ({before} in both)"),
            false => format!("{class} costs {after}/month, more than the {before}/month now"),
        };
        return Some(format!(
            "uneconomic: {monthly}; the move costs {} once and never breaks even",
            usd(cost.one_time())
        ));
    }
    let (rule, days) = removed?;
    let early = match destination(prices, action) {
        Dest::Class(Some(to)) => early_charge(to, row.size, days),
        _ => 0.0,
    };
    let once = cost.one_time() + early;
    let net = saving / DAYS_PER_MONTH * days - once;
    (net <= 0.0).then(|| {
        let early = match early > 0.0 {
            true => format!(" (+ {} early deletion in {class})", usd(early)),
            false => String::new(),
        };
        format!(
            "uneconomic: saves {}/month, the move costs {} once{early}, break-even {} months > \
             {days:.0} days until rule {rule} deletes it",
            usd(saving),
            usd(cost.one_time()),
            significant(once / saving, 2),
        )
    })
}

/// The class a tier or archive moves to, when it names one.
fn moved_to(action: &Action) -> Option<&str> {
    match action {
        Action::Tier(t) => Some(&t.storage_class),
        Action::Archive(a) => a.storage_class.as_deref(),
        _ => None,
    }
}

/// Dollars to three significant digits (`$0.0000512`), for figures far below a cent.
pub fn usd(x: f64) -> String {
    format!("${}", significant(x, 3))
}

/// Two amounts with as many significant digits as it takes to tell them apart.
fn distinct(a: f64, b: f64) -> (String, String) {
    (3..=15)
        .map(|digits| (significant(a, digits), significant(b, digits)))
        .find(|(a, b)| a != b)
        .map_or_else(
            || (usd(a), usd(b)),
            |(a, b)| (format!("${a}"), format!("${b}")),
        )
}

/// `x` to `digits` significant digits, without an exponent.
fn significant(x: f64, digits: i32) -> String {
    if x == 0.0 || !x.is_finite() {
        return "0".into();
    }
    let magnitude = x.abs().log10().floor() as i32;
    let decimals = (digits - 1 - magnitude).max(0) as usize;
    format!("{x:.decimals$}")
}

#[cfg(test)]
mod provider_tests;
#[cfg(test)]
mod tests;
