//! fly-autoscaler: what each reconcile reads and does, on tiny scenarios, to the second; the
//! rules of its configuration; and the worker queue it scales on.

use flysim::engine::SimTime;
use flysim::metrics::FailReason;
use flysim::platform::Sim;
use flysim::platform::autoscaler::Reconcile;
use flysim::platform::machine::MState;

use super::common::*;

const S: u64 = 1_000_000_000;

/// App `web` in ams: `machines` (its `machines` array), 1 s requests, a 1 s VM boot, a 2 s
/// app boot, a 4 s create; soft = hard = 10; no autostop or autostart. `fas` is the
/// `[app.autoscaler]` body, `traffic` the app's `[[app.traffic]]` tables.
fn world(machines: &str, fas: &str, traffic: &str) -> String {
    format!(
        r#"
name = "fas"
duration = "10m"
[platform]
boot_time = "1s"
create_time = "4s"
[[region]]
code = "ams"
hosts = 4
host = {{ cpus = 32, memory = "64GB" }}
[[region]]
code = "fra"
hosts = 4
host = {{ cpus = 32, memory = "64GB" }}
[[app]]
name = "web"
machines = {machines}
request = {{ service_time = "1s" }}
app_boot = "2s"
[app.fly]
primary_region = "ams"
[app.fly.http_service]
internal_port = 8080
auto_stop_machines = "off"
auto_start_machines = false
[app.fly.http_service.concurrency]
type = "requests"
soft_limit = 10
hard_limit = 10
[app.autoscaler]
{fas}
{traffic}
"#
    )
}

const CONCURRENCY: &str = r#"FAS_PROMETHEUS_METRIC_NAME = "concurrency"
FAS_PROMETHEUS_QUERY = "sum(fly_app_concurrency{app='$APP_NAME'})"
"#;

const STEP: &str = r#"[[app.traffic]]
from = "ams"
shape = "constant"
rps = 20
start = "100s"
"#;

fn reconciles<'a>(sim: &'a Sim<'_>) -> &'a [Reconcile] {
    &sim.autoscalers()[0].as_ref().unwrap().reconciles
}

fn at<'a>(sim: &'a Sim<'_>, secs: u64) -> &'a Reconcile {
    reconciles(sim)
        .iter()
        .find(|r| r.at == SimTime(secs * S))
        .unwrap_or_else(|| panic!("no reconcile at {secs} s"))
}

/// Machine `web:<ordinal>`'s transitions (time [s], to).
fn history(sim: &Sim, ordinal: u32) -> Vec<(f64, MState)> {
    let id = sim
        .machines()
        .iter()
        .position(|m| m.ordinal == ordinal)
        .unwrap_or_else(|| panic!("no web:{ordinal}"));
    sim.trace()
        .unwrap()
        .iter()
        .filter(|t| t.machine.index() == id)
        .map(|t| (t.at.as_secs_f64(), t.to))
        .collect()
}

fn run_traced(sc: &flysim::scenario::Scenario) -> Sim<'_> {
    let mut sim = Sim::new(sc, 0).with_trace();
    sim.run();
    sim
}

#[test]
fn a_traffic_step_creates_at_the_first_reconcile_after_the_scrape_lag() {
    let text = world(
        r#"[{ count = 1, regions = ["ams"] }]"#,
        &format!("{CONCURRENCY}FAS_CREATED_MACHINE_COUNT = \"ceil(concurrency / 8)\""),
        STEP,
    );
    let sc = scenario(&text);
    let sim = run_traced(&sc);
    // Before any scrape the query is empty: the first reconcile (15 s, reading at -15 s) fails.
    assert_eq!(at(&sim, 15).action.name(), "collect_failed");
    // The step at 100 s shows at the 105 s scrape; a query sees it 30 s later: 135 s is the
    // first reconcile that reads it (concurrency 10, the one Machine at its hard limit).
    let r = at(&sim, 120);
    assert_eq!((r.action.name(), r.values[0]), ("none", 0.0));
    let r = at(&sim, 135);
    assert_eq!((r.action.name(), r.count, r.values[0]), ("create", 1, 10.0));
    assert_eq!(r.bounds[..2], [Some(2), Some(2)]);
    // Created 4 s later, booted 1 s after that, serving after the 2 s app boot.
    assert_eq!(
        history(&sim, 1),
        vec![(139.0, MState::Starting), (142.0, MState::Started)]
    );
    // Two Machines at their limit read as 20 at 180 s: a third.
    let r = at(&sim, 180);
    assert_eq!((r.action.name(), r.count, r.values[0]), ("create", 1, 20.0));
    assert_eq!(
        reconciles(&sim)
            .iter()
            .filter(|r| r.action.name() == "create")
            .count(),
        2
    );
    let s = sim.autoscalers()[0].as_ref().unwrap();
    assert_eq!((s.created, s.destroyed, s.failed), (2, 0, 0));
}

