//! Invariants over randomly generated small scenarios (proptest).
//!
//! Requests are conserved, lifecycle transitions stay within Fly's state graph, host capacity
//! is never exceeded, state times add up to the run, cost never decreases over time, and a
//! standby never shares its watched Machine's host; with random host failures, crashes and
//! operator actions (Machines created, destroyed, stopped, started and resized), and deploys of
//! every strategy (some whose new version fails its health checks) with or without checks.

use flysim::platform::Sim;
use flysim::platform::ids::{AppId, HostId, MachineId};
use flysim::platform::machine::MState;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Params {
    machines: u32,
    regions: usize,
    soft: u32,
    hard: u32,
    autostop: &'static str,
    rps: f64,
    burst: f64,
    queue_wait_ms: u64,
    ps: bool,
    boot_ms: u64,
    idle_exit_s: Option<u64>,
    host_cpus: u32,
    tiebreak: &'static str,
    spill: &'static str,
    host_mtbf_min: Option<u64>,
    crash_mtbf_min: Option<u64>,
    /// Operator actions: (at [s], kind 0..6, argument).
    actions: Vec<(u64, u8, u32)>,
    /// A second service on the same Machines, with this autostop setting and its own
    /// traffic.
    second_service: Option<&'static str>,
    /// The CPU share of each request's service time, with CPU quotas (and processor sharing).
    cpu_share: Option<f64>,
    /// Deploys: (at [s], strategy 0..4, fails its checks, max_unavailable 1..3).
    deploys: Vec<(u64, u8, bool, u8)>,
    /// Health checks on the http_service (grace, interval [s]).
    checks: Option<(u64, u64)>,
    /// fly-autoscaler: (which configuration 0..4, divisor, FAS_INTERVAL [s], clones stopped).
    autoscaler: Option<(u8, u32, u64, bool)>,
    /// The requests are jobs that wait for a Machine even when none runs.
    jobs_wait: bool,
}

fn params() -> impl Strategy<Value = Params> {
    let tiebreaks = vec![
        "random",
        "most_recently_started",
        "least_recently_used",
        "round_robin",
        "closest",
    ];
    (
        (1u32..5, 1usize..3, 1u32..6, 0u32..6),
        (
            prop::sample::select(vec!["off", "stop", "suspend"]),
            0.5f64..40.0,
            0.0f64..400.0,
        ),
        (
            prop::sample::select(vec![0u64, 500, 5000]),
            any::<bool>(),
            10u64..12_000,
        ),
        (prop::option::of(5u64..200), 1u32..4),
        (
            prop::sample::select(tiebreaks),
            prop::sample::select(vec!["hard", "soft"]),
        ),
        (prop::option::of(3u64..60), prop::option::of(2u64..60)),
        (
            prop::collection::vec((1u64..890, 0u8..6, 0u32..7), 0..6),
            prop::option::of(prop::sample::select(vec!["off", "stop", "suspend"])),
            prop::option::of(0.05f64..1.0),
        ),
        (
            prop::collection::vec((1u64..890, 0u8..4, any::<bool>(), 1u8..3), 0..3),
            prop::option::of((0u64..10, 1u64..20)),
        ),
        (
            prop::option::of((0u8..4, 1u32..20, 1u64..40, any::<bool>())),
            any::<bool>(),
        ),
    )
        .prop_map(|(a, b, c, d, e, f, (g, h, i), (j, k), (l, m))| Params {
            machines: a.0,
            regions: a.1,
            soft: a.2,
            hard: a.2 + a.3,
            autostop: b.0,
            rps: b.1,
            burst: b.2,
            queue_wait_ms: c.0,
            ps: c.1,
            boot_ms: c.2,
            idle_exit_s: d.0,
            host_cpus: d.1,
            tiebreak: e.0,
            spill: e.1,
            host_mtbf_min: f.0,
            crash_mtbf_min: f.1,
            actions: g,
            second_service: h,
            cpu_share: i,
            deploys: j,
            checks: k,
            autoscaler: l,
            jobs_wait: m,
        })
}

