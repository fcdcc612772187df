//! One audit event: what is appended, what is hashed, what is stored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

/// The outcome of one action on one version, or of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Done,
    Skipped,
    Blocked,
    Failed,
    /// The plan's cost guard skipped the action (`skipped` items whose reason says so).
    Uneconomic,
    /// The object was not the content the plan decided on (`skipped` items whose reason starts
    /// with `changed since scan`): never acted on.
    Changed,
    /// A run began (`run.start` events).
    Started,
    /// A thaw of an archived version was asked for (or is still in progress): the item stays
    /// open until a later apply finds it thawed. Its events carry no item id, so the item's
    /// final event can follow.
    Thawing,
}

impl Outcome {
    pub const ALL: [Outcome; 8] = [
        Outcome::Done,
        Outcome::Skipped,
        Outcome::Blocked,
        Outcome::Failed,
        Outcome::Uneconomic,
        Outcome::Changed,
        Outcome::Started,
        Outcome::Thawing,
    ];

    /// The stored name; the table's CHECK constraint admits only these.
    pub fn parse(text: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == text)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Skipped => "skipped",
            Outcome::Blocked => "blocked",
            Outcome::Failed => "failed",
            Outcome::Uneconomic => "uneconomic",
            Outcome::Changed => "changed",
            Outcome::Started => "started",
            Outcome::Thawing => "thawing",
        }
    }

    /// The final state of a plan item with this outcome (`plan_items.state`): the outcomes
    /// that only tell why an item was skipped are `skipped` there, their reason says which.
    pub fn item_state(&self) -> &'static str {
        match self {
            Outcome::Uneconomic | Outcome::Changed => "skipped",
            other => other.as_str(),
        }
    }
}

/// An event to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub run_id: Option<i64>,
    pub plan_id: Option<i64>,
    pub item_id: Option<i64>,
    pub policy: String,
    pub policy_sha256: String,
    pub rule: String,
    pub action: String,
    pub storage: String,
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
    pub size: i64,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub state_before: State,
    pub state_after: State,
    /// The git commit the policy file came from, when known.
    pub policy_revision: Option<String>,
    /// The clock ages were measured against (the plan's `--as-of`).
    pub clock: Option<DateTime<Utc>>,
    /// The process that acted (`host:pid`).
    pub worker: Option<String>,
}

/// The hashed form of an event; field order here is the canonical order. The states come
/// serialised ([`State`]), so that one serialisation is both hashed and stored.
#[derive(Serialize)]
pub(crate) struct Canonical<'a> {
    pub seq: i64,
    pub at: &'a str,
    pub run_id: Option<i64>,
    pub plan_id: Option<i64>,
    pub item_id: Option<i64>,
    pub policy: &'a str,
    pub policy_sha256: &'a str,
    pub rule: &'a str,
    pub action: &'a str,
    pub storage: &'a str,
    pub bucket: &'a str,
    pub key: &'a str,
    pub version_id: Option<&'a str>,
    pub size: i64,
    pub outcome: &'a str,
    pub reason: Option<&'a str>,
    pub state_before: &'a RawValue,
    pub state_after: &'a RawValue,
    // Added with schema migration 9: left out when NULL, so that events written before it
    // hash as they did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_revision: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker: Option<&'a str>,
}

/// A state of an event (`state_before`, `state_after`) in its canonical encoding: compact JSON
/// with sorted keys, as `serde_json` writes a [`serde_json::Value`]. Serialised once, when
/// the event is made: the same text is hashed and stored.
#[derive(Debug, Clone)]
pub struct State(Box<RawValue>);

impl State {
    /// A state serialised from a type whose fields are declared in sorted order (so that it
    /// writes the text its [`serde_json::Value`] would), without building the value.
    pub(crate) fn sorted<T: Serialize>(state: &T) -> State {
        State(serde_json::value::to_raw_value(state).expect("states serialise"))
    }

    pub fn raw(&self) -> &RawValue {
        &self.0
    }
}

impl From<serde_json::Value> for State {
    fn from(value: serde_json::Value) -> State {
        State::sorted(&value)
    }
}

impl From<&serde_json::Value> for State {
    fn from(value: &serde_json::Value) -> State {
        State::sorted(value)
    }
}

impl PartialEq for State {
    fn eq(&self, other: &State) -> bool {
        self.0.get() == other.0.get()
    }
}

