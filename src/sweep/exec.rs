//! Running a sweep: in parallel, journaled, resumable, shardable; then the result files.
//!
//! Each finished run is appended at once to `runs.jsonl` in the output folder (one JSON line,
//! flushed), so an interrupted sweep loses nothing: rerunning the same command skips the runs
//! already in the journal. `sweep-manifest.json` records the sweep's hash; a changed sweep is
//! refused rather than mixed with old results. With `--shard K/N` a process runs the runs
//! whose index `i = point × replications + replication` has `i mod N = K − 1`; `flysim merge`
//! joins shard folders. The result files (`runs.csv`, `points.csv`, `sweep.json`) are derived
//! from the journal sorted by run index, so they are byte-identical whatever the number of
//! threads, shards or interruptions.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Sweep;
use crate::metrics::results::{
    AxisDoc, MeanCi, ParamValue, PointDoc, RunSummary, SweepAxis, SweepDoc,
};
use crate::metrics::stats::mean_ci95;
use crate::output::{OwnedDir, csv_bytes};
use crate::run::{aggregate, flatten, round_for, run_summary};

/// Journal of finished runs.
pub const JOURNAL: &str = "runs.jsonl";
/// What the folder holds results of.
pub const MANIFEST: &str = "sweep-manifest.json";

/// A failure to run or merge a sweep.
#[derive(Debug, thiserror::Error)]
pub enum SweepRunError {
    /// Writing the folder was refused or failed.
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The folder holds results of something else.
    #[error("{0}")]
    Mismatch(String),
}

fn io<T>(path: &Path, r: std::io::Result<T>) -> Result<T, SweepRunError> {
    r.map_err(|source| SweepRunError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// How to run.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// Worker threads.
    pub jobs: usize,
    /// This process's shard `(k, n)`, 1-based; `(1, 1)` for all runs.
    pub shard: (usize, usize),
    /// Show a progress bar.
    pub progress: bool,
}

/// One finished run, as journaled.
#[derive(Clone, Debug)]
pub struct RunEntry {
    /// Grid point.
    pub point: usize,
    /// Replication.
    pub replication: usize,
    /// The run's summary document.
    pub summary: Value,
}

/// `sweep-manifest.json`: what the folder's results are of, enough to write the result files.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The flysim version that wrote it.
    pub flysim_version: String,
    /// Sweep name.
    pub name: String,
    /// Hash of everything that determines the results.
    pub hash: String,
    /// Replications per point.
    pub replications: u64,
    /// Runs of the whole sweep.
    pub total_runs: u64,
    /// The shard this folder holds, `K/N`.
    pub shard: String,
    /// The axes, in declared order.
    pub axes: Vec<AxisDoc>,
    /// Every point, by grid index.
    pub points: Vec<ManifestPoint>,
}

/// One point as the manifest records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestPoint {
    /// Axis values, in axis order (TOML text).
    pub params: Vec<String>,
    /// The point's master seed.
    pub seed: u64,
    /// Its SLO: the availability target.
    pub slo_availability: f64,
    /// Its SLO: the p99 latency target [ms].
    pub slo_latency_p99_ms: f64,
}

impl Manifest {
    /// The axis paths, in declared order.
    pub fn axis_paths(&self) -> Vec<String> {
        self.axes.iter().map(|a| a.path.clone()).collect()
    }

    fn bytes(&self) -> Vec<u8> {
        crate::output::json_bytes(&serde_json::to_value(self).expect("a manifest serialises"))
    }
}

/// The manifest of `sweep`'s shard `shard` (K, N).
pub fn manifest(sweep: &Sweep, shard: (usize, usize)) -> Manifest {
    Manifest {
        flysim_version: env!("CARGO_PKG_VERSION").to_string(),
        name: sweep.name.clone(),
        hash: sweep.hash.clone(),
        replications: u64::from(sweep.replications),
        total_runs: sweep.total_runs() as u64,
        shard: format!("{}/{}", shard.0, shard.1),
        axes: sweep
            .axes
            .iter()
            .map(|a| AxisDoc {
                path: a.path.clone(),
                values: a.values.clone(),
            })
            .collect(),
        points: sweep
            .points
            .iter()
            .map(|(values, sc)| ManifestPoint {
                params: values.clone(),
                seed: sc.seed,
                slo_availability: sc.slo.availability,
                slo_latency_p99_ms: sc.slo.latency_p99.as_millis_f64(),
            })
            .collect(),
    }
}

