//! `run --pushgateway URL`: a CronJob's process ends before any scrape, so it pushes its
//! metrics to a Prometheus Pushgateway at the end of the run. One group per policy
//! (`/metrics/job/shelflife/policy/<name>`) and one for the process-wide storage counters
//! (`/metrics/job/shelflife`); no `instance` label, so a new pod replaces the last one's
//! series instead of adding its own.
//!
//! The Pushgateway reads the Prometheus text format 0.0.4, not OpenMetrics: counters are
//! declared under their `_total` name and there is no `# UNIT` or `# EOF` line. The grouping
//! key's labels are left out of the samples (the Pushgateway adds them back).

use base64::Engine;
use std::collections::BTreeMap;
use std::time::Duration;

/// The Pushgateway's job label for shelflife's groups.
pub const JOB: &str = "shelflife";

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("pushgateway {url}: {source}")]
    Request { url: String, source: reqwest::Error },
    #[error("pushgateway {url} answered {status}: {body}")]
    Refused {
        url: String,
        status: u16,
        body: String,
    },
}

/// Pushes `openmetrics` (as `Metrics::encode` writes it), replacing each group's series.
pub async fn push(gateway: &str, openmetrics: &str) -> Result<(), PushError> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|source| PushError::Request {
            url: gateway.into(),
            source,
        })?;
    for (policy, body) in groups(openmetrics) {
        let url = group_url(gateway, policy.as_deref());
        let answer = client
            .put(&url)
            .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
            .body(body)
            .send()
            .await
            .map_err(|source| PushError::Request {
                url: url.clone(),
                source,
            })?;
        let status = answer.status();
        if !status.is_success() {
            let body = answer.text().await.unwrap_or_default();
            return Err(PushError::Refused {
                url,
                status: status.as_u16(),
                body: body.trim().chars().take(500).collect(),
            });
        }
    }
    Ok(())
}

/// The group's address; a label value that is not a plain path segment goes base64-encoded,
/// as the Pushgateway's `label@base64` form allows.
pub fn group_url(gateway: &str, policy: Option<&str>) -> String {
    let base = format!("{}/metrics/job/{JOB}", gateway.trim_end_matches('/'));
    match policy {
        None => base,
        Some(name) if !name.is_empty() && name.bytes().all(plain) => {
            format!("{base}/policy/{name}")
        }
        Some(name) => {
            let encoded = base64::engine::general_purpose::URL_SAFE.encode(name);
            // An empty value is written as a single `=`.
            let encoded = if encoded.is_empty() {
                "=".into()
            } else {
                encoded
            };
            format!("{base}/policy@base64/{encoded}")
        }
    }
}

fn plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

/// One metric family: its name, HELP and TYPE, then its samples by `policy` label.
#[derive(Default)]
struct Family {
    name: String,
    help: Option<String>,
    kind: Option<String>,
    samples: Vec<(Option<String>, String)>,
}

impl Family {
    /// The HELP and TYPE lines in the 0.0.4 format: a counter is declared by its `_total` name.
    fn header(&self) -> String {
        let name = match self.kind.as_deref() {
            Some("counter") => format!("{}_total", self.name),
            _ => self.name.clone(),
        };
        let mut text = String::new();
        if let Some(help) = &self.help {
            text.push_str(&format!("# HELP {name} {help}\n"));
        }
        if let Some(kind) = &self.kind {
            text.push_str(&format!("# TYPE {name} {kind}\n"));
        }
        text
    }
}

/// The exposition split by the `policy` label (`None`: series without one), each group in
/// the 0.0.4 text format with the `policy` label removed.
pub fn groups(openmetrics: &str) -> BTreeMap<Option<String>, String> {
    let mut families: Vec<Family> = Vec::new();
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut words = rest.splitn(3, ' ');
            let (Some(kind @ ("HELP" | "TYPE")), Some(name)) = (words.next(), words.next()) else {
                continue; // # UNIT, # EOF and other comments
            };
            let text = words.next().unwrap_or("").to_string();
            let same = families
                .last()
                .is_some_and(|f| f.name == name && f.samples.is_empty());
            if !same {
                families.push(Family {
                    name: name.to_string(),
                    ..Family::default()
                });
            }
            let family = families.last_mut().expect("just pushed");
            match kind {
                "HELP" => family.help = Some(text),
                _ => family.kind = Some(text),
            }
        } else if !line.trim().is_empty() && !is_created(line) {
            if families.is_empty() {
                families.push(Family::default());
            }
            let family = families.last_mut().expect("just pushed");
            family.samples.push(without_label(line, "policy"));
        }
    }
    let mut out: BTreeMap<Option<String>, String> = BTreeMap::new();
    for family in &families {
        let mut by_group: BTreeMap<&Option<String>, Vec<&str>> = BTreeMap::new();
        for (policy, sample) in &family.samples {
            by_group.entry(policy).or_default().push(sample);
        }
        for (policy, samples) in by_group {
            let text = out.entry(policy.clone()).or_default();
            text.push_str(&family.header());
            for sample in samples {
                text.push_str(sample);
                text.push('\n');
            }
        }
    }
    out
}

/// OpenMetrics' `_created` series have no place in the 0.0.4 format.
fn is_created(line: &str) -> bool {
    let name = line.split(['{', ' ']).next().unwrap_or("");
    name.ends_with("_created")
}

/// The sample line without label `label`, and that label's (unescaped) value; a line that
/// does not parse is kept as it is.
fn without_label(line: &str, label: &str) -> (Option<String>, String) {
    split_label(line, label).unwrap_or_else(|| (None, line.to_string()))
}

fn split_label(line: &str, label: &str) -> Option<(Option<String>, String)> {
    let Some(open) = line.find('{') else {
        return Some((None, line.to_string()));
    };
    let bytes = line.as_bytes();
    let (mut pos, mut kept, mut found) = (open + 1, Vec::new(), None);
    while bytes.get(pos) != Some(&b'}') {
        let eq = pos + line[pos..].find("=\"")?;
        let (value, end) = quoted(line, eq + 1)?;
        if &line[pos..eq] == label {
            found = Some(value);
        } else {
            kept.push(&line[pos..=end]);
        }
        pos = end + 1;
        if bytes.get(pos) == Some(&b',') {
            pos += 1;
        }
    }
    let labels = if kept.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", kept.join(","))
    };
    Some((
        found,
        format!("{}{labels}{}", &line[..open], &line[pos + 1..]),
    ))
}

/// The value of the quoted string opening at `at`, unescaped, and where its closing quote is.
fn quoted(line: &str, at: usize) -> Option<(String, usize)> {
    let mut value = String::new();
    let mut escaped = false;
    for (i, c) in line[at + 1..].char_indices() {
        match (escaped, c) {
            (true, 'n') => value.push('\n'),
            (true, c) => value.push(c),
            (false, '\\') => {
                escaped = true;
                continue;
            }
            (false, '"') => return Some((value, at + 1 + i)),
            (false, c) => value.push(c),
        }
        escaped = false;
    }
    None
}

#[cfg(test)]
mod tests;