/// The `[[action]]` tables of `p` whose kind is below `kinds`: those of kind 2 and up may
/// name a Machine or group that has none at their time, which is an error.
fn actions(p: &Params, kinds: u8) -> String {
    let mut out = String::new();
    for &(at, kind, arg) in p.actions.iter().filter(|a| a.1 < kinds) {
        let body = match kind {
            0 => format!(
                "kind = \"scale_count\"\ncount = {}\nregions = [\"ams\"]",
                arg % 6
            ),
            1 => format!("kind = \"scale_count\"\ncount = \"+{}\"", arg % 3),
            2 => format!(
                "kind = \"scale_vm\"\nsize = \"{}\"\nmemory = \"1gb\"",
                if arg % 2 == 0 || p.host_cpus < 2 {
                    "shared-cpu-1x"
                } else {
                    "shared-cpu-2x"
                }
            ),
            3 => format!("kind = \"machine_destroy\"\nmachine = \"web:{arg}\""),
            4 => format!("kind = \"machine_clone\"\nmachine = \"web:{arg}\""),
            _ => format!(
                "kind = \"{}\"\nmachine = \"web:{arg}\"",
                if arg % 2 == 0 {
                    "machine_stop"
                } else {
                    "machine_start"
                }
            ),
        };
        out += &format!("[[action]]\nat = \"{at}s\"\napp = \"web\"\n{body}\n");
    }
    for &(at, strategy, fails, mu) in &p.deploys {
        let strategy = ["rolling", "immediate", "canary", "bluegreen"][strategy as usize];
        let fail = if fails { "fail = \"health\"\n" } else { "" };
        out += &format!(
            "[[deploy]]\nat = \"{at}s\"\napp = \"web\"\nstrategy = \"{strategy}\"\nmax_unavailable = {mu}\nwait_timeout = \"60s\"\n{fail}"
        );
    }
    out
}

