//! shelflife: a lifecycle policy and archiving engine for S3-compatible object storage.
//!
//! The pipeline is `policy` (validated model) → `inventory` (scan into PostgreSQL) → `plan`
//! (decide per object version) → `execute` (act on storage) → `audit` (hash-chained trail);
//! `restore` plans the way back to a moment from the versioned inventory.

pub mod access;
pub mod audit;
pub mod cli;
pub mod db;
pub mod demo;
pub mod execute;
pub mod inventory;
pub mod plan;
pub mod policy;
pub mod report;
pub mod restore;
pub mod schedule;
pub mod storage;
pub mod telemetry;
