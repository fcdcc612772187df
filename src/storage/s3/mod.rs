//! The S3 adapter: the only place that knows aws-sdk-s3. Provider quirks (path style, checksum
//! headers, Content-MD5) are settled here, once.

mod admin;
mod delete;
mod list;
mod ops;
mod stats;
mod transfer;

pub use admin::{BucketOptions, PutOptions};
pub use stats::{request_stats, RequestStats};

use super::{ErrorKind, RetryConfig, StorageError};
use crate::policy::{ChecksumMode, ConditionalDelete, Credentials, SecretSource, Storage};
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime::client::retries::{RetryPartition, TokenBucket};
use aws_smithy_types::timeout::TimeoutConfig;
use base64::Engine;
use md5::{Digest, Md5};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// An S3-compatible object store reached through aws-sdk-s3.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    /// Whether DeleteObjects and Object Lock calls need a Content-MD5 header: they require an
    /// integrity header, and without the SDK's CRC checksums that is Content-MD5.
    content_md5: bool,
    /// How this server enforces delete conditions (`Storage.conditional_delete`).
    conditional_delete: ConditionalDelete,
    /// Set once the server answered NotImplemented to ListObjectVersions.
    no_versions: Arc<AtomicBool>,
    /// Sources larger than this are copied part by part (CopyObject's limit is 5 GiB).
    copy_limit: i64,
    /// Part size of multipart copies and uploads (grown when 10,000 parts would not do).
    part_size: i64,
}

impl S3Store {
    /// Builds a client from a Storage document: static credentials when it names them,
    /// otherwise the SDK's default chain (environment, profiles, web identity, instance
    /// metadata). Fails, as `Invalid`, only when a named secret cannot be read.
    pub async fn connect(storage: &Storage, retry: &RetryConfig) -> Result<S3Store, StorageError> {
        let retry_config = aws_sdk_s3::config::retry::RetryConfig::standard()
            .with_max_attempts(retry.max_attempts)
            .with_initial_backoff(retry.initial_backoff)
            .with_max_backoff(retry.max_backoff);
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .operation_attempt_timeout(retry.attempt_timeout)
            .operation_timeout(retry.total_budget)
            .build();
        // `app/shelflife` in the user agent: access-log ingest leaves our own reads out.
        let app = aws_config::AppName::new("shelflife").expect("a valid app name");
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .app_name(app)
            .region(Region::new(storage.region.clone()))
            .retry_config(retry_config)
            .timeout_config(timeouts);
        if let Some(credentials) = static_credentials(storage)? {
            loader = loader.credentials_provider(credentials);
        }
        let shared = loader.load().await;
        let mut config =
            aws_sdk_s3::config::Builder::from(&shared).force_path_style(storage.path_style);
        if let Some(endpoint) = &storage.endpoint {
            config = config.endpoint_url(endpoint);
        }
        // Retries are bounded by attempts and the total budget alone: the SDK's shared retry
        // quota would otherwise stop retrying a long apply after a burst of throttling.
        config = config.retry_partition(
            RetryPartition::custom(format!("shelflife-{}", storage.name))
                .token_bucket(TokenBucket::unlimited())
                .build(),
        );
        config = config.interceptor(stats::Counting);
        let minimal = storage.checksum == ChecksumMode::WhenRequired;
        if minimal {
            // Most S3-compatible servers reject or mishandle the SDK's default CRC checksums.
            config = config
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        }
        Ok(S3Store {
            client: aws_sdk_s3::Client::from_conf(config.build()),
            content_md5: minimal,
            conditional_delete: storage.conditional_delete,
            no_versions: Arc::new(AtomicBool::new(false)),
            copy_limit: 5 << 30,
            part_size: 64 << 20,
        })
    }

    /// Copies sources over `copy_limit` bytes part by part, in parts of `part_size` bytes
    /// (S3 needs at least 5 MiB per part but the last); also the part size of uploads.
    pub fn with_part_sizes(mut self, copy_limit: i64, part_size: i64) -> S3Store {
        self.copy_limit = copy_limit;
        self.part_size = part_size;
        self
    }
}

