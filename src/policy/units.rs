//! The small value languages of policy files: durations, sizes, dates, cron expressions and
//! `${VAR}` expansion. Each parser returns a message fit for a diagnostic.

use chrono::{DateTime, NaiveDate, Utc};

/// Parses `90d`, `12h`, `2w`, `7y` (a year is 365 days).
pub fn parse_duration(text: &str) -> Result<chrono::Duration, String> {
    let text = text.trim();
    let err = || {
        format!("invalid duration {text:?}: expected a whole number followed by h, d, w or y (e.g. 30d)")
    };
    let unit_at = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
    let (number, unit) = text.split_at(unit_at);
    let n: i64 = number.parse().map_err(|_| err())?;
    let hours = match unit {
        "h" => 1,
        "d" => 24,
        "w" => 24 * 7,
        "y" => 24 * 365,
        _ => return Err(err()),
    };
    n.checked_mul(hours)
        .filter(|h| *h <= 24 * 365 * 1000)
        .map(chrono::Duration::hours)
        .ok_or_else(|| format!("duration {text:?} is too long"))
}

/// Parses `128KiB`, `5GB`, `0B`, `1024`: KB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB of 1024.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let err = || {
        format!(
            "invalid size {text:?}: expected a number and a unit such as B, KB, KiB, MiB, GB, TiB"
        )
    };
    let unit_at = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(unit_at);
    let n: f64 = number.parse().map_err(|_| err())?;
    let factor: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        "PB" => 1e15,
        "KiB" => 1024.0,
        "MiB" => 1024f64.powi(2),
        "GiB" => 1024f64.powi(3),
        "TiB" => 1024f64.powi(4),
        "PiB" => 1024f64.powi(5),
        _ => return Err(err()),
    };
    let bytes = (n * factor).round();
    if !(0.0..=9.0e18).contains(&bytes) {
        return Err(format!("size {text:?} is out of range"));
    }
    Ok(bytes as u64)
}

/// Parses `2025-01-01` (UTC midnight) or an RFC 3339 timestamp.
pub fn parse_date(text: &str) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("invalid date {text:?}: expected YYYY-MM-DD or RFC 3339"))
}

/// Converts a Kubernetes-style cron expression (five fields, or `@daily` and friends) into the
/// seven-field form of the `cron` crate and parses it.
pub fn parse_cron(text: &str) -> Result<cron::Schedule, String> {
    let text = text.trim();
    let expanded = match text {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        other => other,
    };
    let fields: Vec<&str> = expanded.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "invalid schedule {text:?}: expected five fields (minute hour day-of-month month day-of-week) or @daily/@hourly/@weekly/@monthly/@yearly"
        ));
    }
    check_cron_ranges(text, &fields)?;
    let dow = day_of_week_names(fields[4]);
    let seven = format!(
        "0 {} {} {} {} {} *",
        fields[0], fields[1], fields[2], fields[3], dow
    );
    seven.parse::<cron::Schedule>().map_err(|e| {
        // The cron crate draws a caret under its seven-field form; keep its last line.
        let text_e = e.to_string();
        let reason = text_e.lines().last().unwrap_or_default().trim();
        format!("invalid schedule {text:?}: {reason}")
    })
}

/// Names the field and the allowed range when a number in a cron field is out of range.
fn check_cron_ranges(text: &str, fields: &[&str]) -> Result<(), String> {
    const FIELDS: [(&str, u32, u32); 5] = [
        ("minute", 0, 59),
        ("hour", 0, 23),
        ("day-of-month", 1, 31),
        ("month", 1, 12),
        ("day-of-week", 0, 7),
    ];
    for (field, (name, low, high)) in fields.iter().zip(FIELDS) {
        // Numbers before a `/` are values; after it, they are steps.
        let values = field.split(',').flat_map(|part| {
            let range = part.split('/').next().unwrap_or_default();
            range.split('-').filter_map(|n| n.parse::<u32>().ok())
        });
        for n in values {
            if n < low || n > high {
                return Err(format!(
                    "invalid schedule {text:?}: {name} {n} is outside {low}-{high}"
                ));
            }
        }
    }
    Ok(())
}

