//! `[[deploy]]` and health checks: each strategy on tiny scenarios, to the millisecond, and
//! the state flyctl leaves an app in when the new version fails its checks.

use flysim::engine::SimTime;
use flysim::metrics::FailReason;
use flysim::platform::deploys::Outcome;
use flysim::platform::machine::MState;

use super::common::*;

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;

/// One app `web` in iad with `count` Machines, a 1 s boot, a 1.5 s app boot, a 1 s create,
/// no stop overhead and one request a second from 0.5 s (40 ms each); `checks` is the
/// http_service's checks table (or empty), `extra` is appended (deploys).
fn world(count: u32, checks: &str, extra: &str) -> String {
    format!(
        r#"
name = "deploys"
duration = "10m"
[platform]
boot_time = "1s"
create_time = "1s"
stop_overhead = "0s"
[[region]]
code = "iad"
hosts = 4
[[app]]
name = "web"
app_boot = "1.5s"
request = {{ service_time = "40ms" }}
machines = [{{ count = {count}, regions = ["iad"] }}]
[[app.traffic]]
from = "iad"
shape = "constant"
rps = 1
start = "0.5s"
[app.fly]
primary_region = "iad"
[app.fly.http_service]
auto_stop_machines = "off"
auto_start_machines = false
[app.fly.http_service.concurrency]
type = "requests"
soft_limit = 10
hard_limit = 20
{checks}
[[app.fly.vm]]
size = "shared-cpu-1x"
{extra}
"#
    )
}

const CHECKS: &str = r#"[[app.fly.http_service.checks]]
grace_period = "2s"
interval = "10s"
timeout = "2s"
"#;

fn deploy(strategy: &str, more: &str) -> String {
    format!("[[deploy]]\nat = \"100s\"\napp = \"web\"\nstrategy = \"{strategy}\"\n{more}\n")
}

/// When each Machine became started after `from` (ordinal, ms).
fn started_after(sim: &flysim::platform::Sim, from: u64) -> Vec<(u32, u64)> {
    sim.trace()
        .unwrap()
        .iter()
        .filter(|t| t.to == MState::Started && t.at.0 >= from)
        .map(|t| (sim.machines()[t.machine.0 as usize].ordinal, t.at.0 / MS))
        .collect()
}

fn failed(sim: &flysim::platform::Sim) -> u64 {
    sim.rec.apps[0].failed_total()
}

#[test]
fn immediate_on_one_machine_fails_the_requests_between_its_stop_and_its_boot() {
    let sc = scenario(&world(1, "", &deploy("immediate", "")));
    let mut sim = flysim::platform::Sim::new(&sc, 0).with_trace();
    sim.run();
    // Stopped at 100 s (nothing in flight, no stop overhead), booted again by 102.5 s: the
    // requests of 100.5 s and 101.5 s find no Machine; 102.5 s is served.
    assert_eq!(started_after(&sim, 1), vec![(0, 102_500)]);
    assert_eq!(failed(&sim), 2);
    let d = &sim.deploys()[0];
    assert_eq!(d.outcome, Outcome::Complete);
    assert_eq!(d.started, Some(SimTime(100 * S)));
    assert_eq!(d.ended, Some(SimTime(102_500 * MS)));
    assert_eq!(d.replaced, 1);
    assert_eq!(d.during[0], 2);
    assert_eq!(sim.machines()[0].version, 1);
}

#[test]
fn immediate_with_checks_fails_until_the_checks_pass() {
    let sc = scenario(&world(1, CHECKS, &deploy("immediate", "")));
    let mut sim = flysim::platform::Sim::new(&sc, 0).with_trace();
    sim.run();
    // The VM is up at 101 s; its first check runs at 101 + 2 s grace = 103 s, after the app
    // booted (102.5 s): 100.5, 101.5 and 102.5 s fail, 103.5 s is served.
    assert_eq!(failed(&sim), 3);
    // While flyctl updates it the proxy has no Machine; once it runs, an unhealthy one.
    let by = &sim.rec.apps[0].failed;
    assert_eq!(by[FailReason::NoMachine as usize], 2);
    assert_eq!(by[FailReason::Unhealthy as usize], 1);
    // flyctl does not wait: the deploy is over when the Machine is started again.
    assert_eq!(sim.deploys()[0].ended, Some(SimTime(102_500 * MS)));
}

