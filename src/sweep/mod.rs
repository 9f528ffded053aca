//! Sweeps: a base scenario, axes over any of its values, replications; expanded into runs.
//!
//! A sweep file names a base scenario and axes by the same paths as `--set`. Axes combine as
//! a grid (cartesian product, the first axis varying slowest) or zipped (the i-th values
//! together). Every expanded scenario goes through the full validation before anything runs.
//! Replication `r` uses the same random streams at every point (common random numbers), so
//! differences between points come from the configuration, not from noise.
//!
//! Depends on `scenario`; running lives in [`exec`].

pub mod exec;

use std::path::{Path, PathBuf};

use crate::scenario::doc::{self, Node, Origin, Value};
use crate::scenario::reader::{Problem, Problems, Severity, TableReader};
use crate::scenario::{self, Scenario};

/// One axis: a scenario path and the values it takes (as TOML text for `apply_set`).
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// Path, as for `--set`.
    pub path: String,
    /// Values, as TOML text.
    pub values: Vec<String>,
}

/// How axes combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Combine {
    /// Every combination.
    Grid,
    /// The i-th value of every axis together.
    Zip,
}

/// A validated sweep: every point's scenario, ready to run.
#[derive(Clone, Debug)]
pub struct Sweep {
    /// Name; default output folder `output/<name>/`.
    pub name: String,
    /// Axes, in declared order.
    pub axes: Vec<Axis>,
    /// How they combine.
    pub combine: Combine,
    /// Replications per point.
    pub replications: u32,
    /// Grid points: the value (TOML text) of each axis, and the validated scenario.
    pub points: Vec<(Vec<String>, Scenario)>,
    /// Hash of everything that determines the results (for resume checks).
    pub hash: String,
}

impl Sweep {
    /// Runs in all: points × replications.
    pub fn total_runs(&self) -> usize {
        self.points.len() * self.replications as usize
    }
}

/// A sweep that did not validate.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{}", render(.problems))]
pub struct SweepError {
    /// Every problem found.
    pub problems: Vec<Problem>,
}

/// Every error of a list, then their count.
pub(crate) fn render(problems: &[Problem]) -> String {
    let errors: Vec<String> = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .map(|p| p.to_string())
        .collect();
    format!(
        "{}\n{} error{} found; nothing was run",
        errors.join("\n"),
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    )
}

const SWEEP_KEYS: &[&str] = &["name", "scenario", "replications", "combine", "set", "axis"];
const AXIS_KEYS: &[&str] = &["path", "values", "range"];
const RANGE_KEYS: &[&str] = &["from", "to", "step"];

/// Most points one sweep may expand to: every point's scenario is validated and held in memory.
pub const MAX_POINTS: usize = 20_000;
/// Most runs (points × replications) one sweep may hold: each run's summary stays in memory
/// until the result files are written.
pub const MAX_RUNS: usize = 200_000;

/// Reads and validates a sweep file (and every scenario it expands to).
pub fn load(path: &Path) -> Result<Sweep, SweepError> {
    load_with(path, &[])
}

/// [`load`] with command-line `--set` overrides (and `--seed` as `seed=...`) applied to every
/// point's scenario before its axis values, as the file's own `set` list is.
pub fn load_with(path: &Path, cli_sets: &[String]) -> Result<Sweep, SweepError> {
    let text = read_file(path).map_err(|problems| SweepError { problems })?;
    from_text_with(&text, path, cli_sets)
}

/// A sweep's or a plan's file as text, or the problem reading it.
pub(crate) fn read_file(path: &Path) -> Result<String, Vec<Problem>> {
    doc::read_text(path, doc::MAX_TEXT_BYTES).map_err(|(origin, message)| {
        vec![Problem {
            severity: Severity::Error,
            file: path.display().to_string(),
            origin,
            path: String::new(),
            message,
        }]
    })
}

/// Validates a sweep file's text; `path` is where it was read from (its base scenario's path
/// is relative to that folder).
pub fn from_text(text: &str, path: &Path) -> Result<Sweep, SweepError> {
    from_text_with(text, path, &[])
}

