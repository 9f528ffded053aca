//! `flysim plan`: which configuration to run. A plan file names base scenarios, a search space
//! (axes in the sweep's syntax, conditions between them), the objective (the 30-day cost) and
//! the constraints (`[slo]`, per scenario if needed) with a confidence level; [`search`] finds
//! the cheapest candidate that meets every constraint in every scenario, with that confidence.
//!
//! This file reads and validates a plan into a [`Plan`]: every candidate's scenarios are
//! validated before anything runs, and each gets its cost floor (what it pays whatever
//! happens), which lets the search skip candidates that cannot be cheapest.
//!
//! Depends on `scenario`, `sweep` (the axis syntax), `query` (conditions), `platform` (the
//! world at time 0, for the floors).

pub mod outcome;
pub mod search;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::platform::Sim;
use crate::platform::machine::MState;
use crate::query::expr::Expr;
use crate::scenario::doc::{self, Node, Origin, Value};
use crate::scenario::reader::{Problem, Problems, Severity, TableReader};
use crate::scenario::{self, Autostop, Scenario};

/// A validated plan, every candidate ready to run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Name; default output folder `output/<name>/`.
    pub name: String,
    /// The base scenarios: a candidate must meet its constraints in each.
    pub scenarios: Vec<PlanScenario>,
    /// The axes, in declared order.
    pub axes: Vec<PlanAxis>,
    /// Conditions between axes (`hard >= soft`), as written.
    pub conditions: Vec<String>,
    /// Grid points the conditions removed.
    pub excluded: usize,
    /// The candidates: grid points the conditions keep, in grid order.
    pub candidates: Vec<Candidate>,
    /// Confidence of every claim the plan makes together (0.95: 95 %).
    pub confidence: f64,
    /// Replications a candidate gets before it is first judged.
    pub min_replications: u32,
    /// Most replications a candidate gets (the last look may go beyond, see `search`).
    pub max_replications: u32,
    /// Candidates evaluated together in one round.
    pub batch: usize,
    /// Hash of everything that determines the results (for resume checks).
    pub hash: String,
}

/// One base scenario of a plan.
#[derive(Clone, Debug)]
pub struct PlanScenario {
    /// Its name (the scenario's `name`), for outputs.
    pub label: String,
    /// Its file.
    pub path: String,
    /// Its share of the objective.
    pub weight: f64,
    /// What a candidate must meet in it.
    pub constraints: Vec<Constraint>,
}

/// One axis of the search space.
#[derive(Clone, Debug)]
pub struct PlanAxis {
    /// Short name, for conditions and tables.
    pub name: String,
    /// Scenario path, as for `--set`.
    pub path: String,
    /// Values, as TOML text.
    pub values: Vec<String>,
    /// The values as numbers (durations in seconds, booleans 1 and 0), when all are.
    pub numbers: Option<Vec<f64>>,
    /// Declared monotonicity.
    pub monotone: Option<Direction>,
}

/// Which way an axis gives more: along it, no constraint gets worse and the cost does not fall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Higher values (more Machines, larger limits).
    Increasing,
    /// Lower values (a shorter autostop delay...).
    Decreasing,
}

/// One candidate: a point of the grid.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// Its index in the full grid (first axis slowest).
    pub grid_index: usize,
    /// Index of each axis's value.
    pub values: Vec<usize>,
    /// Its scenarios, in plan order.
    pub scenarios: Vec<Scenario>,
    /// What its objective cannot go below [USD per 30 days] (see [`cost_floor`]).
    pub floor: f64,
}

/// What a constraint bounds, read from one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    /// Served over served and failed.
    Availability,
    /// p99 latency of served requests [ms].
    LatencyP99,
    /// Requests served within the latency target, over served and failed.
    WithinLatency,
    /// Requests that waited for a boot or resume, over those that arrived.
    ColdStartShare,
    /// Requests that waited in the proxy queue, over those that arrived.
    QueuedShare,
    /// Mean time in the proxy queue over every request that arrived [ms].
    QueueWaitMean,
    /// The least availability of the scenario's process groups without a service.
    WorkerAvailability,
}

