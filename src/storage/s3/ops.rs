//! The `ObjectStore` operations over aws-sdk-s3.

use super::list::timestamp;
use super::transfer::{lock_mode, smithy_time};
use super::{map_err, send_with_md5, url, S3Store};
use crate::policy::ConditionalDelete;
use crate::storage::*;
use async_trait::async_trait;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockMode, ObjectLockRetention,
    ObjectLockRetentionMode, StorageClass, Tag, Tagging,
};
use futures::stream::{BoxStream, StreamExt};

#[async_trait]
impl ObjectStore for S3Store {
    fn list<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
        split: bool,
        after: Option<ListStart>,
    ) -> BoxStream<'a, Result<LevelPage, StorageError>> {
        self.stream_listing(bucket, prefix, split.then_some("/"), after)
    }

    fn list_current<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
    ) -> BoxStream<'a, Result<VersionPage, StorageError>> {
        self.stream_current(bucket, prefix)
    }

    async fn object_lock_enabled(&self, bucket: &str) -> Result<bool, StorageError> {
        let answer = self
            .client
            .get_object_lock_configuration()
            .bucket(bucket)
            .send()
            .await;
        match answer {
            Ok(out) => Ok(out
                .object_lock_configuration()
                .and_then(|c| c.object_lock_enabled())
                .is_some_and(|e| e.as_str() == "Enabled")),
            Err(e) if e.code() == Some("ObjectLockConfigurationNotFoundError") => Ok(false),
            Err(e) => {
                let err = map_err(format!("GetObjectLockConfiguration s3://{bucket}"), e);
                match err.kind {
                    ErrorKind::NotImplemented => Ok(false),
                    _ => Err(err),
                }
            }
        }
    }

    async fn get(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<ByteStream, StorageError> {
        let operation = format!("GetObject {}", url(bucket, key));
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_string))
            .send()
            .await
            .map_err(|e| map_err(operation.clone(), e))?;
        let chunks = futures::stream::try_unfold(out.body, move |mut body| {
            let operation = operation.clone();
            async move {
                match body.next().await {
                    None => Ok(None),
                    Some(Ok(chunk)) => Ok(Some((chunk, body))),
                    Some(Err(e)) => Err(StorageError::new(
                        ErrorKind::Unreachable,
                        operation,
                        format!("body interrupted: {e}"),
                    )),
                }
            }
        });
        Ok(chunks.boxed())
    }

    async fn head(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<ObjectHead, StorageError> {
        let out = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_string))
            .send()
            .await
            .map_err(|e| map_err(format!("HeadObject {}", url(bucket, key)), e))?;
        let retention = match (out.object_lock_mode(), out.object_lock_retain_until_date()) {
            (Some(mode), Some(until)) => Some(Retention {
                mode: match mode {
                    ObjectLockMode::Compliance => LockMode::Compliance,
                    _ => LockMode::Governance,
                },
                retain_until: timestamp(Some(until)),
            }),
            _ => None,
        };
        Ok(ObjectHead {
            size: out.content_length().unwrap_or(0),
            etag: out.e_tag().map(str::to_string),
            version_id: out.version_id().map(str::to_string),
            last_modified: out.last_modified().map(|t| timestamp(Some(t))),
            storage_class: out.storage_class().map(|c| c.as_str().to_string()),
            retention,
            legal_hold: out.object_lock_legal_hold_status() == Some(&ObjectLockLegalHoldStatus::On),
            metadata: out
                .metadata()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            content: ContentHeaders {
                content_type: out.content_type().map(str::to_string),
                cache_control: out.cache_control().map(str::to_string),
                content_disposition: out.content_disposition().map(str::to_string),
                content_encoding: out.content_encoding().map(str::to_string),
                content_language: out.content_language().map(str::to_string),
            },
            thaw: out.restore().map(Thaw::parse),
        })
    }

    async fn thaw(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        days: u32,
        tier: ThawTier,
    ) -> Result<(), StorageError> {
        use aws_sdk_s3::types::{GlacierJobParameters, RestoreRequest, Tier};
        let job = GlacierJobParameters::builder()
            .tier(Tier::from(tier.as_str()))
            .build()
            .map_err(|e| StorageError::new(ErrorKind::Invalid, "RestoreObject", e.to_string()))?;
        let request = RestoreRequest::builder()
            .days(i32::try_from(days).unwrap_or(i32::MAX))
            .glacier_job_parameters(job)
            .build();
        let answer = self
            .client
            .restore_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_string))
            .restore_request(request)
            .send()
            .await;
        match answer {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("RestoreAlreadyInProgress") => Ok(()),
            Err(e) => Err(map_err(format!("RestoreObject {}", url(bucket, key)), e)),
        }
    }

    async fn delete_batch(
        &self,
        bucket: &str,
        targets: &[DeleteTarget],
        bypass_governance: bool,
    ) -> Result<Vec<Result<Deleted, StorageError>>, StorageError> {
        self.delete_targets(bucket, targets, bypass_governance)
            .await
    }

    fn enforces_delete_conditions(&self) -> bool {
        self.conditional_delete != ConditionalDelete::None
    }

    async fn copy(&self, req: &CopyRequest) -> Result<Copied, StorageError> {
        if req.source_size > self.copy_limit {
            return self.copy_in_parts(req).await;
        }
        // Metadata, content headers and tags are copied (the directives' default).
        let request = self
            .client
            .copy_object()
            .bucket(&req.dest_bucket)
            .key(&req.dest_key)
            .copy_source(copy_source(req))
            .set_copy_source_if_match(req.source_if_match.clone())
            .set_storage_class(req.storage_class.as_deref().map(StorageClass::from))
            .set_object_lock_mode(req.retention.map(|r| lock_mode(r.mode)))
            .set_object_lock_retain_until_date(req.retention.map(|r| smithy_time(r.retain_until)));
        // Object Lock headers need an integrity header, even on a copy.
        let out = if req.retention.is_some() {
            send_with_md5!(self, request)
        } else {
            request.send().await
        }
        .map_err(|e| {
            map_err(
                format!("CopyObject {}", url(&req.dest_bucket, &req.dest_key)),
                e,
            )
        })?;
        Ok(Copied {
            version_id: out.version_id().map(str::to_string),
            etag: out
                .copy_object_result()
                .and_then(|r| r.e_tag())
                .map(str::to_string),
        })
    }

    async fn upload(&self, upload: &Upload, body: ByteStream) -> Result<Copied, StorageError> {
        self.upload_stream(upload, body).await
    }

    async fn put_retention(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        retention: &Retention,
        bypass_governance: bool,
    ) -> Result<(), StorageError> {
        let mode = match retention.mode {
            LockMode::Compliance => ObjectLockRetentionMode::Compliance,
            LockMode::Governance => ObjectLockRetentionMode::Governance,
        };
        let until = aws_smithy_types::DateTime::from_secs(retention.retain_until.timestamp());
        let request = self
            .client
            .put_object_retention()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_string))
            .set_bypass_governance_retention(bypass_governance.then_some(true))
            .retention(
                ObjectLockRetention::builder()
                    .mode(mode)
                    .retain_until_date(until)
                    .build(),
            );
        let result = send_with_md5!(self, request);
        result.map_err(|e| map_err(format!("PutObjectRetention {}", url(bucket, key)), e))?;
        Ok(())
    }

    async fn put_legal_hold(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        on: bool,
    ) -> Result<(), StorageError> {
        let status = if on {
            ObjectLockLegalHoldStatus::On
        } else {
            ObjectLockLegalHoldStatus::Off
        };
        let request = self
            .client
            .put_object_legal_hold()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_string))
            .legal_hold(ObjectLockLegalHold::builder().status(status).build());
        let result = send_with_md5!(self, request);
        result.map_err(|e| map_err(format!("PutObjectLegalHold {}", url(bucket, key)), e))?;
        Ok(())
    }

    async fn get_tags(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Tags, StorageError> {
        let out = self
            .client
            .get_object_tagging()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_string))
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            // Ceph's RGW 16.2 answers 200 with no body for an object uploaded in parts with
            // tags (it kept none; `complete` sets them again).
            Err(e) if empty_answer(&e) => return Ok(Tags::new()),
            Err(e) => return Err(map_err(format!("GetObjectTagging {}", url(bucket, key)), e)),
        };
        Ok(out
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect())
    }

    async fn put_tags(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        tags: &Tags,
    ) -> Result<(), StorageError> {
        let operation = format!("PutObjectTagging {}", url(bucket, key));
        let tag_set = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StorageError::new(ErrorKind::Invalid, &operation, e.to_string()))?;
        let tagging = Tagging::builder()
            .set_tag_set(Some(tag_set))
            .build()
            .map_err(|e| StorageError::new(ErrorKind::Invalid, &operation, e.to_string()))?;
        self.client
            .put_object_tagging()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_string))
            .tagging(tagging)
            .send()
            .await
            .map_err(|e| map_err(operation.clone(), e))?;
        Ok(())
    }
}

/// `x-amz-copy-source`: bucket, encoded key and version.
pub(super) fn copy_source(req: &CopyRequest) -> String {
    let mut source = format!("{}/{}", req.source_bucket, encode_key(&req.source_key));
    if let Some(v) = &req.source_version_id {
        source.push_str(&format!("?versionId={}", encode_key(v)));
    }
    source
}

/// Percent-encodes a key for `x-amz-copy-source`, keeping `/` as the separator.
pub(super) fn encode_key(key: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    utf8_percent_encode(key, KEEP).to_string()
}

/// Whether a failed request was a 200 answer with an empty body (nothing to parse).
fn empty_answer<E>(
    err: &aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> bool {
    err.raw_response().is_some_and(|r| {
        r.status().as_u16() == 200 && r.body().bytes().is_some_and(<[u8]>::is_empty)
    })
}