fn text(p: &Params, actions: &str) -> String {
    let regions = ["ams", "fra"][..p.regions]
        .iter()
        .map(|r| format!("\"{r}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let model = if p.ps || p.cpu_share.is_some() {
        "processor_sharing"
    } else {
        "independent"
    };
    let cpu = p
        .cpu_share
        .map(|s| format!(", cpu_share = {s}"))
        .unwrap_or_default();
    let idle = p
        .idle_exit_s
        .map(|s| format!("idle_exit = \"{s}s\"\n"))
        .unwrap_or_default();
    let mut faults = String::new();
    if let Some(m) = p.host_mtbf_min {
        faults += &format!(
            "[[fault]]\nkind = \"host_failures\"\nmtbf = \"{m}m\"\nrepair = {{ dist = \"exponential\", mean = \"3m\" }}\n"
        );
    }
    if let Some(m) = p.crash_mtbf_min {
        faults += &format!("[[fault]]\nkind = \"machine_crashes\"\nmtbf = \"{m}m\"\n");
    }
    let checks = match p.checks {
        Some((grace, interval)) => format!(
            "[[app.fly.http_service.checks]]\ngrace_period = \"{grace}s\"\ninterval = \"{interval}s\"\n"
        ),
        None => String::new(),
    };
    let second = match p.second_service {
        Some(autostop) => format!(
            "[[app.fly.services]]\ninternal_port = 9000\nauto_stop_machines = \"{autostop}\"\n[app.fly.services.concurrency]\nsoft_limit = {}\nhard_limit = {}\n",
            p.hard,
            p.hard + 1
        ),
        None => String::new(),
    };
    let autoscaler = match p.autoscaler {
        None => String::new(),
        Some((kind, d, interval, stopped)) => {
            let (name, query, counts) = match kind {
                0 => (
                    "c",
                    "sum(fly_app_concurrency{app='$APP_NAME'})".to_string(),
                    format!("FAS_STARTED_MACHINE_COUNT = \"ceil(c / {d})\""),
                ),
                1 => (
                    "r",
                    "count(fly_instance_up{app='$APP_NAME'}) or vector(0)".to_string(),
                    "FAS_CREATED_MACHINE_COUNT = \"min(r + 1, 6)\"".to_string(),
                ),
                2 => (
                    "rps",
                    "sum(rate(fly_edge_http_responses_count{app=\\\"web\\\"}[1m]))".to_string(),
                    format!("FAS_MIN_CREATED_MACHINE_COUNT = \"rps / {d}\"\nFAS_MAX_CREATED_MACHINE_COUNT = \"rps / {d} + 2\"\nFAS_STARTED_MACHINE_COUNT = \"rps > {d} ? 3 : 1\""),
                ),
                _ => (
                    "p99",
                    "histogram_quantile(0.99, sum(rate(fly_app_http_response_time_seconds_bucket[1m])) by (le))".to_string(),
                    format!("FAS_MIN_STARTED_MACHINE_COUNT = \"p99 > 0.5 ? {d} : 1\"\nFAS_MAX_STARTED_MACHINE_COUNT = \"{d}\""),
                ),
            };
            let state = if stopped { "stopped" } else { "started" };
            format!(
                "[app.autoscaler]\nFAS_PROMETHEUS_METRIC_NAME = \"{name}\"\nFAS_PROMETHEUS_QUERY = \"{query}\"\n{counts}\nFAS_INTERVAL = \"{interval}s\"\nFAS_INITIAL_MACHINE_STATE = \"{state}\"\nFAS_REGIONS = \"ams,fra\"\n"
            )
        }
    };
    let jobs = if p.jobs_wait {
        "jobs_wait = \"60s\"\n"
    } else {
        ""
    };
    let second_traffic = match p.second_service {
        Some(_) => format!(
            "[[app.traffic]]\nservice = 9000\nfrom = \"fra\"\nshape = \"poisson\"\nrps = {}\n",
            p.rps / 2.0
        ),
        None => String::new(),
    };
    format!(
        r#"
name = "prop"
duration = "900s"
bucket = "30s"
[platform]
max_queue_wait = "{q}ms"
boot_time = "{boot}ms"
autostop_interval = "20s"
autostop_min_runtime = "30s"
autostop_idle_window = "10s"
failure_detection = "20s"
tiebreak = "{tb}"
cross_region_spill = "{spill}"
[[region]]
code = "ams"
hosts = 2
host = {{ cpus = {cpus}, memory = "4gb" }}
[[app]]
name = "web"
machines = [{{ count = {n}, regions = [{regions}] }}]
request = {{ service_time = {{ dist = "lognormal", median = "80ms", p99 = "900ms" }}, model = "{model}"{cpu} }}
app_boot = "500ms"
{idle}{jobs}[app.fly]
primary_region = "ams"
[app.fly.http_service]
auto_stop_machines = "{autostop}"
[app.fly.http_service.concurrency]
type = "requests"
soft_limit = {soft}
hard_limit = {hard}
{checks}{second}[[app.fly.vm]]
size = "shared-cpu-1x"
memory = "1gb"
{autoscaler}{second_traffic}[[app.traffic]]
from = "ams"
shape = "poisson"
rps = {rps}
[[app.traffic]]
from = "fra"
shape = "burst"
at = "300s"
for = "20s"
rps = {burst}
[[app]]
name = "jobs"
machines = [{{ count = 1, regions = ["ams"] }}, {{ count = 1, regions = ["ams"], standby_for = "jobs:0" }}]
[app.fly]
primary_region = "ams"
[app.fly.processes]
worker = "run"
[[app.fly.vm]]
size = "shared-cpu-1x"
{faults}
{actions}
"#,
        q = p.queue_wait_ms,
        boot = p.boot_ms,
        tb = p.tiebreak,
        spill = p.spill,
        cpus = p.host_cpus,
        n = p.machines,
        soft = p.soft,
        hard = p.hard,
        autostop = p.autostop,
        rps = p.rps,
        burst = p.burst,
    )
}

/// A scenario for `p`, with as many of its actions as validate.
fn scenario_for(p: &Params) -> flysim::scenario::Scenario {
    for kinds in [6, 3, 2] {
        if let Ok(l) = flysim::scenario::from_str(&text(p, &actions(p, kinds)), "prop.toml", &[]) {
            return l.scenario;
        }
    }
    match flysim::scenario::from_str(&text(p, ""), "prop.toml", &[]) {
        Ok(l) => l.scenario,
        Err(e) => panic!("{e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold(p in params()) {
        let sc = scenario_for(&p);
        let initial: Vec<MState> = Sim::new(&sc, 0).machines().iter().map(|m| m.state).collect();
        let mut sim = Sim::new(&sc, 0).with_trace();
        // Every routing decision of the index is also made by scanning every Machine.
        sim.check_routing(true);
        // Check host capacity at many points along the run.
        for step in 1..=30u64 {
            sim.run_until(flysim::engine::SimTime(sc.duration.0 / 30 * step));
            for h in sim.hosts() {
                prop_assert!(h.used_cpus <= h.cpus && h.used_mb <= h.memory_mb, "host over capacity: {h:?}");
            }
            let held: u32 = sim.machines().iter().filter(|m| m.holds_host).map(|m| m.vm.cpus).sum();
            let on_hosts: u32 = sim.hosts().iter().map(|h| h.used_cpus).sum();
            prop_assert_eq!(held, on_hosts, "host bookkeeping drifted");
            // Every Machine that exists is on exactly one host's list, the one it names.
            for (id, m) in sim.machines().iter().enumerate() {
                let id = MachineId::at(id);
                let lists = (0..sim.hosts().len()).filter(|&h| sim.machines_on(HostId::at(h)).contains(&id)).count();
                let expected = usize::from(m.state != MState::Destroyed);
                prop_assert_eq!(lists, expected, "web:{} on {} host lists", m.ordinal, lists);
                if expected == 1 {
                    prop_assert!(sim.machines_on(m.host).contains(&id));
                }
            }
        }
        sim.run();
        // Conservation: offered = served + failed + still in flight, and in flight is what
        // Machines, the proxy queue and failovers hold.
        let r = &sim.rec.apps[0];
        prop_assert_eq!(r.offered, r.served + r.failed_total() + r.in_flight);
        // fly-autoscaler never asks for fewer than one created Machine, and never destroys
        // the last one of its group.
        if let Some(fas) = &sim.autoscalers()[0] {
            for rec in &fas.reconciles {
                prop_assert!(rec.bounds[0].is_none_or(|b| b >= 1) && rec.bounds[1].is_none_or(|b| b >= 1));
                if rec.action.name() == "destroy" {
                    prop_assert!(rec.count < rec.created, "{rec:?}");
                }
            }
        }
        // Each request is counted on its service too (apps of several services).
        let first = sc.route(0, 0);
        if sc.apps[0].services.len() > 1 {
        let mine = &sim.rec.routes[first..first + sc.apps[0].services.len()];
        let by_service = mine.iter().fold([0u64; 3], |a, r| [a[0] + r[0], a[1] + r[1], a[2] + r[2]]);
        prop_assert_eq!(by_service, [r.offered, r.served, r.failed_total()]);
        }
        let waiting: u64 = sim.machines().iter().map(|m| m.load() as u64).sum::<u64>() + sim.queue_len(0) as u64 + sim.retrying();
        prop_assert_eq!(r.in_flight, waiting);
        // Legal lifecycle transitions only (the graph the model itself enforces,
        // `MState::can_go_to`), per Machine, continuing from its previous state; a Machine
        // created during the run starts stopped.
        let mut state = initial;
        state.resize(sim.machines().len(), MState::Stopped);
        for t in sim.trace().unwrap() {
            prop_assert_eq!(state[t.machine.index()], t.from);
            prop_assert!(t.from.can_go_to(t.to), "illegal transition {:?} -> {:?}", t.from, t.to);
            state[t.machine.index()] = t.to;
        }
        // State times add up to each Machine's life.
        for m in sim.machines() {
            let end = if m.state == MState::Destroyed { m.since } else { sim.end() };
            prop_assert_eq!(m.time_in_until(sim.end()).iter().sum::<u64>(), end.0 - m.book.created_at.0);
        }
        // CPU quotas: the balance stays within [0, cap], and a Machine never resized never
        // uses more CPU than its initial balance plus its baseline over the time it ran.
        if p.cpu_share.is_some() {
            let q_rules = sc.platform.cpu;
            for (id, m) in sim.machines().iter().enumerate() {
                let Some(q) = sim.quota_at(MachineId::at(id), sim.end()) else { continue };
                let rules = flysim::platform::cpu::Rules::of(&q_rules, &m.vm);
                prop_assert!(q.balance >= 0.0 && q.balance <= rules.cap, "balance {} cap {}", q.balance, rules.cap);
                if m.book.resized.is_empty() {
                    let bound = rules.initial(&q_rules) + rules.baseline * q.running_ns;
                    prop_assert!(q.used <= bound * (1.0 + 1e-9) + 1.0, "used {} > {}", q.used, bound);
                }
            }
        }
        // Cost so far never decreases, and the last bucket's equals the run's cost.
        let costs: Vec<f64> = sim.rec.rows.iter().map(|b| b.cost_usd).collect();
        prop_assert!(costs.windows(2).all(|w| w[1] >= w[0]), "cost decreased: {costs:?}");
        let total = sim.cost_until(sim.end()).total();
        prop_assert!((costs.last().copied().unwrap_or(0.0) - total).abs() < 1e-12);
        prop_assert_eq!(sim.rec.rows.len(), 30);
        // A standby never shares its watched Machine's host.
        let jobs: Vec<&flysim::platform::machine::Machine> = sim.machines().iter().filter(|m| m.app == AppId(1)).collect();
        prop_assert_ne!(jobs[0].host, jobs[1].host);
    }
}

/// The proxy's index picks exactly what a scan of every Machine picks, with the same random
/// draws, for every example scenario under every tie-break rule and both spill rules.
#[test]
fn the_routing_index_decides_as_a_scan_of_every_machine() {
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for dir in ["scenarios", "scenarios/resilience", "scenarios/real"] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            files.extend(
                entries
                    .map(|e| e.unwrap().path())
                    .filter(|p| p.extension().is_some_and(|e| e == "toml")),
            );
        }
    }
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    let mut decisions = 0;
    for f in &files {
        for tiebreak in [
            "random",
            "most_recently_started",
            "least_recently_used",
            "round_robin",
            "closest",
        ] {
            for spill in ["hard", "soft"] {
                let sets = [
                    "duration=\"3h\"".to_string(),
                    format!("platform.tiebreak=\"{tiebreak}\""),
                    format!("platform.cross_region_spill=\"{spill}\""),
                ];
                let Ok(l) = flysim::scenario::load(f, &sets) else {
                    continue;
                };
                let mut sim = Sim::new(&l.scenario, 0);
                sim.check_routing(true);
                sim.run();
                decisions += sim.rec.apps.iter().map(|a| a.offered).sum::<u64>();
            }
        }
    }
    assert!(decisions > 100_000, "{decisions} routing decisions checked");
}
