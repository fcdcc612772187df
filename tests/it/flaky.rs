//! The real S3 store behind a decorator that cuts listings into small pages, records where each
//! listing started, and fails after a given number of pages, as a dropped connection would.

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use shelflife::storage::s3::S3Store;
use shelflife::storage::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub type ListCall = (String, bool, Option<ListStart>);

#[derive(Debug)]
pub struct Flaky {
    pub inner: S3Store,
    /// Versions per page handed out.
    pub page_size: usize,
    /// Pages handed out (over all listings) before the next one fails.
    pub fail_after: Option<usize>,
    pages: AtomicUsize,
    /// (prefix, split, start) of every listing asked for.
    pub calls: Arc<Mutex<Vec<ListCall>>>,
    /// Answer a delete that Object Lock refuses with a bare AccessDenied, as Ceph's RGW does.
    pub terse_locks: bool,
    /// Copy, then answer as the SDK's retry of a copy whose answer a reset lost: S3 and RGW
    /// refuse a copy onto itself that changes nothing.
    pub lost_copy_answers: bool,
}

impl Flaky {
    pub fn new(inner: S3Store, page_size: usize, fail_after: Option<usize>) -> Self {
        Flaky {
            inner,
            page_size,
            fail_after,
            pages: AtomicUsize::new(0),
            calls: Arc::default(),
            terse_locks: false,
            lost_copy_answers: false,
        }
    }

    fn next_page_fails(&self) -> bool {
        let n = self.pages.fetch_add(1, Ordering::SeqCst);
        self.fail_after.is_some_and(|limit| n >= limit)
    }
}

fn reset() -> StorageError {
    StorageError::new(
        ErrorKind::Unreachable,
        "ListObjectVersions",
        "connection reset",
    )
}

#[async_trait]
impl ObjectStore for Flaky {
    fn list<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
        split: bool,
        after: Option<ListStart>,
    ) -> BoxStream<'a, Result<LevelPage, StorageError>> {
        self.calls
            .lock()
            .unwrap()
            .push((prefix.to_string(), split, after.clone()));
        let size = self.page_size.max(1);
        self.inner
            .list(bucket, prefix, split, after)
            .flat_map(move |page| {
                let pages: Vec<Result<LevelPage, StorageError>> = match page {
                    Err(e) => vec![Err(e)],
                    Ok(page) => rechunk(page, size),
                };
                stream::iter(pages)
            })
            .map(move |page| match page {
                Ok(_) if self.next_page_fails() => Err(reset()),
                other => other,
            })
            .scan(false, |failed, page| {
                // Nothing follows a failure, as with a real dropped connection.
                let stop = *failed;
                *failed |= page.is_err();
                futures::future::ready((!stop).then_some(page))
            })
            .boxed()
    }
    async fn get(&self, b: &str, k: &str, v: Option<&str>) -> Result<ByteStream, StorageError> {
        self.inner.get(b, k, v).await
    }
    async fn object_lock_enabled(&self, b: &str) -> Result<bool, StorageError> {
        self.inner.object_lock_enabled(b).await
    }
    async fn head(&self, b: &str, k: &str, v: Option<&str>) -> Result<ObjectHead, StorageError> {
        self.inner.head(b, k, v).await
    }
    async fn delete_batch(
        &self,
        b: &str,
        t: &[DeleteTarget],
        bypass: bool,
    ) -> Result<Vec<Result<Deleted, StorageError>>, StorageError> {
        let answers = self.inner.delete_batch(b, t, bypass).await?;
        let terse = |e: StorageError| match e.kind {
            ErrorKind::Locked if self.terse_locks => {
                StorageError::new(ErrorKind::AccessDenied, e.operation, "AccessDenied")
            }
            _ => e,
        };
        Ok(answers.into_iter().map(|a| a.map_err(terse)).collect())
    }
    async fn copy(&self, r: &CopyRequest) -> Result<Copied, StorageError> {
        let copied = self.inner.copy(r).await?;
        if self.lost_copy_answers {
            let message = "InvalidRequest: This copy request is illegal because it is trying to \
                           copy an object to itself without changing the object's metadata, \
                           storage class, website redirect location or encryption attributes.";
            return Err(StorageError::new(ErrorKind::Invalid, "CopyObject", message));
        }
        Ok(copied)
    }
    async fn upload(&self, u: &Upload, body: ByteStream) -> Result<Copied, StorageError> {
        self.inner.upload(u, body).await
    }
    async fn put_retention(
        &self,
        b: &str,
        k: &str,
        v: Option<&str>,
        r: &Retention,
        bypass: bool,
    ) -> Result<(), StorageError> {
        self.inner.put_retention(b, k, v, r, bypass).await
    }
    async fn put_legal_hold(
        &self,
        b: &str,
        k: &str,
        v: Option<&str>,
        on: bool,
    ) -> Result<(), StorageError> {
        self.inner.put_legal_hold(b, k, v, on).await
    }
    async fn get_tags(&self, b: &str, k: &str, v: Option<&str>) -> Result<Tags, StorageError> {
        self.inner.get_tags(b, k, v).await
    }
    async fn put_tags(
        &self,
        b: &str,
        k: &str,
        v: Option<&str>,
        t: &Tags,
    ) -> Result<(), StorageError> {
        self.inner.put_tags(b, k, v, t).await
    }
}

/// Splits a page into pages of `size` versions; sub-folders go with the last one.
fn rechunk(page: LevelPage, size: usize) -> Vec<Result<LevelPage, StorageError>> {
    let mut out: Vec<Result<LevelPage, StorageError>> = page
        .versions
        .chunks(size)
        .map(|c| {
            Ok(LevelPage {
                versions: c.to_vec(),
                prefixes: Vec::new(),
            })
        })
        .collect();
    match out.last_mut() {
        Some(Ok(last)) => last.prefixes = page.prefixes,
        _ => out.push(Ok(LevelPage {
            versions: Vec::new(),
            prefixes: page.prefixes,
        })),
    }
    out
}