#[test]
fn rolling_replaces_three_machines_one_after_another() {
    let sc = scenario(&world(3, CHECKS, &deploy("rolling", "max_unavailable = 1")));
    let mut sim = flysim::platform::Sim::new(&sc, 0).with_trace();
    sim.run();
    // Each: stopped, booted (VM up +1 s, app up +2.5 s), checks pass at VM up + 2 s grace;
    // the next begins then.
    assert_eq!(
        started_after(&sim, 1),
        vec![(0, 102_500), (1, 105_500), (2, 108_500)]
    );
    let d = &sim.deploys()[0];
    assert_eq!(d.outcome, Outcome::Complete);
    assert_eq!(d.ended, Some(SimTime(109 * S)));
    assert_eq!(d.replaced, 3);
    // Two Machines always took the traffic.
    assert_eq!(failed(&sim), 0);
    assert!(sim.machines().iter().all(|m| m.version == 1));
}

#[test]
fn rolling_with_a_fraction_updates_a_pool_after_the_spearhead() {
    // 0.5 of 4 started Machines → a pool of 2 after the first one.
    let sc = scenario(&world(
        4,
        CHECKS,
        &deploy("rolling", "max_unavailable = 0.5"),
    ));
    let mut sim = flysim::platform::Sim::new(&sc, 0).with_trace();
    sim.run();
    assert_eq!(
        started_after(&sim, 1),
        vec![(0, 102_500), (1, 105_500), (2, 105_500), (3, 108_500)]
    );
    assert_eq!(sim.deploys()[0].ended, Some(SimTime(109 * S)));
}

#[test]
fn bluegreen_under_the_soft_limit_fails_nothing_and_bills_the_overlap() {
    let sc = scenario(&world(2, CHECKS, &deploy("bluegreen", "")));
    let mut sim = flysim::platform::Sim::new(&sc, 0).with_trace();
    sim.run();
    let d = &sim.deploys()[0];
    assert_eq!(d.outcome, Outcome::Complete, "{}", d.why);
    assert_eq!(failed(&sim), 0);
    // Green web:2 created at 101 s, web:3 at 102 s (one create in flight: ceil(2/3)); they
    // pass their checks at 104 s and 105 s; traffic switches at 105 s, the blue ones are
    // cordoned at 115 s, stopped at 125 s and destroyed a poll later.
    assert_eq!(started_after(&sim, 1), vec![(2, 103_500), (3, 104_500)]);
    let blue: Vec<_> = sim.machines()[..2].iter().map(|m| m.state).collect();
    assert_eq!(blue, vec![MState::Destroyed, MState::Destroyed]);
    assert_eq!(d.ended, Some(SimTime(126 * S)));
    assert_eq!(d.replaced, 2);
    assert_eq!(d.created.len(), 2);
    // Billing: each blue Machine started for 125 s, then stopped (rootfs only) for 1 s; each
    // green one started from its boot's end (transient states are not billed by default).
    let rate = sc.started_price(0, 0, 0, &sc.apps[0].groups[0].vm);
    let end = sim.end();
    let blue_cost: f64 = sim.machines()[..2]
        .iter()
        .map(|m| sim.machine_cost(m, end).compute)
        .sum();
    assert!(
        (blue_cost - 2.0 * 125.0 * rate).abs() < 1e-12,
        "{blue_cost}"
    );
    let green_cost: f64 = sim.machines()[2..]
        .iter()
        .map(|m| sim.machine_cost(m, end).compute)
        .sum();
    let green_s = (600.0 - 103.5) + (600.0 - 104.5);
    assert!((green_cost - green_s * rate).abs() < 1e-12, "{green_cost}");
}

#[test]
fn bluegreen_without_checks_is_refused() {
    let sc = scenario(&world(2, "", &deploy("bluegreen", "")));
    let sim = run(&sc, 0);
    let d = &sim.deploys()[0];
    assert_eq!(d.outcome, Outcome::NoChecks);
    assert_eq!(sim.machines().len(), 2);
    assert_eq!(failed(&sim), 0);
}

const FAILS: &str = "fail = \"health\"";

