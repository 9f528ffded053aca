//! Traffic traces: request counts per fixed interval, read from CSV or from a saved Prometheus
//! `query_range` response, validated here so the model only replays clean data.
//!
//! CSV: a time column (seconds from the start, or ISO-8601 timestamps such as
//! `1995-07-01T00:00:00-04:00`) and a count column, one row per interval. Rows must be evenly
//! spaced; a missing interval (a gap that is a whole number of intervals) counts as zero.
//! Prometheus: `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{...},
//! "values":[[<unix time>, "<value>"], ...]}]}}`, one series per region label; each value is
//! the count of its step (as `increase(...[1m])` with `step=60` gives).

use std::path::Path;

/// Requests per interval, stored sparsely: a trace with far-apart rows costs memory in
/// proportion to its rows, not to the span it covers.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Counts {
    /// Intervals the trace spans (the last row's index + 1).
    pub len: u64,
    /// `(interval index, count)` of the intervals with requests, by increasing index.
    pub rows: Vec<(u64, f64)>,
}

impl Counts {
    /// Counts from a dense list (index = position); zero counts are not stored.
    pub fn from_dense(counts: &[f64]) -> Counts {
        Counts {
            len: counts.len() as u64,
            rows: (0u64..)
                .zip(counts.iter().copied())
                .filter(|&(_, c)| c != 0.0)
                .collect(),
        }
    }

    /// The count of interval `idx` (0 where no row is).
    pub fn get(&self, idx: u64) -> f64 {
        let pos = self.rows.partition_point(|r| r.0 < idx);
        match self.rows.get(pos) {
            Some(&(i, c)) if i == idx => c,
            _ => 0.0,
        }
    }

    /// The first interval at or after `idx` that has requests, if any.
    pub fn next_busy(&self, idx: u64) -> Option<u64> {
        let pos = self.rows.partition_point(|r| r.0 < idx);
        self.rows.get(pos).map(|r| r.0)
    }

    /// The dense list (tests and small traces only).
    pub fn to_dense(&self) -> Vec<f64> {
        let mut v = vec![0.0; self.len as usize];
        for &(i, c) in &self.rows {
            v[i as usize] = c;
        }
        v
    }

    /// Total requests.
    pub fn total(&self) -> f64 {
        self.rows.iter().map(|r| r.1).sum()
    }

    /// The largest count of one interval.
    pub fn max(&self) -> f64 {
        self.rows.iter().fold(0.0f64, |a, r| a.max(r.1))
    }

    /// Every count multiplied by `k`.
    pub fn scaled(&self, k: f64) -> Counts {
        Counts {
            len: self.len,
            rows: self.rows.iter().map(|&(i, c)| (i, c * k)).collect(),
        }
    }
}

/// Counts per interval.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Label of the series (the Prometheus region label), if any.
    pub label: Option<String>,
    /// Requests in each interval (may be fractional for Prometheus `increase`).
    pub counts: Counts,
    /// The line (CSV) or value number (Prometheus) of the largest count, for messages.
    pub largest_at: usize,
}

/// A parsed trace: one or more series on one interval grid.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceData {
    /// Interval length [ns].
    pub interval_ns: u64,
    /// The series.
    pub series: Vec<Series>,
}

impl TraceData {
    /// Total requests over all series.
    pub fn total(&self) -> f64 {
        self.series.iter().map(|s| s.counts.total()).sum()
    }
}

