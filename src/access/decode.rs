//! Decoding one log object, line by line (or record by record), into an aggregate.

use super::aggregate::Aggregate;
use super::{json, s3log, LogFormat};
use crate::inventory::report::ingest::Incoming;
use std::io::{BufRead, BufReader};

/// Decodes the log object (gunzipping it when it starts with gzip's magic bytes) into `agg`.
/// A failure that ends the object is recorded as a bad line where it happened.
pub fn decode(
    format: LogFormat,
    input: &mut Incoming,
    agg: &mut Aggregate,
    send: &mut dyn FnMut(Vec<u8>),
) {
    let mut raw = BufReader::with_capacity(256 * 1024, input);
    let gzipped = matches!(raw.fill_buf(), Ok([0x1f, 0x8b, ..]));
    let mut reader: Box<dyn BufRead + '_> = match gzipped {
        true => Box::new(BufReader::with_capacity(
            256 * 1024,
            flate2::bufread::MultiGzDecoder::new(raw),
        )),
        false => Box::new(raw),
    };
    if format == LogFormat::CloudTrail {
        let mut last = 0;
        let end = json::cloudtrail(&mut reader, &mut |n, r| {
            last = n;
            agg.line(n, r, send)
        });
        if let Err(message) = end {
            agg.bad(last + 1, message);
        }
        return;
    }
    let parse = match format {
        LogFormat::S3 => s3log::parse,
        LogFormat::RgwOps => json::rgw_ops,
        _ => json::minio_audit,
    };
    let mut line = Vec::with_capacity(1024);
    let mut n = 0u64;
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return,
            Ok(_) => n += 1,
            Err(e) => return agg.bad(n + 1, format!("unreadable from here on: {e}")),
        }
        let text = match std::str::from_utf8(&line) {
            Ok(t) => t.trim_end_matches(['\n', '\r']),
            Err(_) => {
                agg.bad(n, "not UTF-8 text".into());
                continue;
            }
        };
        if !text.trim().is_empty() {
            agg.line(n, parse(text), send);
        }
    }
}