fn read_manifest(path: &Path) -> Result<Manifest, SweepRunError> {
    let bytes = io(path, fs::read(path))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        SweepRunError::Mismatch(format!("{}: not a sweep manifest: {e}", path.display()))
    })
}

/// A journal as read: its complete entries, and the byte length they take, short of the file's
/// length when its last line is torn (a process killed while it wrote that line).
#[derive(Debug)]
pub struct Journal {
    /// The runs, in file order.
    pub entries: Vec<RunEntry>,
    /// Bytes of complete lines.
    pub good_len: u64,
    /// Whether the file ends in a torn line (no final newline).
    pub torn: bool,
}

/// Reads a journal without changing it. A complete line that is not a run (damage, or an edit)
/// is an error naming the line, never dropped; a torn last line is reported in `torn`.
pub fn read_journal(path: &Path) -> Result<Journal, SweepRunError> {
    let mut journal = Journal {
        entries: Vec::new(),
        good_len: 0,
        torn: false,
    };
    if !path.exists() {
        return Ok(journal);
    }
    let bytes = io(path, fs::read(path))?;
    let mut rest: &[u8] = &bytes;
    let mut line_no = 0;
    while !rest.is_empty() {
        line_no += 1;
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            journal.torn = true;
            break;
        };
        let line = &rest[..end];
        rest = &rest[end + 1..];
        let parsed: Option<RunEntry> = serde_json::from_slice::<Value>(line).ok().and_then(|v| {
            Some(RunEntry {
                point: usize::try_from(v.get("point")?.as_u64()?).ok()?,
                replication: usize::try_from(v.get("replication")?.as_u64()?).ok()?,
                summary: v.get("summary").filter(|s| s.is_object())?.clone(),
            })
        });
        let Some(entry) = parsed else {
            let shown = String::from_utf8_lossy(&line[..line.len().min(60)]).into_owned();
            return Err(SweepRunError::Mismatch(format!(
                "{}:{line_no}: not a finished run ({shown:?}…); the journal is damaged. flysim will not guess which runs it held: restore the file, or move it away to run the sweep afresh",
                path.display()
            )));
        };
        journal.good_len += end as u64 + 1;
        journal.entries.push(entry);
    }
    Ok(journal)
}

/// Checks a journal's entries against the sweep's size and removes exact repeats; a run
/// recorded twice with different results is an error.
fn check_entries(
    path: &Path,
    entries: Vec<RunEntry>,
    points: usize,
    reps: usize,
) -> Result<Vec<RunEntry>, SweepRunError> {
    let mut by_key: BTreeMap<(usize, usize), RunEntry> = BTreeMap::new();
    for e in entries {
        if e.point >= points || e.replication >= reps {
            return Err(SweepRunError::Mismatch(format!(
                "{}: holds point {} replication {}, outside this sweep's {points} points × {reps} replications; the journal is damaged",
                path.display(),
                e.point,
                e.replication
            )));
        }
        let key = (e.point, e.replication);
        if let Some(prev) = by_key.get(&key)
            && prev.summary != e.summary
        {
            return Err(SweepRunError::Mismatch(format!(
                "{}: point {} replication {} appears twice with different results; the journal is damaged",
                path.display(),
                e.point,
                e.replication
            )));
        }
        by_key.insert(key, e);
    }
    Ok(by_key.into_values().collect())
}

fn journal_bytes(entries: &[RunEntry]) -> Vec<u8> {
    let mut journal = Vec::new();
    for e in entries {
        serde_json::to_writer(
            &mut journal,
            &json!({ "point": e.point, "replication": e.replication, "summary": e.summary }),
        )
        .expect("JSON values serialise");
        journal.push(b'\n');
    }
    journal
}

/// What [`run`] did.
#[derive(Debug)]
pub struct Finished {
    /// Every entry of this shard, sorted by run index.
    pub entries: Vec<RunEntry>,
    /// How many of them were already in the journal when the sweep started.
    pub resumed: usize,
    /// Whether a torn last journal line was dropped (that run was done again).
    pub dropped_torn_line: bool,
}

