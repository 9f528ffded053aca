//! Tiny scenarios whose results are computed by hand and checked exactly.

use flysim::engine::SimTime;
use flysim::platform::ids::MachineId;
use flysim::platform::machine::MState;

use super::common::*;

/// One app in iad on one host; `app_lines` go into its `[[app]]` table, `fly_lines` into its
/// `[app.fly.http_service]`, `tail` after everything (e.g. `[[app.traffic]]`).
fn one_app(app_lines: &str, fly_lines: &str, tail: &str) -> String {
    format!(
        r#"
[[region]]
code = "iad"
hosts = 1
[[app]]
name = "web"
app_boot = "1.5s"
request = {{ service_time = "40ms" }}
{app_lines}
[app.fly]
primary_region = "iad"
[app.fly.http_service]
{fly_lines}
[[app.fly.vm]]
size = "shared-cpu-1x"
{tail}
"#
    )
}

#[test]
fn cost_to_the_cent_for_known_state_times() {
    // Started for 10 days (the app exits after 10 idle days), then stopped for 20.
    // Compute: shared-cpu-1x 256 MB in iad costs $0.0000008465 per second (Fly's pricing
    // page) → × 864,000 s = $0.731376.
    // Rootfs: 1 GB stopped for 20 days at $0.15 per GB per 30 days → 0.15 × 20/30 = 0.10.
    let text = format!(
        "name = \"cost\"\nduration = \"30d\"\n[platform]\nstop_overhead = \"0s\"\n{}",
        one_app(
            "machines = [{ count = 1, regions = [\"iad\"] }]\nidle_exit = \"10d\"\nrootfs = \"1GB\"",
            "",
            ""
        )
    );
    let sc = scenario(&text);
    let sim = run(&sc, 0);
    let m = &sim.machines()[0];
    let t = m.time_in_until(sim.end());
    assert_eq!(t[MState::Started as usize], 10 * 86_400 * 1_000_000_000);
    assert_eq!(t[MState::Stopped as usize], 20 * 86_400 * 1_000_000_000);
    let cost = sim.cost_until(sim.end());
    let compute = 0.000_000_846_5 * 864_000.0;
    let rootfs = 0.15 * 20.0 / 30.0;
    assert!((cost.compute - compute).abs() < 1e-9, "{}", cost.compute);
    assert!((cost.rootfs - rootfs).abs() < 1e-9, "{}", cost.rootfs);
    assert_eq!(format!("{:.2}", cost.total()), "0.83");
}

fn stopped_machine_with_requests_at(times_s: &[f64]) -> String {
    // Constant traffic at 1 request/s from the first time to just after the last.
    let start = times_s[0];
    let end = times_s[times_s.len() - 1] + 0.5;
    let traffic = format!(
        "[[app.traffic]]\nfrom = \"iad\"\nshape = \"constant\"\nrps = 1\nstart = \"{start}s\"\nend = \"{end}s\""
    );
    format!(
        "name = \"cold\"\nduration = \"60s\"\n[platform]\nboot_time = \"1.3s\"\n{}",
        one_app(
            "machines = [{ count = 1, regions = [\"iad\"], state = \"stopped\" }]",
            "",
            &traffic
        )
    )
}

#[test]
fn a_request_at_a_stopped_machine_waits_exactly_boot_plus_app_boot() {
    let sc = scenario(&stopped_machine_with_requests_at(&[10.0]));
    let sim = run(&sc, 0);
    let r = &sim.rec.apps[0];
    assert_eq!((r.offered, r.served, r.cold_starts), (1, 1, 1));
    // 1.3 s boot + 1.5 s app boot, then 40 ms of service.
    assert_eq!(r.cold_wait_ns, 2_800_000_000);
    assert_eq!(r.response_ns, 2_840_000_000);
    assert_eq!(sim.machines()[0].autostarts, 1);
    assert_eq!(sim.machines()[0].state, MState::Started);
    assert_eq!(sim.machines()[0].started_at, SimTime(12_800_000_000));
}

#[test]
fn three_requests_during_one_boot_share_it() {
    // Arrivals at 10, 11 and 12 s; the boot started at 10 s ends at 12.8 s; all three wait
    // for it: responses 2.84, 1.84 and 0.84 s. One start only.
    let sc = scenario(&stopped_machine_with_requests_at(&[10.0, 11.0, 12.0]));
    let sim = run(&sc, 0);
    let r = &sim.rec.apps[0];
    assert_eq!((r.offered, r.served, r.cold_starts), (3, 3, 3));
    assert_eq!(r.response_ns, 2_840_000_000 + 1_840_000_000 + 840_000_000);
    assert_eq!(sim.machines()[0].starts, 1);
}