impl Metric {
    /// Every metric, in `[slo]` order.
    pub const ALL: [Metric; 7] = [
        Metric::Availability,
        Metric::LatencyP99,
        Metric::WithinLatency,
        Metric::ColdStartShare,
        Metric::QueuedShare,
        Metric::QueueWaitMean,
        Metric::WorkerAvailability,
    ];

    /// Its `[slo]` key.
    pub fn key(self) -> &'static str {
        match self {
            Metric::Availability => "availability",
            Metric::LatencyP99 => "latency_p99",
            Metric::WithinLatency => "within_latency",
            Metric::ColdStartShare => "cold_start_share",
            Metric::QueuedShare => "queued_share",
            Metric::QueueWaitMean => "queue_wait_mean",
            Metric::WorkerAvailability => "worker_availability",
        }
    }

    /// Whether the target is a floor (availability) rather than a ceiling (latency).
    pub fn at_least(self) -> bool {
        matches!(
            self,
            Metric::Availability | Metric::WithinLatency | Metric::WorkerAvailability
        )
    }

    /// Whether it is a duration, kept in milliseconds.
    pub fn is_duration(self) -> bool {
        matches!(self, Metric::LatencyP99 | Metric::QueueWaitMean)
    }

    /// A value as people read it, with its unit.
    pub fn show(self, v: f64) -> String {
        if self.is_duration() {
            format!("{} ms", crate::output::figures::short(v))
        } else {
            crate::output::figures::pct(v)
        }
    }
}

/// A bound on one metric.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Constraint {
    /// What it bounds.
    pub metric: Metric,
    /// The bound (shares in 0..1, durations in ms).
    pub target: f64,
}

impl Constraint {
    /// How it reads: `availability ≥ 99.9 %`.
    pub fn describe(&self) -> String {
        format!(
            "{} {} {}",
            self.metric.key(),
            if self.metric.at_least() { "≥" } else { "≤" },
            self.metric.show(self.target)
        )
    }
}

impl Plan {
    /// Constraints over every scenario: the count a rejection's correction divides by.
    pub fn constraint_count(&self) -> usize {
        self.scenarios.iter().map(|s| s.constraints.len()).sum()
    }

    /// The value of axis `axis` at candidate `c`, as TOML text.
    pub fn value(&self, c: &Candidate, axis: usize) -> &str {
        &self.axes[axis].values[c.values[axis]]
    }

    /// The grid size before the conditions.
    pub fn grid_size(&self) -> usize {
        self.candidates.len() + self.excluded
    }
}

/// A plan that did not validate.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{}", crate::sweep::render(.problems))]
pub struct PlanError {
    /// Every problem found.
    pub problems: Vec<Problem>,
}

const PLAN_KEYS: &[&str] = &[
    "name",
    "scenario",
    "axis",
    "where",
    "set",
    "slo",
    "objective",
    "confidence",
    "min_replications",
    "max_replications",
    "batch",
];
const SCENARIO_KEYS: &[&str] = &["path", "weight", "slo"];
const SLO_KEYS: &[&str] = &[
    "availability",
    "latency_p99",
    "within_latency",
    "latency_target",
    "cold_start_share",
    "queued_share",
    "queue_wait_mean",
    "worker_availability",
];

/// Most candidates × scenarios one plan may hold: each is validated and held in memory.
pub const MAX_CANDIDATE_SCENARIOS: usize = 20_000;
/// Most replications a candidate may get.
pub const MAX_REPLICATIONS: u32 = 1_000;
/// Most grid points before the conditions are applied.
pub const MAX_GRID: usize = 1_000_000;

/// Whether a parsed file reads as a plan: `[[scenario]]` tables and axes.
pub fn looks_like_plan(root: &Node) -> bool {
    matches!(
        root.get("scenario").map(|s| &s.value),
        Some(Value::Array(_))
    )
}

/// Reads and validates a plan file and every scenario it expands to.
pub fn load(path: &Path) -> Result<Plan, PlanError> {
    load_with(path, &[])
}