/// [`from_text`] with command-line overrides.
fn from_text_with(text: &str, path: &Path, cli_sets: &[String]) -> Result<Sweep, SweepError> {
    let file = path.display().to_string();
    let mut p = Problems::new(&file);
    let root = match doc::parse(text) {
        Ok(r) => r,
        Err(e) => {
            p.error(&e.origin, "", format!("not valid TOML: {}", e.message));
            return Err(SweepError { problems: p.list });
        }
    };
    if looks_like_scenario(&root) {
        p.error(
            &root.origin,
            "",
            "this is a scenario, not a sweep file (it has `duration` or [[app]], and no `scenario` or [[axis]]); run it with `flysim run`, or sweep it with `flysim run FILE --set path=a,b,c`",
        );
        return Err(SweepError { problems: p.list });
    }
    let mut t = TableReader::new(&root, "", &mut p);
    let name = t.opt_str(&mut p, "name");
    if let Some(why) = name.as_deref().and_then(scenario::folder_name_problem) {
        p.error(&t.origin_of("name"), "name", why);
    }
    let scenario_rel = t.req_str(&mut p, "scenario");
    let replications = t
        .opt_int(
            &mut p,
            "replications",
            1,
            scenario::validate::MAX_REPLICATIONS,
        )
        .map(|r| r as u32);
    let combine = match t.opt_str(&mut p, "combine").as_deref() {
        None | Some("grid") => Combine::Grid,
        Some("zip") => Combine::Zip,
        Some(other) => {
            p.error(
                &t.origin_of("combine"),
                "combine",
                format!("expected \"grid\" or \"zip\", got {other:?}"),
            );
            Combine::Grid
        }
    };
    let fixed = t.opt_str_list(&mut p, "set").unwrap_or_default();
    let mut axes = Vec::new();
    let axis_nodes = t.opt_tables(&mut p, "axis");
    for (apath, n) in &axis_nodes {
        if let Some(a) = read_axis(n, apath, &mut p, &[]) {
            axes.push((a, n.origin.clone(), apath.clone()));
        }
    }
    t.finish_strict(&mut p, SWEEP_KEYS);
    if axis_nodes.is_empty() && !p.has_errors() {
        p.error(
            &root.origin,
            "axis",
            "no [[axis]]; a sweep needs at least one axis (path + values or range)",
        );
    }
    if combine == Combine::Zip
        && let Some((first, _, _)) = axes.first()
    {
        let n = first.values.len();
        for (a, origin, apath) in &axes {
            if a.values.len() != n {
                p.error(
                    origin,
                    apath,
                    format!(
                        "zipped axes need the same number of values: {} has {}, {} has {n}",
                        a.path,
                        a.values.len(),
                        first.path
                    ),
                );
            }
        }
    }
    let default_name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sweep".into());
    let base_path = scenario_rel.map(|rel| path.parent().unwrap_or(Path::new(".")).join(rel));
    let axes_only: Vec<Axis> = axes.iter().map(|(a, _, _)| a.clone()).collect();
    let labels: Vec<String> = axes
        .iter()
        .map(|(_, _, apath)| format!("{file}: {apath}"))
        .collect();
    if p.has_errors() {
        return Err(SweepError { problems: p.list });
    }
    let base_path = base_path.expect("checked: scenario present when no errors");
    let fixed: Vec<(String, String)> = fixed
        .iter()
        .map(|s| (s.clone(), format!("{file}: set {s}")))
        .chain(cli_sets.iter().map(|s| (s.clone(), format!("--set {s}"))))
        .collect();
    expand(
        &base_path,
        name.unwrap_or(default_name),
        axes_only,
        &labels,
        combine,
        &fixed,
        replications,
        p.list,
        text,
    )
}

/// Reads an `[[axis]]` table: `path` and `values` or `range`; `extra` are further keys the
/// caller reads itself (a plan's axis names and monotonicity).
pub(crate) fn read_axis(n: &Node, path: &str, p: &mut Problems, extra: &[&str]) -> Option<Axis> {
    let mut t = TableReader::new(n, path, p);
    let apath = t.req_str(p, "path");
    let values = match (t.take("values"), t.take("range")) {
        (Some(_), Some(r)) => {
            p.error(
                &r.origin,
                &t.key_path("range"),
                "give either values or range, not both",
            );
            None
        }
        (Some(v), None) => match &v.value {
            Value::Array(items) if items.is_empty() => {
                p.error(
                    &v.origin,
                    &t.key_path("values"),
                    "empty axis; give at least one value",
                );
                None
            }
            Value::Array(items) => Some(items.iter().map(|n| doc::to_toml(&n.value)).collect()),
            other => {
                p.error(
                    &v.origin,
                    &t.key_path("values"),
                    format!("expected an array of values, got {other}"),
                );
                None
            }
        },
        (None, Some(r)) => read_range(r, &t.key_path("range"), p),
        (None, None) => {
            p.error(
                t.origin(),
                path,
                "missing values or range, e.g. values = [1, 2, 3] or range = { from = 1, to = 5 }",
            );
            None
        }
    };
    for key in extra {
        // The caller reads these from the same table.
        t.take(key);
    }
    let keys: Vec<&str> = AXIS_KEYS.iter().chain(extra).copied().collect();
    t.finish_strict(p, &keys);
    Some(Axis {
        path: apath?,
        values: values?,
    })
}