#[test]
fn autostop_excess_rule_then_lone_machine_timeline() {
    // Two idle Machines, passes every 150 s from 150 s (no random phase), no stop before
    // 330 s of running. At 450 s: excess = 2 − (0 + 1) = 1 → the newest (highest id on a tie)
    // stops, 1 s later. At 600 s the lone Machine has been idle for 600 s ≥ 120 s → it stops.
    let text = format!(
        "name = \"autostop\"\nduration = \"1000s\"\n[platform]\nautostop_random_phase = false\n{}",
        one_app(
            "machines = [{ count = 2, regions = [\"iad\"] }]",
            "auto_stop_machines = \"stop\"",
            ""
        )
    );
    let sc = scenario(&text);
    let mut sim = flysim::platform::Sim::new(&sc, 0).with_trace();
    sim.run();
    let s = 1_000_000_000u64;
    let trace: Vec<(u64, u32, MState)> = sim
        .trace()
        .unwrap()
        .iter()
        .map(|t| (t.at.0 / s, t.machine.0, t.to))
        .collect();
    assert_eq!(
        trace,
        vec![
            (450, 1, MState::Stopping),
            (451, 1, MState::Stopped),
            (600, 0, MState::Stopping),
            (601, 0, MState::Stopped),
        ]
    );
}

#[test]
fn suspend_falls_back_to_stop_above_the_memory_limit() {
    let text = format!(
        "name = \"suspend\"\nduration = \"1000s\"\n[platform]\nautostop_random_phase = false\n{}",
        one_app(
            "machines = [{ count = 1, regions = [\"iad\"] }]",
            "auto_stop_machines = \"suspend\"",
            ""
        )
    );
    let small = scenario(&text);
    let sim = run(&small, 0);
    assert_eq!(sim.machines()[0].state, MState::Suspended);
    let big = scenario(&text.replace(
        "size = \"shared-cpu-1x\"",
        "size = \"shared-cpu-1x\"\nmemory = \"4gb\"",
    ));
    let sim = run(&big, 0);
    assert_eq!(sim.machines()[0].state, MState::Stopped);
    // ... and validation says so, for the small Machine not.
    let warned = |text: &str| {
        flysim::scenario::from_str(text, "s.toml", &[])
            .unwrap()
            .notes
            .iter()
            .any(|n| n.message.contains("stops these Machines instead"))
    };
    assert!(!warned(&text));
    let big_text = text.replace(
        "size = \"shared-cpu-1x\"",
        "size = \"shared-cpu-1x\"\nmemory = \"4gb\"",
    );
    assert!(warned(&big_text));
}

#[test]
fn a_standby_in_a_group_with_services_is_warned_about() {
    // flyctl clears standbys on Machines with services at the next deploy.
    let text = format!(
        "name = \"sb\"\nduration = \"1h\"\n{}",
        one_app(
            "machines = [{ count = 1, regions = [\"iad\"] }, { count = 1, regions = [\"iad\"], standby_for = \"web:0\" }]",
            "",
            ""
        )
    );
    let l = flysim::scenario::from_str(&text, "sb.toml", &[]).unwrap();
    assert!(
        l.notes.iter().any(|n| n
            .message
            .contains("clears standbys on Machines with services")),
        "{:?}",
        l.notes
    );
}

