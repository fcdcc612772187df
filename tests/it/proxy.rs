//! A small HTTP proxy between shelflife and the S3 server that injects faults: 503 SlowDown
//! answers and connection resets (before the request reaches the server, or after the server
//! acted but before the answer arrives), on a deterministic share of requests. It also counts
//! requests, so a test can kill a process after a given number.

use shelflife::storage::s3::S3Store;
use shelflife::storage::RetryConfig;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Shares of requests, in percent, that meet each fault.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    pub slow_down: u64,
    pub reset_before: u64,
    pub reset_after: u64,
}

#[derive(Debug, Default)]
pub struct Counts {
    pub requests: AtomicUsize,
    pub slow_downs: AtomicUsize,
    pub resets: AtomicUsize,
    /// Every request as it arrived (head and body, lossily as text), in order.
    pub log: std::sync::Mutex<Vec<String>>,
}

pub struct Proxy {
    /// `http://127.0.0.1:PORT`, to use as the S3 endpoint.
    pub endpoint: String,
    pub counts: Arc<Counts>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    pub async fn start(upstream: &str, faults: Faults) -> Proxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let counts = Arc::new(Counts::default());
        let shared = counts.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, counts) = (upstream.clone(), shared.clone());
                tokio::spawn(async move {
                    let _ = serve(client, &upstream, faults, &counts).await;
                });
            }
        });
        Proxy {
            endpoint,
            counts,
            task,
        }
    }

    /// An S3 store that talks to the server through this proxy, retrying up to `max_attempts`
    /// times with backoffs from 5 ms to `max_backoff_ms`, so the faults are ridden out quickly.
    pub async fn store(&self, max_attempts: u32, max_backoff_ms: u64) -> S3Store {
        let retry = RetryConfig {
            max_attempts,
            initial_backoff: std::time::Duration::from_millis(5),
            max_backoff: std::time::Duration::from_millis(max_backoff_ms),
            ..RetryConfig::default()
        };
        S3Store::connect(&crate::helpers::local_storage(&self.endpoint), &retry)
            .await
            .expect("a store through the proxy")
    }

    pub fn requests(&self) -> usize {
        self.counts.requests.load(Ordering::SeqCst)
    }

    /// The requests seen so far whose request line starts with `method`.
    pub fn logged(&self, method: &str) -> Vec<String> {
        let log = self.counts.log.lock().unwrap();
        log.iter()
            .filter(|r| r.starts_with(method))
            .cloned()
            .collect()
    }
}

/// Serves one request per connection (answers say `Connection: close`).
async fn serve(
    mut client: TcpStream,
    upstream: &str,
    faults: Faults,
    counts: &Counts,
) -> std::io::Result<()> {
    let request = read_request(&mut client).await?;
    counts
        .log
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(&request).into_owned());
    let n = counts.requests.fetch_add(1, Ordering::SeqCst) as u64;
    // A fixed scramble of the request number: the same share every run, spread out.
    let roll = n.wrapping_mul(2_654_435_761) % 100;
    if roll < faults.reset_before {
        return reset(client, counts);
    }
    if roll < faults.reset_before + faults.slow_down {
        counts.slow_downs.fetch_add(1, Ordering::SeqCst);
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
        let answer = format!("HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        client.write_all(answer.as_bytes()).await?;
        return client.shutdown().await;
    }
    let mut server = TcpStream::connect(upstream).await?;
    server.write_all(&request).await?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer).await?;
    if roll < faults.reset_before + faults.slow_down + faults.reset_after {
        return reset(client, counts); // the server acted; the answer is lost
    }
    client.write_all(&answer).await?;
    client.shutdown().await
}

fn reset(client: TcpStream, counts: &Counts) -> std::io::Result<()> {
    counts.resets.fetch_add(1, Ordering::SeqCst);
    socket2::SockRef::from(&client).set_linger(Some(std::time::Duration::ZERO))?;
    drop(client); // with a zero linger, closing sends RST
    Ok(())
}

/// Reads one request (head and `Content-Length` body) and rewrites it to close the upstream
/// connection after the answer.
async fn read_request(client: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        data.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut length = 0usize;
    let mut lines: Vec<&str> = Vec::new();
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if !lower.starts_with("connection:") {
            lines.push(line);
        }
    }
    while data.len() < head_end + length {
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        data.extend_from_slice(&chunk[..n]);
    }
    let mut request = lines.join("\r\n").into_bytes();
    request.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    request.extend_from_slice(&data[head_end..head_end + length]);
    Ok(request)
}
