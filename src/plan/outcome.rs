//! What a plan's search found, as documents: `plan.json` (typed, [`PlanDoc`]),
//! `candidates.csv`, the printed recommendation (`recommendation.txt`) with the fly.toml
//! section and the `fly scale count` commands that apply it.

use std::fmt::Write;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::search::{Estimate, Outcome, RunMetrics, Status, Tests, objective_runs};
use super::{Constraint, Plan};
use crate::metrics::results::ParamValue;
use crate::output::csv_bytes;
use crate::output::figures::{count, group, pct, short};

/// `plan.json`: the recommendation, the runner-up, every candidate's figures and the effort.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlanDoc {
    /// The schema's version (`metrics::results::SCHEMA_VERSION`; `docs/schema/plan.schema.json`).
    #[serde(default)]
    pub schema_version: u32,
    /// Plan name.
    pub name: String,
    /// Hash of everything that determines the results.
    pub hash: String,
    /// `search`, or `exhaustive` (every candidate at one number of replications).
    pub mode: String,
    /// Confidence of the plan's claims together.
    pub confidence: f64,
    /// One-sided level of each test (Bonferroni over candidates × looks × constraints).
    pub alpha_per_test: f64,
    /// Replications at which candidates are judged.
    pub looks: Vec<u32>,
    /// The axes: name → path.
    pub axes: IndexMap<String, String>,
    /// The scenarios and their constraints.
    pub scenarios: Vec<ScenarioDoc>,
    /// The strictest availability bound over the scenarios, if any (for the chart).
    pub availability_target: Option<f64>,
    /// The strictest p99 bound over the scenarios [ms], if any (for the chart).
    pub latency_p99_target_ms: Option<f64>,
    /// The recommendation, if a candidate meets every constraint.
    pub recommended: Option<u64>,
    /// The next cheapest feasible candidate.
    pub runner_up: Option<u64>,
    /// How the effort compares with the full grid.
    pub effort: EffortDoc,
    /// Monotonicity the results contradicted.
    pub contradictions: Vec<String>,
    /// Every candidate, in grid order.
    pub candidates: Vec<CandidateDoc>,
}

/// A scenario of the plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScenarioDoc {
    /// Its name.
    pub label: String,
    /// Its file.
    pub path: String,
    /// Its weight in the objective.
    pub weight: f64,
    /// Its constraints, as they read.
    pub constraints: Vec<String>,
}

/// The search's effort.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EffortDoc {
    /// Candidates (grid points the conditions keep).
    pub candidates: u64,
    /// Grid points the conditions removed.
    pub excluded: u64,
    /// Candidates that were run at all.
    pub candidates_run: u64,
    /// Runs (candidate × scenario × replication).
    pub runs: u64,
    /// Requests they simulated.
    pub requests: u64,
    /// Rounds.
    pub rounds: u64,
    /// Runs of the full grid at `max_replications`.
    pub full_grid_runs: u64,
    /// Requests of those runs (each candidate's mean per run; the mean of all runs for those
    /// never run).
    pub full_grid_requests: u64,
}

/// One candidate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CandidateDoc {
    /// Grid index.
    pub candidate: u64,
    /// Axis name → value.
    pub params: IndexMap<String, ParamValue>,
    /// Where it stands.
    pub status: String,
    /// Why (for every status but feasible and open).
    pub reason: String,
    /// Replications run per scenario.
    pub replications: u32,
    /// Its cost floor [USD per 30 days].
    pub cost_floor: f64,
    /// The objective [USD per 30 days], when it was run: mean and half-width at the test level.
    pub cost: Option<Interval>,
    /// Each constraint per scenario, when it was run.
    pub constraints: Vec<ConstraintDoc>,
    /// The least availability over the scenarios (mean over replications), when it was run.
    pub availability: Option<f64>,
    /// The largest p99 latency over the scenarios [ms], when it was run.
    pub latency_p99_ms: Option<f64>,
}

/// A mean and its half-width.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Interval {
    /// Mean.
    pub mean: f64,
    /// Half-width at the test's level.
    pub half: f64,
}

