//! Host failures, standbys and volumes: closed forms over replications, and scheduled
//! failures checked exactly.

use flysim::platform::Sim;
use flysim::platform::machine::MState;

use super::common::*;

/// One worker process group (no services) in ams; `extra` goes after the app.
fn worker_app(machines: &str, extra: &str, platform: &str, duration: &str) -> String {
    format!(
        r#"
name = "workers"
duration = "{duration}"
bucket = "1h"
[platform]
boot_time = "1ms"
{platform}
[[region]]
code = "ams"
hosts = 4
[[region]]
code = "fra"
hosts = 2
[[app]]
name = "jobs"
app_boot = "0s"
machines = {machines}
[app.fly]
primary_region = "ams"
[app.fly.processes]
worker = "run"
{extra}
"#
    )
}

#[test]
fn one_machine_availability_is_mtbf_over_mtbf_plus_mttr() {
    // Exponential up times (MTBF 10 h) and repairs (MTTR 1 h), boot ≈ 0:
    // unavailability = MTTR / (MTBF + MTTR) = 1/11.
    let text = worker_app(
        "[{ count = 1, regions = [\"ams\"] }]",
        "[[fault]]\nkind = \"host_failures\"\nmtbf = \"10h\"\nrepair = { dist = \"exponential\", mean = \"1h\" }\nregions = [\"ams\"]",
        "",
        "4000h",
    );
    let sc = scenario(&text);
    let u: Vec<f64> = (0..20)
        .map(|rep| 1.0 - run(&sc, rep).group_availability(0, 0))
        .collect();
    let (mean, half) = mean_ci(&u);
    let expected = 1.0 / 11.0;
    let half = half * 3.883 / 2.093; // 99.9 % band, 19 degrees of freedom
    assert!(
        (mean - expected).abs() <= half,
        "unavailability {mean} ± {half}, expected {expected}"
    );
    assert!(half < 0.05 * expected, "band ±{half} too wide");
}

#[test]
fn a_standby_elsewhere_caps_each_outage_at_detection_plus_boot() {
    // The worker's hosts (ams) fail with MTBF 10 h, MTTR 1 h; its standby runs in fra, which
    // never fails, and stops again when the worker is back. Each outage lasts
    // min(repair, d) with d = detection 60 s + boot: expected downtime per failure
    // MTTR (1 − e^(−d/MTTR)), unavailability that over MTBF + MTTR.
    let text = worker_app(
        "[{ count = 1, regions = [\"ams\"] }, { count = 1, regions = [\"fra\"], standby_for = \"jobs:0\" }]",
        "[[fault]]\nkind = \"host_failures\"\nmtbf = \"10h\"\nrepair = { dist = \"exponential\", mean = \"1h\" }\nregions = [\"ams\"]",
        "standby_on_host_return = \"standby_stops\"\nstop_overhead = \"0s\"",
        "4000h",
    );
    let sc = scenario(&text);
    let d = 60.001;
    let expected = 3600.0 * (1.0 - (-d / 3600.0f64).exp()) / (36_000.0 + 3600.0);
    let mut u = Vec::new();
    for rep in 0..20 {
        let sim = run(&sc, rep);
        u.push(1.0 - sim.group_availability(0, 0));
        // Every takeover took exactly detection + boot (+ app boot 0).
        for inc in sim.incidents() {
            if let Some(t) = inc.takeover {
                assert_eq!((t - inc.start).0, 60_001_000_000);
            }
        }
        assert!(
            sim.incidents()
                .iter()
                .filter(|i| i.takeover.is_some())
                .count()
                > 50
        );
    }
    let (mean, half) = mean_ci(&u);
    let half = half * 3.883 / 2.093;
    assert!(
        (mean - expected).abs() <= half,
        "unavailability {mean} ± {half}, expected {expected}"
    );
    assert!(half < 0.05 * expected, "band ±{half} too wide");
}

fn web_with_outage(count: u32, extra_platform: &str) -> String {
    format!(
        r#"
name = "outage"
duration = "8h"
[platform]
boot_time = "1.2s"
{extra_platform}
[[region]]
code = "ams"
hosts = 4
[[app]]
name = "web"
machines = [{{ count = {count}, regions = ["ams"] }}]
request = {{ service_time = "10ms" }}
app_boot = "3s"
[app.fly]
primary_region = "ams"
[app.fly.http_service]
[[app.traffic]]
from = "ams"
shape = "constant"
rps = 1
[[fault]]
kind = "host_down"
target = "web:0"
at = "6h"
for = "45m"
"#
    )
}

#[test]
fn scheduled_outage_of_a_lone_machine_exactly() {
    // Requests every second. The host fails at 21600 s and returns at 24300 s; the Machine
    // then boots (1.2 s + 3 s). Requests arriving in [21600, 24300) fail: 2700. Those from
    // 24300 on wait for the boot and are served (cold).
    let sc = scenario(&web_with_outage(1, ""));
    let sim = run(&sc, 0);
    let r = &sim.rec.apps[0];
    assert_eq!(r.failed_total(), 2700);
    assert_eq!(r.offered, 8 * 3600);
    assert_eq!(r.cold_starts, 5); // 24300 ... 24304
    let inc = &sim.incidents()[0];
    assert_eq!(inc.detected.unwrap().0, 21_660_000_000_000);
    assert_eq!(inc.host_back.unwrap().0, 24_300_000_000_000);
    assert_eq!(inc.recovered.unwrap().0, 24_304_200_000_000);
    assert_eq!(inc.requests_failed_during, 2700);
    let m = &sim.machines()[0];
    assert_eq!(
        m.time_in_until(sim.end())[MState::Down as usize],
        2700 * 1_000_000_000
    );
}

