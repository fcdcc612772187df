//! Listing as a stream of pages: ListObjectVersions, or ListObjectsV2 for stores that answer
//! NotImplemented to it (unversioned stores).

use super::{map_err, url, S3Store};
use crate::storage::{ErrorKind, LevelPage, ListStart, ObjectVersion, StorageError, VersionPage};
use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use std::sync::atomic::Ordering;

/// Where a listing stands between pages.
enum Cursor {
    Versions {
        key: Option<String>,
        version: Option<String>,
    },
    Objects {
        token: Option<String>,
        start_after: Option<String>,
    },
    Done,
}

impl S3Store {
    /// Pages of `prefix` from after `after`; with a delimiter, only the versions at that
    /// level plus the common prefixes below it.
    pub(super) fn stream_listing<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
        delimiter: Option<&'a str>,
        after: Option<ListStart>,
    ) -> BoxStream<'a, Result<LevelPage, StorageError>> {
        let start_after = after.as_ref().map(|a| a.key.clone());
        let start = if self.no_versions.load(Ordering::Relaxed) {
            Cursor::Objects {
                token: None,
                start_after,
            }
        } else {
            let (key, version) = after.map(|a| (a.key, a.version_id)).unzip();
            Cursor::Versions {
                key,
                version: version.flatten(),
            }
        };
        self.pages(bucket, prefix, delimiter, start)
    }

    /// Pages from `start` on.
    fn pages<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
        delimiter: Option<&'a str>,
        start: Cursor,
    ) -> BoxStream<'a, Result<LevelPage, StorageError>> {
        stream::try_unfold(start, move |cursor| async move {
            let (page, next) = match cursor {
                Cursor::Done => return Ok(None),
                Cursor::Versions { key, version } => match self.versions_page(bucket, prefix, delimiter, key.clone(), version).await {
                    Err(e) if e.kind == ErrorKind::NotImplemented => {
                        if !self.no_versions.swap(true, Ordering::Relaxed) {
                            tracing::warn!(bucket, "the server does not implement ListObjectVersions; listing current objects with ListObjectsV2");
                        }
                        self.objects_page(bucket, prefix, delimiter, None, key).await?
                    }
                    other => other?,
                },
                Cursor::Objects { token, start_after } => self.objects_page(bucket, prefix, delimiter, token, start_after).await?,
            };
            Ok(Some((page, next)))
        })
        .boxed()
    }

    /// Pages of the current objects under `prefix`, by ListObjectsV2.
    pub(super) fn stream_current<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
    ) -> BoxStream<'a, Result<VersionPage, StorageError>> {
        let start = Cursor::Objects {
            token: None,
            start_after: None,
        };
        self.pages(bucket, prefix, None, start)
            .map_ok(|page| page.versions)
            .boxed()
    }

    async fn versions_page(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        key_marker: Option<String>,
        version_marker: Option<String>,
    ) -> Result<(LevelPage, Cursor), StorageError> {
        let out = self
            .client
            .list_object_versions()
            .bucket(bucket)
            .prefix(prefix)
            .set_delimiter(delimiter.map(str::to_string))
            .set_key_marker(key_marker)
            .set_version_id_marker(version_marker)
            .max_keys(1000)
            .send()
            .await
            .map_err(|e| map_err(format!("ListObjectVersions {}", url(bucket, prefix)), e))?;
        let mut versions = Vec::with_capacity(out.versions().len());
        for v in out.versions() {
            versions.push(ObjectVersion {
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
        let mut markers = Vec::with_capacity(out.delete_markers().len());
        for m in out.delete_markers() {
            markers.push(ObjectVersion {
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
        let page = LevelPage {
            versions: merge_listing_order(versions, markers),
            prefixes: common_prefixes(out.common_prefixes()),
        };
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
        delimiter: Option<&str>,
        token: Option<String>,
        start_after: Option<String>,
    ) -> Result<(LevelPage, Cursor), StorageError> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_delimiter(delimiter.map(str::to_string))
            .set_start_after(start_after)
            .set_continuation_token(token)
            .max_keys(1000)
            .send()
            .await
            .map_err(|e| map_err(format!("ListObjectsV2 {}", url(bucket, prefix)), e))?;
        let versions = out
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
        let page = LevelPage {
            versions,
            prefixes: common_prefixes(out.common_prefixes()),
        };
        let next = match out.next_continuation_token() {
            Some(t) if out.is_truncated().unwrap_or(false) => Cursor::Objects {
                token: Some(t.to_string()),
                start_after: None,
            },
            _ => Cursor::Done,
        };
        Ok((page, next))
    }
}

fn common_prefixes(found: &[aws_sdk_s3::types::CommonPrefix]) -> Vec<String> {
    found
        .iter()
        .filter_map(|p| p.prefix().map(str::to_string))
        .collect()
}

/// S3 lists versions and delete markers interleaved, by key and newest first; the SDK hands
/// them over as two lists, each still in that order. This merges them back, stably, so that
/// the order within each list survives where timestamps tie.
fn merge_listing_order(versions: Vec<ObjectVersion>, markers: Vec<ObjectVersion>) -> VersionPage {
    let mut page = Vec::with_capacity(versions.len() + markers.len());
    let mut versions = versions.into_iter().peekable();
    let mut markers = markers.into_iter().peekable();
    loop {
        let take_marker = match (versions.peek(), markers.peek()) {
            (None, None) => return page,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(v), Some(m)) => {
                let recency = |x: &ObjectVersion| (x.is_latest, x.last_modified);
                m.key.as_bytes() < v.key.as_bytes() || (m.key == v.key && recency(m) > recency(v))
            }
        };
        page.extend(if take_marker {
            markers.next()
        } else {
            versions.next()
        });
    }
}

pub(super) fn timestamp(t: Option<&aws_smithy_types::DateTime>) -> DateTime<Utc> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
        .unwrap_or(DateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(key: &str, secs: i64, latest: bool, marker: bool) -> ObjectVersion {
        ObjectVersion {
            key: key.into(),
            version_id: Some(format!("{key}-{secs}-{marker}")),
            is_latest: latest,
            is_delete_marker: marker,
            size: 0,
            etag: None,
            last_modified: DateTime::from_timestamp(secs, 0).unwrap(),
            storage_class: None,
        }
    }

    #[test]
    fn markers_are_merged_back_into_listing_order_keeping_ties_in_list_order() {
        let versions = vec![
            version("a", 5, false, false),
            version("b", 9, true, false),
            version("b", 9, false, false),
        ];
        let markers = vec![version("a", 7, true, true), version("c", 1, true, true)];
        let page = merge_listing_order(versions, markers);
        let order: Vec<(&str, bool)> = page
            .iter()
            .map(|v| (v.key.as_str(), v.is_delete_marker))
            .collect();
        assert_eq!(
            order,
            vec![
                ("a", true),
                ("a", false),
                ("b", false),
                ("b", false),
                ("c", true)
            ]
        );
        assert!(page[2].is_latest, "tied versions keep the listing's order");
    }
}
