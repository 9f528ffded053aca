//! The search: rounds of replications over candidates until the cheapest one that meets every
//! constraint is known with the plan's confidence.
//!
//! - **Common random numbers.** Replication `r` of every candidate uses the same random
//!   streams, so candidates differ by their configuration, not their luck.
//! - **Sequential tests with a Bonferroni correction.** A candidate is judged at fixed looks
//!   (`min_replications`, then doubling up to `max_replications`). Each constraint is a
//!   one-sided Student-t test at level α / (candidates × looks × constraints), so that every
//!   claim the plan makes (this one meets its SLO, those fail) holds together with confidence
//!   1 − α. A constraint whose replications all gave the same value is decided by the sign
//!   test instead (n equal results on one side: 2^−n), and the last look is moved out to
//!   where that test can decide.
//! - **Cost bounds.** Candidates are taken cheapest first (by their cost estimate, else their
//!   floor); one whose floor exceeds the incumbent's cost (its upper bound), or whose paired
//!   cost difference to it is above 0 with confidence, is never run further.
//! - **Declared monotonicity.** Along a `monotone` axis, a failing candidate implies that every
//!   candidate with less fails, and a feasible one that every candidate with more is feasible
//!   and no cheaper; new candidates on such an axis are picked evenly across what is still
//!   open (a k-ary bisection). Without the declaration nothing is implied.
//!
//! Each round's runs are independent and run in parallel; rounds are decided from the results
//! in candidate order, so the answer does not depend on the number of threads. Every run is
//! journaled as it finishes; a rerun replays the journal and runs only what is missing.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Direction, Metric, Plan};
use crate::metrics::results::RunSummary;
use crate::metrics::stats::{t_quantile, t_sf};
use crate::output::OwnedDir;
use crate::sweep::exec::SweepRunError;

/// The journal of a plan's runs.
pub const JOURNAL: &str = "plan-runs.jsonl";
/// What the folder holds results of.
pub const MANIFEST: &str = "plan-manifest.json";

/// What one run contributes: the objective's part and every constrained metric.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunMetrics {
    /// Cost per 30 days [USD].
    pub cost: f64,
    /// Served over served and failed.
    pub availability: f64,
    /// p99 latency [ms].
    pub latency_p99_ms: f64,
    /// Served within the latency target over served and failed.
    pub within_latency: f64,
    /// Cold starts over requests that arrived.
    pub cold_start_share: f64,
    /// Requests that queued over requests that arrived.
    pub queued_share: f64,
    /// Mean queue wait over every request that arrived [ms].
    pub queue_wait_mean_ms: f64,
    /// The least worker availability (1 without workers).
    pub worker_availability: f64,
    /// Requests simulated (arrived).
    pub requests: u64,
}

impl RunMetrics {
    /// The metrics of a finished run.
    pub fn of(s: &RunSummary) -> RunMetrics {
        let offered = s.requests.offered.max(1) as f64;
        RunMetrics {
            cost: s.cost_usd.per_30_days,
            availability: s.requests.availability,
            latency_p99_ms: s.latency_ms.p99,
            within_latency: s.requests.slo_share,
            cold_start_share: s.requests.cold_starts as f64 / offered,
            queued_share: s.requests.queued as f64 / offered,
            queue_wait_mean_ms: s.queue_wait_ms.mean * s.requests.queued as f64 / offered,
            worker_availability: s
                .workers
                .values()
                .map(|w| w.availability)
                .fold(1.0, f64::min),
            requests: s.requests.offered,
        }
    }

    /// The value of `m`.
    pub fn get(&self, m: Metric) -> f64 {
        match m {
            Metric::Availability => self.availability,
            Metric::LatencyP99 => self.latency_p99_ms,
            Metric::WithinLatency => self.within_latency,
            Metric::ColdStartShare => self.cold_start_share,
            Metric::QueuedShare => self.queued_share,
            Metric::QueueWaitMean => self.queue_wait_mean_ms,
            Metric::WorkerAvailability => self.worker_availability,
        }
    }
}

/// Where a candidate stands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Status {
    /// Not decided yet.
    Open,
    /// Meets every constraint in every scenario, with confidence.
    Feasible,
    /// Fails constraint `constraint` of scenario `scenario`, with confidence.
    Infeasible {
        /// The scenario.
        scenario: usize,
        /// The constraint, by index in the scenario's list.
        constraint: usize,
    },
    /// Fails, because a candidate with at least as much on every monotone axis fails.
    ImpliedInfeasible {
        /// That candidate.
        by: usize,
    },
    /// Meets the SLO and costs no less than a feasible candidate with less on monotone axes.
    Dominated {
        /// That candidate.
        by: usize,
    },
    /// Costs more than a feasible candidate, with confidence (never run further).
    Costlier {
        /// That candidate.
        by: usize,
        /// Decided by its floor alone, before any run.
        by_floor: bool,
    },
    /// Reached the last look without a decision.
    Undecided,
}