/// Runs the sweep's runs of this shard that the folder does not hold yet, in the locked flysim
/// folder `out`. On success the journal is rewritten in run order, so its bytes do not depend
/// on threads, shards or interruptions.
pub fn run(sweep: &Sweep, out: &mut OwnedDir, opts: RunOptions) -> Result<Finished, SweepRunError> {
    let dir = out.path().to_path_buf();
    let manifest_path = dir.join(MANIFEST);
    let mine = manifest(sweep, opts.shard);
    if manifest_path.exists() {
        let old = read_manifest(&manifest_path)?;
        if old.hash != mine.hash {
            return Err(SweepRunError::Mismatch(format!(
                "{} holds results of a different sweep (the sweep file, its base scenario or the overrides changed since); \
                 give another --out to start afresh, or remove that folder yourself",
                dir.display()
            )));
        }
        if old.shard != mine.shard {
            return Err(SweepRunError::Mismatch(format!(
                "{} holds shard {} of this sweep, not {}; give each shard its own --out",
                dir.display(),
                old.shard,
                mine.shard
            )));
        }
    } else {
        out.write(MANIFEST, &mine.bytes())?;
    }
    let journal_path = out.claim(JOURNAL)?;
    let read = read_journal(&journal_path)?;
    let reps = sweep.replications as usize;
    let mut done = check_entries(&journal_path, read.entries, sweep.points.len(), reps)?;
    if read.torn {
        // Our own file, under our lock: cut only the incomplete bytes of the last line.
        let f = io(
            &journal_path,
            OpenOptions::new().write(true).open(&journal_path),
        )?;
        io(&journal_path, f.set_len(read.good_len))?;
    }
    let (k, n) = opts.shard;
    let is_done: std::collections::BTreeSet<(usize, usize)> =
        done.iter().map(|e| (e.point, e.replication)).collect();
    let resumed = is_done.len();
    let pending: Vec<(usize, usize)> = (0..sweep.total_runs())
        .filter(|i| i % n == k - 1)
        .map(|i| (i / reps, i % reps))
        .filter(|pr| !is_done.contains(pr))
        .collect();
    let journal = Mutex::new(io(
        &journal_path,
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&journal_path),
    )?);
    let bar = opts
        .progress
        .then(|| crate::progress::runs_bar(&sweep.name, pending.len() + resumed, resumed));
    // A test hook: stop the process after this many runs, as a kill would.
    let stop_after: Option<usize> = std::env::var("FLYSIM_STOP_AFTER_RUNS")
        .ok()
        .and_then(|v| v.parse().ok());
    let finished = std::sync::atomic::AtomicUsize::new(0);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .build()
        .map_err(|e| {
            SweepRunError::Mismatch(format!("cannot start {} worker threads: {e}", opts.jobs))
        })?;
    let new: Result<Vec<RunEntry>, SweepRunError> = pool.install(|| {
        pending
            .par_iter()
            .map(|&(point, replication)| {
                let summary = run_summary(&sweep.points[point].1, replication as u64).to_value();
                let line =
                    json!({ "point": point, "replication": replication, "summary": summary });
                {
                    let mut j = journal.lock().expect("journal lock");
                    let mut bytes = serde_json::to_vec(&line).expect("JSON values serialise");
                    bytes.push(b'\n');
                    io(&journal_path, j.write_all(&bytes).and_then(|_| j.flush()))?;
                    let count = finished.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    if stop_after == Some(count) {
                        std::process::exit(75);
                    }
                }
                if let Some(b) = &bar {
                    b.inc(1);
                }
                Ok(RunEntry {
                    point,
                    replication,
                    summary,
                })
            })
            .collect()
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    drop(journal);
    done.extend(new?);
    done.sort_by_key(|e| (e.point, e.replication));
    out.write(JOURNAL, &journal_bytes(&done))?;
    Ok(Finished {
        entries: done,
        resumed,
        dropped_torn_line: read.torn,
    })
}

/// Reads shard folders, without changing them: checks they hold the same sweep and together
/// every run exactly once. Returns the manifest of the whole sweep, every entry in run order,
/// and the manifest and journal bytes of the merged folder.
pub fn merge(dirs: &[PathBuf]) -> Result<(Manifest, Vec<RunEntry>), SweepRunError> {
    let mut manifest: Option<Manifest> = None;
    let mut all: BTreeMap<(usize, usize), RunEntry> = BTreeMap::new();
    for d in dirs {
        let manifest_path = d.join(MANIFEST);
        if !manifest_path.is_file() {
            return Err(SweepRunError::Mismatch(format!(
                "{}: no {MANIFEST}; give folders written by `flysim sweep`",
                d.display()
            )));
        }
        let m = read_manifest(&manifest_path)?;
        if let Some(first) = &manifest {
            if first.hash != m.hash {
                return Err(SweepRunError::Mismatch(format!(
                    "{} holds another sweep than {}",
                    d.display(),
                    dirs[0].display()
                )));
            }
        } else {
            manifest = Some(m.clone());
        }
        let (points, reps) = (m.points.len(), m.replications as usize);
        let journal_path = d.join(JOURNAL);
        let read = read_journal(&journal_path)?;
        if read.torn {
            return Err(SweepRunError::Mismatch(format!(
                "{}:{}: the last line is incomplete (the shard was interrupted); rerun that shard's command to finish it, then merge",
                journal_path.display(),
                read.entries.len() + 1
            )));
        }
        for e in check_entries(&journal_path, read.entries, points, reps)? {
            let key = (e.point, e.replication);
            if let Some(prev) = all.get(&key)
                && prev.summary != e.summary
            {
                return Err(SweepRunError::Mismatch(format!(
                    "run {key:?} appears twice with different results ({}); were the shards made by different flysim versions?",
                    d.display()
                )));
            }
            all.insert(key, e);
        }
    }
    let mut manifest =
        manifest.ok_or_else(|| SweepRunError::Mismatch("no folder to merge".into()))?;
    let (points, reps) = (manifest.points.len(), manifest.replications as usize);
    let missing: Vec<String> = (0..points * reps)
        .map(|i| (i / reps, i % reps))
        .filter(|k| !all.contains_key(k))
        .take(5)
        .map(|(p, r)| format!("point {p} replication {r}"))
        .collect();
    if !missing.is_empty() {
        return Err(SweepRunError::Mismatch(format!(
            "the folders do not hold every run; missing {} (run the missing shards, or rerun them to resume)",
            missing.join(", ")
        )));
    }
    manifest.shard = "1/1".to_string();
    Ok((manifest, all.into_values().collect()))
}

/// The manifest and journal files of a merged (or complete) sweep folder.
pub fn folder_files(manifest: &Manifest, entries: &[RunEntry]) -> Vec<(String, Vec<u8>)> {
    vec![
        (MANIFEST.to_string(), manifest.bytes()),
        (JOURNAL.to_string(), journal_bytes(entries)),
    ]
}

fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Per-point statistics of the metrics that decide a verdict.
#[derive(Clone, Debug)]
pub struct PointStats {
    /// Grid point.
    pub point: usize,
    /// Axis values.
    pub params: Vec<String>,
    /// Availability mean and 95 % half-width.
    pub availability: (f64, f64),
    /// p99 latency [ms] mean and half-width.
    pub p99_ms: (f64, f64),
    /// Cost per 30 days [USD] mean and half-width.
    pub cost_30d: (f64, f64),
    /// Whether the SLO is met with confidence: availability's lower bound and p99's upper
    /// bound within the targets.
    pub meets_slo: bool,
}

/// What a complete sweep produced.
#[derive(Clone, Debug)]
pub struct SweepResults {
    /// `runs.csv`, `points.csv`, `sweep.json`: `(name, bytes)`.
    pub files: Vec<(String, Vec<u8>)>,
    /// Per-point statistics, by point.
    pub stats: Vec<PointStats>,
    /// The cheapest point meeting the SLO with confidence.
    pub cheapest: Option<usize>,
}

/// The result files of a complete sweep and the per-point statistics for the printed table.
pub fn result_files(manifest: &Manifest, entries: &[RunEntry]) -> SweepResults {
    let axes = manifest.axis_paths();
    let points = &manifest.points;
    // Axis values as CSV cells: strings without their TOML quotes, numbers as written.
    let params = |p: usize| -> Vec<String> {
        points
            .get(p)
            .map(|x| x.params.iter().map(|v| ParamValue::csv_cell(v)).collect())
            .unwrap_or_default()
    };
    let flat: Vec<Vec<(String, Value)>> = entries.iter().map(|e| flatten(&e.summary)).collect();
    // The journal's summaries were checked when it was read; a field it lacks reads as 0.
    let typed: Vec<RunSummary<f64>> = entries
        .iter()
        .map(|e| RunSummary::from_value(&e.summary).unwrap_or_default())
        .collect();
    let keys: Vec<String> = flat
        .first()
        .map(|f| {
            f.iter()
                .map(|(k, _)| k.clone())
                .filter(|k| k != "seed" && k != "replication")
                .collect()
        })
        .unwrap_or_default();
    let lookup = |f: &[(String, Value)], k: &str| {
        f.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Null)
    };

    // runs.csv
    let mut header: Vec<String> = vec!["point".into(), "replication".into(), "seed".into()];
    header.extend(axes.iter().map(|a| format!("param.{a}")));
    header.extend(keys.iter().cloned());
    let rows: Vec<Vec<String>> = entries
        .iter()
        .zip(&flat)
        .map(|(e, f)| {
            let mut row = vec![
                e.point.to_string(),
                e.replication.to_string(),
                cell(&lookup(f, "seed")),
            ];
            row.extend(params(e.point));
            row.extend(keys.iter().map(|k| cell(&lookup(f, k))));
            row
        })
        .collect();
    let runs_csv = csv_bytes(&header, &rows);

    // points.csv: mean and CI of every numeric metric.
    let numeric: Vec<&String> = keys
        .iter()
        .filter(|k| flat.first().is_some_and(|f| lookup(f, k).is_number()))
        .collect();
    let mut pheader: Vec<String> = vec!["point".into()];
    pheader.extend(axes.iter().map(|a| format!("param.{a}")));
    pheader.push("replications".into());
    for k in &numeric {
        pheader.push(format!("{k}.mean"));
        pheader.push(format!("{k}.ci95"));
    }
    let mut by_point: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        by_point.entry(e.point).or_default().push(i);
    }
    let mut prows = Vec::new();
    let mut stats = Vec::new();
    for (&p, idx) in &by_point {
        let mut row = vec![p.to_string()];
        row.extend(params(p));
        row.push(idx.len().to_string());
        // The same aggregation as a run's replications (`run::aggregate`): means in the
        // document, half-widths in its `ci95` tree.
        let summaries: Vec<Value> = idx.iter().map(|&i| entries[i].summary.clone()).collect();
        let agg = aggregate(&summaries);
        let means = flatten(&agg);
        let halves = flatten(&agg["ci95"]);
        for k in &numeric {
            let mean = lookup(&means, k);
            let half = match lookup(&halves, k) {
                Value::Null => json!(0.0),
                h => h,
            };
            row.push(mean.to_string());
            row.push(half.to_string());
        }
        prows.push(row);
        let pm = &points[p];
        let figure = |f: fn(&RunSummary<f64>) -> f64| {
            mean_ci95(&idx.iter().map(|&i| f(&typed[i])).collect::<Vec<f64>>())
        };
        let availability = figure(|s| s.requests.availability);
        let p99_ms = figure(|s| s.latency_ms.p99);
        let cost_30d = figure(|s| s.cost_usd.per_30_days);
        let meets_slo = availability.0 - availability.1 >= pm.slo_availability
            && p99_ms.0 + p99_ms.1 <= pm.slo_latency_p99_ms;
        stats.push(PointStats {
            point: p,
            params: params(p),
            availability,
            p99_ms,
            cost_30d,
            meets_slo,
        });
    }
    let points_csv = csv_bytes(&pheader, &prows);
    let cheapest = stats
        .iter()
        .filter(|s| s.meets_slo)
        .min_by(|a, b| {
            a.cost_30d
                .0
                .total_cmp(&b.cost_30d.0)
                .then(a.point.cmp(&b.point))
        })
        .map(|s| s.point);
    let pair = |key: &str, (m, h): (f64, f64)| MeanCi {
        mean: round_for(key, m),
        ci95: round_for(key, h),
    };
    let sweep_doc = SweepDoc {
        schema_version: crate::metrics::results::SCHEMA_VERSION,
        name: manifest.name.clone(),
        hash: manifest.hash.clone(),
        replications: manifest.replications,
        axes: manifest.axes.iter().map(SweepAxis::from).collect(),
        points: stats
            .iter()
            .map(|s| PointDoc {
                point: s.point as u64,
                params: axes
                    .iter()
                    .cloned()
                    .zip(
                        points[s.point]
                            .params
                            .iter()
                            .map(|v| ParamValue::from_toml(v)),
                    )
                    .collect(),
                availability: pair("availability", s.availability),
                latency_p99_ms: pair("p99", s.p99_ms),
                cost_usd_per_30_days: pair("per_30_days", s.cost_30d),
                meets_slo: s.meets_slo,
            })
            .collect(),
        cheapest_meeting_slo: cheapest.map(|c| c as u64),
    };
    let files = vec![
        ("runs.csv".to_string(), runs_csv),
        ("points.csv".to_string(), points_csv),
        (
            "sweep.json".to_string(),
            crate::output::json_bytes(&sweep_doc.to_value()),
        ),
    ];
    SweepResults {
        files,
        stats,
        cheapest,
    }
}

/// Writes the result files into the sweep's folder, each atomically.
pub fn write_results(out: &mut OwnedDir, files: &[(String, Vec<u8>)]) -> Result<(), SweepRunError> {
    for (name, bytes) in files {
        out.write(name, bytes)?;
    }
    Ok(())
}
