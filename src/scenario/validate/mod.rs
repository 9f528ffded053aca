//! The node tree of a scenario file → a typed [`Scenario`], with every problem collected.
//!
//! Rules: unknown keys are errors in the simulator's own sections; the fly.toml part is read
//! leniently by [`super::fly`]. Each value is checked where it is read; cross-field checks
//! (Machine sizes against hosts, peak against mean rate) follow. When anything is an error the
//! partially built scenario is discarded and all problems are returned together.
//!
//! One file per section: this one reads the top level and holds the shared helpers;
//! `platform.rs`, `region.rs`, `app.rs` (with its Machines and requests), `traffic.rs`,
//! `fault.rs`, `slo.rs` (with `[prices]`), `deploy.rs`, and `super::actions` for `[[action]]`.

use std::path::Path;

use super::doc::{self, Node, Origin, Value};
use super::fly::{self, FlyApp};
use super::reader::{Problems, TableReader, duration_of};
use super::regions;
use super::trace;
use super::*;
use crate::engine::time::NS_PER_H;

mod app;
mod autoscaler;
mod deploy;
use fault::gamma;
use region::HOST_KEYS;
mod fault;
mod platform;
mod region;
mod slo;
mod traffic;

const TOP_KEYS: &[&str] = &[
    "name",
    "duration",
    "seed",
    "replications",
    "bucket",
    "platform",
    "region",
    "app",
    "slo",
    "prices",
    "fault",
    "action",
    "deploy",
];

/// Quantiles of the standard normal used to fit lognormals from a median and a tail point.
/// Most replications one scenario may ask for.
pub const MAX_REPLICATIONS: i64 = 1000;
/// Most requests one replication may be expected to simulate.
const MAX_REQUESTS_PER_RUN: f64 = 1e10;
/// Most host failures and Machine crashes one replication may be expected to simulate.
const MAX_FAILURES_PER_RUN: f64 = 1e7;
/// Most autostop passes one replication may make.
const MAX_AUTOSTOP_PASSES: f64 = 1e8;
const Z90: f64 = 1.281_551_565_544_600_5;
const Z95: f64 = 1.644_853_626_951_472_2;
const Z99: f64 = 2.326_347_874_040_840_8;

