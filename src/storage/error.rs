//! Storage errors by meaning, so callers branch on what happened rather than on SDK types.

/// What went wrong, in terms callers act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    AccessDenied,
    /// The version is protected by Object Lock retention or a legal hold.
    Locked,
    Precondition,
    /// The server kept answering SlowDown / 503 beyond the retry budget.
    Throttled,
    /// No answer: connection refused, DNS failure, timeout.
    Unreachable,
    /// The server does not implement the operation.
    NotImplemented,
    /// The request was malformed or refused as invalid.
    Invalid,
    Other,
}

/// A failed storage operation.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct StorageError {
    pub kind: ErrorKind,
    /// The operation and its subject, e.g. `ListObjectVersions s3://bucket/prefix`.
    pub operation: String,
    /// The server's error code and message, or the transport's description.
    pub message: String,
}

impl StorageError {
    pub fn new(kind: ErrorKind, operation: impl Into<String>, message: impl Into<String>) -> Self {
        StorageError {
            kind,
            operation: operation.into(),
            message: message.into(),
        }
    }

    /// Whether a later attempt (a rerun) may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::Throttled | ErrorKind::Unreachable)
    }
}