impl Status {
    /// A short name for tables.
    pub fn name(&self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Feasible => "feasible",
            Status::Infeasible { .. } => "infeasible",
            Status::ImpliedInfeasible { .. } => "infeasible (implied)",
            Status::Dominated { .. } => "dominated (implied)",
            Status::Costlier { by_floor: true, .. } => "costlier (floor)",
            Status::Costlier { .. } => "costlier",
            Status::Undecided => "undecided",
        }
    }
}

/// How a plan runs.
#[derive(Clone, Copy, Debug)]
pub struct SearchOptions {
    /// Worker threads (the answer does not depend on it).
    pub jobs: usize,
    /// Show a progress bar.
    pub progress: bool,
    /// Evaluate every candidate at this many replications instead of searching (the
    /// reference the search is checked against), each judged on its own at the confidence.
    pub exhaustive: Option<u32>,
}

/// One candidate's record.
#[derive(Clone, Debug)]
pub struct CandidateState {
    /// Where it stands.
    pub status: Status,
    /// Replications run in every scenario.
    pub reps: u32,
    /// Per scenario, per replication.
    pub runs: Vec<Vec<RunMetrics>>,
}

/// A mean and its one-sided bound.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Mean over replications.
    pub mean: f64,
    /// Half-width at the test's level (0 with one replication or no spread).
    pub half: f64,
    /// Replications.
    pub n: u32,
}

/// What the search found.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Every candidate's record, by candidate.
    pub states: Vec<CandidateState>,
    /// The cheapest feasible candidate.
    pub recommended: Option<usize>,
    /// The next cheapest feasible one.
    pub runner_up: Option<usize>,
    /// The looks and the level its decisions were made at.
    pub tests: Tests,
    /// Runs done (from the journal or now).
    pub runs: u64,
    /// Of them, taken from the journal.
    pub resumed: u64,
    /// Requests those runs simulated.
    pub requests: u64,
    /// Rounds of the search.
    pub rounds: u32,
    /// Monotonicity a result contradicted: (the axis, what was seen).
    pub contradictions: Vec<String>,
    /// Whether this was an exhaustive evaluation.
    pub exhaustive: bool,
}

/// The plan's statistics: looks, test level, and the decisions.
#[derive(Clone, Debug, PartialEq)]
pub struct Tests {
    /// Replications at which a candidate is judged.
    pub looks: Vec<u32>,
    /// One-sided level of each test.
    pub alpha: f64,
    /// Decide each interval two-sided at the confidence, no correction (exhaustive).
    pub per_point: bool,
}

impl Tests {
    /// The looks and the level of a plan's search.
    pub fn for_search(plan: &Plan) -> Tests {
        let mut looks = vec![plan.min_replications];
        while *looks.last().expect("one look") < plan.max_replications {
            let next = (looks.last().expect("one look") * 2).min(plan.max_replications);
            looks.push(next);
        }
        // A look where the sign test can first decide (2^-n ≤ α). The level depends on the
        // number of looks, the look on the level: settled in a few steps.
        let level = |looks: usize| {
            (1.0 - plan.confidence)
                / (plan.candidates.len() * looks * plan.constraint_count().max(1)) as f64
        };
        let base = looks;
        let sign_look =
            |alpha: f64| ((1.0 / alpha).log2().ceil() as u32).max(plan.min_replications);
        let with_sign = |n: u32| {
            let mut l = base.clone();
            if n > plan.max_replications {
                // Beyond the last look: the last look moves out instead.
                *l.last_mut().expect("one look") = n;
            } else {
                l.push(n);
                l.sort_unstable();
                l.dedup();
            }
            l
        };
        let mut n = sign_look(level(base.len()));
        let mut looks = with_sign(n);
        for _ in 0..16 {
            let next = sign_look(level(looks.len()));
            if next <= n {
                break;
            }
            n = next;
            looks = with_sign(n);
        }
        let alpha = level(looks.len());
        Tests {
            looks,
            alpha,
            per_point: false,
        }
    }

    /// One look at `reps` replications, each point judged alone two-sided at the confidence
    /// (what `flysim sweep` does).
    pub fn exhaustive(plan: &Plan, reps: u32) -> Tests {
        Tests {
            looks: vec![reps],
            alpha: (1.0 - plan.confidence) / 2.0,
            per_point: true,
        }
    }

