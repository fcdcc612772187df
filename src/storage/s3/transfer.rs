//! Copies too large for one CopyObject (UploadPartCopy) and uploads of bodies streamed from
//! another store, both with bounded memory: at most one part is held at a time.

use super::{map_err, url, S3Store};
use crate::storage::*;
use aws_sdk_s3::primitives::ByteStream as SdkBody;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ObjectLockMode, StorageClass};
use base64::Engine;
use futures::StreamExt;
use md5::{Digest, Md5};

/// What a new object gets besides its body.
pub(super) struct NewObject<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub storage_class: Option<&'a str>,
    pub metadata: &'a Tags,
    pub content: &'a ContentHeaders,
    pub tags: &'a Tags,
    pub retention: Option<&'a Retention>,
}

/// Sets what a new object gets besides its body: the SDK's PutObject and CreateMultipartUpload
/// builders have these setters in common, but no trait for them.
macro_rules! with_attributes {
    ($request:expr, $new:expr) => {{
        let new: &NewObject<'_> = $new;
        let mut request = $request
            .set_storage_class(new.storage_class.map(StorageClass::from))
            .set_tagging(tagging_header(new.tags))
            .set_content_type(new.content.content_type.clone())
            .set_cache_control(new.content.cache_control.clone())
            .set_content_disposition(new.content.content_disposition.clone())
            .set_content_encoding(new.content.content_encoding.clone())
            .set_content_language(new.content.content_language.clone());
        for (k, v) in new.metadata {
            request = request.metadata(k, v);
        }
        if let Some(r) = new.retention {
            request = request
                .object_lock_mode(lock_mode(r.mode))
                .object_lock_retain_until_date(smithy_time(r.retain_until));
        }
        request
    }};
}

/// `k=v&k2=v2`, as the `x-amz-tagging` header wants it.
pub(super) fn tagging_header(tags: &Tags) -> Option<String> {
    let pairs: Vec<String> = tags
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                super::ops::encode_key(k),
                super::ops::encode_key(v)
            )
        })
        .collect();
    (!pairs.is_empty()).then(|| pairs.join("&"))
}

pub(super) fn lock_mode(mode: LockMode) -> ObjectLockMode {
    match mode {
        LockMode::Compliance => ObjectLockMode::Compliance,
        LockMode::Governance => ObjectLockMode::Governance,
    }
}

pub(super) fn smithy_time(t: chrono::DateTime<chrono::Utc>) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs(t.timestamp())
}

fn md5_base64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(data))
}

/// Says `Content-Length: 0` on a request without a body: the SDK sends UploadPartCopy with none,
/// and RGW refuses that (`MissingContentLength`).
fn with_empty_body(req: &mut aws_smithy_runtime_api::client::orchestrator::HttpRequest) {
    req.headers_mut().insert("content-length", "0");
}