#[test]
fn two_machines_fail_over_until_detection_then_route_around() {
    // The second Machine is on another host: requests sent to the dead one before detection
    // fail over after dead_retry_delay (1 s) and are served; none fails.
    let sc = scenario(&web_with_outage(2, ""));
    let sim = run(&sc, 0);
    let r = &sim.rec.apps[0];
    assert_eq!(r.failed_total(), 0);
    assert_ne!(sim.machines()[0].host, sim.machines()[1].host);
    // Failovers happen only in the 60 s before detection, for requests the proxy sent to the
    // dead Machine (random tie-break: about half of them).
    assert!(r.served == r.offered);
    assert!(sim.incidents()[0].requests_failed_on_host == 0);
}

fn standby_text(policy: &str) -> String {
    worker_app(
        "[{ count = 1, regions = [\"ams\"] }, { count = 1, regions = [\"ams\"], standby_for = \"jobs:0\" }]",
        "[[fault]]\nkind = \"host_down\"\ntarget = \"jobs:0\"\nat = \"6h\"\nfor = \"45m\"",
        &format!("boot_time = \"1.2s\"\nstop_overhead = \"1s\"\nstandby_on_host_return = \"{policy}\""),
        "24h",
    )
    .replace("app_boot = \"0s\"", "app_boot = \"3s\"")
    .replace("boot_time = \"1ms\"\n", "")
}

#[test]
fn standby_takeover_and_host_return_exactly() {
    for (policy, standby_final, standby_started_s) in [
        ("both_run", MState::Started, 86400.0 - 21664.2),
        ("standby_stops", MState::Stopped, 24304.2 - 21664.2),
    ] {
        let sc = scenario(&standby_text(policy));
        let mut sim = Sim::new(&sc, 0).with_trace();
        sim.run();
        assert_ne!(
            sim.machines()[0].host,
            sim.machines()[1].host,
            "a standby never shares its watched Machine's host"
        );
        let inc = &sim.incidents()[0];
        // Takeover: detection 60 s + boot 1.2 s + app boot 3 s after the failure.
        assert_eq!(
            (inc.takeover.unwrap() - inc.start).0,
            64_200_000_000,
            "{policy}"
        );
        assert_eq!(sim.machines()[1].state, standby_final, "{policy}");
        let started =
            sim.machines()[1].time_in_until(sim.end())[MState::Started as usize] as f64 / 1e9;
        assert!(
            (started - standby_started_s).abs() < 1e-6,
            "{policy}: {started}"
        );
        // The worker group was down for exactly the takeover time.
        let a = sim.group_availability(0, 0);
        assert!((a - (1.0 - 64.2 / 86400.0)).abs() < 1e-12, "{policy}: {a}");
    }
}

#[test]
fn a_volume_machine_stays_on_its_host_and_a_lost_volume_never_returns() {
    let base = worker_app(
        "[{ count = 1, regions = [\"ams\"] }]",
        "[[app.fly.mounts]]\nsource = \"data\"\ndestination = \"/data\"\ninitial_size = \"10gb\"\n[[fault]]\nkind = \"host_down\"\ntarget = \"jobs:0\"\nat = \"6h\"\nfor = \"45m\"",
        "",
        "24h",
    );
    let sc = scenario(&base);
    let mut sim = Sim::new(&sc, 0).with_trace();
    let host = sim.machines()[0].host;
    sim.run();
    assert_eq!(sim.machines()[0].host, host);
    let down_for = sim.machines()[0].time_in_until(sim.end())[MState::Down as usize];
    assert_eq!(down_for, 45 * 60 * 1_000_000_000);
    assert_eq!(sim.machines()[0].state, MState::Started);
    // With certain volume loss: down from 6 h to the end; 6 h of writes lost since midnight.
    let lost = scenario(&base.replace("[platform]", "[platform]\nvolume_loss_probability = 1.0"));
    let sim = run(&lost, 0);
    assert_eq!(sim.machines()[0].state, MState::Down);
    assert_eq!(sim.incidents()[0].volumes_lost, 1);
    assert!((sim.incidents()[0].data_lost_hours - 6.0).abs() < 1e-9);
    let s = flysim::run::summary::summary(&sim, 0);
    assert_eq!(s.volumes.lost, 1);
    assert!((s.workers["worker"].availability - 0.25).abs() < 1e-9);
}

#[test]
fn crashes_follow_the_restart_policy() {
    let text = |policy: &str| {
        worker_app(
            "[{ count = 1, regions = [\"ams\"] }]",
            &format!(
                "[[app.fly.restart]]\npolicy = \"{policy}\"\n[[fault]]\nkind = \"machine_crashes\"\nmtbf = \"1h\""
            ),
            "",
            "48h",
        )
    };
    let always = scenario(&text("always"));
    let sim = run(&always, 0);
    assert!(
        sim.machines()[0].crashes > 20,
        "{}",
        sim.machines()[0].crashes
    );
    assert_eq!(sim.machines()[0].starts, sim.machines()[0].crashes);
    let never = scenario(&text("never"));
    let sim = run(&never, 0);
    assert_eq!(
        (sim.machines()[0].crashes, sim.machines()[0].starts),
        (1, 0)
    );
    assert_eq!(sim.machines()[0].state, MState::Stopped);
}