#[test]
fn hard_limit_spills_to_the_next_region_only_when_full() {
    // ams has one Machine with hard limit 2; ewr one too. Three requests at once from ams: two
    // stay in ams, the third crosses the Atlantic.
    let text = r#"
name = "spill"
duration = "10s"
[[app]]
name = "web"
machines = [{ count = 2, regions = ["ams", "ewr"] }]
request = { service_time = "5s" }
[app.fly]
primary_region = "ams"
[app.fly.http_service]
[app.fly.http_service.concurrency]
type = "requests"
soft_limit = 1
hard_limit = 2
[[app.traffic]]
from = "ams"
shape = "constant"
rps = 1000
start = "1s"
end = "1.003s"
"#;
    let sc = scenario(text);
    let sim = run(&sc, 0);
    let r = &sim.rec.apps[0];
    assert_eq!((r.offered, r.served, r.cross_region), (3, 3, 1));
    assert_eq!((sim.machines()[0].served, sim.machines()[1].served), (2, 1));
    // Two requests: both stay in ams under the current rule; under the older spill-at-soft
    // rule the second already leaves, as the first put the ams Machine at its soft limit.
    let two = text.replace("end = \"1.003s\"", "end = \"1.002s\"");
    let sc = scenario(&two);
    let sim = run(&sc, 0);
    assert_eq!((sim.machines()[0].served, sim.machines()[1].served), (2, 0));
    let sc =
        flysim::scenario::from_str(&two, "t.toml", &["platform.cross_region_spill=soft".into()])
            .unwrap()
            .scenario;
    let sim = run(&sc, 0);
    assert_eq!((sim.machines()[0].served, sim.machines()[1].served), (1, 1));
    assert_eq!(sim.rec.apps[0].cross_region, 1);
}

/// One started Machine (256 MB) with `auto_stop_machines = "suspend"`, passes every 150 s from
/// 150 s: at 450 s it has run 330 s and been idle 120 s, so it suspends; the snapshot takes
/// 0.5 s + 0.25 GB × 100 s/GB = 25.5 s. `tail` adds traffic.
fn suspending_machine(tail: &str) -> String {
    format!(
        "name = \"suspending\"\nduration = \"560s\"\n[platform]\nautostop_random_phase = false\nsuspend_per_gb = \"100s\"\nresume_time = \"300ms\"\n{}",
        one_app(
            "machines = [{ count = 1, regions = [\"iad\"] }]",
            "auto_stop_machines = \"suspend\"",
            tail
        )
    )
}

#[test]
fn a_suspend_takes_longer_the_more_memory_it_copies() {
    let sc = scenario(&suspending_machine(""));
    let mut sim = flysim::platform::Sim::new(&sc, 0).with_trace();
    sim.run();
    let at: Vec<(u64, MState)> = sim
        .trace()
        .unwrap()
        .iter()
        .map(|t| (t.at.0 / 100_000_000, t.to))
        .collect();
    assert_eq!(
        at,
        vec![(4500, MState::Suspending), (4755, MState::Suspended)]
    );
}

#[test]
fn a_request_during_a_suspend_interrupts_it_and_is_served_after_a_resume() {
    // Fly's interruptible suspend: the request at 460 s starts the suspending Machine at once;
    // it serves after the 0.3 s resume, then 40 ms of service.
    let traffic = "[[app.traffic]]\nfrom = \"iad\"\nshape = \"constant\"\nrps = 1\nstart = \"460s\"\nend = \"460.5s\"";
    let sc = scenario(&suspending_machine(traffic));
    let mut sim = flysim::platform::Sim::new(&sc, 0).with_trace();
    sim.run();
    let r = &sim.rec.apps[0];
    assert_eq!((r.offered, r.served, r.failed_total()), (1, 1, 0));
    assert_eq!(r.response_ns, 340_000_000);
    let m = &sim.machines()[0];
    assert_eq!((m.suspends, m.resumes, m.state), (0, 1, MState::Started));
    let states: Vec<MState> = sim.trace().unwrap().iter().map(|t| t.to).collect();
    assert_eq!(
        states,
        vec![MState::Suspending, MState::Starting, MState::Started]
    );
}

/// iad has two hosts with room for one 256 MB Machine each. `web:0` is created first and
/// stopped, on host 0; `hog:0` is started there too and fills it. A request for web at 10 s
/// finds web:0's host full.
fn full_host(platform: &str) -> String {
    format!(
        r#"
name = "migrate"
duration = "60s"
[platform]
boot_time = "1.3s"
{platform}
[[region]]
code = "iad"
hosts = 2
host = {{ cpus = 1, memory = "256mb" }}
[[app]]
name = "web"
app_boot = "1.5s"
request = {{ service_time = "40ms" }}
machines = [{{ count = 1, regions = ["iad"], state = "stopped" }}]
[app.fly]
primary_region = "iad"
[app.fly.http_service]
auto_stop_machines = "off"
[[app.traffic]]
from = "iad"
shape = "constant"
rps = 1
start = "10s"
end = "10.5s"
[[app]]
name = "hog"
machines = [{{ count = 1, regions = ["iad"] }}]
[app.fly]
primary_region = "iad"
[app.fly.http_service]
auto_stop_machines = "off"
"#
    )
}