/// The Storage's static credentials, read now from their environment variables or files.
fn static_credentials(
    storage: &Storage,
) -> Result<Option<aws_sdk_s3::config::Credentials>, StorageError> {
    let Credentials::Static {
        access_key_id,
        secret_access_key,
        session_token,
    } = &storage.credentials
    else {
        return Ok(None);
    };
    let read = |source: &SecretSource| {
        source.read().map_err(|m| {
            StorageError::new(
                ErrorKind::Invalid,
                format!("credentials of storage {}", storage.name),
                m,
            )
        })
    };
    let token = session_token.as_ref().map(read).transpose()?;
    Ok(Some(aws_sdk_s3::config::Credentials::new(
        read(access_key_id)?,
        read(secret_access_key)?,
        token,
        None,
        "shelflife-storage-document",
    )))
}

/// Sends a fluent request, adding `Content-MD5` when the provider needs it (DeleteObjects,
/// Object Lock calls and uploads with Object Lock headers).
macro_rules! send_with_md5 {
    ($store:expr, $request:expr) => {
        if $store.content_md5 {
            $request
                .customize()
                .mutate_request($crate::storage::s3::add_content_md5)
                .send()
                .await
        } else {
            $request.send().await
        }
    };
}
pub(crate) use send_with_md5;

/// Adds `Content-MD5` of the request body, which several S3-compatible servers require on
/// DeleteObjects and Object Lock calls.
fn add_content_md5(req: &mut aws_smithy_runtime_api::client::orchestrator::HttpRequest) {
    if let Some(body) = req.body().bytes() {
        let digest = base64::engine::general_purpose::STANDARD.encode(Md5::digest(body));
        req.headers_mut().insert("content-md5", digest);
    }
}

/// Maps an SDK error onto the storage error kinds, once for every operation.
fn map_err<E>(
    operation: String,
    err: SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (status, code, message) = match &err {
        SdkError::ServiceError(ctx) => (
            Some(ctx.raw().status().as_u16()),
            ctx.err().code().map(str::to_string),
            ctx.err().message().map(str::to_string),
        ),
        SdkError::ResponseError(ctx) => (Some(ctx.raw().status().as_u16()), None, None),
        _ => (None, None, None),
    };
    let kind = match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => ErrorKind::Unreachable,
        SdkError::ConstructionFailure(_) => ErrorKind::Invalid,
        _ => classify(status, code.as_deref(), message.as_deref()),
    };
    let detail = match (code, message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code,
        (None, Some(message)) => message,
        (None, None) => DisplayErrorContext(&err).to_string(),
    };
    StorageError::new(kind, operation, detail)
}

/// The error kind of a server answer, from its HTTP status and S3 error code.
fn classify(status: Option<u16>, code: Option<&str>, message: Option<&str>) -> ErrorKind {
    match (status, code) {
        (_, Some("SlowDown" | "Throttling" | "ThrottlingException" | "RequestLimitExceeded"))
        | (Some(503), _) => ErrorKind::Throttled,
        (_, Some("NoSuchKey" | "NoSuchBucket" | "NoSuchVersion" | "NotFound")) | (Some(404), _) => {
            ErrorKind::NotFound
        }
        (_, Some("NotImplemented")) | (Some(501), _) => ErrorKind::NotImplemented,
        (_, Some("PreconditionFailed")) | (Some(412), _) => ErrorKind::Precondition,
        (_, Some("ObjectLocked" | "InvalidRetentionPeriod")) => ErrorKind::Locked,
        (_, Some("AccessDenied")) | (Some(403), _) if is_lock_message(message) => ErrorKind::Locked,
        (_, Some("AccessDenied")) | (Some(403), _) => ErrorKind::AccessDenied,
        (_, Some("InternalError" | "ServiceUnavailable")) | (Some(500 | 502 | 504), _) => {
            ErrorKind::Unreachable
        }
        (Some(400), _) => ErrorKind::Invalid,
        _ => ErrorKind::Other,
    }
}

/// S3 answers AccessDenied when Object Lock protects a version; the message says which.
fn is_lock_message(message: Option<&str>) -> bool {
    message.is_some_and(|m| {
        let m = m.to_ascii_lowercase();
        m.contains("object lock")
            || m.contains("retention")
            || m.contains("legal hold")
            || m.contains("worm")
    })
}

/// `s3://bucket/key`, for operation names in errors.
fn url(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}