/// One constraint's figures for one candidate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConstraintDoc {
    /// The scenario.
    pub scenario: String,
    /// The metric.
    pub metric: String,
    /// The bound.
    pub target: f64,
    /// The estimate.
    pub estimate: Interval,
    /// Met (true), failed (false), undecided (null), at the test level.
    pub met: Option<bool>,
}

fn interval(e: Estimate) -> Interval {
    Interval {
        mean: e.mean,
        half: if e.half.is_finite() { e.half } else { 0.0 },
    }
}

/// Everything the outputs need about one candidate, computed once.
struct View<'a> {
    plan: &'a Plan,
    out: &'a Outcome,
    tests: Tests,
}

impl View<'_> {
    fn params(&self, c: usize) -> IndexMap<String, String> {
        self.plan
            .axes
            .iter()
            .enumerate()
            .map(|(k, a)| {
                (
                    a.name.clone(),
                    self.plan.value(&self.plan.candidates[c], k).to_string(),
                )
            })
            .collect()
    }

    fn show(&self, c: usize) -> String {
        self.params(c)
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn values(&self, c: usize, s: usize, con: &Constraint) -> Vec<f64> {
        self.out.states[c].runs[s]
            .iter()
            .map(|m| m.get(con.metric))
            .collect()
    }

    fn cost(&self, c: usize) -> Option<Estimate> {
        let st = &self.out.states[c];
        if st.reps == 0 {
            return None;
        }
        Some(self.tests.estimate(&objective_runs(self.plan, st)))
    }

    /// The confidence of a decision on `xs` against `target`, after the correction.
    fn confidence(&self, xs: &[f64], target: f64) -> f64 {
        let tests = if self.out.exhaustive {
            2.0
        } else {
            (1.0 - self.plan.confidence) / self.tests.alpha
        };
        (1.0 - self.tests.p_value(xs, target) * tests).clamp(0.0, 1.0)
    }

    fn constraint_line(&self, c: usize, s: usize, k: usize) -> String {
        let con = &self.plan.scenarios[s].constraints[k];
        let xs = self.values(c, s, con);
        let e = self.tests.estimate(&xs);
        let m = con.metric;
        let verdict = match self.tests.judge(&xs, con.target, m.at_least()) {
            Some(true) => "met",
            Some(false) => "failed",
            None => "undecided",
        };
        format!(
            "{} {}: {} ± {} ({} {}) {verdict}",
            self.plan.scenarios[s].label,
            m.key(),
            m.show(e.mean),
            half_text(m, e.half),
            if m.at_least() { "≥" } else { "≤" },
            m.show(con.target)
        )
    }

    fn reason(&self, c: usize) -> String {
        match self.out.states[c].status {
            Status::Open | Status::Feasible => String::new(),
            Status::Infeasible {
                scenario,
                constraint,
            } => {
                let con = &self.plan.scenarios[scenario].constraints[constraint];
                let xs = self.values(c, scenario, con);
                let e = self.tests.estimate(&xs);
                let m = con.metric;
                let by = (e.mean - con.target).abs();
                format!(
                    "{} {} {} ± {} {} the bound {} by {} (confidence {} after the correction, {} replications)",
                    self.plan.scenarios[scenario].label,
                    m.key(),
                    m.show(e.mean),
                    half_text(m, e.half),
                    if m.at_least() { "is below" } else { "is above" },
                    m.show(con.target),
                    if m.is_duration() {
                        format!("{} ms", short(by))
                    } else {
                        format!(
                            "{} points",
                            crate::output::figures::pct_value(by)
                                .trim_end_matches('0')
                                .trim_end_matches('.')
                        )
                    },
                    confidence_text(self.confidence(&xs, con.target)),
                    e.n
                )
            }
            Status::ImpliedInfeasible { by } => format!(
                "fails: ({}) has at least as much on every monotone axis and fails ({})",
                self.show(by),
                self.reason(by)
            ),
            Status::Dominated { by } => format!(
                "meets the SLO by monotonicity, and costs no less than ({})",
                self.show(by)
            ),
            Status::Costlier { by, by_floor } => {
                if by_floor {
                    format!(
                        "its cost floor, ${} per 30 days, is above the cost of ({}); never run",
                        short(self.plan.candidates[c].floor),
                        self.show(by)
                    )
                } else {
                    format!("costs more than ({}), with confidence", self.show(by))
                }
            }
            Status::Undecided => {
                let mut open = Vec::new();
                for (s, ps) in self.plan.scenarios.iter().enumerate() {
                    for (k, con) in ps.constraints.iter().enumerate() {
                        let xs = self.values(c, s, con);
                        if self
                            .tests
                            .judge(&xs, con.target, con.metric.at_least())
                            .is_none()
                        {
                            open.push(self.constraint_line(c, s, k));
                        }
                    }
                }
                format!(
                    "not decided in {} replications: {}",
                    self.out.states[c].reps,
                    open.join("; ")
                )
            }
        }
    }

    fn candidate_doc(&self, c: usize) -> CandidateDoc {
        let st = &self.out.states[c];
        let mut constraints = Vec::new();
        if st.reps > 0 {
            for (s, ps) in self.plan.scenarios.iter().enumerate() {
                for con in &ps.constraints {
                    let xs = self.values(c, s, con);
                    constraints.push(ConstraintDoc {
                        scenario: ps.label.clone(),
                        metric: con.metric.key().to_string(),
                        target: con.target,
                        estimate: interval(self.tests.estimate(&xs)),
                        met: self.tests.judge(&xs, con.target, con.metric.at_least()),
                    });
                }
            }
        }
        CandidateDoc {
            candidate: self.plan.candidates[c].grid_index as u64,
            params: self
                .params(c)
                .into_iter()
                .map(|(k, v)| (k, ParamValue::from_toml(&v)))
                .collect(),
            status: st.status.name().to_string(),
            reason: self.reason(c),
            replications: st.reps,
            cost_floor: self.plan.candidates[c].floor,
            cost: self.cost(c).map(interval),
            constraints,
            availability: worst(st, |m| m.availability, f64::min),
            latency_p99_ms: worst(st, |m| m.latency_p99_ms, f64::max),
        }
    }
}