#[test]
fn a_start_on_a_full_host_moves_the_machine_to_one_with_room() {
    let sc = scenario(&full_host(""));
    let sim = run(&sc, 0);
    let r = &sim.rec.apps[0];
    assert_eq!((r.served, r.failed_total()), (1, 0));
    // The move (4 s), then the VM boot (1.3 s) and the app boot (1.5 s).
    assert_eq!(r.cold_wait_ns, 6_800_000_000);
    let web = &sim.machines()[0];
    assert_eq!((web.host.0, web.book.migrations), (1, 1));
    assert_eq!(sim.machines_on(flysim::platform::ids::HostId(1)).len(), 1);
    // Without the move (or with a volume) the start has nowhere to go.
    let sc = scenario(&full_host("autostart_migrate = false"));
    let sim = run(&sc, 0);
    let r = &sim.rec.apps[0];
    assert_eq!((r.served, r.failed_total()), (0, 1));
    assert_eq!(sim.machines()[0].book.migrations, 0);
}

#[test]
fn an_update_drops_a_suspended_machines_snapshot_and_its_next_start_is_cold() {
    // The Machine suspends at 450 s (25.5 s snapshot, see `suspending_machine`); `fly scale
    // vm` at 500 s drops the snapshot: stopped, host released; a request at 520 s boots cold
    // (boot 1.3 s + app boot 1.5 s, not a resume).
    let text = suspending_machine(
        "[[action]]\nat = \"500s\"\nkind = \"scale_vm\"\napp = \"web\"\nsize = \"shared-cpu-2x\"\n[[app.traffic]]\nfrom = \"iad\"\nshape = \"constant\"\nrps = 1\nstart = \"520s\"\nend = \"520.5s\"",
    )
    .replace("[platform]\n", "[platform]\nboot_time = \"1.3s\"\n");
    let sc = scenario(&text);
    let sim = run(&sc, 0);
    let m = &sim.machines()[0];
    assert_eq!((m.suspends, m.book.snapshots_lost, m.resumes), (1, 1, 0));
    assert_eq!(m.vm.cpus, 2);
    let r = &sim.rec.apps[0];
    assert_eq!((r.served, r.cold_wait_ns), (1, 2_800_000_000));
}

#[test]
fn the_closest_tiebreak_fills_one_machine_before_the_next() {
    // Three idle Machines, soft limit 2, requests of 10 s arriving 1 s apart from one edge:
    // with `closest`, the edge's preferred Machine takes the first two, the next in its order
    // the next two, and the third gets none.
    let served = |tb: &str| -> Vec<u64> {
        let text = format!(
            "name = \"closest\"\nduration = \"30s\"\n[platform]\ntiebreak = \"{tb}\"\n{}",
            one_app(
                "machines = [{ count = 3, regions = [\"iad\"] }]",
                "auto_stop_machines = \"off\"\n[app.fly.http_service.concurrency]\nsoft_limit = 2\nhard_limit = 5",
                "[[app.traffic]]\nfrom = \"iad\"\nshape = \"constant\"\nrps = 1\nstart = \"1s\"\nend = \"4.5s\""
            )
        )
        .replace("service_time = \"40ms\"", "service_time = \"10s\"");
        let sc = scenario(&text);
        let sim = run(&sc, 0);
        sim.machines().iter().map(|m| m.served).collect()
    };
    let mut closest = served("closest");
    closest.sort_unstable();
    assert_eq!(closest, vec![0, 2, 2]);
    // The order is stable: the same Machines, run after run.
    assert_eq!(served("closest"), served("closest"));
}

/// One Machine in one group reached by two services: `[http_service]` on 8080 and a
/// `[[services]]` on 9000, each with soft and hard limit 1; `http` and `tcp` are each
/// service's extra lines; `tail` adds traffic.
fn two_services(duration: &str, machines: &str, http: &str, tcp: &str, tail: &str) -> String {
    format!(
        r#"
name = "two"
duration = "{duration}"
[platform]
autostop_random_phase = false
[[region]]
code = "iad"
hosts = 1
[[app]]
name = "web"
machines = [{{ count = {machines}, regions = ["iad"] }}]
request = {{ service_time = "5s" }}
[app.fly]
primary_region = "iad"
[app.fly.http_service]
internal_port = 8080
{http}
[app.fly.http_service.concurrency]
soft_limit = 1
hard_limit = 1
[[app.fly.services]]
internal_port = 9000
{tcp}
[app.fly.services.concurrency]
soft_limit = 1
hard_limit = 1
{tail}
"#
    )
}