#[test]
fn min_and_max_clamp_and_nothing_goes_below_one_machine() {
    // Three Machines, the last one stopped; a created count of 0 keeps one: the stopped
    // Machine goes first, then the first started one.
    let text = world(
        r#"[{ count = 2, regions = ["ams"] }, { count = 1, regions = ["ams"], state = "stopped" }]"#,
        &format!("{CONCURRENCY}FAS_CREATED_MACHINE_COUNT = \"0\""),
        "",
    );
    let sc = scenario(&text);
    let sim = run_traced(&sc);
    let r = at(&sim, 30);
    assert_eq!(
        (r.action.name(), r.count, r.bounds[0], r.created),
        ("destroy", 2, Some(1), 3)
    );
    let alive: Vec<u32> = sim
        .machines()
        .iter()
        .filter(|m| m.state != MState::Destroyed)
        .map(|m| m.ordinal)
        .collect();
    assert_eq!(alive, vec![1]);
    assert_eq!(at(&sim, 45).action.name(), "none");

    // A range: below its minimum it creates up to it, above its maximum it destroys down to it.
    let range = format!(
        "{CONCURRENCY}FAS_MIN_CREATED_MACHINE_COUNT = \"2 + concurrency\"\nFAS_MAX_CREATED_MACHINE_COUNT = \"4\""
    );
    let sc = scenario(&world(r#"[{ count = 1, regions = ["ams"] }]"#, &range, ""));
    let sim = run(&sc, 0);
    let r = at(&sim, 30);
    assert_eq!(
        (r.action.name(), r.count, r.bounds[..2].to_vec()),
        ("create", 1, vec![Some(2), Some(4)])
    );
    assert_eq!(at(&sim, 45).action.name(), "none");
    let sc = scenario(&world(r#"[{ count = 6, regions = ["ams"] }]"#, &range, ""));
    let sim = run(&sc, 0);
    let r = at(&sim, 30);
    assert_eq!((r.action.name(), r.count), ("destroy", 2));
}

#[test]
fn started_counts_start_and_stop_in_id_order() {
    let stopped = r#"[{ count = 4, regions = ["ams"], state = "stopped" }]"#;
    let sc = scenario(&world(
        stopped,
        &format!("{CONCURRENCY}FAS_STARTED_MACHINE_COUNT = \"2\""),
        "",
    ));
    let sim = run_traced(&sc);
    let r = at(&sim, 30);
    assert_eq!((r.action.name(), r.count, r.started), ("start", 2, 0));
    assert_eq!(history(&sim, 0)[0], (30.0, MState::Starting));
    assert_eq!(history(&sim, 1)[0], (30.0, MState::Starting));
    assert!(history(&sim, 2).is_empty());
    // Started Machines above the maximum are stopped, the first ones first.
    let started = r#"[{ count = 3, regions = ["ams"] }]"#;
    let sc = scenario(&world(
        started,
        &format!(
            "{CONCURRENCY}FAS_MAX_STARTED_MACHINE_COUNT = \"1 - 5\"\nFAS_MIN_STARTED_MACHINE_COUNT = \"0\""
        ),
        "",
    ));
    let sim = run_traced(&sc);
    let r = at(&sim, 30);
    // A negative count is 0.
    assert_eq!(
        (r.action.name(), r.count, r.bounds[3]),
        ("stop", 3, Some(0))
    );
    assert_eq!(history(&sim, 0)[0], (30.0, MState::Stopping));
}

#[test]
fn clones_go_round_robin_over_fas_regions_until_the_timeout() {
    let fas = format!(
        "{CONCURRENCY}FAS_CREATED_MACHINE_COUNT = \"6\"\nFAS_REGIONS = \"ams,fra\"\nFAS_TIMEOUT = \"13s\"\nFAS_INITIAL_MACHINE_STATE = \"stopped\""
    );
    let sc = scenario(&world(r#"[{ count = 1, regions = ["ams"] }]"#, &fas, ""));
    let sim = run(&sc, 0);
    // Five creates wanted, 4 s each: three fit in 13 s; the next reconcile launches the rest.
    let r = at(&sim, 30);
    assert_eq!((r.action.name(), r.count), ("create", 3));
    assert!(
        r.note.contains("2 creates beyond FAS_TIMEOUT"),
        "{}",
        r.note
    );
    let r = at(&sim, 45);
    assert_eq!((r.action.name(), r.count, r.created), ("create", 2, 4));
    let regions: Vec<&str> = sim
        .machines()
        .iter()
        .skip(1)
        .map(|m| sc.regions[m.region as usize].code.as_str())
        .collect();
    assert_eq!(regions, vec!["ams", "fra", "ams", "fra", "ams"]);
    // FAS_INITIAL_MACHINE_STATE = "stopped": the clones are created, not started.
    assert!(
        sim.machines()[1..]
            .iter()
            .all(|m| m.state == MState::Stopped)
    );
}

#[test]
fn a_reconcile_during_a_deploy_is_skipped() {
    let text = world(
        r#"[{ count = 2, regions = ["ams"] }]"#,
        &format!("{CONCURRENCY}FAS_CREATED_MACHINE_COUNT = \"3\""),
        "[[deploy]]\napp = \"web\"\nat = \"28s\"\nstrategy = \"rolling\"\n",
    );
    let sc = scenario(&text);
    let sim = run(&sc, 0);
    let r = at(&sim, 30);
    assert_eq!(r.action.name(), "skipped");
    assert!(r.note.contains("release in progress"));
    let first_create = reconciles(&sim)
        .iter()
        .find(|r| r.action.name() == "create")
        .unwrap();
    let d = &sim.deploys()[0];
    assert!(
        first_create.at >= d.ended.unwrap(),
        "{:?} before {:?}",
        first_create.at,
        d.ended
    );
}

#[test]
fn a_worker_scales_on_its_queue_depth_and_its_jobs_wait() {
    // Jobs arrive at 5 a second from 60 s, each 1 s; no worker runs; each takes 10 at once.
    // A worker per 20 queued jobs, at least one while any waits.
    let text = r#"
name = "jobs"
duration = "10m"
[platform]
boot_time = "1s"
create_time = "4s"
[[region]]
code = "ams"
hosts = 2
[[app]]
name = "worker"
machines = [{ count = 4, regions = ["ams"], state = "stopped" }]
request = { service_time = "1s" }
app_boot = "2s"
jobs_wait = "10m"
gauge = [{ name = "queue_depth", value = "queued" }]
[app.fly]
primary_region = "ams"
[app.fly.http_service]
auto_stop_machines = "off"
auto_start_machines = false
[app.fly.http_service.concurrency]
type = "requests"
soft_limit = 10
hard_limit = 10
[app.autoscaler]
FAS_PROMETHEUS_METRIC_NAME = "queue_depth"
FAS_PROMETHEUS_QUERY = "sum(queue_depth)"
FAS_MIN_STARTED_MACHINE_COUNT = "queue_depth > 0 ? max(1, ceil(queue_depth / 20)) : 0"
FAS_MAX_STARTED_MACHINE_COUNT = "4"
[[app.traffic]]
from = "ams"
shape = "constant"
rps = 5
start = "60s"
"#;
    let sc = scenario(text);
    let sim = run(&sc, 0);
    // Jobs queue from 60 s; the 75 s scrape holds 75 of them, a query sees it at 105 s.
    // The job at 60 s is in the 60 s scrape, which a query reads at 90 s: one worker starts.
    let r = at(&sim, 90);
    assert_eq!(
        (r.action.name(), r.count, r.values[0], r.bounds[2]),
        ("start", 1, 1.0, Some(1))
    );
    // 75 jobs queued at the 75 s scrape (one worker serving since 93 s): three more start.
    let r = at(&sim, 105);
    assert_eq!(
        (r.action.name(), r.count, r.values[0], r.started),
        ("start", 3, 75.0, 1)
    );
    let c = &sim.rec.apps[0];
    assert_eq!(c.failed[FailReason::NoMachine as usize], 0);
    assert_eq!(c.failed_total(), 0, "{:?}", c.failed);
    assert!(c.served > 2500, "{}", c.served);
}

#[test]
fn fly_autoscaler_configuration_rules_are_enforced() {
    let bad = |fas: &str| -> String {
        let text = world(r#"[{ count = 1, regions = ["ams"] }]"#, fas, "");
        match flysim::scenario::from_str(&text, "t.toml", &[]) {
            Ok(_) => panic!("validated: {fas}"),
            Err(e) => e.to_string(),
        }
    };
    let e = bad(&format!(
        "{CONCURRENCY}FAS_CREATED_MACHINE_COUNT = \"1\"\nFAS_MIN_CREATED_MACHINE_COUNT = \"1\""
    ));
    assert!(e.contains("not both"), "{e}");
    let e = bad(&format!(
        "{CONCURRENCY}FAS_MIN_STARTED_MACHINE_COUNT = \"1\""
    ));
    assert!(e.contains("requires FAS_MAX_STARTED_MACHINE_COUNT"), "{e}");
    let e = bad(CONCURRENCY);
    assert!(
        e.contains("needs a created or a started machine count"),
        "{e}"
    );
    let e = bad(&format!(
        "{CONCURRENCY}FAS_STARTED_MACHINE_COUNT = \"ceil(concurency)\""
    ));
    assert!(
        e.contains(":33:35:") && e.contains("unknown name \"concurency\""),
        "{e}"
    );
    let e = bad(&format!(
        "{CONCURRENCY}FAS_STARTED_MACHINE_COUNT = \"concurrency > 2\""
    ));
    assert!(e.contains("not a number of Machines"), "{e}");
    let e = bad(&format!(
        "{CONCURRENCY}FAS_STARTED_MACHINE_COUNT = \"1\"\nFAS_INTERVAL = \"0s\""
    ));
    assert!(e.contains("FAS_INTERVAL: must be longer than 0s"), "{e}");
    let e = bad(
        "FAS_PROMETHEUS_METRIC_NAME = \"c\"\nFAS_PROMETHEUS_QUERY = \"sum(fly_app_concurency)\"\nFAS_STARTED_MACHINE_COUNT = \"c\"",
    );
    assert!(e.contains(":32:29:") && e.contains("unknown metric"), "{e}");
    let e = bad(&format!(
        "{CONCURRENCY}FAS_STARTED_MACHINE_COUNT = \"1\"\nFAS_PROCESS_GROUP = \"worker\""
    ));
    assert!(e.contains("no process group \"worker\""), "{e}");
    let e = bad(&format!(
        "{CONCURRENCY}FAS_STARTED_MACHINE_COUNT = \"1\"\nFAS_INITIAL_MACHINE_STATE = \"suspended\""
    ));
    assert!(e.contains("\"started\" or \"stopped\""), "{e}");
}

/// Runs `world` with one collector `m` on `query` (a started count that never acts) and gives
/// the value each reconcile read.
fn readings(machines: &str, query: &str, traffic: &str, extra: &str) -> Vec<(u64, f64)> {
    let fas = format!(
        "FAS_PROMETHEUS_METRIC_NAME = \"m\"\nFAS_PROMETHEUS_QUERY = \"{query}\"\nFAS_MIN_STARTED_MACHINE_COUNT = \"0 * m\"\nFAS_MAX_STARTED_MACHINE_COUNT = \"100\"\n"
    );
    let text = world(machines, &fas, &format!("{traffic}{extra}"));
    let sc = scenario(&text);
    let sim = run(&sc, 0);
    reconciles(&sim)
        .iter()
        .map(|r| (r.at.0 / S, r.values[0]))
        .collect()
}

#[test]
fn the_simulated_prometheus_holds_what_fly_exposes() {
    let one = r#"[{ count = 1, regions = ["ams"] }]"#;
    let steady = "[[app.traffic]]\nfrom = \"ams\"\nshape = \"constant\"\nrps = 4\n";
    let at = |r: &[(u64, f64)], t: u64| r.iter().find(|x| x.0 == t).unwrap().1;
    // 4 requests a second of 1 s each: 4 in flight; 4 served a second at the edge.
    let r = readings(one, "sum(fly_app_concurrency{app='web'})", steady, "");
    assert_eq!(at(&r, 300), 4.0);
    let r = readings(
        one,
        "sum(rate(fly_edge_http_responses_count{status='200'}[1m]))",
        steady,
        "",
    );
    assert_eq!(at(&r, 300), 4.0);
    let r = readings(
        one,
        "sum(increase(fly_app_http_responses_count[2m]))",
        steady,
        "",
    );
    assert_eq!(at(&r, 300), 480.0);
    // Every response takes exactly 1 s: the median interpolates inside (0.5, 1].
    let q =
        "histogram_quantile(0.5, sum(rate(fly_app_http_response_time_seconds_bucket[1m])) by (le))";
    let r = readings(one, q, steady, "");
    assert_eq!(at(&r, 300), 0.75);
    let r = readings(
        one,
        "sum(fly_app_http_response_time_seconds_sum) / sum(fly_app_http_response_time_seconds_count)",
        steady,
        "",
    );
    assert_eq!(at(&r, 300), 1.0);
    // Instance series exist only for started Machines: one of two stopped.
    let two = r#"[{ count = 1, regions = ["ams"] }, { count = 1, regions = ["ams"], state = "stopped" }]"#;
    let r = readings(two, "count(fly_instance_up)", "", "");
    assert_eq!(at(&r, 60), 1.0);
    let r = readings(two, "count(fly_app_concurrency)", "", "");
    assert_eq!(at(&r, 60), 2.0);
    // No series at all: an empty result skips the reconcile; `or vector(0)` reads 0.
    let r = readings(one, "sum(fly_app_concurrency{region='fra'})", "", "");
    assert!(r.iter().all(|x| x.1.is_nan()));
    let r = readings(
        one,
        "sum(fly_app_concurrency{region='fra'}) or vector(0)",
        "",
        "",
    );
    assert_eq!(at(&r, 60), 0.0);
}

#[test]
fn fly_instance_cpu_counts_centiseconds_of_cpu_time() {
    // Half a second of CPU per request on a performance vCPU, two a second: one vCPU busy.
    let one = r#"[{ count = 1, regions = ["ams"] }]"#;
    let text = world(
        one,
        "FAS_PROMETHEUS_METRIC_NAME = \"busy\"\nFAS_PROMETHEUS_QUERY = \"sum(rate(fly_instance_cpu{mode='user'}[1m])) / 100\"\nFAS_MIN_STARTED_MACHINE_COUNT = \"0 * busy\"\nFAS_MAX_STARTED_MACHINE_COUNT = \"100\"\n",
        "[[app.traffic]]\nfrom = \"ams\"\nshape = \"constant\"\nrps = 2\n",
    )
    .replace(
        "request = { service_time = \"1s\" }",
        "request = { service_time = \"500ms\", cpu_share = 1.0 }",
    )
    .replace(
        "[app.autoscaler]",
        "[[app.fly.vm]]\nsize = \"performance-2x\"\n[app.autoscaler]",
    );
    let sc = scenario(&text);
    let sim = run(&sc, 0);
    let r = at(&sim, 300);
    assert!((r.values[0] - 1.0).abs() < 1e-9, "{r:?}");
}
