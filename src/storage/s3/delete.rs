//! Deletes: DeleteObjects in one request, with each target's ETag condition sent the way the
//! Storage's `conditionalDelete` says its server enforces it (`batch`: the `ETag` element of
//! DeleteObjects; `single`: one DeleteObject with `If-Match` per conditional target). A store
//! that enforces none refuses conditional targets, so no condition is ever silently dropped.

use super::{classify, map_err, send_with_md5, url, S3Store};
use crate::policy::ConditionalDelete;
use crate::storage::*;
use aws_sdk_s3::operation::delete_objects::DeleteObjectsOutput;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use futures::stream::{self, StreamExt};
use std::collections::HashMap;

/// Single conditional DeleteObject requests in flight at once, per batch.
const SINGLE_IN_FLIGHT: usize = 16;

type Answers = Vec<Result<Deleted, StorageError>>;

impl S3Store {
    pub(super) async fn delete_targets(
        &self,
        bucket: &str,
        targets: &[DeleteTarget],
        bypass: bool,
    ) -> Result<Answers, StorageError> {
        let single = |t: &DeleteTarget| {
            t.if_match.is_some() && self.conditional_delete != ConditionalDelete::Batch
        };
        let (one_by_one, batched): (Vec<usize>, Vec<usize>) =
            (0..targets.len()).partition(|i| single(&targets[*i]));
        let mut answers: Vec<Option<Result<Deleted, StorageError>>> = vec![None; targets.len()];
        if !batched.is_empty() {
            let batch: Vec<DeleteTarget> = batched.iter().map(|i| targets[*i].clone()).collect();
            let out = self.delete_objects(bucket, &batch, bypass).await?;
            for (i, answer) in batched.into_iter().zip(out) {
                answers[i] = Some(answer);
            }
        }
        let singles = stream::iter(one_by_one)
            .map(|i| async move { (i, self.delete_if_match(bucket, &targets[i], bypass).await) })
            .buffer_unordered(SINGLE_IN_FLIGHT)
            .collect::<Vec<_>>()
            .await;
        for (i, answer) in singles {
            answers[i] = Some(answer?);
        }
        Ok(answers
            .into_iter()
            .map(|a| a.expect("every target answered"))
            .collect())
    }