    /// Mean and half-width of `xs` at this level.
    pub fn estimate(&self, xs: &[f64]) -> Estimate {
        let n = xs.len();
        if n == 0 {
            return Estimate {
                mean: 0.0,
                half: 0.0,
                n: 0,
            };
        }
        let mean = xs.iter().sum::<f64>() / n as f64;
        let half = if n < 2 {
            f64::INFINITY
        } else {
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            if var == 0.0 {
                0.0
            } else {
                t_quantile(1.0 - self.alpha, (n - 1) as f64) * (var / n as f64).sqrt()
            }
        };
        Estimate {
            mean,
            half,
            n: n as u32,
        }
    }

    /// Whether a sample that does not spread may be trusted at this level (the sign test).
    fn flat_ok(&self, n: u32) -> bool {
        self.per_point || 0.5f64.powi(n as i32) <= self.alpha
    }

    /// Judges `xs` against a target: Some(true) met, Some(false) failed, None open.
    pub fn judge(&self, xs: &[f64], target: f64, at_least: bool) -> Option<bool> {
        let e = self.estimate(xs);
        if e.n < 2 {
            return None;
        }
        let (lo, hi) = (e.mean - e.half, e.mean + e.half);
        if e.half == 0.0 && !self.flat_ok(e.n) {
            return None;
        }
        if at_least {
            if lo >= target {
                Some(true)
            } else if hi < target {
                Some(false)
            } else {
                None
            }
        } else if hi <= target {
            Some(true)
        } else if lo > target {
            Some(false)
        } else {
            None
        }
    }

    /// The one-sided p-value of the claim that `xs` lies on its side of `target` (for outputs).
    pub fn p_value(&self, xs: &[f64], target: f64) -> f64 {
        let n = xs.len();
        if n < 2 {
            return 1.0;
        }
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        if var == 0.0 {
            return if mean == target {
                1.0
            } else {
                0.5f64.powi(n as i32)
            };
        }
        let t = (mean - target).abs() / (var / n as f64).sqrt();
        t_sf(t, (n - 1) as f64)
    }
}

/// A candidate's objective in each of its replications: the weighted mean over the scenarios
/// of their 30-day costs in that replication.
pub fn objective_runs(plan: &Plan, st: &CandidateState) -> Vec<f64> {
    let weights: Vec<f64> = plan.scenarios.iter().map(|s| s.weight).collect();
    (0..st.reps as usize)
        .map(|r| super::objective(&weights, st.runs.iter().map(|runs| runs[r].cost)))
        .collect()
}

/// One journal line.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Line {
    candidate: usize,
    scenario: usize,
    replication: u32,
    metrics: RunMetrics,
}

/// `plan-manifest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The flysim version that wrote it.
    pub flysim_version: String,
    /// Plan name.
    pub name: String,
    /// Hash of everything that determines the results.
    pub hash: String,
    /// `search`, or `exhaustive N`.
    pub mode: String,
}

type Key = (usize, usize, u32);

/// Reads a journal without changing it: its runs, the bytes of complete lines, whether the
/// last line is torn.
fn read_journal(path: &Path) -> Result<(BTreeMap<Key, RunMetrics>, u64, bool), SweepRunError> {
    let mut runs = BTreeMap::new();
    if !path.exists() {
        return Ok((runs, 0, false));
    }
    let bytes = fs::read(path).map_err(|source| SweepRunError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let mut good = 0u64;
    let mut rest: &[u8] = &bytes;
    let mut line_no = 0;
    while !rest.is_empty() {
        line_no += 1;
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            return Ok((runs, good, true));
        };
        let line: Line = serde_json::from_slice(&rest[..end]).map_err(|_| {
            SweepRunError::Mismatch(format!(
                "{}:{line_no}: not a finished run; the journal is damaged. flysim will not guess which runs it held: restore the file, or give another --out to plan afresh",
                path.display()
            ))
        })?;
        let key = (line.candidate, line.scenario, line.replication);
        if let Some(prev) = runs.insert(key, line.metrics)
            && prev != line.metrics
        {
            return Err(SweepRunError::Mismatch(format!(
                "{}:{line_no}: candidate {} scenario {} replication {} appears twice with different results; the journal is damaged",
                path.display(),
                key.0,
                key.1,
                key.2
            )));
        }
        good += end as u64 + 1;
        rest = &rest[end + 1..];
    }
    Ok((runs, good, false))
}

/// The journal of `runs`, in key order.
fn journal_bytes(runs: &BTreeMap<Key, RunMetrics>) -> Vec<u8> {
    let mut out = Vec::new();
    for (&(candidate, scenario, replication), &metrics) in runs {
        serde_json::to_writer(
            &mut out,
            &Line {
                candidate,
                scenario,
                replication,
                metrics,
            },
        )
        .expect("a run serialises");
        out.push(b'\n');
    }
    out
}

