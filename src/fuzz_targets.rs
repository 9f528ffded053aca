//! Entry points for fuzzing the readers: each takes arbitrary bytes and must return without
//! panicking, hanging or allocating beyond the input's size. `fuzz/` calls them under
//! libFuzzer; `tests/it/fuzz_corpus.rs` replays the saved corpus through them on every test
//! run. Not a user-facing API.

use std::path::Path;

/// The scenario reader and validator.
pub fn scenario(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::scenario::from_str(text, "fuzz.toml", &[]);
    }
}

/// The sweep reader (its base scenarios resolve against the working folder).
pub fn sweep(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::sweep::from_text(text, Path::new("fuzz-sweep.toml"));
    }
}

/// The plan reader: axes, conditions, constraints, every candidate's scenarios and floors
/// (its base scenarios resolve against the working folder).
pub fn plan(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::plan::from_text(text, Path::new("fuzz-plan.toml"));
    }
}

/// The fly.toml reader on its own, as `validate` and `import` use it.
pub fn fly_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(root) = crate::scenario::doc::parse(text) else {
        return;
    };
    let mut p = crate::scenario::reader::Problems::new("fly.toml");
    let _ = crate::scenario::fly::read(&root, "", &mut p);
}

/// The CSV trace reader, and the replay built from what it accepts.
pub fn trace_csv(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(t) = crate::scenario::trace::read_csv(text, None, None)
    {
        exercise_counts(&t);
    }
}

/// The Prometheus `query_range` reader.
pub fn prometheus(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(t) = crate::scenario::trace::read_prometheus(text, "region")
    {
        exercise_counts(&t);
    }
}

fn exercise_counts(t: &crate::scenario::trace::TraceData) {
    for s in &t.series {
        let c = &s.counts;
        let _ = (c.total(), c.max(), c.get(c.len / 2), c.next_busy(c.len / 3));
    }
}

/// A valid run's files, in the order the first input byte picks one to replace.
const RUN_FILES: [(&str, &[u8]); 6] = [
    (
        "timeseries.csv",
        include_bytes!("../tests/fixtures/chart-run/timeseries.csv"),
    ),
    (
        "states.csv",
        include_bytes!("../tests/fixtures/chart-run/states.csv"),
    ),
    (
        "latency.csv",
        include_bytes!("../tests/fixtures/chart-run/latency.csv"),
    ),
    (
        "cost.csv",
        include_bytes!("../tests/fixtures/chart-run/cost.csv"),
    ),
    (
        "incidents.csv",
        include_bytes!("../tests/fixtures/chart-run/incidents.csv"),
    ),
    (
        "summary.json",
        include_bytes!("../tests/fixtures/chart-run/summary.json"),
    ),
];

const SWEEP_FILES: [(&str, &[u8]); 2] = [
    (
        "points.csv",
        include_bytes!("../tests/fixtures/chart-sweep/points.csv"),
    ),
    (
        "sweep.json",
        include_bytes!("../tests/fixtures/chart-sweep/sweep.json"),
    ),
];

fn with_replaced(files: &[(&str, &[u8])], data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let pick = data.first().map_or(0, |b| *b as usize % files.len());
    files
        .iter()
        .enumerate()
        .map(|(i, (name, bytes))| {
            let bytes = if i == pick {
                data.get(1..).unwrap_or_default()
            } else {
                bytes
            };
            (name.to_string(), bytes.to_vec())
        })
        .collect()
}

/// `flysim chart` on a run folder: one of its files (picked by the first byte) replaced by
/// the rest of the input.
pub fn run_charts(data: &[u8]) {
    let _ = crate::chart::charts_for_run_files(&with_replaced(&RUN_FILES, data), "");
}

/// `flysim chart` on a sweep folder, likewise.
pub fn sweep_charts(data: &[u8]) {
    let _ = crate::chart::charts_for_sweep_files(&with_replaced(&SWEEP_FILES, data));
}

/// A fuzz target: bytes in, nothing out.
pub type Target = fn(&[u8]);

/// fly-autoscaler's two languages: the first line as an Expr machine count over the metrics
/// `a` and `b`, the rest as a PromQL query, each evaluated when it parses (the query over a
/// few series of every kind a scrape gives).
pub fn query(data: &[u8]) {
    use crate::query::expr::Expr;
    use crate::query::promql::{Labels, Query, RangeSeries, Samples};
    struct Few;
    impl Samples for Few {
        fn instant(&self, _sel: usize, at: i64) -> Vec<(Labels, f64)> {
            let l = |v: &str| {
                vec![
                    ("le".to_string(), v.to_string()),
                    ("region".into(), "ams".into()),
                ]
            };
            vec![(l("0.1"), at as f64), (l("+Inf"), 2.0), (l("x"), f64::NAN)]
        }
        fn range(&self, _sel: usize, at: i64) -> Vec<RangeSeries> {
            vec![RangeSeries {
                labels: vec![("instance".into(), "web:0".into())],
                window: vec![(at - 1, 5.0), (at, 3.0)],
                before: Some((at - 20, 1.0)),
            }]
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let names = ["a".to_string(), "b".to_string()];
    if let Ok(e) = Expr::parse(first, &names) {
        let _ = e.eval(&[data.len() as f64, f64::NAN]);
    }
    let metrics = crate::scenario::FLY_METRICS;
    if let Ok(q) = Query::parse(&crate::query::promql::expand(rest, "web"), metrics) {
        let _ = q.eval(&Few, 60_000_000_000);
        let _ = q.eval(&Few, -1);
    }
}

/// Every target by name, for the corpus replay.
pub const TARGETS: &[(&str, Target)] = &[
    ("scenario", scenario),
    ("sweep", sweep),
    ("plan", plan),
    ("fly_toml", fly_toml),
    ("trace_csv", trace_csv),
    ("prometheus", prometheus),
    ("run_charts", run_charts),
    ("sweep_charts", sweep_charts),
    ("query", query),
];