/// Kubernetes numbers days 0-7 from Sunday; the `cron` crate numbers them 1-7. Names are
/// unambiguous in both, so numeric days (not step values) are rewritten as names.
fn day_of_week_names(field: &str) -> String {
    const NAMES: [&str; 8] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];
    let mut out = String::new();
    let mut after_slash = false;
    let mut number = String::new();
    let flush = |number: &mut String, out: &mut String, after_slash: bool| {
        if number.is_empty() {
            return;
        }
        match number.parse::<usize>() {
            Ok(n) if n < 8 && !after_slash => out.push_str(NAMES[n]),
            _ => out.push_str(number),
        }
        number.clear();
    };
    for c in field.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        flush(&mut number, &mut out, after_slash);
        after_slash = c == '/';
        out.push(c);
    }
    flush(&mut number, &mut out, after_slash);
    out
}

/// Expands `${VAR}` and `${VAR:-default}` from the environment; an unset variable without a
/// default is an error naming it.
pub fn expand_env(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated ${{...}} in {text:?}"))?;
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!("invalid variable name {name:?} in {text:?}"));
        }
        match (lookup(name).filter(|v| !v.is_empty()), default) {
            (Some(value), _) => out.push_str(&value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => {
                return Err(format!(
                "environment variable {name} is not set (write ${{{name}:-default}} to allow that)"
            ))
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_hours_days_weeks_and_years() {
        assert_eq!(parse_duration("12h").unwrap(), chrono::Duration::hours(12));
        assert_eq!(parse_duration("30d").unwrap(), chrono::Duration::days(30));
        assert_eq!(parse_duration("2w").unwrap(), chrono::Duration::days(14));
        assert_eq!(
            parse_duration("7y").unwrap(),
            chrono::Duration::days(7 * 365)
        );
        for bad in ["", "d", "30", "30 days", "-3d", "1.5d", "30m"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn sizes_distinguish_decimal_and_binary_units() {
        assert_eq!(parse_size("128KiB").unwrap(), 131_072);
        assert_eq!(parse_size("5GB").unwrap(), 5_000_000_000);
        assert_eq!(parse_size("0B").unwrap(), 0);
        assert_eq!(parse_size("50TiB").unwrap(), 50 * 1024u64.pow(4));
        assert!(parse_size("5 apples").is_err());
    }

    #[test]
    fn dates_are_days_at_utc_midnight_or_rfc3339() {
        assert_eq!(
            parse_date("2025-01-01").unwrap().to_rfc3339(),
            "2025-01-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_date("2025-01-01T12:00:00+02:00")
                .unwrap()
                .to_rfc3339(),
            "2025-01-01T10:00:00+00:00"
        );
        assert!(parse_date("01/02/2025").is_err());
    }

    #[test]
    fn cron_uses_kubernetes_day_numbers() {
        use chrono::{Datelike, TimeZone};
        let schedule = parse_cron("30 2 * * 1-5").unwrap();
        let saturday = Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 0).unwrap();
        let next = schedule.after(&saturday).next().unwrap();
        assert_eq!(next.weekday(), chrono::Weekday::Mon);
        assert!(parse_cron("@daily").is_ok());
        assert!(parse_cron("0 3 * *").is_err());
        assert!(parse_cron("61 3 * * *").is_err());
    }

    #[test]
    fn env_expansion_uses_defaults_and_names_missing_variables() {
        let env = |name: &str| (name == "SET").then(|| "value".to_string());
        assert_eq!(expand_env("a-${SET}-b", &env).unwrap(), "a-value-b");
        assert_eq!(expand_env("${UNSET:-x}", &env).unwrap(), "x");
        assert_eq!(expand_env("${UNSET:-}", &env).unwrap(), "");
        assert!(expand_env("${UNSET}", &env).unwrap_err().contains("UNSET"));
    }
}
