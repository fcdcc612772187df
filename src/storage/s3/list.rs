//! Listing as a stream of pages: ListObjectVersions, or ListObjectsV2 for stores that answer
//! NotImplemented to it (unversioned stores).

use super::{map_err, url, S3Store};
use crate::storage::{ErrorKind, ObjectVersion, StorageError, VersionPage};
use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, StreamExt};
use std::sync::atomic::Ordering;

/// Where a listing stands between pages.
enum Cursor {
    Versions {
        key: Option<String>,
        version: Option<String>,
    },
    Objects {
        token: Option<String>,
    },
    Done,
}

impl S3Store {
    pub(super) fn stream_versions<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
    ) -> BoxStream<'a, Result<VersionPage, StorageError>> {
        let start = if self.no_versions.load(Ordering::Relaxed) {
            Cursor::Objects { token: None }
        } else {
            Cursor::Versions {
                key: None,
                version: None,
            }
        };
        stream::try_unfold(start, move |cursor| async move {
            let (page, next) = match cursor {
                Cursor::Done => return Ok(None),
                Cursor::Versions { key, version } => match self.versions_page(bucket, prefix, key, version).await {
                    Err(e) if e.kind == ErrorKind::NotImplemented => {
                        if !self.no_versions.swap(true, Ordering::Relaxed) {
                            tracing::warn!(bucket, "the server does not implement ListObjectVersions; listing current objects with ListObjectsV2");
                        }
                        self.objects_page(bucket, prefix, None).await?
                    }
                    other => other?,
                },
                Cursor::Objects { token } => self.objects_page(bucket, prefix, token).await?,
            };
            Ok(Some((page, next)))
        })
        .boxed()
    }

    async fn versions_page(
        &self,
        bucket: &str,
        prefix: &str,
        key_marker: Option<String>,
        version_marker: Option<String>,
    ) -> Result<(VersionPage, Cursor), StorageError> {
        let out = self
            .client
            .list_object_versions()
            .bucket(bucket)
            .prefix(prefix)
            .set_key_marker(key_marker)
            .set_version_id_marker(version_marker)
            .max_keys(1000)
            .send()
            .await
            .map_err(|e| map_err(format!("ListObjectVersions {}", url(bucket, prefix)), e))?;
        let mut page = Vec::with_capacity(out.versions().len() + out.delete_markers().len());
        for v in out.versions() {
            page.push(ObjectVersion {
                key: v.key().unwrap_or_default().to_string(),
                version_id: v.version_id().map(str::to_string),
                is_latest: v.is_latest().unwrap_or(false),
                is_delete_marker: false,
                size: v.size().unwrap_or(0),
                etag: v.e_tag().map(str::to_string),
                last_modified: timestamp(v.last_modified()),
                storage_class: v.storage_class().map(|c| c.as_str().to_string()),
            });
        }
        for m in out.delete_markers() {
            page.push(ObjectVersion {
                key: m.key().unwrap_or_default().to_string(),
                version_id: m.version_id().map(str::to_string),
                is_latest: m.is_latest().unwrap_or(false),
                is_delete_marker: true,
                size: 0,
                etag: None,
                last_modified: timestamp(m.last_modified()),
                storage_class: None,
            });
        }
        let next = if out.is_truncated().unwrap_or(false) {
            Cursor::Versions {
                key: out.next_key_marker().map(str::to_string),
                version: out.next_version_id_marker().map(str::to_string),
            }
        } else {
            Cursor::Done
        };
        Ok((page, next))
    }

    async fn objects_page(
        &self,
        bucket: &str,
        prefix: &str,
        token: Option<String>,
    ) -> Result<(VersionPage, Cursor), StorageError> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token)
            .max_keys(1000)
            .send()
            .await
            .map_err(|e| map_err(format!("ListObjectsV2 {}", url(bucket, prefix)), e))?;
        let page = out
            .contents()
            .iter()
            .map(|o| ObjectVersion {
                key: o.key().unwrap_or_default().to_string(),
                version_id: None,
                is_latest: true,
                is_delete_marker: false,
                size: o.size().unwrap_or(0),
                etag: o.e_tag().map(str::to_string),
                last_modified: timestamp(o.last_modified()),
                storage_class: o.storage_class().map(|c| c.as_str().to_string()),
            })
            .collect();
        let next = match out.next_continuation_token() {
            Some(t) if out.is_truncated().unwrap_or(false) => Cursor::Objects {
                token: Some(t.to_string()),
            },
            _ => Cursor::Done,
        };
        Ok((page, next))
    }
}

pub(super) fn timestamp(t: Option<&aws_smithy_types::DateTime>) -> DateTime<Utc> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
        .unwrap_or(DateTime::UNIX_EPOCH)
}