#[test]
fn a_failing_rolling_deploy_stops_after_the_spearhead() {
    let sc = scenario(&world(
        3,
        CHECKS,
        &deploy("rolling", &format!("max_unavailable = 1\n{FAILS}")),
    ));
    let mut sim = flysim::platform::Sim::new(&sc, 0).with_trace();
    sim.run();
    let d = &sim.deploys()[0];
    assert_eq!(d.outcome, Outcome::Failed);
    // The spearhead started at 102.5 s and never passed; flyctl gave up wait_timeout (5 min)
    // after it started; the two others were never touched and serve the traffic.
    assert_eq!(d.ended, Some(SimTime(402_500 * MS)));
    let versions: Vec<u16> = sim.machines().iter().map(|m| m.version).collect();
    assert_eq!(versions, vec![1, 0, 0]);
    assert_eq!(failed(&sim), 0);
    assert!(d.why.contains("web:0"), "{}", d.why);
}

#[test]
fn a_failing_immediate_deploy_takes_the_app_down_and_reports_success() {
    let sc = scenario(&world(2, CHECKS, &deploy("immediate", FAILS)));
    let sim = run(&sc, 0);
    let d = &sim.deploys()[0];
    assert_eq!(d.outcome, Outcome::Complete);
    // Every Machine runs the failing version: from 100 s nothing is served.
    assert!(sim.machines().iter().all(|m| m.version == 1));
    assert_eq!(failed(&sim), 500);
}

#[test]
fn a_failing_canary_leaves_the_canary_and_changes_nothing_else() {
    let sc = scenario(&world(2, CHECKS, &deploy("canary", FAILS)));
    let sim = run(&sc, 0);
    let d = &sim.deploys()[0];
    assert_eq!(d.outcome, Outcome::Failed);
    assert_eq!(sim.machines().len(), 3);
    let canary = &sim.machines()[2];
    assert_eq!(canary.state, MState::Started);
    assert_eq!(canary.version, 1);
    assert_eq!(sim.machines()[0].version, 0);
    assert_eq!(sim.machines()[1].version, 0);
    assert_eq!(failed(&sim), 0);
}

#[test]
fn a_canary_that_passes_is_destroyed_and_the_rollout_rolls() {
    let sc = scenario(&world(2, CHECKS, &deploy("canary", "max_unavailable = 1")));
    let mut sim = flysim::platform::Sim::new(&sc, 0).with_trace();
    sim.run();
    let d = &sim.deploys()[0];
    assert_eq!(d.outcome, Outcome::Complete, "{}", d.why);
    // Canary created at 101 s, started 103.5 s, healthy at 104 s (VM up 102 s + 2 s): then
    // destroyed, and web:0 and web:1 roll as usual.
    assert_eq!(
        started_after(&sim, 1),
        vec![(2, 103_500), (0, 106_500), (1, 109_500)]
    );
    assert_eq!(sim.machines()[2].state, MState::Destroyed);
    assert_eq!(d.replaced, 2);
}

#[test]
fn a_failing_bluegreen_rolls_back_and_the_blue_machines_serve_throughout() {
    let sc = scenario(&world(2, CHECKS, &deploy("bluegreen", FAILS)));
    let sim = run(&sc, 0);
    let d = &sim.deploys()[0];
    assert_eq!(d.outcome, Outcome::RolledBack);
    // The green Machines were destroyed when their checks had not passed wait_timeout after
    // the last one started (104.5 s + 300 s).
    assert_eq!(d.ended, Some(SimTime(404_500 * MS)));
    assert!(
        sim.machines()[2..]
            .iter()
            .all(|m| m.state == MState::Destroyed)
    );
    assert!(
        sim.machines()[..2]
            .iter()
            .all(|m| m.state == MState::Started && m.version == 0)
    );
    assert_eq!(failed(&sim), 0);
}

#[test]
fn a_failed_release_command_aborts_before_any_machine_changes() {
    let text = world(
        2,
        CHECKS,
        &deploy(
            "rolling",
            "release_time = \"20s\"\nrelease_fail_probability = 1",
        ),
    )
    .replace(
        "[app.fly]\n",
        "[app.fly]\ndeploy = { release_command = \"bin/migrate\" }\n",
    );
    let sc = scenario(&text);
    let sim = run(&sc, 0);
    let d = &sim.deploys()[0];
    assert_eq!(d.outcome, Outcome::ReleaseFailed);
    // Its Machine booted (1 s) and ran 20 s.
    assert_eq!(d.ended, Some(SimTime(121 * S)));
    assert!((d.release_s - 21.0).abs() < 1e-9);
    assert!(sim.machines().iter().all(|m| m.version == 0));
}

