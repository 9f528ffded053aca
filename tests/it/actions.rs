//! `[[action]]`: Machines created, destroyed, stopped, started and resized during a run, checked
//! exactly on tiny scenarios, and against flyctl's rules for which Machines change.

use flysim::engine::SimTime;
use flysim::platform::machine::MState;

use super::common::*;

const NS: u64 = 1_000_000_000;

/// One app `web` in iad (two hosts) and ams, with `machines` at time 0, a 1 s boot, a 1.5 s
/// app boot and a 1 s create; `extra` is appended (actions, traffic).
fn world(machines: &str, extra: &str) -> String {
    format!(
        r#"
name = "actions"
duration = "1h"
[platform]
boot_time = "1s"
create_time = "1s"
stop_overhead = "0s"
[[region]]
code = "iad"
hosts = 2
[[region]]
code = "ams"
hosts = 1
[[app]]
name = "web"
app_boot = "1.5s"
request = {{ service_time = "40ms" }}
machines = {machines}
[app.fly]
primary_region = "iad"
[app.fly.http_service]
auto_stop_machines = "off"
[[app.fly.vm]]
size = "shared-cpu-1x"
{extra}
"#
    )
}

fn ids(sim: &flysim::platform::Sim) -> Vec<String> {
    sim.machines()
        .iter()
        .map(|m| {
            format!(
                "web:{}@{}{}",
                m.ordinal,
                sim.scenario().regions[m.region as usize].code,
                if m.state == MState::Destroyed {
                    "-destroyed"
                } else {
                    ""
                }
            )
        })
        .collect()
}

#[test]
fn a_scale_up_serves_from_create_plus_boot_plus_app_boot() {
    let text = world(
        r#"[{ count = 1, regions = ["iad"] }]"#,
        r#"
[[action]]
at = "10m"
kind = "scale_count"
count = 2
"#,
    );
    let sc = scenario(&text);
    let mut sim = flysim::platform::Sim::new(&sc, 0).with_trace();
    sim.run();
    assert_eq!(sim.machines().len(), 2);
    let m = &sim.machines()[1];
    assert_eq!(m.ordinal, 1);
    assert_eq!(m.book.created_at, SimTime(601 * NS), "create takes 1 s");
    assert_eq!(
        m.started_at,
        SimTime(603_500_000_000),
        "then 1 s boot + 1.5 s app boot"
    );
    assert_eq!(m.state, MState::Started);
    // It went stopped → starting at creation, starting → started when ready.
    let t: Vec<_> = sim
        .trace()
        .unwrap()
        .iter()
        .filter(|t| t.machine.0 == 1)
        .map(|t| (t.at.0, t.from, t.to))
        .collect();
    assert_eq!(
        t,
        vec![
            (601 * NS, MState::Stopped, MState::Starting),
            (603_500_000_000, MState::Starting, MState::Started)
        ]
    );
    assert_eq!(sim.actions()[0].created, 1);
    assert_eq!(sim.actions()[0].done_at, Some(SimTime(601 * NS)));
    // Spread: the second Machine goes to the other iad host.
    assert_ne!(sim.machines()[0].host, sim.machines()[1].host);
}

#[test]
fn creates_run_five_at_a_time_like_flyctl() {
    let text = world(
        r#"[{ count = 1, regions = ["iad"] }]"#,
        r#"
[[action]]
at = "1m"
kind = "scale_count"
count = 12
"#,
    );
    let sc = scenario(&text);
    let sim = run(&sc, 0);
    let created: Vec<u64> = sim.machines()[1..]
        .iter()
        .map(|m| m.book.created_at.0 / NS)
        .collect();
    assert_eq!(created, vec![61, 61, 61, 61, 61, 62, 62, 62, 62, 62, 63]);
    assert_eq!(sim.actions()[0].done_at, Some(SimTime(63 * NS)));
}

