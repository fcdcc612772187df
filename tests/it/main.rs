//! Integration tests: one binary, a fresh database per test (`#[sqlx::test]`), a fresh bucket
//! per test on the real local S3 server. Run them through `scripts/test`, which starts both.

mod access;
mod actions;
mod audit;
mod changed;
mod cli;
mod docs;
mod end_to_end;
mod explain;
mod export;
mod facts;
mod fallback;
mod filter_count;
mod flaky;
mod golden;
mod guard;
mod helpers;
mod item_ranges;
mod ledger;
mod matchers;
mod object_state;
mod pacing;
mod pipeline;
mod planner;
mod prices;
mod proxy;
mod pushgateway;
mod report;
pub mod resilience;
mod restore;
mod retention;
mod scan;
mod schedule;
mod serve;
mod storage;
mod undo;