/// FNV-1a over the text and the overrides, as 16 hex digits.
fn hash_of(text: &str, sets: &[String]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text
        .bytes()
        .chain(sets.iter().flat_map(|s| s.bytes().chain([0])))
    {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Parses, applies overrides and validates. `file` names the text in messages; relative
/// `fly_toml` paths resolve against its folder. Each override is `(path=value, label)`, the
/// label naming it in messages.
pub fn from_text(
    text: &str,
    file: &str,
    sets: &[(String, String)],
) -> Result<Loaded, ScenarioError> {
    let mut p = Problems::new(file);
    let mut root = match doc::parse(text) {
        Ok(root) => root,
        Err(e) => {
            p.error(&e.origin, "", format!("not valid TOML: {}", e.message));
            return Err(ScenarioError { problems: p.list });
        }
    };
    if let Some(what) = not_a_scenario(&root) {
        p.error(&root.origin, "", what);
        return Err(ScenarioError { problems: p.list });
    }
    // Overrides of a referenced fly.toml apply to that file's tree when it is read.
    let mut fly_sets = Vec::new();
    for (arg, label) in sets {
        if let Some((app, rest)) = doc::fly_file_set(&root, arg) {
            fly_sets.push((app, rest, label.clone()));
        } else if let Err(msg) = doc::apply_set(&mut root, arg, label) {
            p.error(&Origin::Set(label.clone()), "", msg);
        }
    }
    let base_dir = Path::new(file).parent().unwrap_or(Path::new("."));
    let default_name = Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into());
    let args: Vec<String> = sets.iter().map(|(a, _)| a.clone()).collect();
    let mut builder = Builder::new(&mut p, base_dir);
    builder.fly_sets = fly_sets;
    let scenario = builder.scenario(&root, &default_name, hash_of(text, &args));
    if p.has_errors() {
        Err(ScenarioError { problems: p.list })
    } else {
        let mut kept = text.to_string();
        if !sets.is_empty() {
            if !kept.ends_with('\n') {
                kept.push('\n');
            }
            kept.push_str("\n# Overrides applied on top of the text above:\n");
            for (_, label) in sets {
                kept.push_str(&format!("#   {label}\n"));
            }
        }
        Ok(Loaded {
            scenario,
            notes: p.list,
            text: kept,
        })
    }
}

/// Whether a parsed file reads as a fly.toml: no `duration`, and an `app` name or keys that only
/// fly.toml files have.
pub fn looks_like_fly_toml(root: &Node) -> bool {
    const FLY_ONLY: &[&str] = &[
        "http_service",
        "services",
        "primary_region",
        "vm",
        "compute",
        "build",
        "deploy",
        "mounts",
        "processes",
        "env",
        "kill_signal",
        "kill_timeout",
        "checks",
        "statics",
        "experimental",
        "restart",
        "swap_size_mb",
        "console_command",
        "metrics",
    ];
    let app_is_name = matches!(root.get("app").map(|a| &a.value), Some(Value::Str(_)));
    root.get("duration").is_none()
        && !matches!(root.get("app").map(|a| &a.value), Some(Value::Array(_)))
        && (app_is_name || FLY_ONLY.iter().any(|k| root.get(k).is_some()))
}

/// What a file that is not a scenario is instead (a sweep file, a fly.toml), and which
/// command takes it.
fn not_a_scenario(root: &Node) -> Option<String> {
    let has = |k: &str| root.get(k).is_some();
    if has("axis") && has("scenario") {
        return Some("this is a sweep file, not a scenario (it has `scenario` and [[axis]]); run it with `flysim sweep`".into());
    }
    if looks_like_fly_toml(root) {
        return Some("this looks like a fly.toml, not a scenario (it has no `duration` and no [[app]]); make a scenario around it with `flysim import FILE`, or name it in a scenario's [[app]] as fly_toml = \"FILE\"".into());
    }
    None
}

/// Regions met while reading, with where each was first named.
pub(super) struct Builder<'p> {
    pub(super) p: &'p mut Problems,
    /// The app being read (names `standby_for` references).
    current_app: String,
    base_dir: &'p Path,
    pub(super) regions: Vec<Region>,
    default_hosts: u32,
    default_host: HostSpec,
    /// `--set`s into referenced fly.toml files: (app name, the fly.toml's own `PATH=VALUE`,
    /// the label to report problems under).
    pub(super) fly_sets: Vec<(String, String, String)>,
}

impl<'p> Builder<'p> {
    fn new(p: &'p mut Problems, base_dir: &'p Path) -> Self {
        Builder {
            p,
            current_app: String::new(),
            base_dir,
            regions: Vec::new(),
            default_hosts: 4,
            default_host: HostSpec {
                cpus: 32,
                memory_mb: 128 * 1024,
            },
            fly_sets: Vec::new(),
        }
    }

    /// The index of region `code`, adding it with default hosts on first use.
    pub(super) fn region(&mut self, code: &str, origin: &Origin, path: &str) -> Option<RegionIdx> {
        if let Some(i) = self.regions.iter().position(|r| r.code == code) {
            return Some(i);
        }
        let Some(info) = regions::lookup(code) else {
            let mut known: Vec<&str> = regions::table()
                .iter()
                .filter(|r| r.current)
                .map(|r| r.code.as_str())
                .collect();
            known.sort_unstable();
            self.p.error(
                origin,
                path,
                format!(
                    "unknown region {code:?}; expected one of Fly's codes: {}",
                    known.join(", ")
                ),
            );
            return None;
        };
        if !info.current {
            self.p.warning(
                origin,
                path,
                format!(
                    "region {code:?} ({}) was deprecated by Fly on 2025-10-16",
                    info.city
                ),
            );
        }
        let price_multiplier = regions::price_markup(code).unwrap_or_else(|| {
            self.p.warning(
                origin,
                path,
                format!("region {code:?} has no published price; iad prices are used"),
            );
            1.0
        });
        self.regions.push(Region {
            code: code.to_string(),
            hosts: vec![self.default_host; self.default_hosts as usize],
            price_multiplier,
        });
        Some(self.regions.len() - 1)
    }