/// A trace problem, with the 1-based line where it is (0 when it is about the whole file).
#[derive(Clone, Debug, PartialEq)]
pub struct TraceError {
    /// Line in the file (0: the file as a whole).
    pub line: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

fn err(line: usize, message: impl Into<String>) -> TraceError {
    TraceError {
        line,
        message: message.into(),
    }
}

/// Seconds since 1970-01-01 of an ISO-8601 date-time: `YYYY-MM-DD[T ]HH:MM:SS[.fff][Z|±HH:MM]`
/// (no offset means UTC).
pub fn parse_iso8601(s: &str) -> Option<f64> {
    let s = s.trim();
    let (date, rest) = s.split_at(s.find(['T', ' '])?);
    let rest = &rest[1..];
    let mut d = date.split('-');
    let (y, m, day): (i64, i64, i64) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    if d.next().is_some()
        || !(0..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
    {
        return None;
    }
    let (clock, offset_s) = if let Some(c) = rest.strip_suffix('Z') {
        (c, 0.0)
    } else if let Some(i) = rest.rfind(['+', '-']).filter(|&i| i >= 8) {
        let (c, off) = rest.split_at(i);
        let sign = if off.starts_with('-') { -1.0 } else { 1.0 };
        let mut parts = off[1..].split(':');
        let h: u32 = parts.next()?.parse().ok()?;
        let mi: u32 = parts.next().unwrap_or("0").parse().ok()?;
        if h > 23 || mi > 59 || parts.next().is_some() {
            return None;
        }
        (c, sign * f64::from(h * 3600 + mi * 60))
    } else {
        (rest, 0.0)
    };
    let mut c = clock.split(':');
    let (h, mi): (i64, i64) = (c.next()?.parse().ok()?, c.next()?.parse().ok()?);
    let sec: f64 = c.next()?.parse().ok()?;
    if h > 23 || mi > 59 || !(0.0..61.0).contains(&sec) {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days as f64 * 86_400.0 + (h * 3600 + mi * 60) as f64 + sec - offset_s)
}

/// A `(time [s], count, line)` sample.
type Sample = (f64, f64, usize);

/// Most intervals a trace may span (about 31,700 years of seconds): beyond this a time is a
/// mistake, and interval indices would lose precision.
const MAX_INTERVALS: f64 = 1e12;

/// Places `(time, count)` samples on a regular grid starting at the first time.
fn grid(samples: &[(f64, f64, usize)]) -> Result<(u64, Counts, usize), TraceError> {
    if samples.len() < 2 {
        return Err(err(
            samples.first().map_or(0, |s| s.2),
            "a trace needs at least two rows to tell its interval",
        ));
    }
    let interval = samples[1].0 - samples[0].0;
    if !interval.is_finite() || interval <= 0.0 {
        return Err(err(
            samples[1].2,
            format!("times must increase; this row is {interval} s after the previous one"),
        ));
    }
    if interval < 1e-3 {
        return Err(err(
            samples[1].2,
            format!("rows are {interval} s apart; the shortest interval a trace may have is 1 ms"),
        ));
    }
    let mut rows = Vec::with_capacity(samples.len());
    let mut next = 0u64;
    let mut largest = (0.0, samples[0].2);
    let t0 = samples[0].0;
    for &(t, c, line) in samples {
        let k = (t - t0) / interval;
        let idx = k.round();
        if !(0.0..MAX_INTERVALS).contains(&idx) {
            return Err(err(
                line,
                format!(
                    "this row is {:.3e} s after the first, {idx:.3e} intervals of {interval} s; a trace may span at most {MAX_INTERVALS:.0e} intervals",
                    t - t0
                ),
            ));
        }
        if (k - idx).abs() > 1e-6 || (idx as u64) < next {
            return Err(err(
                line,
                format!(
                    "rows must be evenly spaced {interval} s apart (as the first two are); this one is {} s after the start",
                    t - t0
                ),
            ));
        }
        // A missing interval had no requests; zero counts need no row.
        if c != 0.0 {
            rows.push((idx as u64, c));
        }
        if c > largest.0 {
            largest = (c, line);
        }
        next = idx as u64 + 1;
    }
    let interval_ns = (interval * 1e9).round() as u64;
    Ok((interval_ns, Counts { len: next, rows }, largest.1))
}

/// Reads a CSV trace. `time_column` and `count_column` name columns (default: the first two).
pub fn read_csv(
    text: &str,
    time_column: Option<&str>,
    count_column: Option<&str>,
) -> Result<TraceData, TraceError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| err(1, format!("cannot read the header row: {e}")))?
        .clone();
    let find = |name: Option<&str>, default: usize, what: &str| -> Result<usize, TraceError> {
        match name {
            None if headers.len() > default => Ok(default),
            None => Err(err(
                1,
                format!(
                    "expected at least two columns (time, count); the header has {}",
                    headers.len()
                ),
            )),
            Some(n) => headers.iter().position(|h| h.trim() == n).ok_or_else(|| {
                err(
                    1,
                    format!(
                        "no {what} column {n:?}; the columns are {}",
                        headers.iter().collect::<Vec<_>>().join(", ")
                    ),
                )
            }),
        }
    };
    let tc = find(time_column, 0, "time")?;
    let cc = find(count_column, 1, "count")?;
    let mut samples = Vec::new();
    let mut iso: Option<bool> = None;
    for (i, rec) in reader.records().enumerate() {
        let line = rec
            .as_ref()
            .ok()
            .and_then(|r| r.position())
            .map_or(i + 2, |p| p.line() as usize);
        let rec = rec.map_err(|e| err(line, format!("unreadable row: {e}")))?;
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let (Some(t_raw), Some(c_raw)) = (rec.get(tc), rec.get(cc)) else {
            return Err(err(
                line,
                format!("expected {} columns, got {}", headers.len(), rec.len()),
            ));
        };
        let t_raw = t_raw.trim();
        let is_iso = *iso.get_or_insert_with(|| t_raw.parse::<f64>().is_err());
        let t = if is_iso {
            parse_iso8601(t_raw)
        } else {
            t_raw.parse::<f64>().ok().filter(|x| x.is_finite())
        };
        let Some(t) = t else {
            let expected = if is_iso {
                "an ISO-8601 time such as 1995-07-01T00:00:00-04:00"
            } else {
                "seconds from the start"
            };
            return Err(err(line, format!("time {t_raw:?}: expected {expected}")));
        };
        let c_raw = c_raw.trim();
        let c = c_raw
            .parse::<f64>()
            .ok()
            .filter(|c| c.is_finite() && *c >= 0.0);
        let Some(c) = c else {
            return Err(err(
                line,
                format!("count {c_raw:?}: expected a number of requests ≥ 0"),
            ));
        };
        samples.push((t, c, line));
    }
    let (interval_ns, counts, largest_at) = grid(&samples)?;
    Ok(TraceData {
        interval_ns,
        series: vec![Series {
            label: None,
            counts,
            largest_at,
        }],
    })
}

