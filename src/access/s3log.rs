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
            Some(b'[') => enclosed(rest, b']')?,
            Some(b'"') => enclosed(rest, b'"')?,
            Some(_) => match memchr::memchr(b' ', rest.as_bytes()) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, ""),
            },
        };
        fields.push(field);
        rest = after;
    }
    Ok(fields)
}

/// The text between `rest`'s first character and `close`, and what follows; a quoted field
/// may hold `\"`.
fn enclosed(rest: &str, close: u8) -> Result<(&str, &str), String> {
    let body = &rest[1..];
    let bytes = body.as_bytes();
    let mut from = 0;
    while let Some(i) = memchr::memchr(close, &bytes[from..]).map(|i| from + i) {
        // A quote preceded by an odd number of backslashes is escaped.
        let escapes = bytes[..i].iter().rev().take_while(|b| **b == b'\\').count();
        if close != b'"' || escapes % 2 == 0 {
            return Ok((&body[..i], &body[i + 1..]));
        }
        from = i + 1;
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

/// `06/Feb/2019:00:00:38 +0000`, read by position: chrono's format parser cost a sixth of an
/// ingest's CPU time.
fn time(text: &str) -> Result<DateTime<Utc>, String> {
    let bad = || format!("time [{text}] is not a log time such as [06/Feb/2019:00:00:38 +0000]");
    let b = text.as_bytes();
    if b.len() != 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[20] != b' ' {
        return Err(bad());
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        text.get(from..to)?.bytes().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS
        .iter()
        .position(|m| *m == &text[3..6])
        .ok_or_else(bad)? as u32
        + 1;
    let (day, year) = (num(0, 2).ok_or_else(bad)?, num(7, 11).ok_or_else(bad)?);
    let (h, m, sec) = (num(12, 14), num(15, 17), num(18, 20));
    let offset = num(22, 24)
        .zip(num(24, 26))
        .map(|(oh, om)| i64::from(oh * 60 + om));
    let sign = match b[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return Err(bad()),
    };
    let naive = chrono::NaiveDate::from_ymd_opt(year as i32, month, day)
        .and_then(|d| d.and_hms_opt(h?, m?, sec?))
        .ok_or_else(bad)?;
    let offset = chrono::Duration::minutes(sign * offset.ok_or_else(bad)?);
    Ok(naive.and_utc() - offset)
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
        for bad in [
            "06/Feb/2019 00:00:38",
            "06/Fab/2019:00:00:38",
            "31/Feb/2019:00:00:38",
            "06/Feb/2019:25:00:38",
        ] {
            let bad_time = AWS_EXAMPLE.replace("06/Feb/2019:00:00:38", bad);
            assert!(
                parse(&bad_time).unwrap_err().contains("is not a log time"),
                "{bad}"
            );
        }
        let offset = AWS_EXAMPLE.replace("+0000", "-0130");
        assert_eq!(
            parse(&offset).unwrap().at.to_rfc3339(),
            "2019-02-06T01:30:38+00:00"
        );
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