/// The worst over the scenarios of a metric's mean over replications.
fn worst(
    st: &super::search::CandidateState,
    get: fn(&RunMetrics) -> f64,
    pick: fn(f64, f64) -> f64,
) -> Option<f64> {
    (st.reps > 0).then(|| {
        st.runs
            .iter()
            .map(|runs| runs.iter().map(get).sum::<f64>() / runs.len().max(1) as f64)
            .reduce(pick)
            .unwrap_or(0.0)
    })
}

fn half_text(m: super::Metric, half: f64) -> String {
    if !half.is_finite() {
        "?".into()
    } else if m.is_duration() {
        format!("{} ms", short(half))
    } else {
        format!("{} points", short(half * 100.0))
    }
}

fn confidence_text(c: f64) -> String {
    if c >= 0.9999 {
        "≥ 99.99 %".into()
    } else {
        pct(c)
    }
}

/// The files of a finished plan, and the text printed.
pub struct PlanFiles {
    /// `(name, bytes)`: plan.json, candidates.csv, recommendation.txt.
    pub files: Vec<(String, Vec<u8>)>,
    /// The recommendation as printed.
    pub text: String,
    /// The typed document.
    pub doc: PlanDoc,
}

/// The documents of `out`.
pub fn files(plan: &Plan, out: &Outcome) -> PlanFiles {
    let v = View {
        plan,
        out,
        tests: out.tests.clone(),
    };
    let n = plan.candidates.len();
    let candidates: Vec<CandidateDoc> = (0..n).map(|c| v.candidate_doc(c)).collect();
    let mean_requests = {
        let all: Vec<&RunMetrics> = out
            .states
            .iter()
            .flat_map(|s| s.runs.iter().flatten())
            .collect();
        all.iter().map(|m| m.requests as f64).sum::<f64>() / all.len().max(1) as f64
    };
    let full_reps = u64::from(plan.max_replications);
    let scenarios = plan.scenarios.len() as u64;
    let full_grid_requests: f64 = (0..n)
        .map(|c| {
            let runs: Vec<&RunMetrics> = out.states[c].runs.iter().flatten().collect();
            let per_run = if runs.is_empty() {
                mean_requests
            } else {
                runs.iter().map(|m| m.requests as f64).sum::<f64>() / runs.len() as f64
            };
            per_run * (scenarios * full_reps) as f64
        })
        .sum();
    let effort = EffortDoc {
        candidates: n as u64,
        excluded: plan.excluded as u64,
        candidates_run: out.states.iter().filter(|s| s.reps > 0).count() as u64,
        runs: out.runs,
        requests: out.requests,
        rounds: u64::from(out.rounds),
        full_grid_runs: n as u64 * scenarios * full_reps,
        full_grid_requests: full_grid_requests.round() as u64,
    };
    let doc = PlanDoc {
        schema_version: crate::metrics::results::SCHEMA_VERSION,
        name: plan.name.clone(),
        hash: plan.hash.clone(),
        mode: if out.exhaustive {
            format!("exhaustive {}", out.tests.looks[0])
        } else {
            "search".into()
        },
        confidence: plan.confidence,
        alpha_per_test: out.tests.alpha,
        looks: out.tests.looks.clone(),
        availability_target: strictest(plan, super::Metric::Availability, f64::max),
        latency_p99_target_ms: strictest(plan, super::Metric::LatencyP99, f64::min),
        axes: plan
            .axes
            .iter()
            .map(|a| (a.name.clone(), a.path.clone()))
            .collect(),
        scenarios: plan
            .scenarios
            .iter()
            .map(|s| ScenarioDoc {
                label: s.label.clone(),
                path: s.path.clone(),
                weight: s.weight,
                constraints: s.constraints.iter().map(Constraint::describe).collect(),
            })
            .collect(),
        recommended: out
            .recommended
            .map(|c| plan.candidates[c].grid_index as u64),
        runner_up: out.runner_up.map(|c| plan.candidates[c].grid_index as u64),
        effort,
        contradictions: out.contradictions.clone(),
        candidates,
    };
    let text = recommendation_text(&v, &doc);
    let mut files = vec![
        (
            "plan.json".to_string(),
            crate::output::json_bytes(&serde_json::to_value(&doc).expect("a plan serialises")),
        ),
        ("candidates.csv".to_string(), candidates_csv(&v)),
        ("recommendation.txt".to_string(), text.clone().into_bytes()),
    ];
    files.sort_by(|a, b| a.0.cmp(&b.0));
    PlanFiles { files, text, doc }
}