/// Reads a saved Prometheus `query_range` response; each series is labelled by `label`.
pub fn read_prometheus(text: &str, label: &str) -> Result<TraceData, TraceError> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| err(e.line(), format!("not valid JSON: {e}")))?;
    if v.get("status").and_then(|s| s.as_str()) != Some("success") {
        return Err(err(
            0,
            "expected a Prometheus response with \"status\": \"success\"".to_string(),
        ));
    }
    let data = v.get("data").ok_or_else(|| err(0, "no \"data\" object"))?;
    if data.get("resultType").and_then(|s| s.as_str()) != Some("matrix") {
        return Err(err(
            0,
            "expected \"resultType\": \"matrix\" (a query_range response)",
        ));
    }
    let result = data
        .get("result")
        .and_then(|r| r.as_array())
        .ok_or_else(|| err(0, "no \"result\" array"))?;
    if result.is_empty() {
        return Err(err(0, "the response holds no series"));
    }
    let mut parsed: Vec<(Option<String>, Vec<Sample>)> = Vec::new();
    for (si, s) in result.iter().enumerate() {
        let name = s
            .get("metric")
            .and_then(|m| m.get(label))
            .and_then(|l| l.as_str())
            .map(String::from);
        let values = s
            .get("values")
            .and_then(|x| x.as_array())
            .ok_or_else(|| err(0, format!("series {si}: no \"values\" array")))?;
        let mut samples = Vec::new();
        for (vi, pair) in values.iter().enumerate() {
            let t = pair.get(0).and_then(|t| t.as_f64());
            let c = pair
                .get(1)
                .and_then(|c| c.as_str())
                .and_then(|c| c.parse::<f64>().ok());
            match (t, c) {
                (Some(t), Some(c)) if c.is_finite() && c >= 0.0 => samples.push((t, c, vi + 1)),
                (Some(_), Some(c)) if c.is_nan() => samples.push((t.unwrap_or(0.0), 0.0, vi + 1)),
                _ => {
                    return Err(err(
                        0,
                        format!(
                            "series {si} value {vi}: expected [<unix time>, \"<count ≥ 0>\"], got {pair}"
                        ),
                    ));
                }
            }
        }
        parsed.push((name, samples));
    }
    // One grid for all series: from the earliest to the latest time, at the smallest step.
    let start = parsed
        .iter()
        .filter_map(|(_, s)| s.first().map(|x| x.0))
        .fold(f64::INFINITY, f64::min);
    let mut series = Vec::new();
    let mut interval_ns = 0;
    for (name, mut samples) in parsed {
        if samples.is_empty() {
            continue;
        }
        if samples[0].0 > start {
            samples.insert(0, (start, 0.0, 0));
        }
        let (iv, counts, largest_at) = grid(&samples).map_err(|e| {
            err(
                0,
                format!("series {}: {}", name.as_deref().unwrap_or("?"), e.message),
            )
        })?;
        if interval_ns != 0 && iv != interval_ns {
            return Err(err(
                0,
                "series have different steps; query them with one step",
            ));
        }
        interval_ns = iv;
        series.push(Series {
            label: name,
            counts,
            largest_at,
        });
    }
    Ok(TraceData {
        interval_ns,
        series,
    })
}