/// Runs the plan in the locked flysim folder `out`, resuming from its journal.
pub fn run(plan: &Plan, out: &mut OwnedDir, opts: SearchOptions) -> Result<Outcome, SweepRunError> {
    let manifest = Manifest {
        flysim_version: env!("CARGO_PKG_VERSION").to_string(),
        name: plan.name.clone(),
        hash: plan.hash.clone(),
        mode: opts
            .exhaustive
            .map_or_else(|| "search".to_string(), |n| format!("exhaustive {n}")),
    };
    let dir = out.path().to_path_buf();
    let manifest_path = dir.join(MANIFEST);
    if manifest_path.exists() {
        let bytes = fs::read(&manifest_path).map_err(|source| SweepRunError::Io {
            path: manifest_path.display().to_string(),
            source,
        })?;
        let old: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
            SweepRunError::Mismatch(format!(
                "{}: not a plan manifest: {e}",
                manifest_path.display()
            ))
        })?;
        if old.hash != manifest.hash || old.mode != manifest.mode {
            return Err(SweepRunError::Mismatch(format!(
                "{} holds results of a different plan or mode (the plan file, a scenario or --exhaustive changed since); give another --out to start afresh, or remove that folder yourself",
                dir.display()
            )));
        }
    } else {
        let v = serde_json::to_value(&manifest).expect("a manifest serialises");
        out.write(MANIFEST, &crate::output::json_bytes(&v))?;
    }
    let journal_path = out.claim(JOURNAL)?;
    let (journal, good_len, torn) = read_journal(&journal_path)?;
    let n_candidates = plan.candidates.len();
    let index_of: BTreeMap<usize, usize> = plan
        .candidates
        .iter()
        .enumerate()
        .map(|(i, c)| (c.grid_index, i))
        .collect();
    for &(g, s, _) in journal.keys() {
        if !index_of.contains_key(&g) || s >= plan.scenarios.len() {
            return Err(SweepRunError::Mismatch(format!(
                "{}: holds candidate {g} scenario {s}, which this plan does not have; the journal is damaged",
                journal_path.display()
            )));
        }
    }
    if torn {
        let f = OpenOptions::new()
            .write(true)
            .open(&journal_path)
            .map_err(|source| SweepRunError::Io {
                path: journal_path.display().to_string(),
                source,
            })?;
        f.set_len(good_len).map_err(|source| SweepRunError::Io {
            path: journal_path.display().to_string(),
            source,
        })?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&journal_path)
        .map_err(|source| SweepRunError::Io {
            path: journal_path.display().to_string(),
            source,
        })?;
    let mut runner = Runner {
        plan,
        journal: Mutex::new(file),
        journal_path: journal_path.clone(),
        known: journal,
        pool: rayon::ThreadPoolBuilder::new()
            .num_threads(opts.jobs.max(1))
            .build()
            .map_err(|e| {
                SweepRunError::Mismatch(format!("cannot start {} worker threads: {e}", opts.jobs))
            })?,
        bar: opts.progress.then(|| {
            let b = crate::progress::runs_bar(&plan.name, 0, 0);
            b.set_message(format!("{}: round 1", plan.name));
            b
        }),
        stop_after: std::env::var("FLYSIM_STOP_AFTER_RUNS")
            .ok()
            .and_then(|v| v.parse().ok()),
        finished: std::sync::atomic::AtomicUsize::new(0),
        runs: 0,
        resumed: 0,
        requests: 0,
    };
    let (tests, exhaustive) = match opts.exhaustive {
        Some(n) => (Tests::exhaustive(plan, n), true),
        None => (Tests::for_search(plan), false),
    };
    let mut search = Search {
        plan,
        tests,
        states: (0..n_candidates)
            .map(|_| CandidateState {
                status: Status::Open,
                reps: 0,
                runs: vec![Vec::new(); plan.scenarios.len()],
            })
            .collect(),
        lines: BTreeMap::new(),
        kin: Vec::new(),
        kin_of: Vec::new(),
        contradictions: Vec::new(),
        rounds: 0,
    };
    search.index_lines();
    if exhaustive {
        let all: Vec<usize> = (0..n_candidates).collect();
        search.evaluate(&mut runner, &all)?;
        // One look: `decide` leaves nothing open.
        for c in 0..n_candidates {
            search.decide(c);
        }
    } else {
        search.search(&mut runner)?;
    }
    let (recommended, runner_up) = search.best_two();
    if let Some(b) = &runner.bar {
        b.finish_and_clear();
    }
    drop(runner.journal);
    out.write(JOURNAL, &journal_bytes(&runner.known))?;
    Ok(Outcome {
        states: search.states,
        recommended,
        runner_up,
        runs: runner.runs,
        resumed: runner.resumed,
        requests: runner.requests,
        rounds: search.rounds,
        contradictions: search.contradictions,
        tests: search.tests,
        exhaustive,
    })
}

