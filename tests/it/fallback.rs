//! Stores without object versions answer NotImplemented to ListObjectVersions. moto implements
//! versions, so this test serves such a store itself: a minimal HTTP server on loopback that
//! speaks just enough S3 for listing. The real SDK client and adapter talk to it unchanged.

use crate::helpers::local_storage;
use futures::TryStreamExt;
use shelflife::storage::s3::S3Store;
use shelflife::storage::{ObjectStore, RetryConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const NOT_IMPLEMENTED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
<Error><Code>NotImplemented</Code><Message>ListObjectVersions is not implemented</Message></Error>";

const LISTING: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>flat</Name><Prefix></Prefix>\
<KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>\
<Contents><Key>a.txt</Key><LastModified>2025-01-02T03:04:05.000Z</LastModified><ETag>\"e1\"</ETag>\
<Size>10</Size><StorageClass>STANDARD</StorageClass></Contents>\
<Contents><Key>b.txt</Key><LastModified>2025-01-03T03:04:05.000Z</LastModified><ETag>\"e2\"</ETag>\
<Size>20</Size><StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>";

/// Serves `connections` requests, then stops; answers by the request line.
async fn serve_flat_store(listener: TcpListener, connections: usize) {
    for _ in 0..connections {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let mut request = vec![0u8; 16 * 1024];
        let n = socket.read(&mut request).await.unwrap_or(0);
        let line = String::from_utf8_lossy(&request[..n])
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        let (status, body) = if line.contains("versions") {
            ("501 Not Implemented", NOT_IMPLEMENTED)
        } else {
            ("200 OK", LISTING)
        };
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = socket.write_all(response.as_bytes()).await;
        let _ = socket.shutdown().await;
    }
}

#[tokio::test]
async fn listing_falls_back_to_list_objects_v2_when_versions_are_not_implemented() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(serve_flat_store(listener, 2));
    let retry = RetryConfig {
        max_attempts: 1,
        ..RetryConfig::default()
    };
    let store = S3Store::connect(&local_storage(&endpoint), &retry)
        .await
        .expect("connect");

    let pages: Vec<_> = store
        .list_versions("flat", "")
        .try_collect()
        .await
        .expect("listing");
    let versions: Vec<_> = pages.into_iter().flatten().collect();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].key, "a.txt");
    assert_eq!(versions[1].size, 20);
    assert!(versions
        .iter()
        .all(|v| v.is_latest && !v.is_delete_marker && v.version_id.is_none()));
    server.await.unwrap();
}