#[test]
fn scale_count_follows_flyctls_round_robin_up_and_down() {
    // Up: 1 in iad → 6 over iad and ams. flyctl adds the 5 round robin from the first listed
    // region, whatever the imbalance: iad, ams, iad, ams, iad → iad +3, ams +2, created one
    // per region in turn: web:1 iad, web:2 ams, web:3 iad, web:4 ams, web:5 iad.
    let text = world(
        r#"[{ count = 1, regions = ["iad"] }]"#,
        r#"
[[action]]
at = "1m"
kind = "scale_count"
count = 6
regions = ["iad", "ams"]

[[action]]
at = "30m"
kind = "scale_count"
count = 3
regions = ["iad", "ams"]
"#,
    );
    let sc = scenario(&text);
    let sim = run(&sc, 0);
    // Down to 3 (iad 4, ams 2 → remove 3): from the second region first: ams, iad, ams →
    // ams −2, iad −1; the oldest Machines of each region go first.
    assert_eq!(
        ids(&sim),
        vec![
            "web:0@iad-destroyed",
            "web:1@iad",
            "web:2@ams-destroyed",
            "web:3@iad",
            "web:4@ams-destroyed",
            "web:5@iad",
        ]
    );
    assert_eq!(sim.actions()[1].destroyed, 3);
}

#[test]
fn a_destroy_kills_what_is_in_flight_and_stops_the_bill() {
    // A Machine serving 10 s requests at 1 request/s is destroyed at 100.5 s: the 10 requests
    // in service fail as killed; compute is billed for exactly 100.5 s.
    let text = world(
        r#"[{ count = 1, regions = ["iad"] }, { count = 1, regions = ["ams"], state = "stopped" }]"#,
        r#"
[[app.traffic]]
from = "iad"
shape = "constant"
rps = 1
end = "100.2s"

[[action]]
at = "100.5s"
kind = "machine_destroy"
machine = "web:0"
"#,
    )
    .replace("service_time = \"40ms\"", "service_time = \"10s\"");
    let sc = scenario(&text);
    let sim = run(&sc, 0);
    let m = &sim.machines()[0];
    assert_eq!(m.state, MState::Destroyed);
    let r = &sim.rec.apps[0];
    let killed = r.failed[flysim::metrics::FailReason::Killed as usize];
    assert_eq!(killed, 10, "requests at 91 s .. 100 s were in service");
    let c = sim.machine_cost(m, sim.end());
    let rate = 0.000_000_846_5; // shared-cpu-1x 256 MB in iad [USD/s]
    assert!((c.compute - 100.5 * rate).abs() < 1e-12, "{}", c.compute);
    assert_eq!(c.rootfs, 0.0);
}