impl<'a> Canonical<'a> {
    /// The canonical form of `event` as stored at `seq` and `at`; `at` and `clock` (the
    /// event's, if any) are formatted by [`format_time`].
    pub fn new((seq, at): (i64, &'a str), clock: Option<&'a str>, e: &'a NewEvent) -> Self {
        Canonical {
            seq,
            at,
            run_id: e.run_id,
            plan_id: e.plan_id,
            item_id: e.item_id,
            policy: &e.policy,
            policy_sha256: &e.policy_sha256,
            rule: &e.rule,
            action: &e.action,
            storage: &e.storage,
            bucket: &e.bucket,
            key: &e.key,
            version_id: e.version_id.as_deref(),
            size: e.size,
            outcome: e.outcome.as_str(),
            reason: e.reason.as_deref(),
            state_before: e.state_before.raw(),
            state_after: e.state_after.raw(),
            policy_revision: e.policy_revision.as_deref(),
            clock,
            worker: e.worker.as_deref(),
        }
    }

    /// `sha256_hex(prev_hash + "\n" + canonical_json)`, the JSON written straight into the
    /// hash.
    pub fn hash(&self, prev_hash: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(prev_hash.as_bytes());
        hasher.update(b"\n");
        serde_json::to_writer(&mut hasher, self).expect("audit events serialise");
        hex::encode(hasher.finalize())
    }
}

/// Timestamps in the canonical encoding: RFC 3339 UTC with microseconds
/// (`%Y-%m-%dT%H:%M:%S%.6fZ`), written without parsing a format string: the executor formats
/// a few per event.
pub(crate) fn format_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// An event as stored: every column, as exported by `report` and read back by `verify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct StoredEvent {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub run_id: Option<i64>,
    pub plan_id: Option<i64>,
    pub item_id: Option<i64>,
    pub policy: String,
    pub policy_sha256: String,
    pub policy_revision: Option<String>,
    pub rule: String,
    pub action: String,
    pub storage: String,
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
    pub size: i64,
    pub outcome: String,
    pub reason: Option<String>,
    pub state_before: serde_json::Value,
    pub state_after: serde_json::Value,
    pub clock: Option<DateTime<Utc>>,
    pub worker: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl StoredEvent {
    /// The columns in export order (CSV header, JSON field order).
    pub const COLUMNS: &'static str = "seq, at, run_id, plan_id, item_id, policy, policy_sha256, \
        policy_revision, rule, action, storage, bucket, key, version_id, size, outcome, reason, \
        state_before, state_after, clock, worker, prev_hash, hash";

    /// The event as it was appended; `None` if its outcome is not one shelflife writes.
    pub fn event(&self) -> Option<NewEvent> {
        Some(NewEvent {
            run_id: self.run_id,
            plan_id: self.plan_id,
            item_id: self.item_id,
            policy: self.policy.clone(),
            policy_sha256: self.policy_sha256.clone(),
            rule: self.rule.clone(),
            action: self.action.clone(),
            storage: self.storage.clone(),
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            version_id: self.version_id.clone(),
            size: self.size,
            outcome: Outcome::parse(&self.outcome)?,
            reason: self.reason.clone(),
            state_before: (&self.state_before).into(),
            state_after: (&self.state_after).into(),
            policy_revision: self.policy_revision.clone(),
            clock: self.clock,
            worker: self.worker.clone(),
        })
    }

    /// The canonical hash of the stored fields after `prev_hash`; `None` for an unknown outcome.
    pub fn recomputed_hash(&self) -> Option<String> {
        let event = self.event()?;
        let (at, clock) = (format_time(self.at), event.clock.map(format_time));
        let canonical = Canonical::new((self.seq, &at), clock.as_deref(), &event);
        Some(canonical.hash(&self.prev_hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// Hashes of stored events depend on this text: it must not change.
    #[test]
    fn times_format_as_the_canonical_encoding_always_did() {
        let times = [
            Utc.timestamp_opt(0, 0).unwrap(),
            Utc.timestamp_opt(1_700_000_000, 5_000).unwrap(),
            Utc.timestamp_opt(1_795_325_315, 999_999_000).unwrap(),
            Utc.with_ymd_and_hms(2026, 2, 28, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0).unwrap(),
            Utc.timestamp_opt(1_000, 123_456_789).unwrap(),
        ];
        for at in times {
            let canonical = at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
            assert_eq!(format_time(at), canonical);
        }
        assert_eq!(format_time(times[1]), "2023-11-14T22:13:20.000005Z");
    }
}
