//! Checkpoints written as objects (`spec.audit.checkpoints`): evidence of the chain head that a
//! compromised database cannot take back, under Object Lock when the setting asks for it.

use super::Checkpoint;
use crate::policy::CheckpointCopy;
use crate::storage::{ContentHeaders, ObjectStore, Retention, StorageError, Upload};
use futures::StreamExt;

/// Uploads `checkpoint` as `{prefix}{id:012}-seq{seq}.json`; returns the key.
pub async fn publish(
    store: &dyn ObjectStore,
    copy: &CheckpointCopy,
    checkpoint: &Checkpoint,
) -> Result<String, StorageError> {
    let key = format!(
        "{}{:012}-seq{}.json",
        copy.prefix, checkpoint.id, checkpoint.seq
    );
    let body = serde_json::to_vec_pretty(&checkpoint.document()).expect("checkpoints serialise");
    let upload = Upload {
        bucket: copy.bucket.clone(),
        key: key.clone(),
        size: body.len() as i64,
        storage_class: None,
        metadata: Default::default(),
        content: ContentHeaders {
            content_type: Some("application/json".into()),
            ..Default::default()
        },
        tags: Default::default(),
        retention: copy.lock.map(|lock| Retention {
            mode: lock.mode,
            retain_until: lock.until(checkpoint.at),
        }),
    };
    let stream = futures::stream::once(async move { Ok(bytes::Bytes::from(body)) }).boxed();
    store.upload(&upload, stream).await?;
    Ok(key)
}