#[test]
fn cost_to_the_cent_of_a_machine_that_lives_ten_minutes_at_a_resized_vm() {
    // web:1 is cloned at 1 h (created at 1 h + 1 s, started 2.5 s later) and destroyed at
    // 1 h 10 m 1 s, ten minutes after its creation. At 1 h 5 m the group is resized to
    // performance-2x with 4 GB, one Machine at a time: web:0 restarts (drain with no requests,
    // stop in 0 s, boot 2.5 s) and is started at 3902.5 s; then web:1 restarts and is started
    // at 3905 s.
    let text = world(
        r#"[{ count = 1, regions = ["iad"] }]"#,
        r#"
[[action]]
at = "1h"
kind = "machine_clone"
machine = "web:0"

[[action]]
at = "65m"
kind = "scale_vm"
size = "performance-2x"
memory = "4gb"

[[action]]
at = "4201s"
kind = "machine_destroy"
machine = "web:1"
"#,
    )
    .replace("duration = \"1h\"", "duration = \"2h\"");
    let sc = scenario(&text);
    let sim = run(&sc, 0);
    let m = &sim.machines()[1];
    assert_eq!(m.book.created_at, SimTime(3601 * NS));
    assert_eq!(m.state, MState::Destroyed);
    assert_eq!(m.since, SimTime(4201 * NS));
    let t = m.time_in_until(sim.end());
    // Starting 3601 → 3603.5, started → 3902.5 at shared-cpu-1x, starting → 3905, started →
    // 4201 at performance-2x / 4 GB.
    assert_eq!(t[MState::Starting as usize], 5 * NS);
    assert_eq!(t[MState::Started as usize], 299 * NS + 296 * NS);
    // Fly's per-second prices in iad: shared-cpu-1x 256 MB $0.0000008465; performance-2x
    // 4 GB is two performance vCPUs with the 2 GB each includes, 2 × $0.000012732.
    let small = 0.000_000_846_5;
    let big = sim.machines()[1].book.compute_rate;
    assert!((big - 2.0 * 0.000_012_732).abs() < 1e-15, "{big}");
    let expected = 299.0 * small + 296.0 * big;
    let c = sim.machine_cost(m, sim.end());
    assert!(
        (c.compute - expected).abs() < 1e-12,
        "{} vs {expected}",
        c.compute
    );
    assert_eq!(format!("{:.2}", c.compute), format!("{:.2}", expected));
    assert_eq!(
        sim.machines()[0].book.resized.len(),
        1,
        "web:0 was resized too"
    );
    assert_eq!(sim.actions()[1].changed, 2);
}

#[test]
fn scale_vm_updates_one_machine_at_a_time() {
    let text = world(
        r#"[{ count = 3, regions = ["iad"] }]"#,
        r#"
[[action]]
at = "10m"
kind = "scale_vm"
size = "shared-cpu-2x"
"#,
    );
    let sc = scenario(&text);
    let mut sim = flysim::platform::Sim::new(&sc, 0).with_trace();
    sim.run();
    // Each stops at once (no requests, no stop overhead) and boots for 2.5 s; the next starts
    // when the previous is started again.
    let starts: Vec<(u32, u64)> = sim
        .trace()
        .unwrap()
        .iter()
        .filter(|t| t.to == MState::Started)
        .map(|t| (t.machine.0, t.at.0))
        .collect();
    assert_eq!(
        starts,
        vec![
            (0, 602_500_000_000),
            (1, 605_000_000_000),
            (2, 607_500_000_000)
        ]
    );
    assert_eq!(sim.actions()[0].done_at, Some(SimTime(607_500_000_000)));
    assert!(sim.machines().iter().all(|m| m.vm.cpus == 2));
}

#[test]
fn a_create_without_room_fails_and_says_so() {
    // One small host: the second Machine does not fit.
    let text = world(
        r#"[{ count = 1, regions = ["ams"] }]"#,
        r#"
[[action]]
at = "1m"
kind = "scale_count"
count = 2
regions = ["ams"]

[[action]]
at = "2m"
kind = "machine_stop"
machine = "web:1"
"#,
    )
    .replace(
        "code = \"ams\"\nhosts = 1",
        "code = \"ams\"\nhosts = 1\nhost = { cpus = 1, memory = \"512mb\" }",
    );
    let sc = scenario(&text);
    let sim = run(&sc, 0);
    assert_eq!(sim.machines().len(), 1);
    assert_eq!(sim.actions()[0].failed, 1);
    assert!(
        sim.actions()[0].notes[0].contains("no host in ams"),
        "{:?}",
        sim.actions()[0].notes
    );
    assert!(sim.actions()[1].notes[0].contains("does not exist"));
}