/// The strictest bound on `metric` over the plan's scenarios.
fn strictest(plan: &Plan, metric: super::Metric, pick: fn(f64, f64) -> f64) -> Option<f64> {
    plan.scenarios
        .iter()
        .flat_map(|s| s.constraints.iter())
        .filter(|c| c.metric == metric)
        .map(|c| c.target)
        .reduce(pick)
}

fn candidates_csv(v: &View) -> Vec<u8> {
    let plan = v.plan;
    let mut header: Vec<String> = vec!["candidate".into()];
    header.extend(plan.axes.iter().map(|a| format!("param.{}", a.name)));
    header.extend(
        [
            "status",
            "replications",
            "cost_floor",
            "cost.mean",
            "cost.half",
        ]
        .map(String::from),
    );
    for s in &plan.scenarios {
        for con in &s.constraints {
            header.push(format!("{}.{}.mean", s.label, con.metric.key()));
            header.push(format!("{}.{}.half", s.label, con.metric.key()));
        }
    }
    header.push("reason".into());
    let rows: Vec<Vec<String>> = (0..plan.candidates.len())
        .map(|c| {
            let mut row = vec![plan.candidates[c].grid_index.to_string()];
            row.extend(v.params(c).values().map(|t| ParamValue::csv_cell(t)));
            let st = &v.out.states[c];
            row.push(st.status.name().to_string());
            row.push(st.reps.to_string());
            row.push(format!("{:.6}", plan.candidates[c].floor));
            match v.cost(c) {
                Some(e) => {
                    row.push(format!("{:.6}", e.mean));
                    row.push(format!("{:.6}", interval(e).half));
                }
                None => row.extend([String::new(), String::new()]),
            }
            for (s, ps) in plan.scenarios.iter().enumerate() {
                for con in &ps.constraints {
                    if st.reps == 0 {
                        row.extend([String::new(), String::new()]);
                    } else {
                        let e = interval(v.tests.estimate(&v.values(c, s, con)));
                        row.push(format!("{:.9}", e.mean));
                        row.push(format!("{:.9}", e.half));
                    }
                }
            }
            row.push(v.reason(c));
            row
        })
        .collect();
    csv_bytes(&header, &rows)
}

