//! The node tree of a scenario file → a typed [`Scenario`], with every problem collected.
//!
//! Rules: unknown keys are errors in the simulator's own sections; the fly.toml part is read
//! leniently by [`super::fly`]. Each value is checked where it is read; cross-field checks
//! (Machine sizes against hosts, peak against mean rate) follow. When anything is an error the
//! partially built scenario is discarded and all problems are returned together.

use std::path::Path;

use super::doc::{self, Node, Origin, Value};
use super::fly::{self, FlyApp};
use super::reader::{Problems, TableReader, duration_of};
use super::regions;
use super::trace;
use super::*;
use crate::engine::time::NS_PER_H;

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
];
const PLATFORM_KEYS: &[&str] = &[
    "autostop_interval",
    "autostop_random_phase",
    "autostop_min_runtime",
    "autostop_victim",
    "autostop_idle_window",
    "failure_detection",
    "dead_retry_delay",
    "failover_attempts",
    "standby_on_host_return",
    "volume_loss_probability",
    "cross_region_spill",
    "tiebreak",
    "max_queue_wait",
    "boot_time",
    "resume_time",
    "suspend_time",
    "stop_overhead",
    "connect_timeout",
    "connect_retries",
    "suspend_max_memory",
    "snapshot_loss_probability",
    "bill_transient_states",
    "same_region_rtt",
    "latency_stretch",
    "latency_base",
    "default_hosts",
    "default_host",
    "create_time",
];
const REGION_KEYS: &[&str] = &["code", "hosts", "host", "rtt", "price_multiplier"];
const HOST_KEYS: &[&str] = &["cpus", "memory"];
const APP_KEYS: &[&str] = &[
    "name",
    "fly",
    "fly_toml",
    "machines",
    "request",
    "app_boot",
    "idle_exit",
    "rootfs",
    "traffic",
];
const MACHINES_KEYS: &[&str] = &["count", "regions", "state", "group", "standby_for"];
const REQUEST_KEYS: &[&str] = &["service_time", "model"];
const SLO_KEYS: &[&str] = &["availability", "latency_p99"];
const PRICE_KEYS: &[&str] = &[
    "shared_vcpu_month",
    "performance_vcpu_month",
    "ram_gb_month",
    "rootfs_gb_month",
    "volume_gb_month",
    "gpu_hour",
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
    for (arg, label) in sets {
        if let Err(msg) = doc::apply_set(&mut root, arg, label) {
            p.error(&Origin::Set(label.clone()), "", msg);
        }
    }
    let base_dir = Path::new(file).parent().unwrap_or(Path::new("."));
    let default_name = Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into());
    let args: Vec<String> = sets.iter().map(|(a, _)| a.clone()).collect();
    let scenario =
        Builder::new(&mut p, base_dir).scenario(&root, &default_name, hash_of(text, &args));
    if p.has_errors() {
        Err(ScenarioError { problems: p.list })
    } else {
        Ok(Loaded {
            scenario,
            notes: p.list,
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
        let apps: Vec<App> = t
            .opt_tables(self.p, "app")
            .into_iter()
            .filter_map(|(path, n)| self.app(n, &path))
            .collect();
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
        let action_nodes = t.opt_tables(self.p, "action");
        let actions = self.actions(action_nodes, &apps, duration);
        t.finish_strict(self.p, TOP_KEYS);

        let rtt = self.rtt_matrix(root, stretch, base_ms, platform.same_region_rtt);
        self.check_capacity(&apps);
        self.check_standbys(&apps);
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

    /// A `[[fault]]`: random host failures, a scheduled outage, or Machine crashes.
    fn fault(&mut self, n: &Node, path: &str, apps: &[App]) -> Option<Fault> {
        let mut t = TableReader::new(n, path, self.p);
        let kind = t.req_str(self.p, "kind");
        let p = &mut *self.p;
        let positive =
            |t: &mut TableReader, p: &mut Problems, key: &str, hint: &str| -> Option<SimDuration> {
                let v = t.opt_duration(p, key);
                match v {
                    Some(d) if d > SimDuration::ZERO => Some(d),
                    Some(_) => {
                        p.error(t.origin(), &t.key_path(key), "must be longer than 0s");
                        None
                    }
                    None => {
                        if !t.has(key) {
                            p.error(t.origin(), &t.key_path(key), format!("missing; {hint}"));
                        }
                        None
                    }
                }
            };
        let fault = match kind.as_deref() {
            Some("host_failures") => {
                let mtbf = positive(
                    &mut t,
                    p,
                    "mtbf",
                    "expected the mean time between failures of one host, e.g. mtbf = \"365d\"",
                );
                let shape = t.opt_num(p, "weibull_shape", 0.05, 20.0);
                let repair = match t.take("repair") {
                    Some(r) => dist(p, &t.key_path("repair"), r),
                    None => Some(lognormal(3600.0, 2.0 * 86400.0, Z99)),
                };
                let regions = match t.opt_str_list(p, "regions") {
                    None => Vec::new(),
                    Some(codes) => {
                        let path = t.key_path("regions");
                        let origin = t.origin().clone();
                        let mut out = Vec::new();
                        for c in codes {
                            match self.regions.iter().position(|r| r.code == c) {
                                Some(i) => out.push(i),
                                None => self.p.error(&origin, &path, format!("region {c:?} has no hosts in this scenario (regions in play: {})", self.region_codes())),
                            }
                        }
                        out
                    }
                };
                let p = &mut *self.p;
                t.finish_strict(p, &["kind", "mtbf", "weibull_shape", "repair", "regions"]);
                let ttf = match (mtbf, shape) {
                    (Some(m), Some(k)) => TimeToFailure::Weibull {
                        shape: k,
                        scale_s: m.as_secs_f64() / gamma(1.0 + 1.0 / k),
                    },
                    (Some(m), None) => TimeToFailure::Exponential(m),
                    _ => return None,
                };
                Fault::HostFailures {
                    regions,
                    ttf,
                    repair: repair?,
                }
            }
            Some("host_down") | Some("region_down") => {
                let at = t.opt_duration(p, "at");
                let duration = positive(
                    &mut t,
                    p,
                    "for",
                    "expected how long the outage lasts, e.g. for = \"45m\"",
                );
                if at.is_none() && !t.has("at") {
                    p.error(
                        t.origin(),
                        &t.key_path("at"),
                        "missing; expected when the outage starts, e.g. at = \"6h\"",
                    );
                }
                let target =
                    self.outage_target(&mut t, apps, kind.as_deref() == Some("region_down"));
                t.finish_strict(self.p, &["kind", "at", "for", "host", "target", "region"]);
                Fault::Outage {
                    target: target?,
                    at: at?,
                    duration: duration?,
                }
            }
            Some("machine_crashes") => {
                let mtbf = positive(
                    &mut t,
                    p,
                    "mtbf",
                    "expected the mean running time between crashes of one Machine, e.g. mtbf = \"30d\"",
                );
                let app = match t.opt_str(p, "app") {
                    None => None,
                    Some(name) => match apps.iter().position(|a| a.name == name) {
                        Some(i) => Some(i),
                        None => {
                            p.error(
                                t.origin(),
                                &t.key_path("app"),
                                format!("no app named {name:?}"),
                            );
                            return None;
                        }
                    },
                };
                t.finish_strict(p, &["kind", "mtbf", "app"]);
                Fault::MachineCrashes { app, mtbf: mtbf? }
            }
            Some(other) => {
                p.error(t.origin(), &t.key_path("kind"), format!(
                    "unknown fault {other:?}; expected \"host_failures\", \"host_down\", \"region_down\" or \"machine_crashes\""));
                return None;
            }
            None => return None,
        };
        Some(fault)
    }

    fn region_codes(&self) -> String {
        self.regions
            .iter()
            .map(|r| r.code.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// What a scheduled outage takes down: `host = "ams:2"`, `target = "web:0"` (the host of
    /// that Machine) or `region = "ams"`.
    fn outage_target(
        &mut self,
        t: &mut TableReader,
        apps: &[App],
        region_only: bool,
    ) -> Option<OutageTarget> {
        let host = t.opt_str(self.p, "host");
        let target = t.opt_str(self.p, "target");
        let region = t.opt_str(self.p, "region");
        let given = [host.is_some(), target.is_some(), region.is_some()]
            .iter()
            .filter(|x| **x)
            .count();
        if given != 1 || (region_only && region.is_none()) {
            let expected = if region_only {
                "region = \"ams\""
            } else {
                "one of host = \"ams:0\", target = \"web:0\" (its host) or region = \"ams\""
            };
            self.p
                .error(t.origin(), &t.path, format!("give {expected}"));
            return None;
        }
        if let Some(code) = region {
            return match self.regions.iter().position(|r| r.code == code) {
                Some(r) => Some(OutageTarget::Region(r)),
                None => {
                    let msg = format!(
                        "region {code:?} has no hosts in this scenario (regions in play: {})",
                        self.region_codes()
                    );
                    self.p.error(t.origin(), &t.key_path("region"), msg);
                    None
                }
            };
        }
        if let Some(h) = host {
            let parsed = h
                .split_once(':')
                .and_then(|(c, i)| Some((c.to_string(), i.parse::<usize>().ok()?)));
            let found = parsed.as_ref().and_then(|(c, i)| {
                let r = self.regions.iter().position(|r| &r.code == c)?;
                (*i < self.regions[r].hosts.len()).then_some((r, *i))
            });
            return match found {
                Some((r, i)) => Some(OutageTarget::Host(r, i)),
                None => {
                    let hosts: Vec<String> = self
                        .regions
                        .iter()
                        .map(|r| format!("{}:0..{}", r.code, r.hosts.len() - 1))
                        .collect();
                    self.p.error(
                        t.origin(),
                        &t.key_path("host"),
                        format!(
                            "no host {h:?}; expected <region>:<index>, one of {}",
                            hosts.join(", ")
                        ),
                    );
                    None
                }
            };
        }
        let target = target.expect("exactly one given");
        match machine_ref(&target, apps) {
            Ok((a, ordinal)) => Some(OutageTarget::MachineHost(a, ordinal)),
            Err(msg) => {
                self.p.error(t.origin(), &t.key_path("target"), msg);
                None
            }
        }
    }

    /// Standbys must watch existing Machines that are not standbys themselves.
    fn check_standbys(&mut self, apps: &[App]) {
        for (ai, app) in apps.iter().enumerate() {
            let total: u32 = app
                .machines
                .iter()
                .map(|g| g.per_region.iter().map(|x| x.1).sum::<u32>())
                .sum();
            let mut ordinal = 0u32;
            let mut standby_ordinals = Vec::new();
            for g in &app.machines {
                let n: u32 = g.per_region.iter().map(|x| x.1).sum();
                if !g.standby_for.is_empty() {
                    standby_ordinals.extend(ordinal..ordinal + n);
                }
                ordinal += n;
            }
            for (mi, g) in app.machines.iter().enumerate() {
                for &w in &g.standby_for {
                    let path = format!("app[{ai}].machines[{mi}].standby_for");
                    if w >= total {
                        self.p.error(
                            &g.origin,
                            &path,
                            format!(
                                "{}:{w} does not exist; the app has {total} Machines ({}:0..{})",
                                app.name,
                                app.name,
                                total.saturating_sub(1)
                            ),
                        );
                    } else if standby_ordinals.contains(&w) {
                        self.p.error(
                            &g.origin,
                            &path,
                            format!("{}:{w} is itself a standby", app.name),
                        );
                    }
                }
            }
        }
    }

    fn platform(&mut self, n: &Node) -> (Platform, f64, f64) {
        let p = &mut *self.p;
        let mut t = TableReader::new(n, "platform", p);
        let mut d = |t: &mut TableReader, key: &str, default: SimDuration| {
            t.opt_duration(p, key).unwrap_or(default)
        };
        let autostop_interval = d(&mut t, "autostop_interval", SimDuration::from_secs(150));
        let autostop_min_runtime = d(&mut t, "autostop_min_runtime", SimDuration::from_secs(330));
        let max_queue_wait = d(&mut t, "max_queue_wait", SimDuration::ZERO);
        let autostop_idle_window = d(&mut t, "autostop_idle_window", SimDuration::from_secs(120));
        let stop_overhead = d(&mut t, "stop_overhead", SimDuration::from_secs(1));
        let connect_timeout = d(&mut t, "connect_timeout", SimDuration::from_millis(8500));
        let same_region_rtt = d(&mut t, "same_region_rtt", SimDuration::ZERO);
        let failure_detection = d(&mut t, "failure_detection", SimDuration::from_secs(60));
        let dead_retry_delay = d(&mut t, "dead_retry_delay", SimDuration::from_secs(1));
        let latency_base = d(&mut t, "latency_base", SimDuration(3_900_000));
        let create_time = d(&mut t, "create_time", SimDuration::from_secs(4));
        if autostop_interval < SimDuration::from_secs(1) {
            self.p.error(
                &t.origin_of("autostop_interval"),
                "platform.autostop_interval",
                format!("{autostop_interval}: expected at least 1s (Fly's proxy checks every few minutes)"),
            );
        }
        let p = &mut *self.p;
        let autostop_random_phase = t.opt_bool(p, "autostop_random_phase").unwrap_or(true);
        let autostop_victim = choice(
            p,
            &mut t,
            "autostop_victim",
            AutostopVictim::LeastLoaded,
            &[
                ("least_loaded", AutostopVictim::LeastLoaded),
                ("newest", AutostopVictim::Newest),
                ("oldest", AutostopVictim::Oldest),
            ],
        );
        let cross_region_spill = choice(
            p,
            &mut t,
            "cross_region_spill",
            Spill::Hard,
            &[("hard", Spill::Hard), ("soft", Spill::Soft)],
        );
        let tiebreak = choice(
            p,
            &mut t,
            "tiebreak",
            TieBreak::Random,
            &[
                ("random", TieBreak::Random),
                ("most_recently_started", TieBreak::MostRecentlyStarted),
                ("least_recently_used", TieBreak::LeastRecentlyUsed),
                ("round_robin", TieBreak::RoundRobin),
            ],
        );
        let boot_time = t
            .take("boot_time")
            .and_then(|n| dist(p, "platform.boot_time", n));
        let resume_time = t
            .take("resume_time")
            .and_then(|n| dist(p, "platform.resume_time", n));
        let suspend_time = t
            .take("suspend_time")
            .and_then(|n| dist(p, "platform.suspend_time", n));
        let connect_retries = t.opt_int(p, "connect_retries", 0, 100).unwrap_or(1) as u32;
        let suspend_max_memory_mb = t.opt_memory_mb(p, "suspend_max_memory").unwrap_or(2048);
        let snapshot_loss_probability = t
            .opt_num(p, "snapshot_loss_probability", 0.0, 1.0)
            .unwrap_or(0.0);
        let bill_transient_states = t.opt_bool(p, "bill_transient_states").unwrap_or(false);
        let failover_attempts = t.opt_int(p, "failover_attempts", 1, 1000).unwrap_or(40) as u32;
        let volume_loss_probability = t
            .opt_num(p, "volume_loss_probability", 0.0, 1.0)
            .unwrap_or(0.02);
        let standby_on_host_return = choice(
            p,
            &mut t,
            "standby_on_host_return",
            StandbyReturn::BothRun,
            &[
                ("both_run", StandbyReturn::BothRun),
                ("standby_stops", StandbyReturn::StandbyStops),
            ],
        );
        let stretch = t.opt_num(p, "latency_stretch", 0.0, 100.0).unwrap_or(1.36);
        if let Some(h) = t.opt_int(p, "default_hosts", 1, 100_000) {
            self.default_hosts = h as u32;
        }
        if let Some(n) = t.take("default_host") {
            self.default_host = host_spec(self.p, n, "platform.default_host");
        }
        t.finish_strict(self.p, PLATFORM_KEYS);
        let platform = Platform {
            autostop_interval,
            autostop_random_phase,
            autostop_min_runtime,
            autostop_victim,
            autostop_idle_window,
            cross_region_spill,
            tiebreak,
            max_queue_wait,
            boot_time: boot_time.unwrap_or_else(|| lognormal(1.3, 1.6, Z90)),
            resume_time: resume_time.unwrap_or(Dist::Constant(SimDuration::from_secs(1))),
            suspend_time: suspend_time.unwrap_or(Dist::Constant(SimDuration::from_millis(500))),
            stop_overhead,
            connect_timeout,
            connect_retries,
            suspend_max_memory_mb,
            snapshot_loss_probability,
            bill_transient_states,
            same_region_rtt,
            failure_detection,
            dead_retry_delay,
            failover_attempts,
            standby_on_host_return,
            volume_loss_probability,
            create_time,
        };
        (platform, stretch, latency_base.as_millis_f64())
    }

    fn declared_region(&mut self, n: &Node, path: &str) {
        let mut t = TableReader::new(n, path, self.p);
        let Some(code) = t.req_str(self.p, "code") else {
            t.finish_strict(self.p, REGION_KEYS);
            return;
        };
        let code_origin = n.get("code").map_or(n.origin.clone(), |c| c.origin.clone());
        if self.regions.iter().any(|r| r.code == code) {
            self.p.error(
                &code_origin,
                &t.key_path("code"),
                format!("region {code:?} is declared twice"),
            );
        }
        let Some(idx) = self.region(&code, &code_origin, &t.key_path("code")) else {
            t.take("host");
            t.take("rtt");
            t.finish_strict(self.p, REGION_KEYS);
            return;
        };
        let count = t
            .opt_int(self.p, "hosts", 1, 100_000)
            .unwrap_or(self.default_hosts as i64);
        let spec = match t.take("host") {
            Some(h) => host_spec(self.p, h, &t.key_path("host")),
            None => self.default_host,
        };
        self.regions[idx].hosts = vec![spec; count as usize];
        if let Some(m) = t.opt_num(self.p, "price_multiplier", 0.0, 100.0) {
            self.regions[idx].price_multiplier = m;
        }
        // `rtt` is read once all regions are known (see rtt_matrix); check its shape here.
        if let Some(r) = t.take("rtt") {
            let _ = TableReader::new(r, &t.key_path("rtt"), self.p);
        }
        t.finish_strict(self.p, REGION_KEYS);
    }

    fn app(&mut self, n: &Node, path: &str) -> Option<App> {
        let mut t = TableReader::new(n, path, self.p);
        let name = t.req_str(self.p, "name").unwrap_or_default();
        self.current_app = name.clone();
        let mut fly_file_name: Option<String> = None;
        let fly = match (t.take("fly"), t.take("fly_toml")) {
            (Some(_), Some(f)) => {
                self.p.error(
                    &f.origin,
                    &t.key_path("fly_toml"),
                    "give either fly_toml or an inline [app.fly], not both",
                );
                None
            }
            (Some(inline), None) => {
                let first = self.p.list.len();
                let fly = fly::read(inline, &t.key_path("fly"), self.p);
                self.misplaced_app_keys(first);
                Some(fly)
            }
            (None, Some(f)) => {
                fly_file_name = match &f.value {
                    Value::Str(rel) => Some(self.base_dir.join(rel).display().to_string()),
                    _ => None,
                };
                self.fly_file(f, &t.key_path("fly_toml"))
            }
            (None, None) => {
                self.p.error(
                    t.origin(),
                    &t.key_path("fly"),
                    "missing; give the app's fly.toml inline as [app.fly] or as fly_toml = \"path/to/fly.toml\"",
                );
                None
            }
        };
        let fly = fly.unwrap_or_else(|| FlyApp {
            app: None,
            primary_region: None,
            groups: vec![fly::FlyGroup {
                name: "app".into(),
                vm: fly::preset("shared-cpu-1x").expect("built-in preset"),
                gpus: None,
                mount: None,
                restart: None,
            }],
            services: Vec::new(),
            swap_mb: 0,
            kill_timeout: SimDuration::from_secs(5),
        });
        // Traffic goes to the first service ([http_service] if present).
        if fly.services.len() > 1 {
            self.p.warning(
                t.origin(),
                &t.key_path("fly"),
                format!("{} services defined; flysim routes the app's traffic to the first ([http_service] if present)", fly.services.len()),
            );
        }
        let (service, served_groups) = fly.services.first().cloned().unwrap_or((
            Service {
                concurrency: ConcurrencyKind::Connections,
                soft_limit: 20,
                hard_limit: u32::MAX,
                autostop: Autostop::Off,
                autostart: true,
                min_machines_running: 0,
            },
            Vec::new(),
        ));
        let groups: Vec<Group> = fly
            .groups
            .iter()
            .map(|g| Group {
                name: g.name.clone(),
                vm: g.vm,
                gpus: g.gpus.clone(),
                volume_gb: g.mount.as_ref().map(|m| m.size_gb),
                restart: g.restart,
            })
            .collect();
        for g in &groups {
            if let Some((n, kind)) = &g.gpus {
                self.p.warning(
                    t.origin(),
                    &format!("{path}.fly.vm"),
                    format!(
                        "group {:?} asks for {n} {kind} GPU(s): Fly has deprecated GPU Machines (its docs: \"GPUs are deprecated and will be unavailable after August 1\"); flysim still simulates them, but a plan built on them may not be deployable",
                        g.name
                    ),
                );
            }
        }
        let primary = fly.primary_region.as_ref().and_then(|(code, origin)| {
            // A position in a referenced fly.toml names that file, not the scenario.
            let fly_path = match &fly_file_name {
                Some(_) => "primary_region".to_string(),
                None => format!("{path}.fly.primary_region"),
            };
            let warn = |p: &mut Problems, msg: String| match &fly_file_name {
                Some(f) => p.push_in(f, Severity::Warning, origin, &fly_path, msg),
                None => p.warning(origin, &fly_path, msg),
            };
            if fly::is_placeholder(code) {
                warn(self.p, format!(
                    "{code:?} looks like a template placeholder, not a region; give the Machines' regions in `machines`"));
                None
            } else if regions::lookup(code).is_none() && t.has("machines") {
                warn(self.p, format!(
                    "{code:?} is not a Fly region; flysim takes the Machines' first region as the primary region"));
                None
            } else if let (Some(f), None) = (&fly_file_name, regions::lookup(code)) {
                self.p.push_in(f, Severity::Error, origin, &fly_path, format!(
                    "unknown region {code:?}; fix primary_region, or say where the Machines run in the scenario's `machines`"));
                None
            } else {
                self.region(code, origin, &format!("{path}.fly.primary_region"))
            }
        });
        let group_names: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
        let default_group = served_groups.first().copied().unwrap_or(0);
        let mut machines = Vec::new();
        for (mpath, m) in t.opt_tables(self.p, "machines") {
            if let Some(g) = self.machine_group(m, &mpath, primary, &group_names, default_group) {
                machines.push(g);
            }
        }
        if !t.has("machines") {
            // As `fly deploy` creates them (`fly::deploy_layout`), in the primary region; a
            // standby right after the Machine it watches.
            if let Some(r) = primary {
                let mut ordinal = 0;
                for (gi, g) in groups.iter().enumerate() {
                    let serves = served_groups.contains(&gi);
                    let (count, standby) = super::fly::deploy_layout(g.volume_gb.is_some(), serves);
                    machines.push(MachineGroup {
                        group: gi,
                        per_region: vec![(r, count)],
                        started: true,
                        standby_for: Vec::new(),
                        origin: t.origin().clone(),
                    });
                    ordinal += count;
                    if standby {
                        for watched in ordinal - count..ordinal {
                            machines.push(MachineGroup {
                                group: gi,
                                per_region: vec![(r, 1)],
                                started: false,
                                standby_for: vec![watched],
                                origin: t.origin().clone(),
                            });
                        }
                        ordinal += count;
                    }
                }
            }
        }
        let primary_region = match primary.or_else(|| {
            machines
                .first()
                .and_then(|g| g.per_region.first().map(|x| x.0))
        }) {
            Some(r) => r,
            None => {
                if fly.primary_region.is_none() {
                    self.p.error(
                        t.origin(),
                        &format!("{path}.fly.primary_region"),
                        "missing; set primary_region in the app's fly.toml or list regions in machines",
                    );
                } else if !t.has("machines") {
                    self.p.error(t.origin(), &t.key_path("machines"), "missing; primary_region is not usable, so say where the Machines run, e.g. machines = [{ count = 2, regions = [\"ams\"] }]");
                }
                0
            }
        };

        let (service_time, service_model) = match t.take("request") {
            Some(r) => self.request(r, &t.key_path("request")),
            None => (
                Dist::Constant(SimDuration::from_millis(50)),
                ServiceModel::Independent,
            ),
        };
        let app_boot = t
            .take("app_boot")
            .and_then(|b| dist(self.p, &t.key_path("app_boot"), b))
            .unwrap_or(Dist::Constant(SimDuration::from_secs(3)));
        let idle_exit = t.opt_duration(self.p, "idle_exit");
        if idle_exit == Some(SimDuration::ZERO) {
            self.p.error(
                t.origin(),
                &t.key_path("idle_exit"),
                "must be longer than 0s (leave it out for apps that never exit)",
            );
        }
        let rootfs_gb = match t.take("rootfs") {
            None => 1.0,
            Some(r) => match &r.value {
                Value::Str(s) => units::parse_disk_gb(s),
                _ => None,
            }
            .unwrap_or_else(|| {
                self.p.error(
                    &r.origin,
                    &t.key_path("rootfs"),
                    format!("expected a size such as \"1.2GB\", got {}", r.value),
                );
                1.0
            }),
        };
        let traffic: Vec<Traffic> = t
            .opt_tables(self.p, "traffic")
            .into_iter()
            .enumerate()
            .flat_map(|(i, (tp, tn))| self.traffic(tn, &tp, &name, i))
            .collect();
        if !traffic.is_empty() && served_groups.is_empty() {
            self.p.error(
                t.origin(),
                &t.key_path("traffic"),
                "the app has traffic but its fly.toml has no [http_service] or [[services]] to receive it",
            );
        }
        let name_path = t.key_path("name");
        let app_origin = t.origin().clone();
        t.finish_strict(self.p, APP_KEYS);
        if !name.is_empty()
            && !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            self.p.error(
                &app_origin,
                &name_path,
                format!("expected letters, digits, '-' or '_', got {name:?}"),
            );
        }
        // The scenario's app name wins; fly.toml's `app` only documents where it came from.
        Some(App {
            name,
            primary_region,
            service,
            served_groups,
            groups,
            swap_mb: fly.swap_mb,
            kill_timeout: fly.kill_timeout,
            machines,
            service_time,
            service_model,
            app_boot,
            idle_exit,
            rootfs_gb,
            traffic,
        })
    }

    /// In TOML, keys written after an `[app.fly...]` header belong to that table. A flysim app
    /// key found there (`machines`, `traffic`...) was meant for `[[app]]`: say so, as an error.
    fn misplaced_app_keys(&mut self, first: usize) {
        for problem in &mut self.p.list[first..] {
            let key = problem.path.rsplit('.').next().unwrap_or("");
            if problem.severity == Severity::Ignored && APP_KEYS.contains(&key) && key != "fly" {
                problem.severity = Severity::Error;
                problem.message = format!(
                    "`{key}` is a key of [[app]], but it sits inside a fly.toml table: TOML puts keys after a [app.fly...] header into that table; move it above [app.fly]"
                );
            }
        }
    }

    /// Reads a fly.toml file named by `fly_toml`, relative to the scenario's folder.
    fn fly_file(&mut self, n: &Node, path: &str) -> Option<FlyApp> {
        let Value::Str(rel) = &n.value else {
            self.p.error(
                &n.origin,
                path,
                format!("expected a path to a fly.toml file, got {}", n.value),
            );
            return None;
        };
        let full = self.base_dir.join(rel);
        let file = full.display().to_string();
        let text = match doc::read_text(&full, doc::MAX_TEXT_BYTES) {
            Ok(t) => t,
            Err((Origin::Implied, message)) => {
                self.p
                    .error(&n.origin, path, format!("{}: {message}", full.display()));
                return None;
            }
            Err((origin, message)) => {
                self.p.push_in(&file, Severity::Error, &origin, "", message);
                return None;
            }
        };
        let mut fp = Problems::new(&file);
        let fly = match doc::parse(&text) {
            Ok(root) => Some(fly::read(&root, "", &mut fp)),
            Err(e) => {
                fp.error(&e.origin, "", format!("not valid TOML: {}", e.message));
                None
            }
        };
        self.p.list.append(&mut fp.list);
        fly
    }

    fn machine_group(
        &mut self,
        n: &Node,
        path: &str,
        primary: Option<RegionIdx>,
        group_names: &[String],
        default_group: usize,
    ) -> Option<MachineGroup> {
        let mut t = TableReader::new(n, path, self.p);
        let group = match t.opt_str(self.p, "group") {
            None => default_group,
            Some(g) => match group_names.iter().position(|x| *x == g) {
                Some(i) => i,
                None => {
                    self.p.error(
                        t.origin(),
                        &t.key_path("group"),
                        format!(
                            "no process group {g:?} in the app's fly.toml (groups: {})",
                            group_names.join(", ")
                        ),
                    );
                    default_group
                }
            },
        };
        let count = t.opt_int(self.p, "count", 0, 100_000);
        if count.is_none() && !t.has("count") {
            self.p.error(
                t.origin(),
                &t.key_path("count"),
                "missing; expected how many Machines, e.g. count = 2",
            );
        }
        let regions: Vec<RegionIdx> = match t.take("regions") {
            None => primary.into_iter().collect(),
            Some(r) => {
                let Value::Array(items) = &r.value else {
                    self.p.error(
                        &r.origin,
                        &t.key_path("regions"),
                        format!("expected an array of region codes, got {}", r.value),
                    );
                    return None;
                };
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let ipath = format!("{}[{i}]", t.key_path("regions"));
                    match &item.value {
                        Value::Str(code) => out.extend(self.region(code, &item.origin, &ipath)),
                        other => self.p.error(
                            &item.origin,
                            &ipath,
                            format!("expected a region code, got {other}"),
                        ),
                    }
                }
                if out.is_empty() && items.is_empty() {
                    self.p.error(
                        &r.origin,
                        &t.key_path("regions"),
                        "expected at least one region code",
                    );
                }
                out
            }
        };
        let started = match t.opt_str(self.p, "state").as_deref() {
            None | Some("started") => true,
            Some("stopped") => false,
            Some(other) => {
                self.p.error(
                    t.origin(),
                    &t.key_path("state"),
                    format!("expected \"started\" or \"stopped\", got {other:?}"),
                );
                true
            }
        };
        let app_name = self.current_app.clone();
        let standby_for: Vec<u32> = match t.take("standby_for") {
            None => Vec::new(),
            Some(sf) => {
                let refs: Vec<String> = match &sf.value {
                    Value::Str(s) => vec![s.clone()],
                    Value::Array(items) => items
                        .iter()
                        .filter_map(|i| {
                            if let Value::Str(s) = &i.value {
                                Some(s.clone())
                            } else {
                                None
                            }
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                let mut out = Vec::new();
                if refs.is_empty() {
                    self.p.error(
                        &sf.origin,
                        &t.key_path("standby_for"),
                        format!(
                            "expected a Machine such as \"{app_name}:0\" or a list of them, got {}",
                            sf.value
                        ),
                    );
                }
                for r in refs {
                    match r
                        .split_once(':')
                        .filter(|(a, _)| *a == app_name)
                        .and_then(|(_, i)| i.parse::<u32>().ok())
                    {
                        Some(i) => out.push(i),
                        None => self.p.error(
                            &sf.origin,
                            &t.key_path("standby_for"),
                            format!(
                                "expected a Machine of this app such as \"{app_name}:0\", got {r:?}"
                            ),
                        ),
                    }
                }
                out
            }
        };
        t.finish_strict(self.p, MACHINES_KEYS);
        if regions.is_empty() {
            if n.get("regions").is_none() {
                self.p.error(
                    &n.origin,
                    &format!("{path}.regions"),
                    "missing, and the app has no primary_region to default to",
                );
            }
            return None;
        }
        // Like `fly scale count N --region a,b`: one Machine at a time, round robin in the
        // order the regions are listed.
        let count = count? as u32;
        let mut per_region: Vec<(RegionIdx, u32)> = Vec::new();
        for i in 0..count {
            let r = regions[i as usize % regions.len()];
            match per_region.iter_mut().find(|(x, _)| *x == r) {
                Some(e) => e.1 += 1,
                None => per_region.push((r, 1)),
            }
        }
        Some(MachineGroup {
            group,
            per_region,
            started: started && standby_for.is_empty(),
            standby_for,
            origin: n
                .get("standby_for")
                .map_or_else(|| n.origin.clone(), |s| s.origin.clone()),
        })
    }

    fn request(&mut self, n: &Node, path: &str) -> (Dist, ServiceModel) {
        let mut t = TableReader::new(n, path, self.p);
        let st = t
            .take("service_time")
            .and_then(|s| dist(self.p, &t.key_path("service_time"), s))
            .unwrap_or(Dist::Constant(SimDuration::from_millis(50)));
        let model = choice(
            self.p,
            &mut t,
            "model",
            ServiceModel::Independent,
            &[
                ("independent", ServiceModel::Independent),
                ("processor_sharing", ServiceModel::ProcessorSharing),
            ],
        );
        t.finish_strict(self.p, REQUEST_KEYS);
        (st, model)
    }

    /// The clients' region(s): a code, or a list of codes with optional `weights`.
    fn client_regions(
        &mut self,
        t: &mut TableReader,
        required: bool,
    ) -> Option<Vec<(RegionIdx, f64)>> {
        let Some(f) = t.take("from") else {
            if required {
                self.p.error(
                    t.origin(),
                    &t.key_path("from"),
                    "missing; expected the clients' region code, e.g. from = \"ams\"",
                );
            }
            return None;
        };
        let path = t.key_path("from");
        let codes: Vec<(String, Origin)> = match &f.value {
            Value::Str(code) => vec![(code.clone(), f.origin.clone())],
            Value::Array(items) if !items.is_empty() => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match &item.value {
                        Value::Str(c) => out.push((c.clone(), item.origin.clone())),
                        other => self.p.error(
                            &item.origin,
                            &format!("{path}[{i}]"),
                            format!("expected a region code, got {other}"),
                        ),
                    }
                }
                out
            }
            other => {
                self.p.error(
                    &f.origin,
                    &path,
                    format!("expected a region code or a list of codes, got {other}"),
                );
                return None;
            }
        };
        let regions: Vec<Option<RegionIdx>> = codes
            .iter()
            .map(|(c, o)| self.region(c, o, &path))
            .collect();
        let weights = match t.take("weights") {
            None => vec![1.0; regions.len()],
            Some(w) => match &w.value {
                Value::Array(items) if items.len() == regions.len() => {
                    let ws: Vec<Option<f64>> = items
                        .iter()
                        .map(|x| match x.value {
                            Value::Int(i) if i >= 0 => Some(i as f64),
                            Value::Float(v) if v >= 0.0 && v.is_finite() => Some(v),
                            _ => None,
                        })
                        .collect();
                    if ws.iter().any(|x| x.is_none()) || ws.iter().flatten().sum::<f64>() <= 0.0 {
                        self.p.error(
                            &w.origin,
                            &t.key_path("weights"),
                            "expected non-negative numbers that are not all zero",
                        );
                        return None;
                    }
                    ws.into_iter().flatten().collect()
                }
                other => {
                    self.p.error(
                        &w.origin,
                        &t.key_path("weights"),
                        format!(
                            "expected one number per region in `from` ({}), got {other}",
                            regions.len()
                        ),
                    );
                    return None;
                }
            },
        };
        if regions.iter().any(|r| r.is_none()) {
            return None;
        }
        let total: f64 = weights.iter().sum();
        Some(
            regions
                .into_iter()
                .flatten()
                .zip(weights.iter().map(|w| w / total))
                .collect(),
        )
    }

    fn traffic(&mut self, n: &Node, path: &str, app: &str, index: usize) -> Vec<Traffic> {
        let mut t = TableReader::new(n, path, self.p);
        let shape_name = t.req_str(self.p, "shape");
        if shape_name.as_deref() == Some("trace") {
            return self.trace_traffic(t, app, index);
        }
        let from = self.client_regions(&mut t, true);
        let p = &mut *self.p;
        let rate = |t: &mut TableReader, p: &mut Problems, key: &str| -> Option<f64> {
            let r = t.opt_num(p, key, 0.0, 1e9);
            if r.is_none() && !t.has(key) {
                p.error(
                    t.origin(),
                    &t.key_path(key),
                    "missing; expected a rate in requests per second",
                );
            }
            r
        };
        let mut start = t.opt_duration(p, "start").unwrap_or(SimDuration::ZERO);
        let mut end = t.opt_duration(p, "end");
        let (shape, keys): (Option<Shape>, &[&str]) = match shape_name.as_deref() {
            Some("constant") => (
                rate(&mut t, p, "rps").map(Shape::Constant),
                &["from", "weights", "shape", "rps", "start", "end"],
            ),
            Some("poisson") => (
                rate(&mut t, p, "rps").map(Shape::Poisson),
                &["from", "weights", "shape", "rps", "start", "end"],
            ),
            Some("diurnal") => {
                let mean = rate(&mut t, p, "mean_rps");
                let peak = rate(&mut t, p, "peak_rps");
                let peak_at = t
                    .opt_duration(p, "peak_at")
                    .unwrap_or(SimDuration(14 * NS_PER_H));
                let shape = match (mean, peak) {
                    (Some(m), Some(pk)) if pk < m || pk > 2.0 * m => {
                        p.error(t.origin(), &t.key_path("peak_rps"), format!(
                            "expected a peak between the mean ({m}) and twice the mean ({}), got {pk}; the daily curve is a cosine from 2·mean − peak to peak", 2.0 * m));
                        None
                    }
                    (Some(mean), Some(peak)) => Some(Shape::Diurnal {
                        mean,
                        peak,
                        peak_at,
                    }),
                    _ => None,
                };
                (
                    shape,
                    &[
                        "from", "weights", "shape", "mean_rps", "peak_rps", "peak_at", "start",
                        "end",
                    ],
                )
            }
            Some("burst") => {
                let at = t.opt_duration(p, "at");
                let len = t.opt_duration(p, "for");
                for (key, v) in [("at", at), ("for", len)] {
                    if v.is_none() && !t.has(key) {
                        p.error(t.origin(), &t.key_path(key), "missing; a burst needs `at` and `for`, e.g. at = \"13h\", for = \"10m\"");
                    }
                }
                if let (Some(a), Some(l)) = (at, len) {
                    start = a;
                    end = Some(a + l);
                }
                (
                    rate(&mut t, p, "rps").map(Shape::Poisson),
                    &["from", "weights", "shape", "rps", "at", "for"],
                )
            }
            Some(other) => {
                p.error(t.origin(), &t.key_path("shape"), format!(
                    "unknown shape {other:?}; expected \"constant\", \"poisson\", \"diurnal\", \"burst\" or \"trace\""));
                (None, &[])
            }
            None => (None, &[]),
        };
        if let Some(e) = end
            && e <= start
        {
            self.p.error(
                t.origin(),
                &t.key_path("end"),
                format!("must be after the start ({start}), got {e}"),
            );
        }
        if !keys.is_empty() {
            t.finish_strict(self.p, keys);
        }
        match (from, shape) {
            (Some(from), Some(shape)) => vec![Traffic {
                from,
                shape,
                start,
                end,
                stream: format!("{app}/{index}"),
            }],
            _ => Vec::new(),
        }
    }

    /// `shape = "trace"`: a CSV trace or a saved Prometheus response, replayed with exact counts.
    fn trace_traffic(&mut self, mut t: TableReader, app: &str, index: usize) -> Vec<Traffic> {
        const KEYS: &[&str] = &[
            "from",
            "weights",
            "shape",
            "file",
            "format",
            "time_column",
            "count_column",
            "region_label",
            "scale",
            "start",
            "end",
            "offset",
            "loop",
        ];
        let p = &mut *self.p;
        let file = t.req_str(p, "file");
        let format = t.opt_str(p, "format");
        let prometheus = match format.as_deref() {
            None => None,
            Some("csv") => Some(false),
            Some("prometheus") => Some(true),
            Some(other) => {
                p.error(
                    t.origin(),
                    &t.key_path("format"),
                    format!("expected \"csv\" or \"prometheus\", got {other:?}"),
                );
                None
            }
        };
        let time_column = t.opt_str(p, "time_column");
        let count_column = t.opt_str(p, "count_column");
        let label = t
            .opt_str(p, "region_label")
            .unwrap_or_else(|| "region".into());
        let scale = t.opt_num(p, "scale", 0.0, 1e9).unwrap_or(1.0);
        let start = t.opt_duration(p, "start").unwrap_or(SimDuration::ZERO);
        let end = t.opt_duration(p, "end");
        let offset = t.opt_duration(p, "offset").unwrap_or(SimDuration::ZERO);
        let looped = t.opt_bool(p, "loop").unwrap_or(false);
        let file_origin = t
            .take("file")
            .map_or(t.origin().clone(), |n| n.origin.clone());
        let Some(file) = file else {
            t.finish_strict(self.p, KEYS);
            return Vec::new();
        };
        let full = self.base_dir.join(&file);
        let shown_file = full.display().to_string();
        let data = match trace::read_file(
            &full,
            time_column.as_deref(),
            count_column.as_deref(),
            &label,
            prometheus,
        ) {
            Ok(d) => d,
            Err(e) => {
                let shown = full.display().to_string();
                let at = if e.line > 0 {
                    format!("{shown}:{}", e.line)
                } else {
                    shown
                };
                self.p.error(
                    &file_origin,
                    &t.key_path("file"),
                    format!("{at}: {}", e.message),
                );
                t.take("from");
                t.take("weights");
                t.finish_strict(self.p, KEYS);
                return Vec::new();
            }
        };
        let is_prometheus =
            data.series.iter().any(|s| s.label.is_some()) || prometheus == Some(true);
        let from = if is_prometheus && !t.has("from") {
            None
        } else {
            self.client_regions(&mut t, !is_prometheus)
        };
        let skip = offset.0 / data.interval_ns.max(1);
        let length = data.series.first().map_or(0, |s| s.counts.len);
        if skip >= length {
            self.p.error(
                t.origin(),
                &t.key_path("offset"),
                format!("{offset} skips the whole trace ({length} intervals)"),
            );
        }
        // Each interval's arrivals are drawn at once: a count beyond ten million per interval is
        // a mistake in the file or in `scale`, and would not fit in memory well.
        let biggest = data
            .series
            .iter()
            .map(|s| (s.counts.max() * scale, s.largest_at, s.label.as_deref()))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((biggest, at, label)) = biggest.filter(|b| b.0 > 1e7) {
            let row = match label {
                Some(l) => format!("series {l}, value {at}"),
                None => format!("{shown_file}:{at}"),
            };
            self.p.error(&file_origin, &t.key_path("scale"), format!(
                "{row}: that interval would carry {biggest:.0} requests (its count × scale {scale}); at most 10 million per interval"));
        }
        let mut out = Vec::new();
        for (k, series) in data.series.iter().enumerate() {
            // A Prometheus series replays from its own region unless `from` says otherwise.
            let series_from = match (&from, &series.label) {
                (Some(f), _) => Some(f.clone()),
                (None, Some(code)) => self
                    .region(
                        code,
                        &file_origin,
                        &format!("{}: series {code}", t.key_path("file")),
                    )
                    .map(|r| vec![(r, 1.0)]),
                (None, None) => {
                    self.p.error(
                        &file_origin,
                        &t.key_path("from"),
                        format!("series {k} has no {label:?} label; give `from`"),
                    );
                    None
                }
            };
            let Some(series_from) = series_from else {
                continue;
            };
            let replay = Replay {
                interval_ns: data.interval_ns,
                counts: series.counts.scaled(scale),
                offset: skip,
                looped,
            };
            let stream = if data.series.len() == 1 {
                format!("{app}/{index}")
            } else {
                format!("{app}/{index}.{k}")
            };
            out.push(Traffic {
                from: series_from,
                shape: Shape::Trace(std::sync::Arc::new(replay)),
                start,
                end,
                stream,
            });
        }
        if let Some(e) = end
            && e <= start
        {
            self.p.error(
                t.origin(),
                &t.key_path("end"),
                format!("must be after the start ({start}), got {e}"),
            );
        }
        t.finish_strict(self.p, KEYS);
        out
    }

    fn slo(&mut self, n: &Node) -> Slo {
        let mut t = TableReader::new(n, "slo", self.p);
        let availability = t.opt_num(self.p, "availability", 0.0, 1.0).unwrap_or(0.999);
        let latency_p99 = t
            .opt_duration(self.p, "latency_p99")
            .unwrap_or(SimDuration::from_secs(1));
        t.finish_strict(self.p, SLO_KEYS);
        Slo {
            availability,
            latency_p99,
        }
    }

    fn prices(&mut self, n: &Node) -> Prices {
        let mut t = TableReader::new(n, "prices", self.p);
        let d = Prices::default();
        let mut get = |key: &str, default: f64| t.opt_num(self.p, key, 0.0, 1e6).unwrap_or(default);
        let prices = Prices {
            shared_vcpu_month: get("shared_vcpu_month", d.shared_vcpu_month),
            performance_vcpu_month: get("performance_vcpu_month", d.performance_vcpu_month),
            ram_gb_month: get("ram_gb_month", d.ram_gb_month),
            rootfs_gb_month: get("rootfs_gb_month", d.rootfs_gb_month),
            volume_gb_month: get("volume_gb_month", d.volume_gb_month),
            gpu_hour: Vec::new(),
        };
        let mut prices = prices;
        if let Some(n) = t.take("gpu_hour") {
            let mut g = TableReader::new(n, "prices.gpu_hour", self.p);
            for (kind, _) in n.entries() {
                if let Some(v) = g.opt_num(self.p, kind, 0.0, 1e6) {
                    prices.gpu_hour.push((kind.clone(), v));
                }
            }
            g.finish_strict(self.p, &[]);
        }
        t.finish_strict(self.p, PRICE_KEYS);
        prices
    }

    /// Round trips between every pair of regions in play: the model by default, `rtt` tables
    /// in `[[region]]` where given (symmetric).
    fn rtt_matrix(
        &mut self,
        root: &Node,
        stretch: f64,
        base_ms: f64,
        same: SimDuration,
    ) -> Vec<Vec<SimDuration>> {
        let n = self.regions.len();
        let mut m = vec![vec![same; n]; n];
        #[allow(clippy::needless_range_loop)] // a and b index both the matrix and the regions
        for a in 0..n {
            for b in 0..n {
                if a != b {
                    let (ra, rb) = (
                        regions::lookup(&self.regions[a].code).expect("validated code"),
                        regions::lookup(&self.regions[b].code).expect("validated code"),
                    );
                    m[a][b] = SimDuration::from_secs_f64(
                        regions::model_rtt_ms(ra, rb, stretch, base_ms) / 1000.0,
                    );
                }
            }
        }
        let Some(Value::Array(declared)) = root.get("region").map(|r| &r.value) else {
            return m;
        };
        for (i, r) in declared.iter().enumerate() {
            let (Some(Value::Str(code)), Some(rtt)) =
                (r.get("code").map(|c| &c.value), r.get("rtt"))
            else {
                continue;
            };
            let Some(a) = self.regions.iter().position(|x| &x.code == code) else {
                continue;
            };
            for (other, v) in rtt.entries() {
                let path = format!("region[{i}].rtt.{other}");
                let Some(d) = duration_of(self.p, &path, v) else {
                    continue;
                };
                if regions::lookup(other).is_none() {
                    self.p
                        .error(&v.origin, &path, format!("unknown region {other:?}"));
                } else if let Some(b) = self.regions.iter().position(|x| &x.code == other) {
                    m[a][b] = d;
                    m[b][a] = d;
                }
            }
        }
        m
    }

    /// Every Machine must fit on one host of its region.
    fn check_capacity(&mut self, apps: &[App]) {
        for (ai, app) in apps.iter().enumerate() {
            for (mi, g) in app.machines.iter().enumerate() {
                let vm = app.groups[g.group].vm;
                for &(r, _) in &g.per_region {
                    let Some(region) = self.regions.get(r) else {
                        continue;
                    };
                    let fits = region
                        .hosts
                        .iter()
                        .any(|h| h.cpus >= vm.cpus && h.memory_mb >= vm.memory_mb);
                    if !fits {
                        self.p.error(&g.origin, &format!("app[{ai}].machines[{mi}]"), format!(
                            "a {} {}-vCPU {} MB Machine (group {:?}) fits on no host of region {:?}; give the region bigger hosts ([[region]] host = {{ cpus = .., memory = \"..\" }})",
                            vm.cpu_kind, vm.cpus, vm.memory_mb, app.groups[g.group].name, region.code));
                    }
                }
            }
        }
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

/// Γ(x) for x > 0 (Lanczos approximation, g = 7; relative error below 1e-13).
fn gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return std::f64::consts::PI / ((std::f64::consts::PI * x).sin() * gamma(1.0 - x));
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let sum: f64 = C[0] + (1..9).map(|i| C[i] / (x + i as f64)).sum::<f64>();
    (2.0 * std::f64::consts::PI).sqrt() * t.powf(x + 0.5) * (-t).exp() * sum
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

const DIST_HELP: &str = "a duration such as \"40ms\", or a table { dist = \"constant\", value = .. } | { dist = \"exponential\", mean = .. } | { dist = \"lognormal\", median = .., p99 = .. (or p90, p95) } | { dist = \"uniform\", min = .., max = .. }";

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
            (mean.map(Dist::Exponential), &["dist", "mean"])
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
            (d, &["dist", "median", "p90", "p95", "p99"])
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

impl Default for Prices {
    /// Fly's published prices as a linear model. The iad table (fly-platform.md §6.1) fits
    /// $0.689 per shared vCPU + $20.99 per performance vCPU + $5.006 per GB RAM per 30 days to
    /// under 0.1 %; Fly's newer base prices shared-cpu-1x 256 MB at $2.194 (data/README.md), so
    /// the whole table is scaled by 2.194 / 1.9405 (an inference: only that one price is
    /// published under the newer base). Rootfs and volumes: $0.15 per GB per 30 days.
    fn default() -> Self {
        let old_shared_1x = 0.689 + 5.006 / 4.0;
        let k = regions::BASE_SHARED_1X_PRICE / old_shared_1x;
        Prices {
            shared_vcpu_month: 0.689 * k,
            performance_vcpu_month: 20.99 * k,
            ram_gb_month: 5.006 * k,
            rootfs_gb_month: 0.15,
            volume_gb_month: 0.15,
            gpu_hour: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn gamma_matches_known_values() {
        assert!((super::gamma(1.0) - 1.0).abs() < 1e-12);
        assert!((super::gamma(5.0) - 24.0).abs() < 1e-10);
        assert!((super::gamma(0.5) - std::f64::consts::PI.sqrt()).abs() < 1e-12);
        assert!((super::gamma(1.5) - 0.886_226_925_452_758).abs() < 1e-12);
    }
}