/// A range, inclusive, stepped by index: from, from + step, ... ≤ to. Integers give integers;
/// any decimal (`0.25`) gives decimals with as many places as the most precise of the three,
/// counted in whole units of the last place so that no step drifts (`0.1 + 0.2` is `0.3`).
fn read_range(n: &Node, path: &str, p: &mut Problems) -> Option<Vec<String>> {
    let mut t = TableReader::new(n, path, p);
    let number = |t: &mut TableReader, key: &str, p: &mut Problems| match t.take(key) {
        None => None,
        Some(v) => match v.value {
            Value::Int(i) => Some((i as f64, 0usize, true)),
            Value::Float(x) if x.is_finite() => Some((x, decimals(x), false)),
            ref other => {
                p.error(
                    &v.origin,
                    &format!("{path}.{key}"),
                    format!("expected a number, got {other}"),
                );
                None
            }
        },
    };
    let from = number(&mut t, "from", p);
    let to = number(&mut t, "to", p);
    let step = number(&mut t, "step", p).or(Some((1.0, 0, true)));
    for (k, v) in [("from", from), ("to", to)] {
        if v.is_none() && n.get(k).is_none() {
            p.error(t.origin(), &t.key_path(k), "missing; expected a number");
        }
    }
    t.finish_strict(p, RANGE_KEYS);
    let (from, to, step) = (from?, to?, step?);
    let places = from.1.max(to.1).max(step.1);
    if places > 9 {
        p.error(
            &n.origin,
            path,
            "more than 9 decimal places; give the range in coarser steps",
        );
        return None;
    }
    let scale = 10f64.powi(places as i32);
    let whole = |x: f64| (x * scale).round();
    let (f, e, s) = (whole(from.0), whole(to.0), whole(step.0));
    if s <= 0.0 {
        p.error(
            &n.get("step").map_or(&n.origin, |v| &v.origin).clone(),
            &format!("{path}.step"),
            format!("expected a step above 0, got {}", step.0),
        );
        return None;
    }
    if e < f {
        p.error(
            &n.origin,
            path,
            format!("empty range: to ({}) is below from ({})", to.0, from.0),
        );
        return None;
    }
    if f.abs() > 9e15 || e.abs() > 9e15 {
        p.error(&n.origin, path, "the range's ends are too large");
        return None;
    }
    let count = ((e - f) / s).floor() as u64 + 1;
    if count > 100_000 {
        p.error(
            &n.origin,
            path,
            format!("{count} values; at most 100000 per axis"),
        );
        return None;
    }
    let integers = from.2 && to.2 && step.2;
    let (f, s) = (f as i64, s as i64);
    Some(
        (0..count as i64)
            .map(|i| {
                let v = f + i * s;
                if integers {
                    v.to_string()
                } else {
                    let unit = 10i64.pow(places as u32);
                    let sign = if v < 0 { "-" } else { "" };
                    let v = v.unsigned_abs();
                    let unit = unit as u64;
                    if places == 0 {
                        format!("{sign}{v}.0")
                    } else {
                        format!("{sign}{}.{:0places$}", v / unit, v % unit)
                    }
                }
            })
            .collect(),
    )
}

/// Decimal places of a number as its shortest text shows it (`0.25` → 2, `1e-3` → 3).
fn decimals(x: f64) -> usize {
    let text = format!("{}", x.abs());
    match text.split_once('.') {
        Some((_, frac)) => frac.len(),
        None => 0,
    }
}

/// Expands axes into points and validates each point's scenario.
#[allow(clippy::too_many_arguments)]
pub fn expand(
    base: &Path,
    name: String,
    axes: Vec<Axis>,
    labels: &[String],
    combine: Combine,
    fixed: &[(String, String)],
    replications: Option<u32>,
    problems: Vec<Problem>,
    sweep_text: &str,
) -> Result<Sweep, SweepError> {
    let base_name = base.display().to_string();
    let base_text =
        doc::read_text(base, doc::MAX_TEXT_BYTES).map_err(|(origin, message)| SweepError {
            problems: vec![Problem {
                severity: Severity::Error,
                file: base_name.clone(),
                origin,
                path: String::new(),
                message: format!("the base scenario: {message}"),
            }],
        })?;
    expand_text(
        &base_name,
        &base_text,
        name,
        axes,
        labels,
        combine,
        fixed,
        replications,
        problems,
        sweep_text,
    )
}

