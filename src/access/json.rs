//! JSON access logs: CloudTrail data events (a document whose `Records` array holds one event
//! each, read one record at a time), and one-object-per-line logs: the Ceph RGW ops log and
//! the MinIO audit log. Keys are plain JSON strings; copy sources are URL-encoded.

use super::{Op, Request};
use chrono::{DateTime, Utc};
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Calls `each` with every record of a CloudTrail document (its number, from 1, and the
/// request or why it cannot be read); the error is one that ends the document.
pub fn cloudtrail<R: std::io::Read>(
    input: R,
    each: &mut dyn FnMut(u64, Result<Request, String>),
) -> Result<(), String> {
    let mut de = serde_json::Deserializer::from_reader(input);
    Document { each, n: 0 }
        .deserialize(&mut de)
        .map_err(|e| format!("not a CloudTrail document: {e}"))
}

struct Document<'f> {
    each: &'f mut dyn FnMut(u64, Result<Request, String>),
    n: u64,
}

impl<'de> DeserializeSeed<'de> for Document<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Document<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object with a Records array")
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "Records" => map.next_value_seed(Records(&mut self))?,
                _ => _ = map.next_value::<IgnoredAny>()?,
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, seq: A) -> Result<(), A::Error> {
        Records(&mut self).visit_seq(seq)
    }
}

struct Records<'d, 'f>(&'d mut Document<'f>);

impl<'de> DeserializeSeed<'de> for Records<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Records<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of CloudTrail records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(record) = seq.next_element::<Value>()? {
            self.0.n += 1;
            (self.0.each)(self.0.n, cloudtrail_record(&record));
        }
        Ok(())
    }
}

fn text<'v>(v: &'v Value, path: &[&str]) -> Option<&'v str> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && *s != "-")
}

fn required<'v>(v: &'v Value, path: &[&str]) -> Result<&'v str, String> {
    text(v, path).ok_or_else(|| format!("no {}", path.join(".")))
}

fn time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").map(|t| t.and_utc())
        })
        .map_err(|_| format!("time {text:?} is not an RFC 3339 time"))
}

/// `bucket/key[?versionId=V]`, URL-encoded, as an `x-amz-copy-source` header gives it.
fn copy_source(text: &str) -> Option<(String, String, Option<String>)> {
    let text = text.trim_start_matches('/');
    let (path, query) = text.split_once('?').unwrap_or((text, ""));
    let (bucket, key) = path.split_once('/')?;
    let key = percent_encoding::percent_decode_str(key)
        .decode_utf8()
        .ok()?
        .into_owned();
    let version = query
        .split('&')
        .find_map(|p| p.strip_prefix("versionId="))
        .map(str::to_string);
    Some((bucket.to_string(), key, version))
}

/// One CloudTrail record; a copy is reported as the read of its source.
fn cloudtrail_record(r: &Value) -> Result<Request, String> {
    let name = required(r, &["eventName"])?;
    let mut request = Request {
        bucket: required(r, &["requestParameters", "bucketName"])?.to_string(),
        key: text(r, &["requestParameters", "key"]).map(str::to_string),
        version_id: text(r, &["requestParameters", "versionId"]).map(str::to_string),
        at: time(required(r, &["eventTime"])?)?,
        op: match name {
            "GetObject" | "HeadObject" => Op::Read,
            _ => Op::Other,
        },
        ok: text(r, &["errorCode"]).is_none(),
        requester: text(r, &["userIdentity", "arn"])
            .or_else(|| text(r, &["userIdentity", "principalId"]))
            .map(str::to_string),
        user_agent: text(r, &["userAgent"]).map(str::to_string),
        internal: text(r, &["userIdentity", "type"]) == Some("AWSService")
            || text(r, &["userIdentity", "invokedBy"]).is_some(),
    };
    if name == "CopyObject" || name == "UploadPartCopy" {
        let source = text(r, &["requestParameters", "x-amz-copy-source"])
            .and_then(copy_source)
            .ok_or("a copy without a readable x-amz-copy-source")?;
        (request.bucket, request.key, request.version_id) = (source.0, Some(source.1), source.2);
        request.op = Op::Read;
    }
    Ok(request)
}

