//! Exit codes (README, "Exit codes"): each follows from the kind of outcome or error.

use crate::db::DbError;
use crate::execute::ApplyError;
use crate::inventory::ScanError;
use crate::plan::PlanError;
use crate::policy::Invalid;
use crate::restore::RestoreError;
use crate::storage::{ErrorKind, StorageError};

/// The process exit codes of every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Done (for `plan --detailed-exitcode`: no changes).
    Ok = 0,
    /// Unexpected error; a retry may help.
    Unexpected = 1,
    /// Invalid usage, policy or configuration; a retry will not help.
    Invalid = 2,
    /// A safety limit was exceeded; nothing was changed.
    LimitExceeded = 3,
    /// Finished, but some actions failed.
    PartialFailure = 4,
    /// Storage or database unreachable or throttled past the retry budget; a rerun resumes.
    Unavailable = 5,
    /// `plan --detailed-exitcode`: changes are pending.
    ChangesPending = 10,
}

/// Misuse of the command line that clap cannot see (unknown policy name, missing --yes, ...).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn for_storage(err: &StorageError) -> Exit {
    match err.kind {
        _ if err.is_retryable() => Exit::Unavailable,
        ErrorKind::Invalid => Exit::Invalid,
        _ => Exit::Unexpected,
    }
}

fn for_sqlx(err: &sqlx::Error) -> Exit {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_) => Exit::Unavailable,
        _ => Exit::Unexpected,
    }
}

/// The exit code for an error, from the first error in its chain that has a known kind.
fn for_plan(err: &PlanError) -> Exit {
    match err {
        PlanError::NoSnapshot { .. } | PlanError::NotFound(_) => Exit::Invalid,
        PlanError::Db(e) => for_sqlx(e),
    }
}

pub fn code_for(err: &anyhow::Error) -> Exit {
    for cause in err.chain() {
        if cause.is::<Invalid>() || cause.is::<UsageError>() {
            return Exit::Invalid;
        }
        if let Some(e) = cause.downcast_ref::<ApplyError>() {
            return match e {
                ApplyError::Refused { .. } => Exit::LimitExceeded,
                ApplyError::FutureClock { .. }
                | ApplyError::Pruned { .. }
                | ApplyError::StaleSnapshot { .. } => Exit::Invalid,
                ApplyError::Storage { source, .. } => for_storage(source),
                ApplyError::Interrupted { .. } => Exit::Unavailable,
                ApplyError::Db(e) => for_sqlx(e),
            };
        }
        if let Some(e) = cause.downcast_ref::<PlanError>() {
            return for_plan(e);
        }
        if let Some(e) = cause.downcast_ref::<RestoreError>() {
            return match e {
                RestoreError::Plan(e) => for_plan(e),
                RestoreError::OutsideTarget { .. }
                | RestoreError::Unversioned { .. }
                | RestoreError::NothingDone(_) => Exit::Invalid,
                RestoreError::Db(e) => for_sqlx(e),
            };
        }
        if let Some(e) = cause.downcast_ref::<ScanError>() {
            return match e {
                // Listing a bucket that does not exist: the policy names the wrong one.
                ScanError::Storage(e) if e.kind == ErrorKind::NotFound => Exit::Invalid,
                ScanError::Storage(e) => for_storage(e),
                ScanError::Db(e) => for_sqlx(e),
                ScanError::UnsupportedKey { .. } => Exit::Unexpected,
                ScanError::Busy(_) => Exit::Unavailable,
                // A missing, corrupt or unsupported report: rerunning will not help until a
                // good report is delivered.
                ScanError::Report(_) => Exit::Invalid,
            };
        }
        if let Some(e) = cause.downcast_ref::<DbError>() {
            return match e {
                DbError::InvalidUrl(_) => Exit::Invalid,
                DbError::Unreachable(_) => Exit::Unavailable,
                DbError::Migrate(_) => Exit::Unexpected,
            };
        }
        if let Some(e) = cause.downcast_ref::<StorageError>() {
            return for_storage(e);
        }
        if let Some(e) = cause.downcast_ref::<sqlx::Error>() {
            return for_sqlx(e);
        }
    }
    Exit::Unexpected
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_kind_of_error() {
        let throttled = StorageError::new(ErrorKind::Throttled, "DeleteObjects", "SlowDown");
        let wrapped = anyhow::Error::new(ScanError::Storage(throttled)).context("scanning s3://b");
        assert_eq!(code_for(&wrapped), Exit::Unavailable);
        let refused = ApplyError::Refused {
            plan_id: 1,
            reason: "maxObjects".into(),
        };
        assert_eq!(code_for(&anyhow::Error::new(refused)), Exit::LimitExceeded);
        assert_eq!(
            code_for(&anyhow::Error::new(UsageError("x".into()))),
            Exit::Invalid
        );
        let denied = StorageError::new(ErrorKind::AccessDenied, "HeadObject", "AccessDenied");
        assert_eq!(code_for(&anyhow::Error::new(denied)), Exit::Unexpected);
        let missing = StorageError::new(ErrorKind::NotFound, "ListObjectVersions", "NoSuchBucket");
        let scan = anyhow::Error::new(ScanError::Storage(missing.clone()));
        assert_eq!(code_for(&scan), Exit::Invalid);
        assert_eq!(code_for(&anyhow::Error::new(missing)), Exit::Unexpected);
        assert_eq!(code_for(&anyhow::anyhow!("boom")), Exit::Unexpected);
    }
}