impl S3Store {
    /// Copies a large source part by part into a new multipart upload that carries the source's
    /// metadata, content headers and tags. A failed copy aborts the upload.
    pub(super) async fn copy_in_parts(&self, req: &CopyRequest) -> Result<Copied, StorageError> {
        let version = req.source_version_id.as_deref();
        let head = self
            .head(&req.source_bucket, &req.source_key, version)
            .await?;
        let tags = crate::storage::ObjectStore::get_tags(
            self,
            &req.source_bucket,
            &req.source_key,
            version,
        )
        .await?;
        let new = NewObject {
            bucket: &req.dest_bucket,
            key: &req.dest_key,
            storage_class: req.storage_class.as_deref(),
            metadata: &head.metadata,
            content: &head.content,
            tags: &tags,
            retention: req.retention.as_ref(),
        };
        let upload_id = self.start_upload(&new).await?;
        let source = super::ops::copy_source(req);
        let part_size = self.part_size_for(req.source_size);
        let mut parts = Vec::new();
        let mut start = 0i64;
        while start < req.source_size {
            let end = (start + part_size).min(req.source_size) - 1;
            let number = parts.len() as i32 + 1;
            let copied = self
                .client
                .upload_part_copy()
                .bucket(new.bucket)
                .key(new.key)
                .upload_id(&upload_id)
                .part_number(number)
                .copy_source(&source)
                .set_copy_source_if_match(req.source_if_match.clone())
                .copy_source_range(format!("bytes={start}-{end}"))
                .customize()
                .mutate_request(with_empty_body)
                .send()
                .await
                .map_err(|e| map_err(format!("UploadPartCopy {}", url(new.bucket, new.key)), e));
            let etag = match copied {
                Ok(out) => out
                    .copy_part_result()
                    .and_then(|r| r.e_tag())
                    .map(str::to_string),
                Err(err) => return Err(self.abort(&new, &upload_id, err).await),
            };
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(etag)
                    .build(),
            );
            start = end + 1;
        }
        self.complete(&new, &upload_id, parts).await
    }

    /// Writes `body` as one PutObject when it fits in a part, otherwise as a multipart upload.
    pub(super) async fn upload_stream(
        &self,
        upload: &Upload,
        body: ByteStream,
    ) -> Result<Copied, StorageError> {
        let new = NewObject {
            bucket: &upload.bucket,
            key: &upload.key,
            storage_class: upload.storage_class.as_deref(),
            metadata: &upload.metadata,
            content: &upload.content,
            tags: &upload.tags,
            retention: upload.retention.as_ref(),
        };
        let mut reader = Parts {
            body,
            carry: None,
            size: self.part_size_for(upload.size) as usize,
        };
        let (mut part, mut ended) = reader.next().await?;
        if ended {
            return self.put_whole(&new, part).await;
        }
        let upload_id = self.start_upload(&new).await?;
        let mut parts = Vec::new();
        while !part.is_empty() {
            let number = parts.len() as i32 + 1;
            match self.put_part(&new, &upload_id, number, part).await {
                Ok(done) => parts.push(done),
                Err(err) => return Err(self.abort(&new, &upload_id, err).await),
            }
            if ended {
                break;
            }
            (part, ended) = match reader.next().await {
                Ok(next) => next,
                Err(err) => return Err(self.abort(&new, &upload_id, err).await),
            };
        }
        self.complete(&new, &upload_id, parts).await
    }

    /// Parts of the configured size, larger when 10,000 of them would not cover `size`.
    fn part_size_for(&self, size: i64) -> i64 {
        let needed = (size + 9_999) / 10_000;
        self.part_size.max(needed).max(1)
    }

    async fn put_whole(&self, new: &NewObject<'_>, data: Vec<u8>) -> Result<Copied, StorageError> {
        let request = self
            .client
            .put_object()
            .bucket(new.bucket)
            .key(new.key)
            .content_md5(md5_base64(&data))
            .body(SdkBody::from(data));
        let request = with_attributes!(request, new);
        let out = request
            .send()
            .await
            .map_err(|e| map_err(format!("PutObject {}", url(new.bucket, new.key)), e))?;
        Ok(Copied {
            version_id: out.version_id().map(str::to_string),
            etag: out.e_tag().map(str::to_string),
        })
    }

    async fn start_upload(&self, new: &NewObject<'_>) -> Result<String, StorageError> {
        let request = self
            .client
            .create_multipart_upload()
            .bucket(new.bucket)
            .key(new.key);
        let request = with_attributes!(request, new);
        let operation = format!("CreateMultipartUpload {}", url(new.bucket, new.key));
        let out = request
            .send()
            .await
            .map_err(|e| map_err(operation.clone(), e))?;
        out.upload_id()
            .map(str::to_string)
            .ok_or_else(|| StorageError::new(ErrorKind::Other, operation, "no upload id"))
    }

    async fn put_part(
        &self,
        new: &NewObject<'_>,
        upload_id: &str,
        number: i32,
        data: Vec<u8>,
    ) -> Result<CompletedPart, StorageError> {
        let out = self
            .client
            .upload_part()
            .bucket(new.bucket)
            .key(new.key)
            .upload_id(upload_id)
            .part_number(number)
            .content_md5(md5_base64(&data))
            .body(SdkBody::from(data))
            .send()
            .await
            .map_err(|e| map_err(format!("UploadPart {}", url(new.bucket, new.key)), e))?;
        Ok(CompletedPart::builder()
            .part_number(number)
            .set_e_tag(out.e_tag().map(str::to_string))
            .build())
    }

    async fn complete(
        &self,
        new: &NewObject<'_>,
        upload_id: &str,
        parts: Vec<CompletedPart>,
    ) -> Result<Copied, StorageError> {
        let answer = self
            .client
            .complete_multipart_upload()
            .bucket(new.bucket)
            .key(new.key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await;
        match answer {
            Ok(out) => {
                let copied = Copied {
                    version_id: out.version_id().map(str::to_string),
                    etag: out.e_tag().map(str::to_string),
                };
                // Ceph's RGW 16.2 drops the tags given at CreateMultipartUpload: set them on the
                // finished version, where every server keeps them.
                if !new.tags.is_empty() {
                    let version = addressable(copied.version_id.as_deref());
                    self.put_tags(new.bucket, new.key, version, new.tags)
                        .await?;
                }
                Ok(copied)
            }
            Err(e) => {
                let operation = format!("CompleteMultipartUpload {}", url(new.bucket, new.key));
                let err = map_err(operation, e);
                Err(self.abort(new, upload_id, err).await)
            }
        }
    }

    /// Aborts an upload after `err` (so no parts linger and cost money) and returns `err`.
    async fn abort(&self, new: &NewObject<'_>, upload_id: &str, err: StorageError) -> StorageError {
        let aborted = self
            .client
            .abort_multipart_upload()
            .bucket(new.bucket)
            .key(new.key)
            .upload_id(upload_id)
            .send()
            .await;
        if let Err(e) = aborted {
            tracing::warn!(key = new.key, error = %e, "could not abort a failed multipart upload");
        }
        err
    }
}

/// Cuts a body into parts of a fixed size, holding at most one part.
struct Parts {
    body: ByteStream,
    /// The rest of a chunk that crossed the previous part's end.
    carry: Option<bytes::Bytes>,
    size: usize,
}

impl Parts {
    /// The next part (shorter only at the end) and whether the body ended with it.
    async fn next(&mut self) -> Result<(Vec<u8>, bool), StorageError> {
        let mut part = Vec::with_capacity(self.size.min(1 << 24));
        if let Some(rest) = self.carry.take() {
            part.extend_from_slice(&rest);
        }
        while part.len() < self.size {
            match self.body.next().await {
                None => return Ok((part, true)),
                Some(chunk) => part.extend_from_slice(&chunk?),
            }
        }
        if part.len() > self.size {
            self.carry = Some(bytes::Bytes::from(part.split_off(self.size)));
        }
        Ok((part, false))
    }
}
