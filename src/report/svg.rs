//! Stacked bar charts as inline SVG: no scripts, no fonts to fetch, readable offline.

use chrono::NaiveDate;
use std::fmt::Write;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 40.0;

/// One series of a stacked chart: its name and colour.
pub struct Series {
    pub name: &'static str,
    pub color: &'static str,
}

/// A stacked bar per day; `values[d][s]` is series `s` on day `d`. `label` formats axis values.
pub fn stacked_bars(
    title: &str,
    days: &[(NaiveDate, Vec<f64>)],
    series: &[Series],
    label: impl Fn(f64) -> String,
) -> String {
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}"><title>{}</title>"#,
        super::html::escape(title)
    );
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let max = days
        .iter()
        .map(|(_, v)| v.iter().sum::<f64>())
        .fold(0.0, f64::max);
    if days.is_empty() || max <= 0.0 {
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle" class="empty">no events in this range</text></svg>"#,
            WIDTH / 2.0,
            HEIGHT / 2.0
        );
        return svg;
    }
    let top = 4.0 * nice_ceiling(max / 4.0);
    axis(&mut svg, top, plot_w, plot_h, &label);
    let slot = plot_w / days.len() as f64;
    let bar = (slot * 0.7).clamp(1.0, 48.0);
    let every = (days.len() / 12).max(1);
    for (i, (day, values)) in days.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
        let mut y = TOP + plot_h;
        for (value, s) in values.iter().zip(series) {
            let h = value / top * plot_h;
            if h > 0.0 {
                y -= h;
                let _ = write!(
                    svg,
                    r#"<rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}" fill="{}"><title>{day} {}: {}</title></rect>"#,
                    s.color,
                    s.name,
                    label(*value)
                );
            }
        }
        if i % every == 0 {
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"#,
                x + bar / 2.0,
                TOP + plot_h + 16.0,
                day.format("%m-%d")
            );
        }
    }
    legend(&mut svg, series);
    svg.push_str("</svg>");
    svg
}

/// Horizontal grid lines with their values, and the baseline.
fn axis(svg: &mut String, top: f64, plot_w: f64, plot_h: f64, label: &impl Fn(f64) -> String) {
    for step in 0..=4 {
        let value = top * step as f64 / 4.0;
        let y = TOP + plot_h - plot_h * step as f64 / 4.0;
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0,
            label(value)
        );
    }
}

fn legend(svg: &mut String, series: &[Series]) {
    let mut x = LEFT;
    let y = HEIGHT - 8.0;
    for s in series {
        let _ = write!(
            svg,
            r#"<rect x="{x:.1}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{y:.1}" class="tick">{}</text>"#,
            y - 9.0,
            s.color,
            x + 14.0,
            s.name
        );
        x += 24.0 + 7.0 * s.name.len() as f64;
    }
}

/// The smallest 1, 2 or 5 × 10ⁿ at or above `x`: a grid step with round values.
fn nice_ceiling(x: f64) -> f64 {
    let magnitude = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|v| *v >= x)
        .unwrap_or(10.0 * magnitude)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(3.0), 5.0);
        assert_eq!(nice_ceiling(10.0), 10.0);
        assert_eq!(nice_ceiling(1234.0), 2000.0);
        assert_eq!(nice_ceiling(0.3), 0.5);
    }

    #[test]
    fn a_chart_has_one_rect_per_nonzero_value_and_the_empty_chart_says_so() {
        let series = [
            Series {
                name: "done",
                color: "#2a7",
            },
            Series {
                name: "failed",
                color: "#c33",
            },
        ];
        let day = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let svg = stacked_bars(
            "t",
            &[
                (day, vec![3.0, 0.0]),
                (day.succ_opt().unwrap(), vec![1.0, 2.0]),
            ],
            &series,
            |v| format!("{v}"),
        );
        // 3 bars + 2 legend swatches
        assert_eq!(svg.matches("<rect").count(), 5, "{svg}");
        assert!(svg.contains("11-02"));
        let empty = stacked_bars("t", &[], &series, |v| format!("{v}"));
        assert!(empty.contains("no events in this range"));
    }
}