fn money(x: f64) -> String {
    format!("${}", short(x))
}

fn recommendation_text(v: &View, doc: &PlanDoc) -> String {
    let plan = v.plan;
    let out = v.out;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "flysim {}: plan {}, {} candidates{} in {} scenario{}, {} {}",
        env!("CARGO_PKG_VERSION"),
        plan.name,
        group(plan.candidates.len() as i64),
        if plan.excluded > 0 {
            format!(
                " (of {} grid points; `where` excludes {})",
                group(plan.grid_size() as i64),
                group(plan.excluded as i64)
            )
        } else {
            String::new()
        },
        plan.scenarios.len(),
        if plan.scenarios.len() == 1 { "" } else { "s" },
        if out.exhaustive {
            format!(
                "every candidate at {} replications, each judged alone at",
                out.tests.looks[0]
            )
        } else {
            "claims made together at".to_string()
        },
        pct(plan.confidence)
    );
    let objective_text = if plan.scenarios.len() > 1 {
        "cost (weighted mean over the scenarios)"
    } else {
        "cost"
    };
    match out.recommended {
        None => {
            let _ = writeln!(o, "\nno candidate meets every constraint.");
            no_answer(v, &mut o);
        }
        Some(r) => {
            let _ = writeln!(o, "\nrecommended: {}", v.show(r));
            let e = v.cost(r).expect("a feasible candidate was run");
            let _ = writeln!(
                o,
                "  {objective_text}: {} ± {} per 30 days",
                money(e.mean),
                short(interval(e).half)
            );
            for (s, ps) in plan.scenarios.iter().enumerate() {
                for k in 0..ps.constraints.len() {
                    let _ = writeln!(o, "  {}", v.constraint_line(r, s, k));
                }
            }
            match out.runner_up {
                Some(u) => {
                    let eu = v.cost(u).expect("a feasible candidate was run");
                    let ru = &out.states[r];
                    let uu = &out.states[u];
                    let (up, rp) = (objective_runs(plan, uu), objective_runs(plan, ru));
                    let n = up.len().min(rp.len());
                    let diff: Vec<f64> = (0..n).map(|i| up[i] - rp[i]).collect();
                    let d = v.tests.estimate(&diff);
                    let _ = writeln!(
                        o,
                        "runner-up: {}, {} ± {} per 30 days: the recommendation saves {} ± {} per 30 days (paired over {} replications)",
                        v.show(u),
                        money(eu.mean),
                        short(interval(eu).half),
                        money(d.mean),
                        short(interval(d).half),
                        n
                    );
                    for (s, ps) in plan.scenarios.iter().enumerate() {
                        for con in &ps.constraints {
                            let a = v.tests.estimate(&v.values(r, s, con)).mean;
                            let b = v.tests.estimate(&v.values(u, s, con)).mean;
                            let _ = writeln!(
                                o,
                                "  {} {}: {} against {}",
                                ps.label,
                                con.metric.key(),
                                con.metric.show(a),
                                con.metric.show(b)
                            );
                        }
                    }
                }
                None => {
                    let _ = writeln!(o, "runner-up: none met the SLO among the candidates run");
                }
            }
            let cheaper: Vec<usize> = (0..plan.candidates.len())
                .filter(|&c| c != r && is_cheaper(v, c, e.mean))
                .collect();
            let rejected: Vec<usize> = cheaper
                .iter()
                .copied()
                .filter(|&c| {
                    matches!(
                        out.states[c].status,
                        Status::Infeasible { .. } | Status::ImpliedInfeasible { .. }
                    )
                })
                .collect();
            let undecided: Vec<usize> = cheaper
                .iter()
                .copied()
                .filter(|&c| out.states[c].status == Status::Undecided)
                .collect();
            let mut closest = rejected.clone();
            closest.sort_by(|&a, &b| {
                v.priority_cost(b)
                    .total_cmp(&v.priority_cost(a))
                    .then(a.cmp(&b))
            });
            let _ = writeln!(
                o,
                "cheaper candidates rejected: {}{}",
                rejected.len(),
                if rejected.len() > 8 {
                    " (the 8 nearest in cost; candidates.csv has every one)"
                } else {
                    ""
                }
            );
            for &c in closest.iter().take(8) {
                let _ = writeln!(o, "  {}: {}", v.show(c), v.reason(c));
            }
            if !undecided.is_empty() {
                let _ = writeln!(
                    o,
                    "warning: {} cheaper candidate{} could not be decided; one may meet the SLO:",
                    undecided.len(),
                    if undecided.len() == 1 { "" } else { "s" }
                );
                for &c in undecided.iter().take(5) {
                    let _ = writeln!(o, "  {}: {}", v.show(c), v.reason(c));
                }
            }
        }
    }
    for c in &out.contradictions {
        let _ = writeln!(o, "warning: {c}");
    }
    let ef = &doc.effort;
    let _ = writeln!(
        o,
        "effort: {} runs ({} requests) over {} of {} candidates in {} round{}; the full grid at {} replications: {} runs ({} requests), {}× the requests",
        group(ef.runs as i64),
        count(ef.requests as f64),
        group(ef.candidates_run as i64),
        group(ef.candidates as i64),
        ef.rounds,
        if ef.rounds == 1 { "" } else { "s" },
        plan.max_replications,
        group(ef.full_grid_runs as i64),
        count(ef.full_grid_requests as f64),
        short(ef.full_grid_requests as f64 / (ef.requests.max(1)) as f64)
    );
    if let Some(r) = out.recommended {
        let _ = write!(o, "{}", apply_text(plan, r));
    }
    o
}

