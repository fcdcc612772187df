//! Writing access logs in each format, as the servers write them: for tests, the quickstart's
//! demo data and the benchmark.

use super::{LogFormat, Request, KEY_ENCODE};
use chrono::Timelike;
use serde_json::json;
use std::io::Write;

/// What a generated request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Head,
    Put,
}

/// One generated request: `request.op` and `request.ok` are taken from `verb` and `status`.
#[derive(Debug, Clone)]
pub struct Line {
    pub verb: Verb,
    pub status: u16,
    pub request: Request,
}

/// A log object holding `lines` (and `raw` lines as given, for corrupt input) in `format`;
/// CloudTrail documents are gzipped, as CloudTrail delivers them, and have no lines, so `raw`
/// is not used for them.
pub fn log_object(format: LogFormat, lines: &[Line], raw: &[&str]) -> Vec<u8> {
    if format == LogFormat::CloudTrail {
        let records: Vec<serde_json::Value> = lines.iter().map(cloudtrail).collect();
        let doc = json!({ "Records": records }).to_string();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = gz.write_all(doc.as_bytes());
        return gz.finish().unwrap_or_default();
    }
    let mut out = String::new();
    for line in lines {
        out.push_str(&text_line(format, line));
        out.push('\n');
    }
    for line in raw {
        out.push_str(line);
        out.push('\n');
    }
    out.into_bytes()
}

/// One line of a line-per-request format.
pub fn text_line(format: LogFormat, line: &Line) -> String {
    let r = &line.request;
    let name = |get: &str, head: &str, put: &str| match line.verb {
        Verb::Get => get.to_string(),
        Verb::Head => head.to_string(),
        Verb::Put => put.to_string(),
    };
    match format {
        LogFormat::S3 => s3_record(
            r,
            &name("REST.GET.OBJECT", "REST.HEAD.OBJECT", "REST.PUT.OBJECT"),
            line.status,
        ),
        // As a Pacific gateway writes it: the key only in the URI, URL-encoded.
        LogFormat::RgwOps => json!({
            "bucket": r.bucket, "time": r.at.to_rfc3339(),
            "operation": name("get_obj", "get_obj", "put_obj"),
            "uri": format!("{} /{}/{} HTTP/1.1", name("GET", "HEAD", "PUT"), r.bucket,
                           percent_encoding::utf8_percent_encode(r.key.as_deref().unwrap_or(""), KEY_ENCODE)),
            "http_status": line.status.to_string(), "user": r.requester, "user_agent": r.user_agent,
        })
        .to_string(),
        _ => json!({
            "version": "1", "time": r.at.to_rfc3339(), "trigger": "incoming",
            "api": { "name": name("GetObject", "HeadObject", "PutObject"), "bucket": r.bucket,
                     "object": r.key, "statusCode": line.status },
            "userAgent": r.user_agent, "accessKey": r.requester,
        })
        .to_string(),
    }
}

fn cloudtrail(line: &Line) -> serde_json::Value {
    let r = &line.request;
    let name = match line.verb {
        Verb::Get => "GetObject",
        Verb::Head => "HeadObject",
        Verb::Put => "PutObject",
    };
    let mut record = json!({
        "eventVersion": "1.08", "eventTime": r.at.to_rfc3339(), "eventSource": "s3.amazonaws.com",
        "eventName": name, "userAgent": r.user_agent,
        "userIdentity": { "type": "IAMUser", "arn": r.requester },
        "requestParameters": { "bucketName": r.bucket, "key": r.key },
        "eventCategory": "Data",
    });
    if !(200..300).contains(&line.status) {
        record["errorCode"] = "NoSuchKey".into();
    }
    record
}

/// One S3 server access log record as S3 writes it.
pub fn s3_record(r: &Request, operation: &str, status: u16) -> String {
    let encoded = |k: &str| percent_encoding::utf8_percent_encode(k, KEY_ENCODE).to_string();
    let key = r.key.as_deref().map_or("-".to_string(), encoded);
    let uri = r.key.as_deref().map_or(String::new(), encoded);
    format!(
        "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be {bucket} [{time}] \
         192.0.2.3 {requester} 3E57427F3EXAMPLE {operation} {key} \"GET /{bucket}/{uri} HTTP/1.1\" \
         {status} - 113 113 7 - \"-\" \"{agent}\" {version} \
         s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 \
         ECDHE-RSA-AES128-GCM-SHA256 AuthHeader {bucket}.s3.us-west-1.amazonaws.com TLSv1.2 - -",
        bucket = r.bucket,
        time = r.at.format("%d/%b/%Y:%H:%M:%S +0000"),
        requester = r.requester.as_deref().unwrap_or("-"),
        agent = r.user_agent.as_deref().unwrap_or("-"),
        version = r.version_id.as_deref().unwrap_or("-"),
    )
}

/// A read (or other request) of `key` in `bucket` at `at`, answered 200.
pub fn line(verb: Verb, bucket: &str, key: &str, at: chrono::DateTime<chrono::Utc>) -> Line {
    Line {
        verb,
        status: 200,
        request: Request {
            bucket: bucket.to_string(),
            key: Some(key.to_string()),
            version_id: None,
            at,
            op: match verb {
                Verb::Put => super::Op::Other,
                _ => super::Op::Read,
            },
            ok: true,
            requester: Some("arn:aws:iam::123456789012:user/alice".into()),
            user_agent: Some("Boto3/1.34 Python/3.12".into()),
            internal: false,
        },
    }
}

/// Line `i` of `n` of the benchmark's synthetic S3 server access log of `bucket`: reads of
/// `keys` dataset shards (skewed: a tenth of the shards get half the reads) over the week
/// before `end`, 90% GET, 8% HEAD, 2% PUT.
pub fn synthetic(
    bucket: &str,
    i: usize,
    n: usize,
    keys: usize,
    end: chrono::DateTime<chrono::Utc>,
) -> Line {
    let h = i.wrapping_mul(2_654_435_761) % 1_000_003;
    let k = match h % 2 {
        0 => h / 2 % (keys / 10).max(1),
        _ => h / 2 % keys.max(1),
    };
    let key = format!("datasets/ds-{:03}/shard-{:06}.tar", k % 100, k);
    let week = chrono::Duration::days(7).num_milliseconds() as f64;
    let at =
        end - chrono::Duration::milliseconds((week * (1.0 - i as f64 / n.max(1) as f64)) as i64);
    let verb = match h % 50 {
        0 => Verb::Put,
        1..=4 => Verb::Head,
        _ => Verb::Get,
    };
    line(verb, bucket, &key, at.with_nanosecond(0).unwrap_or(at))
}