/// One entry of the Ceph RGW ops log: a JSON object per line, as the gateway's ops-log socket
/// (or file) streams them, inside an array left open (`[{...},` then `{...},`). Gateways before
/// Quincy name the object only in the request URI, URL-encoded.
pub fn rgw_ops(line: &str) -> Result<Request, String> {
    let entry = line
        .trim()
        .trim_start_matches('[')
        .trim_end_matches([',', ']']);
    let r: Value = serde_json::from_str(entry).map_err(|e| format!("not JSON: {e}"))?;
    let bucket = required(&r, &["bucket"])?;
    let uri = text(&r, &["uri"]).unwrap_or_default();
    let status: u16 = match &r["http_status"] {
        Value::Number(n) => n.as_u64().unwrap_or(0) as u16,
        v => v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0),
    };
    let key = match text(&r, &["object"]) {
        Some(object) => Some(object.to_string()),
        None => uri_key(uri, bucket)?,
    };
    Ok(Request {
        bucket: bucket.to_string(),
        key,
        version_id: uri
            .split(['?', '&', ' '])
            .find_map(|p| p.strip_prefix("versionId="))
            .map(str::to_string),
        at: time(required(&r, &["time"])?)?,
        op: match required(&r, &["operation"])? {
            "get_obj" | "stat_obj" | "head_obj" => Op::Read,
            _ => Op::Other,
        },
        ok: (200..300).contains(&status) || status == 304,
        requester: text(&r, &["user"]).map(str::to_string),
        user_agent: text(&r, &["user_agent"]).map(str::to_string),
        internal: false,
    })
}

/// The key a request URI (`GET /bucket/key?query HTTP/1.1`, or `/key` with the bucket in the
/// host name) names, decoded; `None` for a request on the bucket.
fn uri_key(uri: &str, bucket: &str) -> Result<Option<String>, String> {
    let path = uri.split(' ').nth(1).unwrap_or_default();
    let path = path.split('?').next().unwrap_or_default();
    let in_path = format!("/{bucket}");
    let key = match path.strip_prefix(&in_path) {
        Some("") | Some("/") => return Ok(None),
        Some(rest) if rest.starts_with('/') => &rest[1..],
        _ => path.trim_start_matches('/'),
    };
    if key.is_empty() {
        return Ok(None);
    }
    percent_encoding::percent_decode_str(key)
        .decode_utf8()
        .map(|k| Some(k.into_owned()))
        .map_err(|_| format!("the key in {uri:?} does not decode to UTF-8"))
}