#[test]
fn each_service_counts_its_own_load_against_its_own_limits() {
    // Two requests to the HTTP service 1 ms apart, each of 5 s: the second finds the only
    // Machine at the service's hard limit and fails. A request to the other service between
    // them is served: that service's load on the Machine is still 0 (Fly's limits count per
    // Machine and per service).
    let tail = r#"
[[app.traffic]]
from = "iad"
shape = "constant"
rps = 1000
start = "1s"
end = "1.002s"
[[app.traffic]]
service = 9000
from = "iad"
shape = "constant"
rps = 1000
start = "1.0005s"
end = "1.0015s"
"#;
    let sc = scenario(&two_services("10s", "1", "", "", tail));
    assert_eq!(sc.apps[0].services.len(), 2);
    assert_eq!(sc.apps[0].traffic[1].service, 1);
    let sim = run(&sc, 0);
    let r = &sim.rec.apps[0];
    assert_eq!((r.offered, r.served), (3, 2));
    assert_eq!(sim.machines()[0].served, 2);
    // The same source by name goes the same way; sent to the HTTP service it fails too.
    let by_name = tail.replace("service = 9000", "service = \"services[0]\"");
    let sc = scenario(&two_services("10s", "1", "", "", &by_name));
    assert_eq!(run(&sc, 0).rec.apps[0].served, 2);
    let to_http = tail.replace("service = 9000", "service = \"http_service\"");
    let sc = scenario(&two_services("10s", "1", "", "", &to_http));
    assert_eq!(run(&sc, 0).rec.apps[0].served, 1);
}

#[test]
fn a_group_reached_by_two_services_takes_the_most_restrictive_autostop() {
    // Two idle Machines. With one service "stop" and the other "off" (or without the key,
    // which flyctl reads as off), the group never stops. With "stop" and "suspend" it stops,
    // as the lone-service timeline does: the newest at 450 s, the other at 600 s.
    let trace = |http: &str, tcp: &str| -> Vec<(u64, u32, MState)> {
        let sc = scenario(&two_services("1000s", "2", http, tcp, ""));
        let mut sim = flysim::platform::Sim::new(&sc, 0).with_trace();
        sim.run();
        sim.trace()
            .unwrap()
            .iter()
            .map(|t| (t.at.0 / 1_000_000_000, t.machine.0, t.to))
            .collect()
    };
    let stop = "auto_stop_machines = \"stop\"";
    let suspend = "auto_stop_machines = \"suspend\"";
    let off = "auto_stop_machines = \"off\"";
    assert_eq!(trace(stop, off), vec![]);
    assert_eq!(trace(stop, ""), vec![]);
    assert_eq!(trace(suspend, off), vec![]);
    let stopped = vec![
        (450, 1, MState::Stopping),
        (451, 1, MState::Stopped),
        (600, 0, MState::Stopping),
        (601, 0, MState::Stopped),
    ];
    assert_eq!(trace(stop, suspend), stopped);
    assert_eq!(trace(suspend, stop), stopped);
    assert_eq!(trace(stop, stop), stopped);
    // Both suspend: the Machines suspend.
    let both = trace(suspend, suspend);
    assert_eq!(both[0], (450, 1, MState::Suspending));
}

#[test]
fn a_service_reaching_only_some_groups_routes_only_to_them() {
    // Groups web and api; the HTTP service reaches web, the TCP service api. Fly's default
    // layout gives each group two Machines (both have a service), and each source reaches only
    // its group's Machines.
    let text = r#"
name = "groups"
duration = "10s"
[[region]]
code = "iad"
hosts = 1
[[app]]
name = "web"
request = { service_time = "10ms" }
[app.fly]
primary_region = "iad"
[app.fly.processes]
web = "serve"
api = "api"
[app.fly.http_service]
internal_port = 8080
processes = ["web"]
[[app.fly.services]]
internal_port = 9000
processes = ["api"]
[[app.traffic]]
from = "iad"
shape = "constant"
rps = 10
[[app.traffic]]
service = 9000
from = "iad"
shape = "constant"
rps = 20
"#;
    let sc = scenario(text);
    let counts: Vec<(usize, u32, bool)> = sc.apps[0]
        .machines
        .iter()
        .map(|g| (g.group, g.per_region[0].1, g.standby_for.is_empty()))
        .collect();
    assert_eq!(counts, vec![(0, 2, true), (1, 2, true)]);
    let sim = run(&sc, 0);
    let by_group = |g: u16| -> u64 {
        sim.machines()
            .iter()
            .filter(|m| m.group == g)
            .map(|m| m.served)
            .sum()
    };
    assert_eq!((by_group(0), by_group(1)), (100, 200));
}

