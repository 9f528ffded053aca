//! `flysim plan`: known answers in closed form, agreement with the exhaustive evaluation on
//! the example plans, determinism across threads, resume after a kill, answers when nothing
//! is feasible.

use std::path::{Path, PathBuf};
use std::process::Command;

use flysim::output::OwnedDir;
use flysim::plan::search::{self, Outcome, SearchOptions};
use flysim::plan::{self, Plan};

use super::common::*;

fn flysim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flysim"))
}

/// Writes `scenario` and `plan` (which names it as `base.toml`) into `dir`; loads the plan.
fn plan_in(dir: &Path, scenario: &str, plan_text: &str) -> Plan {
    std::fs::write(dir.join("base.toml"), scenario).unwrap();
    let path = dir.join("plan.toml");
    std::fs::write(&path, plan_text).unwrap();
    match plan::load(&path) {
        Ok(p) => p,
        Err(e) => panic!("the test plan does not validate:\n{e}"),
    }
}

fn search(plan: &Plan, out: &Path, exhaustive: Option<u32>) -> Outcome {
    let mut owned = OwnedDir::open(out).unwrap();
    search::run(
        plan,
        &mut owned,
        SearchOptions {
            jobs: 2,
            progress: false,
            exhaustive,
        },
    )
    .unwrap()
}

/// The value of axis 0 at the recommendation.
fn recommended_value(plan: &Plan, o: &Outcome) -> String {
    let r = o.recommended.expect("a recommendation");
    plan.value(&plan.candidates[r], 0).to_string()
}

/// `c` Machines of one request slot each behind the proxy queue: M/M/c with λ = 8, μ = 1.
fn mmc_scenario() -> String {
    r#"
name = "mmc"
duration = "4000s"
seed = 8
[platform]
max_queue_wait = "1000d"
[[region]]
code = "iad"
hosts = 4
host = { cpus = 64, memory = "256GB" }
[[app]]
name = "q"
machines = [{ count = 10, regions = ["iad"] }]
request = { service_time = { dist = "exponential", mean = "1s" } }
[app.fly]
primary_region = "iad"
[app.fly.http_service]
auto_stop_machines = "off"
[app.fly.http_service.concurrency]
type = "requests"
soft_limit = 1
hard_limit = 1
[[app.traffic]]
from = "iad"
shape = "poisson"
rps = 8
"#
    .to_string()
}

fn count_plan(slo: &str, to: u32) -> String {
    format!(
        r#"
name = "known"
[[scenario]]
path = "base.toml"
[slo]
{slo}
[[axis]]
name = "count"
path = "app.{app}.machines[0].count"
range = {{ from = 1, to = {to} }}
monotone = "increasing"
"#,
        app = if slo.contains("worker") { "jobs" } else { "q" }
    )
}

/// Targets halfway (geometrically) between the closed form at c − 1 and at c: the smallest
/// count meeting the target is c.
fn between(f: impl Fn(u32) -> f64, c: u32) -> f64 {
    (f(c - 1) * f(c)).sqrt()
}

#[test]
fn plan_finds_the_smallest_count_that_erlang_c_allows() {
    let a = 8.0;
    let tmp = tempfile::tempdir().unwrap();
    for (i, c) in [10u32, 12].into_iter().enumerate() {
        // P(wait) = C(c, a).
        let target = between(|n| erlang_c(n, a), c);
        let p = plan_in(
            tmp.path(),
            &mmc_scenario(),
            &count_plan(&format!("queued_share = {target}"), 16),
        );
        let o = search(&p, &tmp.path().join(format!("wait-{i}")), None);
        assert_eq!(
            recommended_value(&p, &o),
            c.to_string(),
            "P(wait) ≤ {target}"
        );
        // The mean wait over every request: Wq = C(c, a) / (c − a) service times.
        let wq = |n: u32| erlang_c(n, a) / (n as f64 - a);
        let target_ms = between(wq, c) * 1000.0;
        let p = plan_in(
            tmp.path(),
            &mmc_scenario(),
            &count_plan(&format!("queue_wait_mean = \"{target_ms:.3}ms\""), 16),
        );
        let o = search(&p, &tmp.path().join(format!("mean-{i}")), None);
        assert_eq!(
            recommended_value(&p, &o),
            c.to_string(),
            "Wq ≤ {target_ms} ms"
        );
        // Fewer runs than the grid: the counts below fail by implication or at a look.
        let grid_runs = p.candidates.len() as u64 * u64::from(p.max_replications);
        assert!(o.runs < grid_runs / 2, "{} runs of {grid_runs}", o.runs);
    }
}