/// One line of the MinIO audit log; a copy is reported as the read of its source.
pub fn minio_audit(line: &str) -> Result<Request, String> {
    let r: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let name = required(&r, &["api", "name"])?;
    let status = r["api"]["statusCode"].as_u64().unwrap_or(0);
    let mut request = Request {
        bucket: required(&r, &["api", "bucket"])?.to_string(),
        key: text(&r, &["api", "object"]).map(str::to_string),
        version_id: text(&r, &["requestQuery", "versionId"]).map(str::to_string),
        at: time(required(&r, &["time"])?)?,
        op: match name {
            "GetObject" | "HeadObject" => Op::Read,
            _ => Op::Other,
        },
        ok: (200..300).contains(&status) || status == 304,
        requester: text(&r, &["accessKey"]).map(str::to_string),
        user_agent: text(&r, &["userAgent"]).map(str::to_string),
        // Lifecycle, replication and healing run as MinIO's own triggers.
        internal: text(&r, &["trigger"]).is_some_and(|t| t != "incoming"),
    };
    if name == "CopyObject" {
        let source = text(&r, &["requestHeader", "X-Amz-Copy-Source"])
            .and_then(copy_source)
            .ok_or("a copy without a readable X-Amz-Copy-Source")?;
        (request.bucket, request.key, request.version_id) = (source.0, Some(source.1), source.2);
        request.op = Op::Read;
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Numbered = Vec<(u64, Result<Request, String>)>;

    fn records(doc: &str) -> (Numbered, Result<(), String>) {
        let mut out = Vec::new();
        let end = cloudtrail(doc.as_bytes(), &mut |n, r| out.push((n, r)));
        (out, end)
    }

    #[test]
    fn cloudtrail_records_are_read_one_by_one_and_copies_read_their_source() {
        let doc = r#"{"Records":[
          {"eventTime":"2026-11-01T10:00:00Z","eventName":"GetObject","userAgent":"[aws-cli/2]",
           "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/alice"},
           "requestParameters":{"bucketName":"b","key":"datasets/a b/x.bin"}},
          {"eventTime":"2026-11-01T10:00:01Z","eventName":"CopyObject",
           "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/alice"},
           "requestParameters":{"bucketName":"dst","key":"k",
             "x-amz-copy-source":"b/datasets/caf%C3%A9.bin?versionId=v1"}},
          {"eventTime":"2026-11-01T10:00:02Z","eventName":"GetObject","errorCode":"NoSuchKey",
           "requestParameters":{"bucketName":"b","key":"gone"}},
          {"eventName":"GetObject"}
        ]}"#;
        let (out, end) = records(doc);
        end.unwrap();
        assert_eq!(out.len(), 4);
        let get = out[0].1.as_ref().unwrap();
        assert_eq!(get.key.as_deref(), Some("datasets/a b/x.bin"));
        assert!(get.counts(&Default::default()));
        let copy = out[1].1.as_ref().unwrap();
        assert_eq!(
            (copy.bucket.as_str(), copy.key.as_deref()),
            ("b", Some("datasets/café.bin"))
        );
        assert_eq!(copy.version_id.as_deref(), Some("v1"));
        assert!(!out[2].1.as_ref().unwrap().ok);
        assert_eq!(out[3], (4, Err("no requestParameters.bucketName".into())));
    }

    #[test]
    fn a_truncated_cloudtrail_document_keeps_the_records_before_the_cut() {
        let doc = r#"{"Records":[{"eventTime":"2026-11-01T10:00:00Z","eventName":"GetObject",
            "requestParameters":{"bucketName":"b","key":"a"}},{"eventTime":"2026-11"#;
        let (out, end) = records(doc);
        assert_eq!(out.len(), 1);
        assert!(end.unwrap_err().contains("not a CloudTrail document"));
    }

    #[test]
    fn rgw_and_minio_lines_are_read() {
        let rgw = r#"{"bucket":"b","object":"datasets/x","time":"2026-11-01T10:00:00.123456Z",
            "operation":"get_obj","uri":"GET /b/datasets/x?versionId=v9 HTTP/1.1",
            "http_status":"200","user":"alice","user_agent":"Boto3/1.28"}"#;
        let r = rgw_ops(&rgw.replace('\n', " ")).unwrap();
        assert_eq!(r.version_id.as_deref(), Some("v9"));
        assert!(r.counts(&Default::default()));
        // As a Pacific gateway's ops-log socket streams it: no object field, an open array.
        let pacific = r#"[{"bucket":"opslog-probe","time":"2026-12-06T13:45:30.524844Z","remote_addr":"127.0.0.1","object_owner":"shelflife","user":"shelflife","operation":"get_obj","uri":"HEAD /opslog-probe/odd%20key/%C3%BC.bin HTTP/1.1","http_status":"200","error_code":"","user_agent":"Boto3/1.44.18","trans_id":"tx0","authentication_type":"Local","access_key_id":"k","temp_url":false},"#;
        let p = rgw_ops(pacific).unwrap();
        assert_eq!(p.key.as_deref(), Some("odd key/ü.bin"));
        assert!(p.counts(&Default::default()));
        let bucket_op = pacific.replace("/odd%20key/%C3%BC.bin", "");
        assert_eq!(rgw_ops(&bucket_op).unwrap().key, None);
        assert!(rgw_ops("{\"bucket\":").unwrap_err().starts_with("not JSON"));
        let minio = r#"{"version":"1","time":"2026-11-01T10:00:00.5Z","trigger":"incoming",
            "api":{"name":"HeadObject","bucket":"b","object":"m/ü","statusCode":200},
            "userAgent":"MinIO (linux; amd64) minio-go/v7","accessKey":"AKIA1"}"#;
        let m = minio_audit(&minio.replace('\n', " ")).unwrap();
        assert_eq!(m.key.as_deref(), Some("m/ü"));
        assert!(m.counts(&Default::default()));
        let ilm = minio.replace("incoming", "ilm").replace('\n', " ");
        assert!(minio_audit(&ilm).unwrap().internal);
    }
}