/// One shared-cpu-1x Machine (baseline 1/16 vCPU) whose requests give their CPU time;
/// `platform` and `tail` add lines.
fn cpu_machine(platform: &str, request: &str, tail: &str) -> String {
    format!(
        r#"
name = "cpu"
duration = "2000s"
[platform]
{platform}
[[region]]
code = "iad"
hosts = 1
[[app]]
name = "web"
machines = [{{ count = 1, regions = ["iad"] }}]
request = {request}
[app.fly]
primary_region = "iad"
[app.fly.http_service]
[[app.fly.vm]]
size = "shared-cpu-1x"
{tail}
"#
    )
}

#[test]
fn a_cpu_bound_request_drains_the_balance_then_runs_at_the_baseline() {
    // Balance 5 s, one request wanting 100 s of CPU at time 0: it bursts at 1 vCPU while the
    // balance lasts, B / (u − b) = 5 / (1 − 1/16) = 16/3 s, doing 16/3 s of its work; the
    // remaining 100 − 16/3 s run at the baseline, 16 times slower: 1,514 2/3 s. It is done at
    // exactly 1,520 s.
    let text = cpu_machine(
        "",
        "{ cpu = \"100s\" }",
        "[[app.traffic]]\nfrom = \"iad\"\nshape = \"constant\"\nrps = 1\nend = \"0.5s\"",
    );
    let sc = scenario(&text);
    let sim = run(&sc, 0);
    let r = &sim.rec.apps[0];
    assert_eq!((r.served, r.served_throttled), (1, 1));
    let response_s = r.response_ns as f64 / 1e9;
    assert!((response_s - 1520.0).abs() < 1e-6, "{response_s}");
    let q = sim.quota_at(MachineId(0), sim.end()).unwrap();
    // Throttled from 16/3 s to 1,520 s; the balance then accrues for the last 480 s.
    let throttled_s = q.throttled_ns / 1e9;
    assert!(
        (throttled_s - (1520.0 - 16.0 / 3.0)).abs() < 1e-6,
        "{throttled_s}"
    );
    assert!(
        (q.balance / 1e9 - 480.0 / 16.0).abs() < 1e-6,
        "{}",
        q.balance
    );
    assert!((q.used / 1e9 - 100.0).abs() < 1e-6, "{}", q.used);
}

#[test]
fn on_an_empty_balance_cpu_time_takes_vcpus_over_baseline_times_longer() {
    // No balance: a request of 1 s of CPU takes 1 / (1/16) = 16 s; with 2 s of waiting after
    // it, 18 s. A performance-1x (baseline 10/16) takes 1.6 s + 2 s.
    let one = |size: &str| -> f64 {
        let text = cpu_machine(
            "cpu_initial_balance = \"0s\"",
            "{ cpu = \"1s\", wait = \"2s\" }",
            "[[app.traffic]]\nfrom = \"iad\"\nshape = \"constant\"\nrps = 1\nend = \"0.5s\"",
        )
        .replace("shared-cpu-1x", size);
        let sc = scenario(&text);
        let sim = run(&sc, 0);
        sim.rec.apps[0].response_ns as f64 / 1e9
    };
    assert!((one("shared-cpu-1x") - 18.0).abs() < 1e-6);
    assert!((one("performance-1x") - 3.6).abs() < 1e-6);
}