/// A worker group in ams, whose hosts fail with MTBF 10 h and MTTR 1 h (exponential), each
/// Machine on its own host: unavailability (1/11)^count.
fn workers_scenario(duration: &str) -> String {
    format!(
        r#"
name = "workers"
duration = "{duration}"
seed = 4
bucket = "1h"
[platform]
boot_time = "1ms"
[[region]]
code = "ams"
hosts = 8
[[app]]
name = "jobs"
app_boot = "0s"
machines = [{{ count = 1, regions = ["ams"] }}]
[app.fly]
primary_region = "ams"
[app.fly.processes]
worker = "run"
[[fault]]
kind = "host_failures"
mtbf = "10h"
repair = {{ dist = "exponential", mean = "1h" }}
regions = ["ams"]
"#
    )
}

#[test]
fn plan_finds_the_smallest_count_that_mtbf_and_mttr_allow() {
    let tmp = tempfile::tempdir().unwrap();
    let unavailability = |n: u32| (1.0f64 / 11.0).powi(n as i32);
    for c in [2u32, 3] {
        let target = 1.0 - between(unavailability, c);
        let p = plan_in(
            tmp.path(),
            &workers_scenario("6000h"),
            &count_plan(&format!("worker_availability = {target}"), 6),
        );
        let o = search(&p, &tmp.path().join(format!("c{c}")), None);
        assert_eq!(
            recommended_value(&p, &o),
            c.to_string(),
            "worker availability ≥ {target}"
        );
    }
}

/// Runs `flysim plan` on an example, in search and in exhaustive mode, and returns both
/// documents.
fn both_ways(
    name: &str,
    dir: &Path,
) -> (
    flysim::plan::outcome::PlanDoc,
    flysim::plan::outcome::PlanDoc,
) {
    let file = PathBuf::from(format!("plans/{name}.toml"));
    let p = plan::load(&file).unwrap();
    let searched = search(&p, &dir.join(name), None);
    let swept = search(&p, &dir.join(format!("{name}-exhaustive")), Some(20));
    (
        flysim::plan::outcome::files(&p, &searched).doc,
        flysim::plan::outcome::files(&p, &swept).doc,
    )
}

#[test]
fn the_example_plans_agree_with_the_exhaustive_evaluation_at_a_fifth_of_the_requests() {
    let tmp = tempfile::tempdir().unwrap();
    // `plans/failover.toml` (workers, no requests) is compared by `benches/plan.sh` only.
    for name in ["shop", "jobs", "autostop"] {
        let (plan_doc, sweep_doc) = both_ways(name, tmp.path());
        assert!(
            plan_doc.candidates.len() >= 200,
            "{name}: a space of 200 or more"
        );
        let r = plan_doc.recommended.expect("a recommendation");
        let s = sweep_doc
            .recommended
            .expect("the exhaustive sweep's answer");
        assert_eq!(
            r, s,
            "{name}: plan recommends {r}, the exhaustive evaluation {s}"
        );
        let (used, full) = (plan_doc.effort.requests, sweep_doc.effort.requests);
        assert!(
            used > 0 && used * 5 <= full,
            "{name}: {used} simulated requests against {full}"
        );
        assert!(
            plan_doc.effort.runs * 3 <= sweep_doc.effort.runs,
            "{name}: {} runs against {}",
            plan_doc.effort.runs,
            sweep_doc.effort.runs
        );
    }
}

fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_plan_gives_the_same_bytes_whatever_the_threads_and_resumes_after_a_kill() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |out: &Path, jobs: &str, stop: Option<&str>| {
        let mut c = flysim();
        c.args(["plan", "plans/jobs.toml", "-q", "--jobs", jobs, "--out"])
            .arg(out);
        if let Some(n) = stop {
            c.env("FLYSIM_STOP_AFTER_RUNS", n);
        }
        c.output().unwrap()
    };
    let one = tmp.path().join("one");
    let four = tmp.path().join("four");
    assert!(run(&one, "1", None).status.success());
    assert!(run(&four, "4", None).status.success());
    let reference = files_of(&one);
    assert!(reference.iter().any(|(n, _)| n == "plan.json"));
    assert!(reference.iter().any(|(n, _)| n == "pareto.svg"));
    assert_eq!(reference, files_of(&four), "--jobs 1 and --jobs 4 differ");

    // Killed after 40 runs, as a crash would; the rerun finishes from the journal.
    let killed = tmp.path().join("killed");
    let r = run(&killed, "2", Some("40"));
    assert_eq!(r.status.code(), Some(75));
    let journal = std::fs::read_to_string(killed.join(search::JOURNAL)).unwrap();
    assert_eq!(journal.lines().count(), 40);
    // A torn last line, as a kill in mid-write leaves, is dropped and that run done again.
    let mut torn = journal.into_bytes();
    torn.extend_from_slice(b"{\"candidate\": 3, \"scen");
    std::fs::write(killed.join(search::JOURNAL), torn).unwrap();
    let r = flysim()
        .args(["plan", "plans/jobs.toml", "--jobs", "2", "--out"])
        .arg(&killed)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(stderr.contains("resumed: 40 of "), "{stderr}");
    assert_eq!(
        files_of(&killed),
        reference,
        "the resumed plan differs from an uninterrupted one"
    );

    // A changed plan is refused in a folder that holds another's results.
    let changed = tmp.path().join("changed.toml");
    let text = std::fs::read_to_string("plans/jobs.toml")
        .unwrap()
        .replace("queued_share = 0.15", "queued_share = 0.25");
    std::fs::write(&changed, text).unwrap();
    std::fs::copy(
        "plans/scenarios/jobs.toml",
        tmp.path().join("jobs-base.toml"),
    )
    .unwrap();
    let changed_text = std::fs::read_to_string(&changed)
        .unwrap()
        .replace("scenarios/jobs.toml", "jobs-base.toml");
    std::fs::write(&changed, changed_text).unwrap();
    let r = flysim()
        .args(["plan", "-q", "--out"])
        .arg(&one)
        .arg(&changed)
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("different plan"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
}

#[test]
fn a_plan_that_nothing_meets_says_which_constraint_binds_and_how_close_it_came() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("base.toml"), mmc_scenario()).unwrap();
    let path = tmp.path().join("plan.toml");
    std::fs::write(
        &path,
        count_plan("availability = 0.999\nqueue_wait_mean = \"1ms\"", 9),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let r = flysim()
        .args(["plan", "--out"])
        .arg(&out)
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&r.stdout);
    let stderr = String::from_utf8_lossy(&r.stderr);
    // Exit code 3: the SLO cannot be met (1 is for errors).
    assert_eq!(r.status.code(), Some(3), "{stdout}{stderr}");
    assert!(
        stdout.contains("no candidate meets every constraint"),
        "{stdout}"
    );
    assert!(
        stdout.contains("binding constraint: mmc queue_wait_mean ≤ 1.00 ms"),
        "{stdout}"
    );
    assert!(stdout.contains("closest: count = 9"), "{stdout}");
    assert!(stderr.contains("no candidate of plan known meets every constraint"));
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("plan.json")).unwrap()).unwrap();
    assert!(doc["recommended"].is_null());
}

#[test]
fn cost_floors_never_exceed_a_runs_cost() {
    // Every example scenario, and the plans' bases at every candidate of their first axes.
    let mut scenarios = Vec::new();
    for dir in ["scenarios", "scenarios/resilience", "plans/scenarios"] {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                scenarios.push(
                    flysim::scenario::load(&p, &["duration=\"2h\"".to_string()])
                        .unwrap()
                        .scenario,
                );
            }
        }
    }
    for name in ["shop", "jobs", "autostop", "failover"] {
        let p = plan::load(Path::new(&format!("plans/{name}.toml"))).unwrap();
        for c in p.candidates.iter().step_by(7) {
            scenarios.extend(c.scenarios.iter().cloned());
        }
    }
    let mut positive = 0;
    for sc in &scenarios {
        let floor = plan::cost_floor(sc);
        positive += usize::from(floor > 0.0);
        for rep in 0..2 {
            let cost = flysim::run::run_summary(sc, rep).cost_usd.per_30_days;
            assert!(
                floor <= cost + 1e-6,
                "{}: floor {floor} above the cost {cost} of replication {rep}",
                sc.name
            );
        }
    }
    assert!(positive > scenarios.len() / 2, "the floors bound nothing");
}