/// Largest trace file flysim reads.
const MAX_TRACE_BYTES: u64 = 4 << 30;

/// Reads a trace file; the format follows the extension (`.json` is Prometheus).
pub fn read_file(
    path: &Path,
    time_column: Option<&str>,
    count_column: Option<&str>,
    label: &str,
    prometheus: Option<bool>,
) -> Result<TraceData, TraceError> {
    let text =
        super::doc::read_text(path, MAX_TRACE_BYTES).map_err(|(origin, message)| match origin {
            super::doc::Origin::File { line, column } => {
                err(line as usize, format!("column {column}: {message}"))
            }
            _ => err(0, message),
        })?;
    let is_json = prometheus.unwrap_or_else(|| {
        path.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    });
    if is_json {
        read_prometheus(&text, label)
    } else {
        read_csv(&text, time_column, count_column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times() {
        assert_eq!(parse_iso8601("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_iso8601("1970-01-02T00:00:00+00:00"), Some(86400.0));
        let a = parse_iso8601("1995-07-01T00:00:00-04:00").unwrap();
        let b = parse_iso8601("1995-07-01T04:00:00Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(
            parse_iso8601("1995-07-01T00:01:00-04:00").unwrap() - a,
            60.0
        );
        assert_eq!(
            parse_iso8601("2000-03-01T00:00:00Z").unwrap()
                - parse_iso8601("2000-02-28T00:00:00Z").unwrap(),
            2.0 * 86400.0
        );
        assert!(parse_iso8601("1995-13-01T00:00:00Z").is_none());
        assert!(parse_iso8601("yesterday").is_none());
    }

    #[test]
    fn csv_traces_with_gaps_and_bad_rows() {
        let t = read_csv("second,requests\n0,3\n1,0\n3,2\n", None, None).unwrap();
        assert_eq!(t.interval_ns, 1_000_000_000);
        assert_eq!(t.series[0].counts.to_dense(), vec![3.0, 0.0, 0.0, 2.0]);
        assert_eq!(t.total(), 5.0);
        let e = read_csv("second,requests\n0,3\n1,x\n", None, None).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("count \"x\""));
        let e = read_csv("t,n\n0,1\n60,1\n90,1\n", None, None).unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.message.contains("evenly spaced"));
        let e = read_csv("t,n\n0,1\n", None, Some("requests")).unwrap_err();
        assert!(e.message.contains("no count column \"requests\""));
    }

    #[test]
    fn far_apart_rows_cost_memory_per_row() {
        let t = read_csv("t,n\n0,1\n1,2\n2,0\n60000000000,4\n", None, None).unwrap();
        assert_eq!(t.series[0].counts.len, 60_000_000_001);
        assert_eq!(
            t.series[0].counts.rows,
            vec![(0, 1.0), (1, 2.0), (60_000_000_000, 4.0)]
        );
        assert_eq!(t.series[0].counts.get(60_000_000_000), 4.0);
        assert_eq!(t.series[0].counts.next_busy(2), Some(60_000_000_000));
        let e = read_csv("t,n\n0,1\n1,2\n1e300,1\n", None, None).unwrap_err();
        assert_eq!(e.line, 4);
        assert!(parse_iso8601("1995-07-01T00:00:00-04:9223372036854775807").is_none());
        assert!(parse_iso8601("99999999999-07-01T00:00:00Z").is_none());
    }

    #[test]
    fn prometheus_matrix() {
        let text = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"region":"ams"},"values":[[1700000000,"3"],[1700000060,"4.5"]]},
            {"metric":{"region":"ewr"},"values":[[1700000060,"2"]]}]}}"#;
        let t = read_prometheus(text, "region").unwrap();
        assert_eq!(t.interval_ns, 60_000_000_000);
        assert_eq!(t.series[0].counts.to_dense(), vec![3.0, 4.5]);
        assert_eq!(t.series[1].counts.to_dense(), vec![0.0, 2.0]);
        assert_eq!(t.series[1].label.as_deref(), Some("ewr"));
        assert!(read_prometheus("{\"status\":\"error\"}", "region").is_err());
    }
}