    fn scenario(&mut self, root: &Node, default_name: &str, hash: String) -> Scenario {
        let mut t = TableReader::new(root, "", self.p);
        let name = t
            .opt_str(self.p, "name")
            .unwrap_or_else(|| default_name.to_string());
        if let Some(why) = super::folder_name_problem(&name) {
            self.p.error(&t.origin_of("name"), "name", why);
        }
        let duration = match t.opt_duration(self.p, "duration") {
            Some(d) if d > SimDuration::ZERO => d,
            Some(_) => {
                self.p.error(
                    &t.origin_of("duration"),
                    "duration",
                    "must be longer than 0s",
                );
                SimDuration::from_secs(1)
            }
            None => {
                if !t.has("duration") {
                    self.p.error(
                        t.origin(),
                        "duration",
                        "missing; expected the simulated span, e.g. duration = \"24h\"",
                    );
                }
                SimDuration::from_secs(1)
            }
        };
        let seed = self.seed(&mut t);
        let replications = t
            .opt_int(self.p, "replications", 1, MAX_REPLICATIONS)
            .unwrap_or(1) as u32;
        let bucket = t
            .opt_duration(self.p, "bucket")
            .unwrap_or(SimDuration::from_secs(60));
        if bucket < SimDuration::from_millis(1) {
            self.p
                .error(&t.origin_of("bucket"), "bucket", "must be at least 1ms");
        } else if duration.0 / bucket.0.max(1) > 10_000_000 {
            self.p.error(
                &t.origin_of("bucket"),
                "bucket",
                format!("{bucket} buckets over {duration} make more than 10 million rows; use a wider bucket"),
            );
        }

        let (platform, stretch, base_ms) = match t.take("platform") {
            Some(n) => self.platform(n),
            None => self.platform(&empty_table()),
        };
        for (path, n) in t.opt_tables(self.p, "region") {
            self.declared_region(n, &path);
        }
        let app_nodes: Vec<(String, &Node, Option<App>)> = t
            .opt_tables(self.p, "app")
            .into_iter()
            .map(|(path, n)| {
                let app = self.app(n, &path);
                (path, n, app)
            })
            .collect();
        let mut apps: Vec<App> = Vec::new();
        let mut autoscaler_nodes = Vec::new();
        for (path, n, app) in app_nodes {
            if let Some(a) = app {
                if let Some(an) = n.get("autoscaler") {
                    autoscaler_nodes.push((apps.len(), format!("{path}.autoscaler"), an));
                }
                apps.push(a);
            }
        }
        for (i, path, n) in autoscaler_nodes {
            self.current_app = apps[i].name.clone();
            apps[i].autoscaler = self.autoscaler(n, &path, &apps, i, duration);
        }
        let mut route = 0;
        for a in &mut apps {
            a.first_route = route;
            route += a.services.len();
        }
        if apps.is_empty() && !self.p.has_errors() {
            self.p.error(
                t.origin(),
                "app",
                "no [[app]] defined; a scenario needs at least one app to simulate",
            );
        }
        for (i, a) in apps.iter().enumerate() {
            if apps[..i].iter().any(|b| b.name == a.name) {
                self.p.error(
                    t.origin(),
                    "app",
                    format!("two apps are named {:?}", a.name),
                );
            }
        }
        let slo = match t.take("slo") {
            Some(n) => self.slo(n),
            None => self.slo(&empty_table()),
        };
        let prices = match t.take("prices") {
            Some(n) => self.prices(n),
            None => self.prices(&empty_table()),
        };
        let faults: Vec<Fault> = t
            .opt_tables(self.p, "fault")
            .into_iter()
            .filter_map(|(fp, fnode)| self.fault(fnode, &fp, &apps))
            .collect();
        let deploy_nodes = t.opt_tables(self.p, "deploy");
        let mut deploys = self.deploys(deploy_nodes, &apps, duration);
        let action_nodes = t.opt_tables(self.p, "action");
        let (actions, reserved) = self.actions(action_nodes, &apps, duration, &mut deploys);
        for (a, r) in apps.iter_mut().zip(reserved) {
            a.reserved = r;
        }
        t.finish_strict(self.p, TOP_KEYS);

        let rtt = self.rtt_matrix(root, stretch, base_ms, platform.same_region_rtt);
        self.check_capacity(&apps);
        self.check_standbys(&apps);
        self.check_suspend(&apps, &platform);
        self.check_work(root, duration, &apps, &faults, &platform);
        Scenario {
            name,
            duration,
            seed,
            replications,
            bucket,
            platform,
            regions: std::mem::take(&mut self.regions),
            rtt,
            apps,
            slo,
            prices,
            faults,
            actions,
            deploys,
            hash,
        }
    }

