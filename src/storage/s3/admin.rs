//! Bucket creation and uploads. shelflife's lifecycle work never needs them; the demo seeder and
//! the integration tests do, and they belong with the rest of the SDK code.

use super::{map_err, send_with_md5, url, S3Store};
use crate::storage::{ContentHeaders, LockMode, StorageError, Tags};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, ObjectLockLegalHoldStatus, ObjectLockMode, StorageClass,
    VersioningConfiguration,
};
use chrono::{DateTime, Utc};

/// How a new bucket is set up.
#[derive(Debug, Clone, Copy, Default)]
pub struct BucketOptions {
    pub versioned: bool,
    /// Object Lock (implies versioning).
    pub object_lock: bool,
}

impl BucketOptions {
    /// A bucket that keeps every version.
    pub const VERSIONED: BucketOptions = BucketOptions {
        versioned: true,
        object_lock: false,
    };
    /// A versioned bucket with Object Lock enabled.
    pub const OBJECT_LOCK: BucketOptions = BucketOptions {
        versioned: true,
        object_lock: true,
    };
}

/// Optional attributes of an upload.
#[derive(Debug, Clone, Default)]
pub struct PutOptions {
    pub storage_class: Option<String>,
    pub tags: Tags,
    pub metadata: Tags,
    pub retention: Option<(LockMode, DateTime<Utc>)>,
    pub legal_hold: bool,
    pub content: ContentHeaders,
}

impl S3Store {
    /// Creates a bucket; an existing bucket owned by us is not an error.
    pub async fn create_bucket(
        &self,
        bucket: &str,
        options: BucketOptions,
    ) -> Result<(), StorageError> {
        let created = self
            .client
            .create_bucket()
            .bucket(bucket)
            .object_lock_enabled_for_bucket(options.object_lock)
            .send()
            .await;
        if let Err(e) = created {
            let owned = e
                .as_service_error()
                .is_some_and(|s| s.is_bucket_already_owned_by_you());
            if !owned {
                return Err(map_err(format!("CreateBucket s3://{bucket}"), e));
            }
        }
        if options.versioned && !options.object_lock {
            let config = VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build();
            self.client
                .put_bucket_versioning()
                .bucket(bucket)
                .versioning_configuration(config)
                .send()
                .await
                .map_err(|e| map_err(format!("PutBucketVersioning s3://{bucket}"), e))?;
        }
        Ok(())
    }

    /// Uploads one object and returns its version id (when the bucket is versioned).
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        options: &PutOptions,
    ) -> Result<Option<String>, StorageError> {
        let mut request = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body))
            .set_storage_class(options.storage_class.as_deref().map(StorageClass::from))
            .set_tagging(super::transfer::tagging_header(&options.tags))
            .set_content_type(options.content.content_type.clone())
            .set_cache_control(options.content.cache_control.clone())
            .set_content_disposition(options.content.content_disposition.clone())
            .set_content_encoding(options.content.content_encoding.clone())
            .set_content_language(options.content.content_language.clone());
        for (k, v) in &options.metadata {
            request = request.metadata(k, v);
        }
        if let Some((mode, until)) = options.retention {
            let mode = match mode {
                LockMode::Compliance => ObjectLockMode::Compliance,
                LockMode::Governance => ObjectLockMode::Governance,
            };
            request = request
                .object_lock_mode(mode)
                .object_lock_retain_until_date(aws_smithy_types::DateTime::from_secs(
                    until.timestamp(),
                ));
        }
        if options.legal_hold {
            request = request.object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On);
        }
        let locked = options.retention.is_some() || options.legal_hold;
        let out = if locked {
            send_with_md5!(self, request)
        } else {
            request.send().await
        }
        .map_err(|e| map_err(format!("PutObject {}", url(bucket, key)), e))?;
        Ok(out.version_id().map(str::to_string))
    }
}