    async fn delete_objects(
        &self,
        bucket: &str,
        targets: &[DeleteTarget],
        bypass: bool,
    ) -> Result<Answers, StorageError> {
        let operation = format!("DeleteObjects s3://{bucket}");
        let objects = targets
            .iter()
            .map(|t| {
                ObjectIdentifier::builder()
                    .key(&t.key)
                    .set_version_id(t.version_id.clone())
                    .set_e_tag(t.if_match.clone())
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StorageError::new(ErrorKind::Invalid, &operation, e.to_string()))?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(false)
            .build()
            .map_err(|e| StorageError::new(ErrorKind::Invalid, &operation, e.to_string()))?;
        let request = self
            .client
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .set_bypass_governance_retention(bypass.then_some(true));
        let out = send_with_md5!(self, request).map_err(|e| map_err(operation.clone(), e))?;
        Ok(match_answers(bucket, targets, &out))
    }

    /// One DeleteObject with `If-Match`. The outer error is one the whole batch shares (the
    /// server unreachable or throttling); the inner one is this target's refusal.
    async fn delete_if_match(
        &self,
        bucket: &str,
        target: &DeleteTarget,
        bypass: bool,
    ) -> Result<Result<Deleted, StorageError>, StorageError> {
        let operation = format!("DeleteObject {}", url(bucket, &target.key));
        if self.conditional_delete == ConditionalDelete::None {
            let message = "this storage's server is not known to enforce delete conditions \
                           (conditionalDelete: none), so a conditional delete is refused";
            return Ok(Err(StorageError::new(
                ErrorKind::Invalid,
                operation,
                message,
            )));
        }
        let answer = self
            .client
            .delete_object()
            .bucket(bucket)
            .key(&target.key)
            .set_version_id(target.version_id.clone())
            .set_if_match(target.if_match.clone())
            .set_bypass_governance_retention(bypass.then_some(true))
            .send()
            .await
            .map_err(|e| map_err(operation, e));
        match answer {
            Ok(out) => Ok(Ok(Deleted {
                delete_marker_version_id: out
                    .delete_marker()
                    .unwrap_or(false)
                    .then(|| out.version_id().map(str::to_string))
                    .flatten(),
            })),
            Err(err) if err.is_retryable() => Err(err),
            Err(err) => Ok(Err(err)),
        }
    }
}

/// Pairs DeleteObjects' answers with the targets, in target order. The answer names a deleted
/// current version by key alone, a specific version by key and version id.
fn match_answers(
    bucket: &str,
    targets: &[DeleteTarget],
    out: &DeleteObjectsOutput,
) -> Vec<Result<Deleted, StorageError>> {
    let mut results: Vec<Option<Result<Deleted, StorageError>>> = vec![None; targets.len()];
    // The unanswered targets of each key, in order. An answer takes the one with its exact
    // version first; servers that omit the version id get the first unanswered one.
    let mut open: HashMap<&str, Vec<usize>> = HashMap::with_capacity(targets.len());
    for (i, t) in targets.iter().enumerate() {
        open.entry(t.key.as_str()).or_default().push(i);
    }
    let mut find = |key: Option<&str>, version: Option<&str>| -> Option<usize> {
        let slots = open.get_mut(key.unwrap_or_default())?;
        let exact = slots
            .iter()
            .position(|&i| targets[i].version_id.as_deref() == version);
        (!slots.is_empty()).then(|| slots.remove(exact.unwrap_or(0)))
    };
    for d in out.deleted() {
        if let Some(i) = find(d.key(), d.version_id()) {
            let marker = d.delete_marker_version_id().map(str::to_string);
            results[i] = Some(Ok(Deleted {
                delete_marker_version_id: marker,
            }));
        }
    }
    for e in out.errors() {
        if let Some(i) = find(e.key(), e.version_id()) {
            let kind = classify(None, e.code(), e.message());
            let message = format!(
                "{}: {}",
                e.code().unwrap_or("Error"),
                e.message().unwrap_or_default()
            );
            results[i] = Some(Err(StorageError::new(
                kind,
                url(bucket, &targets[i].key),
                message,
            )));
        }
    }
    results
        .into_iter()
        .zip(targets)
        .map(|(r, t)| {
            r.unwrap_or_else(|| {
                Err(StorageError::new(
                    ErrorKind::Other,
                    url(bucket, &t.key),
                    "missing from the DeleteObjects answer",
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::types::{DeletedObject, Error as DeleteError};

    fn target(key: &str, version: Option<&str>) -> DeleteTarget {
        DeleteTarget::new(key, version.map(str::to_string))
    }

    fn deleted(key: &str, version: Option<&str>, marker: Option<&str>) -> DeletedObject {
        DeletedObject::builder()
            .key(key)
            .set_version_id(version.map(str::to_string))
            .set_delete_marker_version_id(marker.map(str::to_string))
            .build()
    }

    #[test]
    fn answers_pair_with_their_targets_by_key_and_version_in_any_order() {
        let targets = [
            target("a", Some("v1")),
            target("a", Some("v2")),
            target("b", None),
            target("c", None),
            target("d", None),
        ];
        let out = DeleteObjectsOutput::builder()
            .deleted(deleted("b", None, Some("m-b")))
            .deleted(deleted("a", Some("v2"), None))
            .deleted(deleted("a", Some("v1"), None))
            .errors(DeleteError::builder().key("c").code("AccessDenied").build())
            .build();
        let answers = match_answers("bkt", &targets, &out);
        let marker = |i: usize| {
            answers[i]
                .as_ref()
                .unwrap()
                .delete_marker_version_id
                .clone()
        };
        assert_eq!((marker(0), marker(1)), (None, None));
        assert_eq!(marker(2).as_deref(), Some("m-b"));
        assert_eq!(
            answers[3].as_ref().unwrap_err().kind,
            ErrorKind::AccessDenied
        );
        assert!(answers[4].as_ref().unwrap_err().message.contains("missing"));
    }

    #[test]
    fn answers_without_version_ids_take_the_keys_targets_in_order() {
        let targets = [target("a", Some("v1")), target("a", Some("v2"))];
        let out = DeleteObjectsOutput::builder()
            .deleted(deleted("a", None, Some("m1")))
            .deleted(deleted("a", None, Some("m2")))
            .build();
        let answers = match_answers("bkt", &targets, &out);
        assert_eq!(
            answers[0]
                .as_ref()
                .unwrap()
                .delete_marker_version_id
                .as_deref(),
            Some("m1")
        );
        assert_eq!(
            answers[1]
                .as_ref()
                .unwrap()
                .delete_marker_version_id
                .as_deref(),
            Some("m2")
        );
    }
}
