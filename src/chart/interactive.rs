//! The interactive parts of the HTML reports: the page frame with everything it needs embedded
//! (the font, uPlot and our small script, `assets/report/`), chart descriptions that the script
//! draws with uPlot (hover, zoom on time, toggle series), and sortable tables whose figures
//! carry their units and thousands separators.
//!
//! Charts are described as JSON in the page (`#flysim-data`): the x values, the y axes with
//! their formats, the series and shaded spans. Nothing is fetched; the page works offline.

use std::fmt::Write;

use base64::Engine;
use serde_json::{Value, json};

use super::FONT_BYTES;
use super::table::Table;
use crate::output::figures::{duration_ms, group, short};

const UPLOT_JS: &str = include_str!("../../assets/vendor/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../../assets/vendor/uplot/uPlot.min.css");
const REPORT_JS: &str = include_str!("../../assets/report/report.js");
const REPORT_CSS: &str = include_str!("../../assets/report/report.css");

/// Colours for lines that must stay apart: the palette without yellow (hard to see on white).
pub(crate) fn line_colour(i: usize) -> &'static str {
    const LINES: [&str; 7] = [
        "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000",
    ];
    LINES[i % LINES.len()]
}

/// HTML text with `&`, `<`, `>` and `"` escaped.
pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page's head and the opening of its body.
pub(crate) fn page_head(title: &str) -> String {
    let font = base64::engine::general_purpose::STANDARD.encode(FONT_BYTES);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; font-src data:; img-src data:\">\
<title>{t}</title><style>\
@font-face {{ font-family: 'DejaVu Sans'; src: url(data:font/ttf;base64,{font}) format('truetype'); }}\n\
{UPLOT_CSS}\n{REPORT_CSS}</style></head><body>\n",
        t = esc(title)
    )
}

/// The page's end: the chart descriptions, uPlot and the report script.
pub(crate) fn page_foot(charts: &[Value]) -> String {
    let data = json!({ "charts": charts }).to_string();
    // `</` inside a script element would end it early.
    let data = data.replace("</", "<\\/");
    format!(
        "<script type=\"application/json\" id=\"flysim-data\">{data}</script>\n\
<script>{UPLOT_JS}</script>\n<script>{REPORT_JS}</script>\n</body></html>\n"
    )
}

/// The place a chart is drawn into, with its caption.
pub(crate) fn chart_holder(o: &mut String, id: &str, caption: &str) {
    let _ = writeln!(
        o,
        "<div class=\"chart\" id=\"chart-{id}\"></div><p class=\"hint\">{}</p>",
        esc(caption)
    );
}

/// A y axis of a chart: its label, how its values read (`count`, `percent`, `ms`, `usd`, or
/// plain with a unit), whether it is logarithmic.
pub(crate) fn axis(label: &str, format: &str, unit: &str, log: bool) -> Value {
    json!({ "label": label, "format": format, "unit": unit, "log": log, "from_zero": !log })
}

/// A series: its label, its axis (index), colour, dash pattern, values (`null` for gaps).
pub(crate) fn series(
    label: &str,
    axis: usize,
    colour: &str,
    dash: &[u32],
    values: &[Option<f64>],
) -> Value {
    json!({ "label": label, "axis": axis, "colour": colour, "dash": if dash.is_empty() { Value::Null } else { json!(dash) }, "values": values })
}

/// Numbers as series values, finite ones only.
pub(crate) fn some(xs: &[f64]) -> Vec<Option<f64>> {
    xs.iter().map(|x| x.is_finite().then_some(*x)).collect()
}

/// A shaded span of a time chart.
pub(crate) fn shade(from: f64, to: f64, colour: &str) -> Value {
    json!({ "from": from, "to": to, "colour": colour })
}

/// A figure as a table cell: the text shown and, for numbers, the value it sorts by.
fn cell(header: &str, raw: &str) -> (String, Option<f64>) {
    let Ok(x) = raw.trim().parse::<f64>() else {
        return (raw.to_string(), None);
    };
    if !x.is_finite() {
        return (raw.to_string(), None);
    }
    let text = if header.ends_with("_s") || header.starts_with("seconds_") {
        duration_ms(x * 1000.0)
    } else if header.ends_with("_ms") {
        duration_ms(x)
    } else if header.ends_with("_usd") {
        format!("${}", short(x))
    } else if x == x.trunc() && x.abs() < 1e15 {
        group(x as i64)
    } else {
        short(x)
    };
    (text, Some(x))
}

/// A sortable table of a CSV file's `columns` (all when empty), figures in their units.
pub(crate) fn csv_table(o: &mut String, t: &Table, columns: &[&str]) {
    let cols: Vec<usize> = if columns.is_empty() {
        (0..t.header.len()).collect()
    } else {
        columns.iter().filter_map(|c| t.col(c)).collect()
    };
    let _ = write!(
        o,
        "<div class=\"scroll\"><table class=\"sortable\"><thead><tr>"
    );
    for &c in &cols {
        let _ = write!(o, "<th>{}</th>", esc(&t.header[c].replace('_', " ")));
    }
    let _ = writeln!(o, "</tr></thead><tbody>");
    for row in &t.rows {
        let _ = write!(o, "<tr>");
        for &c in &cols {
            let raw = row.get(c).map_or("", String::as_str);
            match cell(&t.header[c], raw) {
                (text, Some(v)) => {
                    let _ = write!(o, "<td data-v=\"{v}\">{}</td>", esc(&text));
                }
                (text, None) => {
                    let _ = write!(o, "<td class=\"text\">{}</td>", esc(&text));
                }
            }
        }
        let _ = writeln!(o, "</tr>");
    }
    let _ = writeln!(o, "</tbody></table></div>");
}

#[cfg(test)]
mod tests {
    #[test]
    fn cells_read_in_their_units() {
        assert_eq!(super::cell("created_s", "5400.0").0, "1.50 h");
        assert_eq!(super::cell("latency_p99_ms", "850").0, "850 ms");
        assert_eq!(super::cell("cost_compute_usd", "12.5").0, "$12.50");
        assert_eq!(super::cell("served", "1234567").0, "1,234,567");
        assert_eq!(super::cell("served", "1234567").1, Some(1234567.0));
        assert_eq!(super::cell("region", "ams"), ("ams".to_string(), None));
    }

    #[test]
    fn chart_data_cannot_close_its_script() {
        let foot = super::page_foot(&[serde_json::json!({"title": "</script><b>"})]);
        let data = &foot[..foot.find("</script>").unwrap()];
        assert!(data.contains("<\\/script>"));
    }
}
