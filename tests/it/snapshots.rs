//! Golden outputs of tiny scenarios: `summary.json`, `machines.csv` and a sweep's `runs.csv`,
//! byte for byte. A change in any figure shows as a snapshot diff to review (`cargo insta
//! review`, or `INSTA_UPDATE=always cargo test --release snapshots` and `git diff`), never as
//! silent drift.

use std::path::Path;
use std::process::Command;

fn flysim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flysim"))
}

/// Runs `args` and returns the named files of the output folder.
fn outputs(args: &[&str], dir: &Path, files: &[&str]) -> Vec<(String, String)> {
    let out = dir.join("out");
    let r = flysim()
        .args(args)
        .arg("-q")
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    files
        .iter()
        .map(|f| (f.to_string(), std::fs::read_to_string(out.join(f)).unwrap()))
        .collect()
}

fn snapshot(name: &str, args: &[&str], files: &[&str]) {
    let t = tempfile::tempdir().unwrap();
    for (file, text) in outputs(args, t.path(), files) {
        insta::assert_snapshot!(format!("{name}__{file}"), text);
    }
}

#[test]
fn quickstart_for_two_hours() {
    snapshot(
        "quickstart-2h",
        &[
            "run",
            "scenarios/quickstart.toml",
            "--no-charts",
            "--set",
            "duration=\"2h\"",
        ],
        &["summary.json", "machines.csv"],
    );
}

#[test]
fn one_machine_with_host_failures_for_a_week() {
    snapshot(
        "one-machine-7d",
        &[
            "run",
            "scenarios/resilience/one-machine.toml",
            "--no-charts",
            "--set",
            "duration=\"7d\"",
        ],
        &["summary.json", "machines.csv", "incidents.csv"],
    );
}

#[test]
fn standby_worker_for_a_day() {
    snapshot(
        "standby-worker-1d",
        &[
            "run",
            "scenarios/resilience/standby-worker.toml",
            "--no-charts",
            "--set",
            "duration=\"1d\"",
        ],
        &["summary.json", "machines.csv"],
    );
}

#[test]
fn two_regions_with_three_replications() {
    snapshot(
        "two-regions-3x1h",
        &[
            "run",
            "scenarios/two-regions.toml",
            "--no-charts",
            "--set",
            "duration=\"1h\"",
            "--set",
            "replications=3",
        ],
        &["summary.json", "replications.csv", "rep-001/machines.csv"],
    );
}

#[test]
fn a_small_sweep() {
    snapshot(
        "sweep-count-by-autostop",
        &[
            "run",
            "scenarios/quickstart.toml",
            "--set",
            "duration=\"20m\"",
            "--set",
            "app.web.machines[0].count=1,2",
            "--set",
            "app.web.fly.http_service.auto_stop_machines=stop,suspend",
        ],
        &["runs.csv", "points.csv", "sweep.json"],
    );
}

#[test]
fn scale_for_launch_from_eleven_to_sixteen() {
    snapshot(
        "scale-for-launch",
        &[
            "run",
            "scenarios/scale-for-launch.toml",
            "--no-charts",
            "--set",
            "duration=\"16h\"",
        ],
        &["summary.json", "machines.csv", "actions.csv"],
    );
}

#[test]
fn cpu_quota_to_the_afternoon() {
    // 16 hours: the night fills the shared balance, the morning drains it, throttling begins.
    snapshot(
        "cpu-quota",
        &[
            "run",
            "scenarios/cpu-quota.toml",
            "--no-charts",
            "--set",
            "duration=\"16h\"",
            "--set",
            "bucket=\"1h\"",
        ],
        &["summary.json", "machines.csv", "timeseries.csv"],
    );
}

#[test]
fn two_services_for_a_day() {
    snapshot(
        "two-services",
        &[
            "run",
            "scenarios/two-services.toml",
            "--no-charts",
            "--set",
            "duration=\"1d\"",
        ],
        &["summary.json", "machines.csv"],
    );
}

#[test]
fn deploys_through_the_afternoon() {
    // 16 hours: both rolling deploys, the second one near the peak.
    snapshot(
        "deploys",
        &[
            "run",
            "scenarios/deploys.toml",
            "--no-charts",
            "--set",
            "duration=\"16h\"",
            "--set",
            "bucket=\"1h\"",
        ],
        &["summary.json", "deploys.csv", "machines.csv"],
    );
}

#[test]
fn autoscaler_on_a_traffic_step() {
    snapshot(
        "autoscaler-step",
        &["run", "tests/fixtures/autoscaler-step.toml", "--no-charts"],
        &["summary.json", "autoscaler.csv", "machines.csv"],
    );
}

#[test]
fn autoscaler_through_the_launch_morning() {
    // Ten hours: the launch peak of the web apps and the first batch import of the workers.
    snapshot(
        "autoscaler",
        &[
            "run",
            "scenarios/autoscaler.toml",
            "--no-charts",
            "--set",
            "duration=\"10h15m\"",
            "--set",
            "bucket=\"1h\"",
        ],
        &["summary.json"],
    );
}

#[test]
fn plan_for_the_job_workers() {
    // The recommendation as printed and every candidate's figures and reason.
    snapshot(
        "plan-jobs",
        &["plan", "plans/jobs.toml", "--no-charts", "--jobs", "2"],
        &["recommendation.txt", "candidates.csv"],
    );
}