/// [`load`] with command-line `--set` overrides (and `--seed` as `seed=...`) applied to every
/// candidate's scenarios, as the plan's own `set` list is.
pub fn load_with(path: &Path, cli_sets: &[String]) -> Result<Plan, PlanError> {
    let text = crate::sweep::read_file(path).map_err(|problems| PlanError { problems })?;
    from_text_with(&text, path, cli_sets)
}

/// The `[slo]` of a plan or one of its scenarios, as read: each key's value, if given.
#[derive(Clone, Debug, Default)]
struct SloSpec {
    bounds: Vec<(Metric, f64)>,
    latency_target: Option<f64>,
}

impl SloSpec {
    fn merged(&self, over: &SloSpec) -> SloSpec {
        let mut bounds = self.bounds.clone();
        for &(m, v) in &over.bounds {
            match bounds.iter_mut().find(|(k, _)| *k == m) {
                Some(b) => b.1 = v,
                None => bounds.push((m, v)),
            }
        }
        bounds.sort_by_key(|(m, _)| *m);
        SloSpec {
            bounds,
            latency_target: over.latency_target.or(self.latency_target),
        }
    }
}

fn read_slo(n: &Node, path: &str, p: &mut Problems) -> SloSpec {
    let mut t = TableReader::new(n, path, p);
    let mut spec = SloSpec::default();
    for m in Metric::ALL {
        let v = if m.is_duration() {
            t.opt_duration(p, m.key()).map(|d| d.as_millis_f64())
        } else {
            t.opt_num(p, m.key(), 0.0, 1.0)
        };
        if let Some(v) = v {
            if m == Metric::LatencyP99 && v <= 0.0 {
                p.error(
                    &t.origin_of(m.key()),
                    &t.key_path(m.key()),
                    "expected a latency above 0; no request is answered in no time",
                );
            }
            spec.bounds.push((m, v));
        }
    }
    spec.latency_target = t
        .opt_duration(p, "latency_target")
        .map(|d| d.as_millis_f64());
    if spec.latency_target.is_some_and(|v| v <= 0.0) {
        p.error(
            &t.origin_of("latency_target"),
            &t.key_path("latency_target"),
            "expected a latency above 0",
        );
    }
    t.finish_strict(p, SLO_KEYS);
    spec
}

/// A TOML value's text as a number: integers, floats, booleans (1, 0), durations in seconds.
fn as_number(text: &str) -> Option<f64> {
    let node = doc::parse(&format!("v = {text}")).ok()?;
    match &node.get("v")?.value {
        Value::Int(i) => Some(*i as f64),
        Value::Float(x) => Some(*x),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::Str(s) => scenario::units::parse_duration(s).map(|d| d.as_secs_f64()),
        _ => None,
    }
}