/// Runs replications, from the journal where it has them.
struct Runner<'p> {
    plan: &'p Plan,
    journal: Mutex<fs::File>,
    journal_path: std::path::PathBuf,
    known: BTreeMap<Key, RunMetrics>,
    pool: rayon::ThreadPool,
    bar: Option<indicatif::ProgressBar>,
    stop_after: Option<usize>,
    finished: std::sync::atomic::AtomicUsize,
    runs: u64,
    resumed: u64,
    requests: u64,
}

impl Runner<'_> {
    /// The metrics of every `(candidate, scenario, replication)`, in the order given.
    fn run(&mut self, keys: &[(usize, usize, u32)]) -> Result<Vec<RunMetrics>, SweepRunError> {
        let plan = self.plan;
        let grid = |c: usize| plan.candidates[c].grid_index;
        let missing: Vec<(usize, usize, u32)> = keys
            .iter()
            .copied()
            .filter(|&(c, s, r)| !self.known.contains_key(&(grid(c), s, r)))
            .collect();
        if let Some(b) = &self.bar {
            b.inc_length(missing.len() as u64);
        }
        let journal = &self.journal;
        let path = &self.journal_path;
        let bar = &self.bar;
        let stop_after = self.stop_after;
        let finished = &self.finished;
        let new: Result<Vec<(Key, RunMetrics)>, SweepRunError> = self.pool.install(|| {
            missing
                .par_iter()
                .map(|&(c, s, r)| {
                    let sc = &plan.candidates[c].scenarios[s];
                    let metrics = RunMetrics::of(&crate::run::run_summary(sc, u64::from(r)));
                    let key = (grid(c), s, r);
                    let mut bytes = serde_json::to_vec(&Line {
                        candidate: key.0,
                        scenario: s,
                        replication: r,
                        metrics,
                    })
                    .expect("a run serialises");
                    bytes.push(b'\n');
                    {
                        let mut j = journal.lock().expect("journal lock");
                        j.write_all(&bytes)
                            .and_then(|_| j.flush())
                            .map_err(|source| SweepRunError::Io {
                                path: path.display().to_string(),
                                source,
                            })?;
                        let count = finished.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                        if stop_after == Some(count) {
                            // A test hook: stop as a kill would.
                            std::process::exit(75);
                        }
                    }
                    if let Some(b) = bar {
                        b.inc(1);
                    }
                    Ok((key, metrics))
                })
                .collect()
        });
        let fresh = missing.len() as u64;
        for (k, m) in new? {
            self.known.insert(k, m);
        }
        self.runs += keys.len() as u64;
        self.resumed += keys.len() as u64 - fresh;
        Ok(keys
            .iter()
            .map(|&(c, s, r)| {
                let m = self.known[&(grid(c), s, r)];
                self.requests += m.requests;
                m
            })
            .collect())
    }
}

struct Search<'p> {
    plan: &'p Plan,
    tests: Tests,
    states: Vec<CandidateState>,
    /// Candidates by their values on the non-monotone axes and every monotone axis but the
    /// first: the lines the bisection walks along the first monotone axis.
    lines: BTreeMap<Vec<usize>, Vec<usize>>,
    /// Groups of candidates with the same values on every axis that is not monotone: a
    /// decision on one implies nothing outside its group.
    kin: Vec<Vec<usize>>,
    /// Each candidate's group in `kin`.
    kin_of: Vec<usize>,
    contradictions: Vec<String>,
    rounds: u32,
}