    /// The master seed: an integer, or (for seeds above 2^63 − 1, which TOML integers cannot
    /// hold) a string of digits; any u64 is valid.
    fn seed(&mut self, t: &mut TableReader) -> u64 {
        let Some(n) = t.take("seed") else { return 1 };
        match &n.value {
            Value::Int(i) if *i >= 0 => *i as u64,
            Value::Str(s) if s.parse::<u64>().is_ok() => s.parse().unwrap_or(1),
            other => {
                self.p.error(
                    &n.origin,
                    "seed",
                    format!("expected an integer from 0 to {}, got {other}", u64::MAX),
                );
                1
            }
        }
    }

    /// Refuses scenarios whose expected work (requests, failures, autostop passes) is beyond
    /// what a run can do in reasonable time, saying how much and why, before anything runs.
    fn check_work(
        &mut self,
        root: &Node,
        duration: SimDuration,
        apps: &[App],
        faults: &[Fault],
        platform: &Platform,
    ) {
        let span = duration.as_secs_f64();
        let mut requests = 0.0;
        // Where the busiest source is declared: `app[i].traffic[j]`.
        let mut busiest: (f64, Origin, String) = (0.0, root.origin.clone(), "app.traffic".into());
        for (ai, app) in apps.iter().enumerate() {
            for tr in &app.traffic {
                let before = requests;
                let end = tr.end.map_or(span, |e| e.as_secs_f64().min(span));
                let active = (end - tr.start.as_secs_f64()).max(0.0);
                requests += match &tr.shape {
                    Shape::Constant(r) | Shape::Poisson(r) => r * active,
                    Shape::Diurnal { mean, .. } => mean * active,
                    Shape::Trace(replay) => {
                        let len_s = replay.counts.len as f64 * replay.interval_ns as f64 / 1e9;
                        let per_s = replay.counts.total() / len_s.max(1e-9);
                        per_s * active.min(if replay.looped { f64::INFINITY } else { len_s })
                    }
                };
                if requests - before > busiest.0 {
                    // The stream name is `<app>/<index>`, plus `.k` for a trace's k-th series.
                    let index: usize = tr
                        .stream
                        .rsplit('/')
                        .next()
                        .and_then(|s| s.split('.').next())
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    let origin = root
                        .get("app")
                        .and_then(|a| match &a.value {
                            Value::Array(v) => v.get(ai),
                            _ => None,
                        })
                        .and_then(|a| a.get("traffic"))
                        .and_then(|t| match &t.value {
                            Value::Array(v) => v.get(index),
                            _ => Some(t),
                        })
                        .map_or_else(|| root.origin.clone(), |n| n.origin.clone());
                    busiest = (
                        requests - before,
                        origin,
                        format!("app[{ai}].traffic[{index}]"),
                    );
                }
            }
        }
        if requests > MAX_REQUESTS_PER_RUN {
            self.p.error(
                &busiest.1,
                &busiest.2,
                format!(
                    "the traffic sends about {requests:.2e} requests over {duration}; at most {MAX_REQUESTS_PER_RUN:.0e} per run (about half an hour of computing at flysim's speed). Shorten `duration`, lower the rates, or simulate a representative slice"
                ),
            );
        }
        let hosts_in = |regions: &[RegionIdx]| -> f64 {
            self.regions
                .iter()
                .enumerate()
                .filter(|(i, _)| regions.is_empty() || regions.contains(i))
                .map(|(_, r)| r.hosts.len() as f64)
                .sum()
        };
        let machines: f64 = apps
            .iter()
            .flat_map(|a| &a.machines)
            .flat_map(|g| &g.per_region)
            .map(|&(_, n)| f64::from(n))
            .sum();
        let mut failures = 0.0;
        let mut worst: (f64, usize) = (0.0, 0);
        for (fi, f) in faults.iter().enumerate() {
            let before = failures;
            failures += match f {
                Fault::HostFailures { regions, ttf, .. } => {
                    let mean_s = match ttf {
                        TimeToFailure::Exponential(m) => m.as_secs_f64(),
                        TimeToFailure::Weibull { shape, scale_s } => {
                            scale_s * gamma(1.0 + 1.0 / shape)
                        }
                    };
                    hosts_in(regions) * span / mean_s.max(1e-9)
                }
                Fault::MachineCrashes { mtbf, .. } => {
                    machines * span / mtbf.as_secs_f64().max(1e-9)
                }
                Fault::Outage { .. } => 0.0,
            };
            if failures - before > worst.0 {
                worst = (failures - before, fi);
            }
        }
        if failures > MAX_FAILURES_PER_RUN {
            let origin = root
                .get("fault")
                .and_then(|a| match &a.value {
                    Value::Array(v) => v.get(worst.1),
                    _ => Some(a),
                })
                .map(|f| f.get("mtbf").unwrap_or(f).origin.clone())
                .unwrap_or_else(|| root.origin.clone());
            self.p.error(
                &origin,
                &format!("fault[{}].mtbf", worst.1),
                format!(
                    "the faults make about {failures:.2e} failures over {duration}; at most {MAX_FAILURES_PER_RUN:.0e} per run. An `mtbf` this short is not a failure model: give hours or days"
                ),
            );
        }
        let passes = self.regions.len() as f64 * apps.len() as f64 * span
            / platform.autostop_interval.as_secs_f64().max(1e-9);
        if passes > MAX_AUTOSTOP_PASSES {
            self.p.error(
                &root.origin,
                "platform.autostop_interval",
                format!(
                    "{} gives about {passes:.2e} autostop passes over {duration}; at most {MAX_AUTOSTOP_PASSES:.0e} per run",
                    platform.autostop_interval
                ),
            );
        }
    }

