//! S3 server access log records: space-separated fields, some `[bracketed]` (the time) and
//! some `"quoted"` (the request URI, referrer and user agent); `-` for an empty field. Keys
//! are URL-encoded. Fields after the user agent and version id vary by age of the log and
//! are not read.

use super::{Op, Request};
use chrono::{DateTime, Utc};

/// The fields read, by position.
const BUCKET: usize = 1;
const TIME: usize = 2;
const REQUESTER: usize = 4;
const OPERATION: usize = 6;
const KEY: usize = 7;
const STATUS: usize = 9;
const USER_AGENT: usize = 16;
const VERSION_ID: usize = 17;

/// Parses one record; the error says what is wrong with it.
pub fn parse(line: &str) -> Result<Request, String> {
    let fields = split(line)?;
    if fields.len() <= USER_AGENT {
        return Err(format!(
            "truncated record: {} fields, at least {} expected",
            fields.len(),
            USER_AGENT + 1
        ));
    }
    let text = |i: usize| fields.get(i).copied().filter(|f| *f != "-");
    let operation = fields[OPERATION];
    let status: u16 = fields[STATUS]
        .parse()
        .map_err(|_| format!("HTTP status {:?} is not a number", fields[STATUS]))?;
    let key = text(KEY).map(decode).transpose()?;
    Ok(Request {
        bucket: fields[BUCKET].to_string(),
        key,
        version_id: text(VERSION_ID).map(str::to_string),
        at: time(fields[TIME])?,
        op: match operation {
            "REST.GET.OBJECT" | "REST.HEAD.OBJECT" | "REST.COPY.OBJECT_GET" => Op::Read,
            _ => Op::Other,
        },
        ok: (200..300).contains(&status) || status == 304,
        requester: text(REQUESTER).map(str::to_string),
        user_agent: text(USER_AGENT).map(str::to_string),
        // Lifecycle expirations and transitions, replication and other work of S3 itself.
        internal: operation.starts_with("S3."),
    })
}

/// The record's fields, brackets and quotes removed.
fn split(line: &str) -> Result<Vec<&str>, String> {
    let mut fields = Vec::with_capacity(26);
    let mut rest = line.trim_end_matches(['\r', '\n']);
    while !rest.is_empty() {
        rest = rest.trim_start_matches(' ');
        let (field, after) = match rest.as_bytes().first() {
            None => break,
            Some(b'[') => enclosed(rest, ']')?,
            Some(b'"') => enclosed(rest, '"')?,
            Some(_) => rest.split_once(' ').unwrap_or((rest, "")),
        };
        fields.push(field);
        rest = after;
    }
    Ok(fields)
}

/// The text between `rest`'s first character and `close`, and what follows; a quoted field
/// may hold `\"`.
fn enclosed(rest: &str, close: char) -> Result<(&str, &str), String> {
    let body = &rest[1..];
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match c {
            '\\' if close == '"' => escaped = !escaped,
            c if c == close && !escaped => return Ok((&body[..i], &body[i + 1..])),
            _ => escaped = false,
        }
    }
    Err(format!(
        "truncated record: a field opened with {:?} is never closed",
        &rest[..1]
    ))
}

/// A URL-encoded key, decoded.
fn decode(key: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(key)
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|_| format!("key {key:?} does not decode to UTF-8"))
}

/// `06/Feb/2019:00:00:38 +0000`.
fn time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_str(text, "%d/%b/%Y:%H:%M:%S %z")
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            format!("time [{text}] is not a log time such as [06/Feb/2019:00:00:38 +0000]")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const AWS_EXAMPLE: &str = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be \
        awsexamplebucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 \
        79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE \
        REST.GET.OBJECT photos/2019/08/puppy%20%C3%A9t%C3%A9.jpg \"GET /awsexamplebucket1/photos/2019/08/puppy.jpg?x-foo=bar HTTP/1.1\" \
        200 - 2662992 3462992 70 10 \"-\" \"aws-cli/1.16.30 Python/3.7\" 3HL4kqtJvjVBH40Nrjfkd \
        s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 \
        ECDHE-RSA-AES128-GCM-SHA256 AuthHeader awsexamplebucket1.s3.us-west-1.amazonaws.com TLSV1.2 \
        arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP Yes";

    #[test]
    fn the_documented_record_reads_as_a_get_of_the_decoded_key() {
        let r = parse(AWS_EXAMPLE).unwrap();
        assert_eq!(r.bucket, "awsexamplebucket1");
        assert_eq!(r.key.as_deref(), Some("photos/2019/08/puppy été.jpg"));
        assert_eq!(r.version_id.as_deref(), Some("3HL4kqtJvjVBH40Nrjfkd"));
        assert_eq!(r.at.to_rfc3339(), "2019-02-06T00:00:38+00:00");
        assert_eq!(r.op, Op::Read);
        assert!(r.ok && !r.internal);
        assert_eq!(r.user_agent.as_deref(), Some("aws-cli/1.16.30 Python/3.7"));
        assert!(r.counts(&Default::default()));
    }

    #[test]
    fn lifecycle_writes_errors_and_own_requests_do_not_count() {
        let with = |from: &str, to: &str| parse(&AWS_EXAMPLE.replace(from, to)).unwrap();
        assert!(with("REST.GET.OBJECT", "S3.EXPIRE.OBJECT").internal);
        assert_eq!(with("REST.GET.OBJECT", "REST.PUT.OBJECT").op, Op::Other);
        assert!(!with(" 200 - ", " 404 NoSuchKey ").ok);
        let own = with(
            "aws-cli/1.16.30 Python/3.7",
            "aws-sdk-rust/1.3 app/shelflife",
        );
        assert!(!own.counts(&Default::default()));
        let ignore = super::super::Ignore {
            requesters: vec![
                "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be".into(),
            ],
        };
        assert!(!parse(AWS_EXAMPLE).unwrap().counts(&ignore));
        assert_eq!(with("REST.GET.OBJECT", "REST.COPY.OBJECT_GET").op, Op::Read);
    }

    #[test]
    fn truncated_and_corrupt_records_say_what_is_wrong() {
        let cut = &AWS_EXAMPLE[..AWS_EXAMPLE.find("\"GET").unwrap() + 10];
        assert!(parse(cut).unwrap_err().contains("never closed"), "{cut}");
        let short = AWS_EXAMPLE.split(" \"GET").next().unwrap();
        assert!(parse(short)
            .unwrap_err()
            .contains("truncated record: 8 fields"));
        let bad_time = AWS_EXAMPLE.replace("06/Feb/2019:00:00:38", "06/Feb/2019 00:00");
        assert!(parse(&bad_time).unwrap_err().contains("is not a log time"));
        let bad_key = AWS_EXAMPLE.replace("puppy%20", "puppy%FF");
        assert!(parse(&bad_key).unwrap_err().contains("does not decode"));
    }

    #[test]
    fn a_record_written_by_the_generator_reads_back() {
        let r = Request {
            bucket: "b".into(),
            key: Some("odd key/ü+%?#".into()),
            version_id: None,
            at: "2026-11-01T10:00:00Z".parse().unwrap(),
            op: Op::Read,
            ok: true,
            requester: Some("arn:aws:iam::1:user/a".into()),
            user_agent: Some("python-requests/2.31".into()),
            internal: false,
        };
        let line = super::super::generate::s3_record(&r, "REST.GET.OBJECT", 200);
        assert_eq!(parse(&line).unwrap(), r);
    }
}
