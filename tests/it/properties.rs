//! Invariants over randomly generated small scenarios (proptest).
//!
//! Requests are conserved, lifecycle transitions stay within Fly's state graph, host capacity
//! is never exceeded, state times add up to the run, and cost never decreases over time.

use flysim::model::Sim;
use flysim::model::machine::MState;
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
}

fn params() -> impl Strategy<Value = Params> {
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
            prop::sample::select(vec![
                "random",
                "most_recently_started",
                "least_recently_used",
                "round_robin",
            ]),
            prop::sample::select(vec!["hard", "soft"]),
        ),
    )
        .prop_map(
            |(
                (machines, regions, soft, extra),
                (autostop, rps, burst),
                (queue_wait_ms, ps, boot_ms),
                (idle_exit_s, host_cpus),
                (tiebreak, spill),
            )| Params {
                machines,
                regions,
                soft,
                hard: soft + extra,
                autostop,
                rps,
                burst,
                queue_wait_ms,
                ps,
                boot_ms,
                idle_exit_s,
                host_cpus,
                tiebreak,
                spill,
            },
        )
}

fn text(p: &Params) -> String {
    let regions = ["ams", "fra"][..p.regions]
        .iter()
        .map(|r| format!("\"{r}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let model = if p.ps {
        "processor_sharing"
    } else {
        "independent"
    };
    let idle = p
        .idle_exit_s
        .map(|s| format!("idle_exit = \"{s}s\"\n"))
        .unwrap_or_default();
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
tiebreak = "{tb}"
cross_region_spill = "{spill}"
[[region]]
code = "ams"
hosts = 2
host = {{ cpus = {cpus}, memory = "4gb" }}
[[app]]
name = "web"
machines = [{{ count = {n}, regions = [{regions}] }}]
request = {{ service_time = {{ dist = "lognormal", median = "80ms", p99 = "900ms" }}, model = "{model}" }}
app_boot = "500ms"
{idle}[app.fly]
primary_region = "ams"
[app.fly.http_service]
auto_stop_machines = "{autostop}"
[app.fly.http_service.concurrency]
type = "requests"
soft_limit = {soft}
hard_limit = {hard}
[[app.fly.vm]]
size = "shared-cpu-1x"
memory = "1gb"
[[app.traffic]]
from = "ams"
shape = "poisson"
rps = {rps}
[[app.traffic]]
from = "fra"
shape = "burst"
at = "300s"
for = "20s"
rps = {burst}
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold(p in params()) {
        let sc = flysim::scenario::from_str(&text(&p), "prop.toml", &[]).map_err(|e| TestCaseError::fail(e.to_string()))?.scenario;
        let mut sim = Sim::new(&sc, 0).with_trace();
        // Check host capacity at many points along the run.
        for step in 1..=30u64 {
            sim.run_until(flysim::engine::SimTime(sc.duration.0 / 30 * step));
            for h in &sim.hosts {
                prop_assert!(h.used_cpus <= h.cpus && h.used_mb <= h.memory_mb, "host over capacity: {h:?}");
            }
            let held: u32 = sim.machines.iter().filter(|m| m.holds_host).count() as u32;
            let on_hosts: u32 = sim.hosts.iter().map(|h| h.used_cpus).sum();
            prop_assert_eq!(held, on_hosts, "host bookkeeping drifted (1 vCPU Machines)");
        }
        sim.run();
        // Conservation: offered = served + failed + still in flight.
        let r = &sim.rec.apps[0];
        prop_assert_eq!(r.offered, r.served + r.failed_total() + r.in_flight);
        let waiting: u64 = sim.machines.iter().map(|m| m.load() as u64).sum::<u64>() + sim.queue_len(0) as u64;
        prop_assert_eq!(r.in_flight, waiting);
        // Legal lifecycle transitions only, per Machine, continuing from its previous state.
        let mut state: Vec<MState> = vec![MState::Started; sim.machines.len()];
        for t in sim.trace.as_ref().unwrap() {
            prop_assert_eq!(state[t.machine as usize], t.from);
            let legal = matches!((t.from, t.to),
                (MState::Stopped, MState::Starting) | (MState::Starting, MState::Started)
                | (MState::Started, MState::Stopping) | (MState::Started, MState::Suspending)
                | (MState::Stopping, MState::Stopped) | (MState::Suspending, MState::Suspended)
                | (MState::Suspended, MState::Starting));
            prop_assert!(legal, "illegal transition {:?} -> {:?}", t.from, t.to);
            state[t.machine as usize] = t.to;
        }
        // State times add up to the run.
        for m in &sim.machines {
            prop_assert_eq!(m.time_in_until(sim.end()).iter().sum::<u64>(), sc.duration.0);
        }
        // Cost so far never decreases, and the last bucket's equals the run's cost.
        let costs: Vec<f64> = sim.rec.rows.iter().map(|b| b.cost_usd).collect();
        prop_assert!(costs.windows(2).all(|w| w[1] >= w[0]), "cost decreased: {costs:?}");
        let total = sim.cost_until(sim.end()).total();
        prop_assert!((costs.last().copied().unwrap_or(0.0) - total).abs() < 1e-12);
        prop_assert_eq!(sim.rec.rows.len(), 30);
    }
}