#[test]
fn bad_actions_name_their_line_and_key() {
    let cases = [
        (
            "[[action]]\nat = \"10m\"\nkind = \"scale_count\"\ncount = \"lots\"\n",
            "action[0].count",
        ),
        (
            "[[action]]\nat = \"10m\"\nkind = \"machine_destroy\"\nmachine = \"web:9\"\n",
            "expected one of web's Machines",
        ),
        (
            "[[action]]\nat = \"1m\"\nkind = \"machine_destroy\"\nmachine = \"web:0\"\n[[action]]\nat = \"2m\"\nkind = \"machine_start\"\nmachine = \"web:0\"\n",
            "destroyed by an earlier action",
        ),
        (
            "[[action]]\nat = \"1m\"\nkind = \"scale_vm\"\nsize = \"huge-9x\"\n",
            "unknown size",
        ),
        (
            "[[action]]\nat = \"1m\"\nkind = \"scale_up\"\n",
            "unknown action \"scale_up\"",
        ),
    ];
    for (extra, want) in cases {
        let text = world(r#"[{ count = 1, regions = ["iad"] }]"#, extra);
        let e = flysim::scenario::from_str(&text, "t.toml", &[])
            .err()
            .unwrap_or_else(|| panic!("{extra} validated"))
            .to_string();
        assert!(e.contains(want), "{extra}\n→ {e}");
        assert!(e.contains("t.toml:"), "{e}");
    }
}

#[test]
fn an_action_after_the_end_is_a_warning_and_never_happens() {
    let text = world(
        r#"[{ count = 1, regions = ["iad"] }]"#,
        "[[action]]\nat = \"2h\"\nkind = \"machine_stop\"\nmachine = \"web:0\"\n",
    );
    let l = flysim::scenario::from_str(&text, "t.toml", &[]).unwrap();
    assert!(l.scenario.actions.is_empty());
    let w: Vec<String> = l.notes.iter().map(|p| format!("{p:?}")).collect();
    assert!(w.iter().any(|w| w.contains("never happens")), "{w:?}");
}

#[test]
fn a_new_machine_moves_no_other_machines_draws() {
    // Same scenario with and without a clone at 30 m: web:0's boots (it crashes and restarts)
    // draw from its own stream, so its timeline is the same in both.
    let base = r#"
[[fault]]
kind = "machine_crashes"
mtbf = "10m"
"#;
    let with = format!(
        "{base}\n[[action]]\nat = \"30m\"\nkind = \"machine_clone\"\nmachine = \"web:0\"\nregion = \"ams\"\n"
    );
    let a = scenario(&world(r#"[{ count = 1, regions = ["iad"] }]"#, base));
    let b = scenario(&world(r#"[{ count = 1, regions = ["iad"] }]"#, &with));
    let (sa, sb) = (run(&a, 0), run(&b, 0));
    assert_eq!(sb.machines().len(), 2);
    assert!(
        sa.machines()[0].crashes >= 3,
        "{}",
        sa.machines()[0].crashes
    );
    assert_eq!(sa.machines()[0].crashes, sb.machines()[0].crashes);
    assert_eq!(
        sa.machines()[0].time_in_until(sa.end()),
        sb.machines()[0].time_in_until(sb.end())
    );
}

/// A Machine created by an action crashes like the others: its crash stream is made at its
/// first draw, named by its id.
#[test]
fn a_created_machine_crashes_too() {
    let sc = scenario(
        r#"
name = "created-crash"
duration = "6h"
[platform]
create_time = "1s"
[[region]]
code = "iad"
hosts = 2
[[app]]
name = "web"
request = { service_time = "40ms" }
machines = [{ count = 1, regions = ["iad"] }]
[app.fly]
primary_region = "iad"
[app.fly.http_service]
auto_stop_machines = "off"
[[fault]]
kind = "machine_crashes"
mtbf = "10m"
[[action]]
at = "30m"
kind = "machine_clone"
machine = "web:0"
"#,
    );
    let sim = run(&sc, 0);
    let created = &sim.machines()[1];
    assert_eq!(created.ordinal, 1);
    // About 33 crashes expected in 5.5 h at a 10 min mean; fewer than 10 is ≈ 1e-7 likely.
    assert!(
        created.crashes >= 10,
        "web:1 crashed {} times",
        created.crashes
    );
}