    fn region_codes(&self) -> String {
        self.regions
            .iter()
            .map(|r| r.code.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A Machine reference `<app>:<ordinal>` → (app index, ordinal), checked against the apps.
fn machine_ref(text: &str, apps: &[App]) -> Result<(usize, u32), String> {
    let Some((name, ord)) = text.split_once(':') else {
        return Err(format!(
            "expected a Machine as <app>:<n>, e.g. \"web:0\", got {text:?}"
        ));
    };
    let Some(a) = apps.iter().position(|x| x.name == name) else {
        return Err(format!("no app named {name:?}"));
    };
    let total: u32 = apps[a]
        .machines
        .iter()
        .map(|g| g.per_region.iter().map(|x| x.1).sum::<u32>())
        .sum();
    match ord.parse::<u32>() {
        Ok(i) if i < total => Ok((a, i)),
        _ => Err(format!(
            "{text:?}: {name} has {total} Machines, {name}:0 to {name}:{}",
            total.saturating_sub(1)
        )),
    }
}

fn empty_table() -> Node {
    Node {
        value: Value::Table(Vec::new()),
        origin: Origin::Implied,
    }
}

fn host_spec(p: &mut Problems, n: &Node, path: &str) -> HostSpec {
    let mut t = TableReader::new(n, path, p);
    let cpus = t.opt_int(p, "cpus", 1, 100_000).unwrap_or(32) as u32;
    let memory_mb = t.opt_memory_mb(p, "memory").unwrap_or(128 * 1024);
    t.finish_strict(p, HOST_KEYS);
    HostSpec { cpus, memory_mb }
}

/// One of a fixed set of string values.
fn choice<T: Copy>(
    p: &mut Problems,
    t: &mut TableReader,
    key: &str,
    default: T,
    options: &[(&str, T)],
) -> T {
    match t.opt_str(p, key) {
        None => default,
        Some(s) => match options.iter().find(|(name, _)| *name == s) {
            Some((_, v)) => *v,
            None => {
                let names: Vec<String> = options.iter().map(|(n, _)| format!("{n:?}")).collect();
                let origin = t.take(key).map_or(t.origin().clone(), |n| n.origin.clone());
                p.error(
                    &origin,
                    &t.key_path(key),
                    format!("expected one of {}, got {s:?}", names.join(", ")),
                );
                default
            }
        },
    }
}

fn lognormal(median_s: f64, tail_s: f64, z: f64) -> Dist {
    Dist::LogNormal {
        mu: median_s.ln(),
        sigma: (tail_s / median_s).ln() / z,
    }
}

const DIST_HELP: &str = "a duration such as \"40ms\", or a table { dist = \"constant\", value = .. } | { dist = \"exponential\", mean = .., max = .. (optional) } | { dist = \"lognormal\", median = .., p99 = .. (or p90, p95), max = .. (optional) } | { dist = \"uniform\", min = .., max = .. }";

/// A distribution's optional `max`: the lognormal or exponential `d` truncated there. `max`
/// must keep at least half the distribution (above a lognormal's median, above ln 2 × an
/// exponential's mean), so that truncating reshapes the tail, not the whole.
fn cap(p: &mut Problems, t: &mut TableReader, d: Option<Dist>) -> Option<Dist> {
    let max = t.opt_duration(p, "max");
    let (Some(d), Some(max)) = (d, max) else {
        return d;
    };
    let tail = match d {
        Dist::Exponential(m) => Tail::Exponential(m),
        Dist::LogNormal { mu, sigma } => Tail::LogNormal { mu, sigma },
        other => return Some(other),
    };
    if tail.cdf(max.as_secs_f64()) < 0.5 {
        let what = match tail {
            Tail::Exponential(m) => format!(
                "ln 2 × the mean ({})",
                SimDuration::from_secs_f64(m.as_secs_f64() * std::f64::consts::LN_2)
            ),
            Tail::LogNormal { mu, .. } => {
                format!("the median ({})", SimDuration::from_secs_f64(mu.exp()))
            }
        };
        p.error(
            t.origin(),
            &t.key_path("max"),
            format!("must be above {what}, got {max}: a cap that cuts off most of the distribution is another distribution"),
        );
        return None;
    }
    Some(Dist::Capped { tail, max })
}

/// A random duration: a plain duration string (constant) or a `{ dist = ... }` table.
pub fn dist(p: &mut Problems, path: &str, n: &Node) -> Option<Dist> {
    match &n.value {
        Value::Str(_) => return duration_of(p, path, n).map(Dist::Constant),
        Value::Table(_) => {}
        other => {
            p.error(
                &n.origin,
                path,
                format!("expected {DIST_HELP}, got {other}"),
            );
            return None;
        }
    }
    let mut t = TableReader::new(n, path, p);
    let kind = t.req_str(p, "dist");
    let need = |t: &mut TableReader, p: &mut Problems, key: &str| -> Option<SimDuration> {
        let v = t.opt_duration(p, key);
        if v.is_none() && !t.has(key) {
            p.error(t.origin(), &t.key_path(key), "missing; expected a duration");
        }
        v
    };
    let (d, keys): (Option<Dist>, &[&str]) = match kind.as_deref() {
        Some("constant") => (
            need(&mut t, p, "value").map(Dist::Constant),
            &["dist", "value"],
        ),
        Some("exponential") => {
            let mean = need(&mut t, p, "mean");
            if mean == Some(SimDuration::ZERO) {
                p.error(t.origin(), &t.key_path("mean"), "must be longer than 0s");
            }
            let d = mean.map(Dist::Exponential);
            (cap(p, &mut t, d), &["dist", "mean", "max"])
        }
        Some("lognormal") => {
            let median = need(&mut t, p, "median");
            let tails = [("p90", Z90), ("p95", Z95), ("p99", Z99)];
            let mut given: Vec<(&str, f64, Option<SimDuration>)> = Vec::new();
            for (k, z) in tails {
                if t.has(k) {
                    given.push((k, z, t.opt_duration(p, k)));
                }
            }
            let d = match (median, given.as_slice()) {
                (Some(m), [(key, z, Some(tail))]) => {
                    if *tail <= m || m == SimDuration::ZERO {
                        p.error(
                            t.origin(),
                            &t.key_path(key),
                            format!("must be above the median ({m}), got {tail}"),
                        );
                        None
                    } else {
                        Some(lognormal(m.as_secs_f64(), tail.as_secs_f64(), *z))
                    }
                }
                (_, []) => {
                    p.error(
                        t.origin(),
                        path,
                        "a lognormal needs a median and one tail point: p90, p95 or p99",
                    );
                    None
                }
                (_, [_, _, ..]) => {
                    p.error(t.origin(), path, "give only one of p90, p95 and p99");
                    None
                }
                _ => None,
            };
            (
                cap(p, &mut t, d),
                &["dist", "median", "p90", "p95", "p99", "max"],
            )
        }
        Some("uniform") => {
            let (lo, hi) = (need(&mut t, p, "min"), need(&mut t, p, "max"));
            let d = match (lo, hi) {
                (Some(a), Some(b)) if b >= a => Some(Dist::Uniform(a, b)),
                (Some(_), Some(_)) => {
                    p.error(t.origin(), &t.key_path("max"), "must not be below min");
                    None
                }
                _ => None,
            };
            (d, &["dist", "min", "max"])
        }
        Some(other) => {
            p.error(t.origin(), &t.key_path("dist"), format!("unknown distribution {other:?}; expected \"constant\", \"exponential\", \"lognormal\" or \"uniform\""));
            (None, &[])
        }
        None => (None, &[]),
    };
    if !keys.is_empty() {
        t.finish_strict(p, keys);
    }
    d
}