/// [`expand`] over a base scenario's text.
#[allow(clippy::too_many_arguments)]
fn expand_text(
    base_name: &str,
    base_text: &str,
    name: String,
    axes: Vec<Axis>,
    labels: &[String],
    combine: Combine,
    fixed: &[(String, String)],
    replications: Option<u32>,
    mut problems: Vec<Problem>,
    sweep_text: &str,
) -> Result<Sweep, SweepError> {
    let base_name = base_name.to_string();
    let too_big = |problems: &mut Vec<Problem>, what: String| {
        problems.push(Problem {
            severity: Severity::Error,
            file: base_name.clone(),
            origin: Origin::Implied,
            path: String::new(),
            message: what,
        });
    };
    let total = match combine {
        Combine::Zip => Some(axes.first().map_or(0, |a| a.values.len())),
        Combine::Grid => axes
            .iter()
            .try_fold(1usize, |n, a| n.checked_mul(a.values.len())),
    };
    let Some(total) = total.filter(|&t| t <= MAX_POINTS) else {
        let sizes: Vec<String> = axes.iter().map(|a| a.values.len().to_string()).collect();
        too_big(
            &mut problems,
            format!(
                "the axes ({} values) make {} points; a sweep may have at most {MAX_POINTS}. Use coarser axes or split the sweep",
                sizes.join(" × "),
                total.map_or_else(|| "more than 2^64".to_string(), |t| t.to_string())
            ),
        );
        return Err(SweepError { problems });
    };
    let combos: Vec<Vec<usize>> = match combine {
        Combine::Zip => (0..total).map(|i| vec![i; axes.len()]).collect(),
        Combine::Grid => {
            let sizes: Vec<usize> = axes.iter().map(|a| a.values.len()).collect();
            (0..total).map(|i| grid_point(&sizes, i)).collect()
        }
    };
    let mut points = Vec::new();
    let mut seen_errors = std::collections::BTreeSet::new();
    for combo in combos {
        let mut sets = fixed.to_vec();
        let mut values = Vec::new();
        for ((a, label), &i) in axes.iter().zip(labels).zip(&combo) {
            let v = &a.values[i];
            sets.push((format!("{}={v}", a.path), format!("{label} value {v}")));
            values.push(v.clone());
        }
        match scenario::validate::from_text(base_text, &base_name, &sets) {
            Ok(l) => points.push((values, l.scenario)),
            Err(e) => {
                // The same problem at many points is reported once.
                for prob in e.problems {
                    if seen_errors.insert(prob.to_string()) {
                        problems.push(prob);
                    }
                }
            }
        }
    }
    if problems.iter().any(|p| p.severity == Severity::Error) {
        return Err(SweepError { problems });
    }
    let replications =
        replications.unwrap_or_else(|| points.first().map_or(1, |(_, s)| s.replications));
    if points.len() * replications as usize > MAX_RUNS {
        too_big(
            &mut problems,
            format!(
                "{} points × {replications} replications make {} runs; a sweep may hold at most {MAX_RUNS}",
                points.len(),
                points.len() * replications as usize
            ),
        );
        return Err(SweepError { problems });
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in sweep_text
        .bytes()
        .chain(base_text.bytes())
        .chain(replications.to_le_bytes())
    {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    for (_, s) in &points {
        for b in s.hash.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    Ok(Sweep {
        name,
        axes,
        combine,
        replications,
        points,
        hash: format!("{h:016x}"),
    })
}

/// The value indices of grid point `i` over axes of `sizes` values, the first axis varying
/// slowest.
pub(crate) fn grid_point(sizes: &[usize], mut i: usize) -> Vec<usize> {
    let mut c = vec![0; sizes.len()];
    for (k, &n) in sizes.iter().enumerate().rev() {
        c[k] = i % n;
        i /= n;
    }
    c
}

/// Splits a `--set` value at top-level commas (not inside quotes, brackets or braces):
/// `a,b,c` → three values; `["ams","ewr"]` stays one.
pub fn split_values(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut cur = String::new();
    for c in value.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => {
                out.push(std::mem::take(&mut cur).trim().to_string());
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur.trim().to_string());
    out
}

/// A sweep from `flysim run SCENARIO --set path=a,b,c`: every `--set` with several values
/// becomes a grid axis, the others fixed overrides.
pub fn from_run_args(scenario_path: Option<&Path>, sets: &[String]) -> Result<Sweep, SweepError> {
    let mut fixed = Vec::new();
    let mut axes = Vec::new();
    let mut labels = Vec::new();
    for s in sets {
        let (path, value) = s.split_once('=').unwrap_or((s, ""));
        let values = split_values(value);
        if values.len() > 1 {
            axes.push(Axis {
                path: path.trim().to_string(),
                values,
            });
            labels.push(format!("--set {s}"));
        } else {
            fixed.push((s.clone(), format!("--set {s}")));
        }
    }
    let (base_name, base_text) = match scenario_path {
        Some(p) => (
            p.display().to_string(),
            doc::read_text(p, doc::MAX_TEXT_BYTES).map_err(|(origin, message)| SweepError {
                problems: vec![Problem {
                    severity: Severity::Error,
                    file: p.display().to_string(),
                    origin,
                    path: String::new(),
                    message,
                }],
            })?,
        ),
        None => (
            scenario::QUICKSTART_NAME.to_string(),
            scenario::QUICKSTART.to_string(),
        ),
    };
    let text = format!("{base_name}\n{}", sets.join("\n"));
    let name = scenario::validate::from_text(&base_text, &base_name, &[])
        .ok()
        .map(|l| format!("{}-sweep", l.scenario.name))
        .unwrap_or_else(|| "sweep".into());
    expand_text(
        &base_name,
        &base_text,
        name,
        axes,
        &labels,
        Combine::Grid,
        &fixed,
        None,
        Vec::new(),
        &text,
    )
}

/// Whether a parsed file reads as a scenario rather than a sweep.
pub fn looks_like_scenario(root: &Node) -> bool {
    (root.get("duration").is_some()
        || matches!(root.get("app").map(|a| &a.value), Some(Value::Array(_))))
        && root.get("axis").is_none()
        && root.get("scenario").is_none()
}

/// Whether a parsed file reads as a sweep file.
pub fn looks_like_sweep(root: &Node) -> bool {
    root.get("axis").is_some() && root.get("scenario").is_some()
}

/// Whether `--set` arguments ask for a sweep (some value lists several values).
pub fn is_sweep(sets: &[String]) -> bool {
    sets.iter().any(|s| {
        s.split_once('=')
            .is_some_and(|(_, v)| split_values(v).len() > 1)
    })
}

/// Resolves where a sweep's files go.
pub fn out_dir(sweep: &Sweep, out: Option<PathBuf>) -> PathBuf {
    out.unwrap_or_else(|| Path::new("output").join(&sweep.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_step_in_decimals_without_drift() {
        let doc = doc::parse("r = { from = 0.1, to = 0.5, step = 0.1 }\ni = { from = 2, to = 8, step = 3 }\nm = { from = 1, to = 2, step = 0.25 }\nn = { from = -1.5, to = 0, step = 0.5 }\n").unwrap();
        let mut p = Problems::new("t.toml");
        let r = read_range(doc.get("r").unwrap(), "r", &mut p).unwrap();
        assert_eq!(r, ["0.1", "0.2", "0.3", "0.4", "0.5"]);
        let i = read_range(doc.get("i").unwrap(), "i", &mut p).unwrap();
        assert_eq!(i, ["2", "5", "8"]);
        let m = read_range(doc.get("m").unwrap(), "m", &mut p).unwrap();
        assert_eq!(m, ["1.00", "1.25", "1.50", "1.75", "2.00"]);
        let n = read_range(doc.get("n").unwrap(), "n", &mut p).unwrap();
        assert_eq!(n, ["-1.5", "-1.0", "-0.5", "0.0"]);
        assert!(!p.has_errors(), "{:?}", p.list);
    }

    #[test]
    fn values_split_at_top_level_commas_only() {
        assert_eq!(split_values("1,2,3"), vec!["1", "2", "3"]);
        assert_eq!(split_values("[\"ams\",\"ewr\"]"), vec!["[\"ams\",\"ewr\"]"]);
        assert_eq!(split_values("stop, suspend"), vec!["stop", "suspend"]);
        assert_eq!(split_values("\"a,b\",c"), vec!["\"a,b\"", "c"]);
        assert_eq!(split_values("30s"), vec!["30s"]);
        assert!(is_sweep(&["app.web.machines[0].count=1,2".into()]));
        assert!(!is_sweep(&[
            "app.web.machines[0].regions=[\"ams\",\"ewr\"]".into()
        ]));
    }
}