impl View<'_> {
    /// A candidate's cost for ordering: its mean if run, else its floor.
    fn priority_cost(&self, c: usize) -> f64 {
        self.cost(c)
            .map_or(self.plan.candidates[c].floor, |e| e.mean)
    }
}

/// Whether candidate `c` may be cheaper than `cost`: by its estimate, or, never run, by its
/// floor.
fn is_cheaper(v: &View, c: usize, cost: f64) -> bool {
    v.priority_cost(c) < cost
}

/// No candidate met the SLO: which constraint binds, and how close the best came.
fn no_answer(v: &View, o: &mut String) {
    let plan = v.plan;
    let mut binding: std::collections::BTreeMap<(usize, usize), usize> = Default::default();
    let mut best: Option<(f64, usize, usize, usize)> = None;
    for c in 0..plan.candidates.len() {
        if let Status::Infeasible {
            scenario,
            constraint,
        } = v.out.states[c].status
        {
            *binding.entry((scenario, constraint)).or_default() += 1;
        }
        if v.out.states[c].reps == 0 {
            continue;
        }
        // The candidate's worst shortfall, relative to its bound.
        let mut worst: Option<(f64, usize, usize)> = None;
        for (s, ps) in plan.scenarios.iter().enumerate() {
            for (k, con) in ps.constraints.iter().enumerate() {
                let m = v.tests.estimate(&v.values(c, s, con)).mean;
                let short_by = if con.metric.at_least() {
                    con.target - m
                } else {
                    m - con.target
                } / con.target.abs().max(1e-9);
                if worst.is_none_or(|w| short_by > w.0) {
                    worst = Some((short_by, s, k));
                }
            }
        }
        if let Some((w, s, k)) = worst
            && best.is_none_or(|b| w < b.0)
        {
            best = Some((w, c, s, k));
        }
    }
    let mut counts: Vec<((usize, usize), usize)> = binding.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    if let Some(&((s, k), n)) = counts.first() {
        let _ = writeln!(
            o,
            "binding constraint: {} {} (it rejected {} of the {} candidates decided as failing)",
            plan.scenarios[s].label,
            plan.scenarios[s].constraints[k].describe(),
            n,
            counts.iter().map(|x| x.1).sum::<usize>()
        );
    }
    if let Some((_, c, s, k)) = best {
        let _ = writeln!(o, "closest: {}: {}", v.show(c), v.constraint_line(c, s, k));
        let _ = writeln!(
            o,
            "widen the axes (more Machines, larger sizes), or relax that constraint"
        );
    }
}