/// A short axis name from its path: the last key, made an identifier (`hard_limit`,
/// `machines[0].count` → `count`).
fn default_name(path: &str) -> String {
    let last = path.rsplit('.').next().unwrap_or(path);
    let last = last.split('[').next().unwrap_or(last);
    let mut name: String = last
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Validates a plan's text; `path` is where it was read from (scenario paths are relative to
/// its folder).
pub fn from_text(text: &str, path: &Path) -> Result<Plan, PlanError> {
    from_text_with(text, path, &[])
}

/// [`from_text`] with command-line overrides.
fn from_text_with(text: &str, path: &Path, cli_sets: &[String]) -> Result<Plan, PlanError> {
    let file = path.display().to_string();
    let mut p = Problems::new(&file);
    let fail = |p: Problems| Err(PlanError { problems: p.list });
    let root = match doc::parse(text) {
        Ok(r) => r,
        Err(e) => {
            p.error(&e.origin, "", format!("not valid TOML: {}", e.message));
            return fail(p);
        }
    };
    if !looks_like_plan(&root) {
        let why = if crate::sweep::looks_like_sweep(&root) {
            "this is a sweep file (`scenario = \"...\"`); run it with `flysim sweep`. A plan names its scenarios as [[scenario]] tables, each with a path"
        } else {
            "not a plan: a plan names its base scenarios as [[scenario]] tables (path = \"...\") and its search space as [[axis]] tables"
        };
        p.error(&root.origin, "scenario", why);
        return fail(p);
    }
    let mut t = TableReader::new(&root, "", &mut p);
    let name = t.opt_str(&mut p, "name");
    if let Some(why) = name.as_deref().and_then(scenario::folder_name_problem) {
        p.error(&t.origin_of("name"), "name", why);
    }
    let confidence = t.opt_num(&mut p, "confidence", 0.5, 0.9999).unwrap_or(0.95);
    let min_reps = t
        .opt_int(&mut p, "min_replications", 2, i64::from(MAX_REPLICATIONS))
        .unwrap_or(5) as u32;
    let max_reps = t
        .opt_int(&mut p, "max_replications", 2, i64::from(MAX_REPLICATIONS))
        .unwrap_or(40) as u32;
    if max_reps < min_reps {
        p.error(
            &t.origin_of("max_replications"),
            "max_replications",
            format!("max_replications ({max_reps}) is below min_replications ({min_reps})"),
        );
    }
    let batch = t.opt_int(&mut p, "batch", 1, 10_000).unwrap_or(8) as usize;
    match t.opt_str(&mut p, "objective").as_deref() {
        None | Some("cost") => {}
        Some(other) => p.error(
            &t.origin_of("objective"),
            "objective",
            format!(
                "expected \"cost\" (the 30-day cost, the weighted mean over the scenarios), got {other:?}"
            ),
        ),
    }
    let fixed = t.opt_str_list(&mut p, "set").unwrap_or_default();
    let plan_slo = t.take("slo").map(|n| read_slo(n, "slo", &mut p));

    // Axes.
    let mut axes: Vec<PlanAxis> = Vec::new();
    let axis_nodes = t.opt_tables(&mut p, "axis");
    for (apath, n) in &axis_nodes {
        let mut at = TableReader::new(n, apath, &mut p);
        let given_name = at.opt_str(&mut p, "name");
        let monotone = match at.opt_str(&mut p, "monotone").as_deref() {
            None => None,
            Some("increasing") => Some(Direction::Increasing),
            Some("decreasing") => Some(Direction::Decreasing),
            Some(other) => {
                p.error(
                    &at.origin_of("monotone"),
                    &at.key_path("monotone"),
                    format!("expected \"increasing\" or \"decreasing\", got {other:?}"),
                );
                None
            }
        };
        let Some(axis) = crate::sweep::read_axis(n, apath, &mut p, &["name", "monotone"]) else {
            continue;
        };
        let name = given_name.unwrap_or_else(|| default_name(&axis.path));
        if !is_identifier(&name) {
            p.error(
                &at.origin_of("name"),
                &at.key_path("name"),
                format!("{name:?} is not a name: letters, digits and _, not starting with a digit"),
            );
        }
        let numbers: Option<Vec<f64>> = axis.values.iter().map(|v| as_number(v)).collect();
        if monotone.is_some() {
            match &numbers {
                None => p.error(
                    &at.origin_of("monotone"),
                    &at.key_path("monotone"),
                    "a monotone axis needs numbers (or durations) as values",
                ),
                Some(xs) if xs.windows(2).any(|w| w[1] <= w[0]) => p.error(
                    &at.origin_of("values"),
                    apath,
                    "a monotone axis needs its values in increasing order, each once",
                ),
                _ => {}
            }
        }
        if let Some(prev) = axes.iter().position(|a| a.path == axis.path) {
            p.error(
                &n.origin,
                &format!("{apath}.path"),
                format!("{} is already axis {}", axis.path, prev + 1),
            );
        }
        if let Some(prev) = axes.iter().position(|a| a.name == name) {
            p.error(
                &n.origin,
                apath,
                format!(
                    "axes {} and {} are both called {name:?}; give one a `name`",
                    prev + 1,
                    axes.len() + 1
                ),
            );
        }
        if let Some(s) = fixed.iter().find(|s| {
            s.split_once('=')
                .is_some_and(|(k, _)| k.trim() == axis.path)
        }) {
            p.error(
                &n.origin,
                &format!("{apath}.path"),
                format!(
                    "{} is also fixed by set ({s:?}); an axis cannot be both",
                    axis.path
                ),
            );
        }
        axes.push(PlanAxis {
            name,
            path: axis.path,
            values: axis.values,
            numbers,
            monotone,
        });
    }
    if axis_nodes.is_empty() {
        p.error(
            &root.origin,
            "axis",
            "no [[axis]]; a plan searches at least one axis (path + values or range)",
        );
    }

    // Conditions between axes.
    let names: Vec<String> = axes.iter().map(|a| a.name.clone()).collect();
    let mut conditions: Vec<(Expr, Origin, usize)> = Vec::new();
    if let Some(w) = t.take("where") {
        match &w.value {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let key = format!("where[{i}]");
                    let Value::Str(s) = &item.value else {
                        p.error(
                            &item.origin,
                            &key,
                            "expected a condition as a string, e.g. \"hard >= soft\"",
                        );
                        continue;
                    };
                    match Expr::parse_condition(s, &names) {
                        Ok(e) => {
                            for (ai, a) in axes.iter().enumerate() {
                                if a.numbers.is_none() && mentions(s, &a.name) {
                                    p.error(
                                        &item.origin,
                                        &key,
                                        format!(
                                            "{:?} takes axis {} ({}), whose values are not numbers",
                                            s, a.name, axes[ai].path
                                        ),
                                    );
                                }
                            }
                            conditions.push((e, item.origin.clone(), i));
                        }
                        Err(e) => p.error(&item.origin, &key, format!("{s:?} {e}")),
                    }
                }
            }
            other => p.error(
                &w.origin,
                "where",
                format!("expected a list of conditions, e.g. [\"hard >= soft\"], got {other}"),
            ),
        }
    }

    // Scenarios.
    let mut scenarios: Vec<(PathBuf, f64, SloSpec, Origin)> = Vec::new();
    for (spath, n) in t.opt_tables(&mut p, "scenario") {
        let mut st = TableReader::new(n, &spath, &mut p);
        let rel = st.req_str(&mut p, "path");
        let weight = st.opt_num(&mut p, "weight", 0.0, 1e6).unwrap_or(1.0);
        let slo = st
            .take("slo")
            .map(|s| read_slo(s, &format!("{spath}.slo"), &mut p))
            .unwrap_or_default();
        st.finish_strict(&mut p, SCENARIO_KEYS);
        if let Some(rel) = rel {
            scenarios.push((
                path.parent().unwrap_or(Path::new(".")).join(rel),
                weight,
                slo,
                n.origin.clone(),
            ));
        }
    }
    t.finish_strict(&mut p, PLAN_KEYS);
    if !scenarios.is_empty() && scenarios.iter().all(|s| s.1 == 0.0) {
        p.error(
            &scenarios[0].3,
            "scenario",
            "every scenario has weight 0; the objective needs at least one above 0",
        );
    }
    if p.has_errors() {
        return fail(p);
    }

    // The grid, less what the conditions exclude.
    let grid = axes
        .iter()
        .try_fold(1usize, |n, a| n.checked_mul(a.values.len()))
        .filter(|&g| g <= MAX_GRID);
    let Some(grid) = grid else {
        let sizes: Vec<String> = axes.iter().map(|a| a.values.len().to_string()).collect();
        p.error(
            &root.origin,
            "axis",
            format!(
                "the axes ({} values) make more than {MAX_GRID} points; use coarser axes",
                sizes.join(" × ")
            ),
        );
        return fail(p);
    };
    let sizes: Vec<usize> = axes.iter().map(|a| a.values.len()).collect();
    let env_of = |c: &[usize]| -> Vec<f64> {
        axes.iter()
            .zip(c)
            .map(|(a, &i)| a.numbers.as_ref().map_or(f64::NAN, |xs| xs[i]))
            .collect()
    };
    let mut kept = Vec::new();
    let mut excluded_by = vec![0usize; conditions.len()];
    for g in 0..grid {
        let c = crate::sweep::grid_point(&sizes, g);
        let env = env_of(&c);
        let mut keep = true;
        for (k, (e, _, _)) in conditions.iter().enumerate() {
            if !e.holds(&env) {
                excluded_by[k] += 1;
                keep = false;
            }
        }
        if keep {
            kept.push((g, c));
        }
    }
    if kept.is_empty() {
        let alone: Vec<String> = conditions
            .iter()
            .zip(&excluded_by)
            .map(|((e, _, i), n)| format!("where[{i}] {:?} excludes {n}", e.text))
            .collect();
        let contradictory = excluded_by.iter().all(|&n| n < grid);
        let origin = conditions
            .first()
            .map_or(root.origin.clone(), |c| c.1.clone());
        p.error(
            &origin,
            "where",
            format!(
                "the search space is empty: of {grid} grid points, {}{}",
                alone.join(", "),
                if contradictory && conditions.len() > 1 {
                    "; no point meets all the conditions together: they contradict each other"
                } else {
                    ""
                }
            ),
        );
        return fail(p);
    }
    if kept.len() * scenarios.len() > MAX_CANDIDATE_SCENARIOS {
        p.error(
            &root.origin,
            "axis",
            format!(
                "{} candidates × {} scenarios make {} scenarios to validate; a plan may hold at most {MAX_CANDIDATE_SCENARIOS}. Use coarser axes, declare `monotone` axes and split the plan",
                kept.len(),
                scenarios.len(),
                kept.len() * scenarios.len()
            ),
        );
        return fail(p);
    }

    // Every candidate's scenarios.
    let mut bases = Vec::new();
    for (spath, _, _, origin) in &scenarios {
        match doc::read_text(spath, doc::MAX_TEXT_BYTES) {
            Ok(text) => bases.push((spath.display().to_string(), text)),
            Err((_, message)) => p.error(
                origin,
                "scenario.path",
                format!("{}: {message}", spath.display()),
            ),
        }
    }
    if p.has_errors() {
        return fail(p);
    }
    let fixed_sets: Vec<(String, String)> = fixed
        .iter()
        .map(|s| (s.clone(), format!("{file}: set {s}")))
        .chain(cli_sets.iter().map(|s| (s.clone(), format!("--set {s}"))))
        .collect();
    // The scenario-level `slo.latency_p99` decides the within-latency share of a run: it is
    // set to the plan's latency target.
    let specs: Vec<SloSpec> = scenarios
        .iter()
        .map(|(_, _, s, _)| plan_slo.clone().unwrap_or_default().merged(s))
        .collect();
    let jobs: Vec<(usize, usize)> = (0..kept.len())
        .flat_map(|k| (0..scenarios.len()).map(move |s| (k, s)))
        .collect();
    let validated: Vec<Result<Scenario, Vec<Problem>>> = jobs
        .par_iter()
        .map(|&(k, s)| {
            let (_, c) = &kept[k];
            let mut sets = fixed_sets.clone();
            let spec = &specs[s];
            let target = spec.latency_target.or_else(|| {
                spec.bounds
                    .iter()
                    .find(|(m, _)| *m == Metric::LatencyP99)
                    .map(|b| b.1)
            });
            if let Some(ms) = target {
                sets.push((
                    format!("slo.latency_p99=\"{ms}ms\""),
                    format!("{file}: slo latency target"),
                ));
            }
            for (a, &i) in axes.iter().zip(c) {
                let v = &a.values[i];
                sets.push((
                    format!("{}={v}", a.path),
                    format!("{file}: axis {} value {v}", a.name),
                ));
            }
            scenario::validate::from_text(&bases[s].1, &bases[s].0, &sets)
                .map(|l| l.scenario)
                .map_err(|e| e.problems)
        })
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut per_candidate: Vec<Vec<Scenario>> = (0..kept.len()).map(|_| Vec::new()).collect();
    for (&(k, _), r) in jobs.iter().zip(validated) {
        match r {
            Ok(sc) => per_candidate[k].push(sc),
            Err(problems) => {
                for prob in problems {
                    if prob.severity == Severity::Error && seen.insert(prob.to_string()) {
                        p.list.push(prob);
                    }
                }
            }
        }
    }
    if p.has_errors() {
        return fail(p);
    }

    // Constraints per scenario, checked against what the scenario has.
    let mut plan_scenarios = Vec::new();
    for (si, ((_, weight, _, origin), spec)) in scenarios.iter().zip(&specs).enumerate() {
        let sc = &per_candidate[0][si];
        let mut constraints: Vec<Constraint> = spec
            .bounds
            .iter()
            .map(|&(metric, target)| Constraint { metric, target })
            .collect();
        if plan_slo.is_none() && spec.bounds.is_empty() {
            // No [slo] anywhere: the scenario's own.
            constraints = vec![
                Constraint {
                    metric: Metric::Availability,
                    target: sc.slo.availability,
                },
                Constraint {
                    metric: Metric::LatencyP99,
                    target: sc.slo.latency_p99.as_millis_f64(),
                },
            ];
        }
        if constraints.is_empty() {
            p.error(
                origin,
                "slo",
                format!(
                    "scenario {} has no constraint to meet; give [slo] keys",
                    sc.name
                ),
            );
        }
        let has_workers = sc
            .apps
            .iter()
            .any(|a| a.groups.iter().any(|g| g.services.is_empty()));
        if constraints
            .iter()
            .any(|c| c.metric == Metric::WorkerAvailability)
            && !has_workers
        {
            p.error(
                origin,
                "slo.worker_availability",
                format!(
                    "scenario {} has no process group without a service, so no worker availability to bound",
                    sc.name
                ),
            );
        }
        if spec.latency_target.is_some()
            && !constraints
                .iter()
                .any(|c| c.metric == Metric::WithinLatency)
        {
            p.warning(
                origin,
                "slo.latency_target",
                "latency_target only sets what within_latency counts; no within_latency is given",
            );
        }
        let labels: Vec<&str> = plan_scenarios
            .iter()
            .map(|s: &PlanScenario| s.label.as_str())
            .collect();
        let label = if labels.contains(&sc.name.as_str()) {
            format!("{}#{}", sc.name, si + 1)
        } else {
            sc.name.clone()
        };
        plan_scenarios.push(PlanScenario {
            label,
            path: scenarios[si].0.display().to_string(),
            weight: *weight,
            constraints,
        });
    }
    if p.has_errors() {
        return fail(p);
    }

    let weights: Vec<f64> = plan_scenarios.iter().map(|s| s.weight).collect();
    let floors: Vec<f64> = per_candidate
        .par_iter()
        .map(|scs| objective(&weights, scs.iter().map(cost_floor)))
        .collect();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(text.as_bytes());
    for (_, b) in &bases {
        eat(b.as_bytes());
    }
    for scs in &per_candidate {
        for sc in scs {
            eat(sc.hash.as_bytes());
        }
    }
    let default_name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plan".into());
    let candidates = kept
        .into_iter()
        .zip(per_candidate)
        .zip(floors)
        .map(|(((g, c), scenarios), floor)| Candidate {
            grid_index: g,
            values: c,
            scenarios,
            floor,
        })
        .collect::<Vec<_>>();
    Ok(Plan {
        name: name.unwrap_or(default_name),
        scenarios: plan_scenarios,
        excluded: grid - candidates.len(),
        axes,
        conditions: conditions.iter().map(|(e, _, _)| e.text.clone()).collect(),
        candidates,
        confidence,
        min_replications: min_reps,
        max_replications: max_reps,
        batch,
        hash: format!("{h:016x}"),
    })
}