#[test]
fn a_deploy_discards_snapshots_and_updates_stopped_machines_without_starting_them() {
    // Both Machines are suspended by autostop long before the deploy.
    let text = world(2, "", &deploy("rolling", ""))
        .replace("at = \"100s\"", "at = \"300s\"")
        .replace("rps = 1\n", "rps = 0\n")
        .replace(
            "auto_stop_machines = \"off\"",
            "auto_stop_machines = \"suspend\"",
        )
        .replace(
            "stop_overhead = \"0s\"\n",
            "stop_overhead = \"0s\"\nautostop_interval = \"10s\"\nautostop_min_runtime = \"0s\"\n",
        );
    let sc = scenario(&text);
    let mut sim = flysim::platform::Sim::new(&sc, 0).with_trace();
    sim.run();
    let d = &sim.deploys()[0];
    assert_eq!(d.outcome, Outcome::Complete);
    assert_eq!(d.ended, Some(SimTime(300 * S)));
    assert_eq!(d.replaced, 2);
    // Suspended → stopped (the snapshot is gone), at the new version, not started.
    let at_deploy: Vec<MState> = sim
        .trace()
        .unwrap()
        .iter()
        .filter(|t| t.at == SimTime(300 * S))
        .map(|t| t.to)
        .collect();
    assert_eq!(at_deploy, vec![MState::Stopped, MState::Stopped]);
    assert!(
        sim.machines()
            .iter()
            .all(|m| m.state == MState::Stopped && m.version == 1 && m.book.snapshots_lost == 1)
    );
}

#[test]
fn a_bluegreen_after_a_rolled_back_one_replaces_the_machines_that_are_there() {
    // The first release fails and its green Machines (web:2, web:3) go; the second one's green
    // Machines (web:4, web:5) stand beside web:0 and web:1, which it destroys.
    let text = world(
        2,
        CHECKS,
        &format!(
            "{}{}",
            deploy("bluegreen", FAILS),
            deploy("bluegreen", "").replace("at = \"100s\"", "at = \"450s\"")
        ),
    );
    let sc = scenario(&text);
    let sim = run(&sc, 0);
    assert_eq!(sim.deploys()[0].outcome, Outcome::RolledBack);
    assert_eq!(
        sim.deploys()[1].outcome,
        Outcome::Complete,
        "{}",
        sim.deploys()[1].why
    );
    let live: Vec<(u32, u16)> = sim
        .machines()
        .iter()
        .filter(|m| m.state != MState::Destroyed)
        .map(|m| (m.ordinal, m.version))
        .collect();
    assert_eq!(live, vec![(4, 2), (5, 2)]);
    assert_eq!(failed(&sim), 0);
}

#[test]
fn with_the_proxy_queue_requests_wait_for_a_machine_to_pass_its_checks() {
    // Fly's proxy: when no Machine is healthy, "the connection will block, waiting for a
    // Machine to become healthy". With a queue, the request of 102.5 s (the Machine started,
    // its first check at 103 s) waits and is served at 103 s.
    let text = world(1, CHECKS, &deploy("immediate", "")).replace(
        "stop_overhead = \"0s\"\n",
        "stop_overhead = \"0s\"\nmax_queue_wait = \"10s\"\n",
    );
    let sc = scenario(&text);
    let sim = run(&sc, 0);
    let by = &sim.rec.apps[0].failed;
    assert_eq!(by[FailReason::NoMachine as usize], 2);
    assert_eq!(by[FailReason::Unhealthy as usize], 0);
    assert_eq!(sim.rec.apps[0].queued, 1);
}

#[test]
fn a_bluegreen_without_room_for_its_green_machines_rolls_back() {
    // One host with room for the two blue Machines only: the first green create fails.
    let text = world(2, CHECKS, &deploy("bluegreen", "")).replace(
        "hosts = 4\n",
        "hosts = 1\nhost = { cpus = 2, memory = \"1gb\" }\n",
    );
    let sc = scenario(&text);
    let sim = run(&sc, 0);
    let d = &sim.deploys()[0];
    assert_eq!(d.outcome, Outcome::RolledBack);
    assert_eq!(d.ended, Some(SimTime(101 * S)));
    assert!(d.why.contains("no host in iad has room"), "{}", d.why);
    assert_eq!(sim.machines().len(), 2);
    assert!(
        sim.machines()
            .iter()
            .all(|m| m.state == MState::Started && m.version == 0)
    );
    assert_eq!(failed(&sim), 0);
}