/// The fly.toml section and `fly scale` commands that apply candidate `c`.
pub fn apply_text(plan: &Plan, c: usize) -> String {
    let cand = &plan.candidates[c];
    let sc = &cand.scenarios[0];
    let mut fly: IndexMap<(String, String), Vec<String>> = IndexMap::new();
    let mut commands = Vec::new();
    let mut scenario_only = Vec::new();
    for (k, axis) in plan.axes.iter().enumerate() {
        let value = plan.value(cand, k);
        let steps: Vec<&str> = axis.path.splitn(3, '.').collect();
        let app = steps
            .get(1)
            .and_then(|name| sc.apps.iter().find(|a| a.name == *name));
        match (steps.first(), app, steps.get(2)) {
            (Some(&"app"), Some(app), Some(rest)) if rest.starts_with("fly.") => {
                let rest = &rest["fly.".len()..];
                let (table, key) = match rest.rsplit_once('.') {
                    Some((t, k)) => (t.to_string(), k.to_string()),
                    None => (String::new(), rest.to_string()),
                };
                fly.entry((app.name.clone(), table))
                    .or_default()
                    .push(format!("{key} = {value}"));
                if rest.starts_with("vm") && key == "size" {
                    commands.push(format!(
                        "fly scale vm {} --app {}",
                        value.trim_matches('"'),
                        app.name
                    ));
                }
            }
            (Some(&"app"), Some(app), Some(rest))
                if rest.starts_with("machines[") && rest.ends_with("].count") =>
            {
                let i: Option<usize> = rest["machines[".len()..rest.len() - "].count".len()]
                    .parse()
                    .ok();
                if let Some(mg) = i.and_then(|i| app.machines.get(i)) {
                    let group = &app.groups[mg.group];
                    for &(region, n) in &mg.per_region {
                        commands.push(format!(
                            "fly scale count {n} --region {}{} --app {}",
                            sc.regions[region].code,
                            if app.groups.len() > 1 {
                                format!(" --process-group {}", group.name)
                            } else {
                                String::new()
                            },
                            app.name
                        ));
                    }
                } else {
                    scenario_only.push(format!("{} = {value}", axis.path));
                }
            }
            _ => scenario_only.push(format!("{} = {value}", axis.path)),
        }
    }
    let mut o = String::from("apply:\n");
    let apps: Vec<&String> = fly
        .keys()
        .map(|(a, _)| a)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for app in apps {
        let _ = writeln!(o, "  fly.toml of {app}:");
        for ((a, table), lines) in &fly {
            if a != app {
                continue;
            }
            if !table.is_empty() {
                let (name, array) = match table.split_once('[') {
                    Some((n, _)) => (n, true),
                    None => (table.as_str(), false),
                };
                if array {
                    let _ = writeln!(o, "    [[{name}]]");
                } else {
                    let _ = writeln!(o, "    [{name}]");
                }
            }
            for l in lines {
                let _ = writeln!(o, "    {l}");
            }
        }
    }
    for cmd in &commands {
        let _ = writeln!(o, "  {cmd}");
    }
    if !scenario_only.is_empty() {
        let _ = writeln!(
            o,
            "  not Fly settings (the scenario's own): {}",
            scenario_only.join(", ")
        );
    }
    o
}