impl Search<'_> {
    fn first_monotone(&self) -> Option<usize> {
        self.plan.axes.iter().position(|a| a.monotone.is_some())
    }

    fn index_lines(&mut self) {
        let Some(m) = self.first_monotone() else {
            return;
        };
        let mut kin: BTreeMap<Vec<usize>, Vec<usize>> = BTreeMap::new();
        for (i, c) in self.plan.candidates.iter().enumerate() {
            let key: Vec<usize> = self
                .plan
                .axes
                .iter()
                .zip(&c.values)
                .filter(|(a, _)| a.monotone.is_none())
                .map(|(_, &v)| v)
                .collect();
            kin.entry(key).or_default().push(i);
        }
        self.kin = kin.into_values().collect();
        self.kin_of = vec![0; self.plan.candidates.len()];
        for (g, members) in self.kin.iter().enumerate() {
            for &i in members {
                self.kin_of[i] = g;
            }
        }
        for (i, c) in self.plan.candidates.iter().enumerate() {
            let mut key = c.values.clone();
            key.remove(m);
            self.lines.entry(key).or_default().push(i);
        }
    }

    /// Whether candidate `a` has at most what `b` has: equal on every other axis, no more on
    /// every monotone one.
    fn at_most(&self, a: usize, b: usize) -> bool {
        let (ca, cb) = (&self.plan.candidates[a], &self.plan.candidates[b]);
        self.plan.axes.iter().enumerate().all(|(k, axis)| {
            let (ia, ib) = (ca.values[k], cb.values[k]);
            match axis.monotone {
                None => ia == ib,
                Some(dir) => {
                    let xs = axis.numbers.as_ref().expect("validated: numbers");
                    match dir {
                        Direction::Increasing => xs[ia] <= xs[ib],
                        Direction::Decreasing => xs[ia] >= xs[ib],
                    }
                }
            }
        })
    }

    fn objective_runs(&self, c: usize) -> Vec<f64> {
        objective_runs(self.plan, &self.states[c])
    }

    /// The objective's estimate of a candidate that has runs.
    fn objective(&self, c: usize) -> Estimate {
        self.tests.estimate(&self.objective_runs(c))
    }

    /// How cheap a candidate looks: its mean if it has runs, else its floor.
    fn priority(&self, c: usize) -> f64 {
        if self.states[c].reps > 0 {
            self.objective(c).mean
        } else {
            self.plan.candidates[c].floor
        }
    }

    /// The cheapest and next cheapest feasible candidates by objective mean.
    fn best_two(&self) -> (Option<usize>, Option<usize>) {
        let mut feasible: Vec<(f64, usize)> = (0..self.states.len())
            .filter(|&c| self.states[c].status == Status::Feasible)
            .map(|c| (self.objective(c).mean, c))
            .collect();
        feasible.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        (feasible.first().map(|x| x.1), feasible.get(1).map(|x| x.1))
    }

    /// Runs candidates `cs` to their next look.
    fn evaluate(&mut self, runner: &mut Runner, cs: &[usize]) -> Result<(), SweepRunError> {
        let mut keys = Vec::new();
        let mut to = Vec::new();
        for &c in cs {
            let reps = self.states[c].reps;
            let next = self
                .tests
                .looks
                .iter()
                .copied()
                .find(|&l| l > reps)
                .unwrap_or(reps);
            to.push(next);
            for s in 0..self.plan.scenarios.len() {
                for r in reps..next {
                    keys.push((c, s, r));
                }
            }
        }
        let results = runner.run(&keys)?;
        for (&(c, s, _), m) in keys.iter().zip(results) {
            self.states[c].runs[s].push(m);
        }
        for (&c, &n) in cs.iter().zip(&to) {
            self.states[c].reps = n;
        }
        self.rounds += 1;
        if let Some(b) = &runner.bar {
            b.set_message(format!("{}: round {}", self.plan.name, self.rounds + 1));
        }
        Ok(())
    }

    /// Decides a candidate from its runs.
    fn decide(&mut self, c: usize) {
        let st = &self.states[c];
        let mut all_met = true;
        let mut failed: Option<(f64, usize, usize)> = None;
        for (s, ps) in self.plan.scenarios.iter().enumerate() {
            for (k, con) in ps.constraints.iter().enumerate() {
                let xs: Vec<f64> = st.runs[s].iter().map(|m| m.get(con.metric)).collect();
                match self.tests.judge(&xs, con.target, con.metric.at_least()) {
                    Some(true) => {}
                    Some(false) => {
                        let p = self.tests.p_value(&xs, con.target);
                        if failed.is_none_or(|(q, _, _)| p < q) {
                            failed = Some((p, s, k));
                        }
                        all_met = false;
                    }
                    None => all_met = false,
                }
            }
        }
        let last = *self.tests.looks.last().expect("one look");
        self.states[c].status = match failed {
            Some((_, scenario, constraint)) => Status::Infeasible {
                scenario,
                constraint,
            },
            None if all_met => Status::Feasible,
            None if st.reps >= last => Status::Undecided,
            None => Status::Open,
        };
    }

    /// Applies what a decided candidate implies along the monotone axes.
    fn imply(&mut self, c: usize) {
        if self.first_monotone().is_none() {
            return;
        }
        let status = self.states[c].status;
        let kin = std::mem::take(&mut self.kin[self.kin_of[c]]);
        for &y in &kin {
            if y == c {
                continue;
            }
            let ys = self.states[y].status;
            match status {
                Status::Infeasible { .. } if self.at_most(y, c) => {
                    if ys == Status::Feasible {
                        self.contradiction(y, c);
                    } else if ys == Status::Open {
                        self.states[y].status = Status::ImpliedInfeasible { by: c };
                    }
                }
                Status::Feasible if self.at_most(c, y) => {
                    if matches!(ys, Status::Infeasible { .. }) {
                        self.contradiction(c, y);
                    } else if ys == Status::Open {
                        self.states[y].status = Status::Dominated { by: c };
                    }
                }
                _ => {}
            }
        }
        let g = self.kin_of[c];
        self.kin[g] = kin;
    }

    fn contradiction(&mut self, feasible: usize, failing: usize) {
        let show = |c: usize| {
            self.plan
                .axes
                .iter()
                .enumerate()
                .map(|(k, a)| {
                    format!(
                        "{} = {}",
                        a.name,
                        self.plan.value(&self.plan.candidates[c], k)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let text = format!(
            "({}) meets the SLO but ({}), which has at least as much on every monotone axis, fails it: the declared monotonicity does not hold here",
            show(feasible),
            show(failing)
        );
        if !self.contradictions.contains(&text) {
            self.contradictions.push(text);
        }
    }

    /// Stops candidates that cannot be cheaper than the incumbent.
    fn prune(&mut self) {
        let (Some(inc), _) = self.best_two() else {
            return;
        };
        let inc_runs = self.objective_runs(inc);
        let inc_est = self.tests.estimate(&inc_runs);
        let upper = inc_est.mean + inc_est.half;
        for c in 0..self.states.len() {
            if self.states[c].status != Status::Open {
                continue;
            }
            // Costs are kept to the micro-dollar (`summary.json`): a floor equal to a cost is
            // not above it.
            if self.plan.candidates[c].floor > upper + 1e-6 {
                self.states[c].status = Status::Costlier {
                    by: inc,
                    by_floor: self.states[c].reps == 0,
                };
                continue;
            }
            if self.states[c].reps >= 2 {
                let mine = self.objective_runs(c);
                let n = mine.len().min(inc_runs.len());
                let diff: Vec<f64> = (0..n).map(|r| mine[r] - inc_runs[r]).collect();
                if self.tests.judge(&diff, 0.0, true) == Some(true) && diff.iter().any(|&d| d > 0.0)
                {
                    self.states[c].status = Status::Costlier {
                        by: inc,
                        by_floor: false,
                    };
                }
            }
        }
    }

    /// The candidates of the next round.
    fn pick(&self) -> Vec<usize> {
        let batch = self.plan.batch;
        let priority: Vec<f64> = (0..self.states.len())
            .map(|c| {
                if self.states[c].status == Status::Open {
                    self.priority(c)
                } else {
                    f64::INFINITY
                }
            })
            .collect();
        let order = |v: &mut Vec<usize>| {
            v.sort_by(|&a, &b| priority[a].total_cmp(&priority[b]).then(a.cmp(&b)))
        };
        let mut going: Vec<usize> = (0..self.states.len())
            .filter(|&c| self.states[c].status == Status::Open && self.states[c].reps > 0)
            .collect();
        order(&mut going);
        going.truncate(batch);
        let mut budget = batch - going.len();
        if budget == 0 {
            return going;
        }
        let fresh = |c: usize| self.states[c].status == Status::Open && self.states[c].reps == 0;
        let mut picks = going;
        match self.first_monotone() {
            None => {
                let mut new: Vec<usize> = (0..self.states.len()).filter(|&c| fresh(c)).collect();
                order(&mut new);
                picks.extend(new.into_iter().take(budget));
            }
            Some(m) => {
                // Lines with fresh candidates, cheapest first. Along a line, until a candidate
                // meets the SLO, probes gallop up from the least (offsets 0, 1, 3, 7, ... past
                // the last failure: the answer is often near the cheap end); once one meets
                // it, the open stretch below is split evenly (a k-ary bisection).
                let axis = &self.plan.axes[m];
                let xs = axis.numbers.as_ref().expect("validated");
                let amount = |c: usize| {
                    let x = xs[self.plan.candidates[c].values[m]];
                    match axis.monotone {
                        Some(Direction::Decreasing) => -x,
                        _ => x,
                    }
                };
                let mut lines: Vec<(f64, Vec<usize>, Option<u32>)> = self
                    .lines
                    .values()
                    .filter_map(|line| {
                        let mut open: Vec<usize> =
                            line.iter().copied().filter(|&c| fresh(c)).collect();
                        if open.is_empty() {
                            return None;
                        }
                        open.sort_by(|&a, &b| amount(a).total_cmp(&amount(b)));
                        let cheapest = open
                            .iter()
                            .map(|&c| priority[c])
                            .fold(f64::INFINITY, f64::min);
                        let bounded = line.iter().any(|&c| {
                            matches!(
                                self.states[c].status,
                                Status::Feasible | Status::Dominated { .. }
                            )
                        });
                        let failures = line
                            .iter()
                            .filter(|&&c| {
                                matches!(self.states[c].status, Status::Infeasible { .. })
                            })
                            .count() as u32;
                        Some((cheapest, open, (!bounded).then_some(failures)))
                    })
                    .collect();
                lines.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1[0].cmp(&b.1[0])));
                let mut left = lines.len();
                for (_, open, galloping) in lines {
                    if budget == 0 {
                        break;
                    }
                    let k = budget.div_ceil(left).min(open.len()).max(1);
                    let len = open.len();
                    let mut chosen = BTreeSet::new();
                    for j in 0..k {
                        let at = match galloping {
                            Some(f) => (1usize << (f as usize + j).min(62)) - 1,
                            None => (j + 1) * len / (k + 1),
                        };
                        chosen.insert(open[at.min(len - 1)]);
                    }
                    budget -= chosen.len().min(budget);
                    picks.extend(chosen);
                    left -= 1;
                }
            }
        }
        picks.sort_unstable();
        picks.dedup();
        picks
    }

    fn search(&mut self, runner: &mut Runner) -> Result<(), SweepRunError> {
        loop {
            self.prune();
            let batch = self.pick();
            if batch.is_empty() {
                break;
            }
            self.evaluate(runner, &batch)?;
            for &c in &batch {
                self.decide(c);
            }
            for &c in &batch {
                self.imply(c);
            }
        }
        // The runner-up: the cheapest other candidate not known to fail, run to a decision.
        let (Some(best), None) = self.best_two() else {
            return Ok(());
        };
        for _ in 0..3 {
            let mut others: Vec<usize> = (0..self.states.len())
                .filter(|&c| {
                    c != best
                        && matches!(
                            self.states[c].status,
                            Status::Dominated { .. } | Status::Costlier { .. } | Status::Open
                        )
                })
                .collect();
            others.sort_by(|&a, &b| {
                self.priority(a)
                    .total_cmp(&self.priority(b))
                    .then(a.cmp(&b))
            });
            let Some(&c) = others.first() else {
                break;
            };
            let implied = matches!(self.states[c].status, Status::Dominated { .. });
            let by = match self.states[c].status {
                Status::Dominated { by } => Some(by),
                _ => None,
            };
            loop {
                self.evaluate(runner, &[c])?;
                self.decide(c);
                if self.states[c].status != Status::Open {
                    break;
                }
            }
            if implied
                && matches!(self.states[c].status, Status::Infeasible { .. })
                && let Some(by) = by
            {
                self.contradiction(by, c);
            }
            if self.states[c].status == Status::Feasible {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(alpha: f64) -> Tests {
        Tests {
            looks: vec![5, 10],
            alpha,
            per_point: false,
        }
    }

    #[test]
    fn a_constraint_is_met_failed_or_open_by_its_one_sided_interval() {
        // Mean 1, s = 0.0791, n = 5: at α = 0.025 the half-width is 2.776 s / √5 = 0.0982.
        let xs = [1.0, 1.1, 0.9, 1.05, 0.95];
        let t = at(0.025);
        let e = t.estimate(&xs);
        assert!((e.mean - 1.0).abs() < 1e-12);
        assert!((e.half - 0.0982).abs() < 1e-3, "{}", e.half);
        assert_eq!(t.judge(&xs, 0.9, true), Some(true));
        assert_eq!(t.judge(&xs, 0.95, true), None);
        assert_eq!(t.judge(&xs, 1.2, true), Some(false));
        assert_eq!(t.judge(&xs, 1.2, false), Some(true));
        assert_eq!(t.judge(&xs, 0.8, false), Some(false));
        // A stricter level widens the interval: no longer decided.
        assert_eq!(at(1e-6).judge(&xs, 0.9, true), None);
    }

    #[test]
    fn a_flat_sample_waits_for_the_sign_test() {
        let t = at(1e-3);
        // 2^-5 = 0.031 > 0.001: five equal results decide nothing.
        assert_eq!(t.judge(&[1.0; 5], 0.999, true), None);
        // 2^-10 = 0.00098 ≤ 0.001: ten do.
        assert_eq!(t.judge(&[1.0; 10], 0.999, true), Some(true));
        assert_eq!(t.judge(&[0.5; 10], 0.999, true), Some(false));
        assert_eq!(t.p_value(&[1.0; 10], 0.999), 0.5f64.powi(10));
        // The exhaustive evaluation judges each point alone, as a sweep does.
        let per_point = Tests {
            looks: vec![20],
            alpha: 0.025,
            per_point: true,
        };
        assert_eq!(per_point.judge(&[1.0; 3], 0.999, true), Some(true));
    }

    #[test]
    fn one_replication_decides_nothing() {
        assert_eq!(at(0.4).judge(&[5.0], 1.0, true), None);
    }
}