#[test]
fn a_demand_below_the_baseline_never_throttles_and_the_balance_stops_at_its_cap() {
    // 10 ms of CPU every second (0.01 vCPU, under the 0.0625 baseline): each request takes
    // exactly 10 ms, and the balance grows by 0.0525 s per second from 5 s: 110 s after
    // 2,000 s; after 10,000 s it would be 530 s, so it stops at the 500 s cap.
    let tail = "[[app.traffic]]\nfrom = \"iad\"\nshape = \"constant\"\nrps = 1";
    let text = cpu_machine("", "{ cpu = \"10ms\" }", tail);
    let sc = scenario(&text);
    let sim = run(&sc, 0);
    let r = &sim.rec.apps[0];
    assert_eq!((r.served, r.served_throttled), (2000, 0));
    assert_eq!(r.response_ns, 2000 * 10_000_000);
    let q = sim.quota_at(MachineId(0), sim.end()).unwrap();
    assert_eq!(q.throttled_ns, 0.0);
    assert!((q.balance / 1e9 - 110.0).abs() < 1e-6, "{}", q.balance);
    let long = scenario(&text.replace("duration = \"2000s\"", "duration = \"10000s\""));
    let sim = run(&long, 0);
    let q = sim.quota_at(MachineId(0), sim.end()).unwrap();
    assert_eq!(q.balance, 500e9);
}

#[test]
fn a_cpu_bound_boot_on_an_empty_balance_takes_sixteen_times_longer() {
    // A stopped shared-cpu-1x whose 2 s app boot is all CPU (app_boot_cpu = 1), VM boot 1 s.
    // Balance 0: the VM boot accrues 1/16 s; the app boot bursts for (1/16) / (1 − 1/16) =
    // 1/15 s, then does the remaining 2 − 1/15 s of CPU at 1/16: 16 × 2 − 15 × 1/15 = 31 s.
    // The request at time 0 waits 1 + 31 = 32 s. With the default 5 s balance: 1 + 2 = 3 s.
    let wait = |platform: &str| -> f64 {
        let text = cpu_machine(
            &format!("boot_time = \"1s\"\nconnect_timeout = \"60s\"\n{platform}"),
            "{ service_time = \"10ms\" }",
            "[[app.traffic]]\nfrom = \"iad\"\nshape = \"constant\"\nrps = 1\nend = \"0.5s\"",
        )
        .replace(
            "machines = [{ count = 1, regions = [\"iad\"] }]",
            "machines = [{ count = 1, regions = [\"iad\"], state = \"stopped\" }]\napp_boot = \"2s\"\napp_boot_cpu = 1.0",
        );
        let sc = scenario(&text);
        let sim = run(&sc, 0);
        let r = &sim.rec.apps[0];
        assert_eq!(r.served, 1);
        // The boot's CPU is on the account: 2 s used.
        let q = sim.quota_at(MachineId(0), sim.end()).unwrap();
        assert!((q.used - 2e9).abs() < 1e3, "{}", q.used);
        r.cold_wait_ns as f64 / 1e9
    };
    assert!((wait("cpu_initial_balance = \"0s\"") - 32.0).abs() < 1e-6);
    assert!((wait("") - 3.0).abs() < 1e-6);
    // Requests that give no CPU time stay off the quota, even under processor sharing: 100
    // requests of 1 s each on the empty balance are served in their own time, unthrottled,
    // and only the boot's 2 s are on the account.
    let text = cpu_machine(
        "boot_time = \"1s\"\nconnect_timeout = \"60s\"\ncpu_initial_balance = \"0s\"",
        "{ service_time = \"1s\", model = \"processor_sharing\" }",
        "[[app.traffic]]\nfrom = \"iad\"\nshape = \"constant\"\nrps = 1\nstart = \"100s\"\nend = \"199.5s\"",
    )
    .replace(
        "machines = [{ count = 1, regions = [\"iad\"] }]",
        "machines = [{ count = 1, regions = [\"iad\"], state = \"stopped\" }]\napp_boot = \"2s\"\napp_boot_cpu = 1.0",
    );
    let sc = scenario(&text);
    let sim = run(&sc, 0);
    let r = &sim.rec.apps[0];
    assert_eq!((r.served, r.served_throttled), (100, 0));
    let q = sim.quota_at(MachineId(0), sim.end()).unwrap();
    assert!((q.used - 2e9).abs() < 1e3, "{}", q.used);
    // Throttled only during the boot, after its 1/15 s burst: 31 − 1/15 s.
    let throttled_s = q.throttled_ns / 1e9;
    assert!(
        (throttled_s - (31.0 - 1.0 / 15.0)).abs() < 1e-6,
        "{throttled_s}"
    );
}
