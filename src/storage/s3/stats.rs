//! Process-wide request counters for metrics: operations, attempts (retries are the
//! difference) and throttling answers, counted by an SDK interceptor on every client. The
//! interceptor also notes each throttling answer against the task it was made for
//! (`storage::count_throttles`), so pacing learns of throttles the SDK retried.

use aws_sdk_s3::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextRef,
    BeforeTransmitInterceptorContextRef,
};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use std::sync::atomic::{AtomicU64, Ordering};

static OPERATIONS: AtomicU64 = AtomicU64::new(0);
static ATTEMPTS: AtomicU64 = AtomicU64::new(0);
static THROTTLES: AtomicU64 = AtomicU64::new(0);

/// Counts since the process started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestStats {
    pub operations: u64,
    /// Attempts beyond the first of each operation.
    pub retries: u64,
    /// Answers 503 (SlowDown) and 429.
    pub throttles: u64,
}

pub fn request_stats() -> RequestStats {
    let operations = OPERATIONS.load(Ordering::Relaxed);
    RequestStats {
        operations,
        retries: ATTEMPTS.load(Ordering::Relaxed).saturating_sub(operations),
        throttles: THROTTLES.load(Ordering::Relaxed),
    }
}

#[derive(Debug)]
pub(super) struct Counting;

impl Intercept for Counting {
    fn name(&self) -> &'static str {
        "shelflife-request-stats"
    }

    fn read_before_execution(
        &self,
        _: &BeforeSerializationInterceptorContextRef<'_>,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        OPERATIONS.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        ATTEMPTS.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if matches!(context.response().status().as_u16(), 429 | 503) {
            THROTTLES.fetch_add(1, Ordering::Relaxed);
            crate::storage::note_throttle();
        }
        Ok(())
    }
}