/// Whether `text` names `name` as a whole word.
fn mentions(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + name.len()..].chars().next();
        let part = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        !part(before) && !part(after)
    })
}

/// The objective over the scenarios: the weighted mean of their 30-day costs.
pub fn objective(weights: &[f64], costs: impl Iterator<Item = f64>) -> f64 {
    let total: f64 = weights.iter().sum();
    weights.iter().zip(costs).map(|(w, c)| w * c).sum::<f64>() / total
}

/// What a scenario costs per 30 days whatever happens during the run [USD]: a lower bound on
/// every replication's `cost_usd.per_30_days`, from the world at time 0.
///
/// - When nothing can stop or destroy Machines (no faults, actions, deploys or
///   fly-autoscaler), every Machine lives the whole run and pays at least the cheaper of its
///   started and stopped prices, plus its volume; one started at time 0 whose group never
///   autostops and whose app never exits when idle stays started, and pays its started price;
///   so do the `min_machines_running` cheapest Machines started at time 0 in the primary
///   region of an app with one service (autostop never stops below that).
/// - Otherwise the floor is 0: a Machine may be destroyed at any time.
pub fn cost_floor(sc: &Scenario) -> f64 {
    let dynamic = !sc.faults.is_empty()
        || !sc.actions.is_empty()
        || !sc.deploys.is_empty()
        || sc.apps.iter().any(|a| a.autoscaler.is_some());
    if dynamic {
        return 0.0;
    }
    let sim = Sim::new(sc, 0);
    let secs = sc.duration.as_secs_f64();
    let mut total = 0.0;
    // Autostop keeps `min_machines_running` of the Machines a service reaches in the primary
    // region started (an app with one service: with several, one may stop what another
    // counts). Those that must stay started are the cheapest ones started at time 0.
    let mut kept_started: Vec<Vec<(f64, usize)>> = vec![Vec::new(); sc.apps.len()];
    for (i, m) in sim.machines().iter().enumerate() {
        let a = m.app.index();
        let app = &sc.apps[a];
        if app.services.len() == 1
            && m.state == MState::Started
            && m.region as usize == app.primary_region
            && app.services[0].groups.contains(&(m.group as usize))
            && app.idle_exit.is_none()
        {
            let price = sc.started_price(a, m.group as usize, m.region as usize, &m.vm);
            kept_started[a].push((price, i));
        }
    }
    let mut stays_started = vec![false; sim.machines().len()];
    for (a, list) in kept_started.iter_mut().enumerate() {
        list.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        let keep = sc.apps[a]
            .services
            .first()
            .map_or(0, |s| s.min_machines_running as usize);
        for &(_, i) in list.iter().take(keep) {
            stays_started[i] = true;
        }
    }
    for (i, m) in sim.machines().iter().enumerate() {
        let app = &sc.apps[m.app.index()];
        let group = &app.groups[m.group as usize];
        let started = sc.started_price(m.app.index(), m.group as usize, m.region as usize, &m.vm);
        let stopped = sc.prices.rootfs_per_sec(app.rootfs_gb);
        let volume = sc.prices.volume_per_sec(group.volume_gb.unwrap_or(0.0));
        let never_stops = m.state == MState::Started
            && group.autostop == Autostop::Off
            && app.idle_exit.is_none();
        let rate = if never_stops || stays_started[i] {
            started
        } else {
            started.min(stopped)
        };
        total += (rate + volume) * secs;
    }
    total * scenario::SECONDS_PER_BILLING_MONTH / secs.max(1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_names_come_from_the_last_key() {
        assert_eq!(default_name("app.web.machines[0].count"), "count");
        assert_eq!(
            default_name("app.web.fly.http_service.concurrency.hard_limit"),
            "hard_limit"
        );
        assert_eq!(default_name("app.web.fly.vm[0].size"), "size");
        assert!(is_identifier("min_running") && !is_identifier("2x") && !is_identifier("a-b"));
        assert!(mentions("hard >= soft", "soft") && !mentions("hard >= softer", "soft"));
    }

    #[test]
    fn axis_values_read_as_numbers_where_they_can() {
        assert_eq!(as_number("3"), Some(3.0));
        assert_eq!(as_number("0.25"), Some(0.25));
        assert_eq!(as_number("true"), Some(1.0));
        assert_eq!(as_number("\"90s\""), Some(90.0));
        assert_eq!(as_number("\"stop\""), None);
        assert_eq!(as_number("[\"ams\"]"), None);
    }

    #[test]
    fn a_sweep_file_given_as_a_plan_is_named_as_such() {
        let e = from_text(
            "scenario = \"base.toml\"\n[[axis]]\npath = \"duration\"\nvalues = [\"1h\"]\n",
            Path::new("x.toml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("this is a sweep file"), "{e}");
    }
}
