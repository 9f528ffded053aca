//! Same scenario and seed: byte-identical outputs. Another seed: different ones.

use std::path::Path;

use flysim::run::run_files;
use flysim::run::run_replication;
use flysim::scenario;

fn files(seed_override: Option<u64>) -> Vec<(String, Vec<u8>)> {
    let sets: Vec<String> = seed_override
        .map(|s| format!("seed={s}"))
        .into_iter()
        .collect();
    let text = std::fs::read_to_string("scenarios/two-regions.toml").unwrap();
    let sc = scenario::from_str(&text, "two-regions.toml", &sets)
        .unwrap()
        .scenario;
    run_files(&run_replication(&sc, 0), "")
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = files(None);
    let b = files(None);
    assert_eq!(a.len(), 10);
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{name} differs between two runs with the same seed");
    }
    let c = files(Some(12345));
    // The traffic differs under another seed, so do the summary and the time series (the
    // Machine table and the empty incident list may not).
    for ((name, x), (_, z)) in a.iter().zip(&c) {
        if name == "summary.json" || name == "timeseries.csv" {
            assert!(x != z, "{name} is identical under another seed");
        }
    }
    assert!(
        a[0].1 != c[0].1,
        "summary.json identical under another seed"
    );
}

#[test]
fn adding_a_traffic_source_leaves_other_streams_alone() {
    // The first source's arrivals come from its own stream: adding a second source to another
    // app does not move them.
    let base = r#"
name = "streams"
duration = "600s"
[[app]]
name = "a"
machines = [{ count = 1, regions = ["iad"] }]
[app.fly]
primary_region = "iad"
[app.fly.http_service]
[[app.traffic]]
from = "iad"
shape = "poisson"
rps = 3
"#;
    let more = format!(
        "{base}\n[[app]]\nname = \"b\"\nmachines = [{{ count = 1, regions = [\"iad\"] }}]\n[app.fly]\nprimary_region = \"iad\"\n[app.fly.http_service]\n[[app.traffic]]\nfrom = \"iad\"\nshape = \"poisson\"\nrps = 50\n"
    );
    let one = scenario::from_str(base, "t.toml", &[]).unwrap().scenario;
    let two = scenario::from_str(&more, "t.toml", &[]).unwrap().scenario;
    let a1 = run_replication(&one, 0).summary;
    let a2 = run_replication(&two, 0).summary;
    assert_eq!(a1.apps["a"].requests.offered, a2.apps["a"].requests.offered);
    assert_eq!(a1.apps["a"].latency_ms, a2.apps["a"].latency_ms);
}

#[test]
fn faults_are_deterministic_too() {
    // Random host failures and crashes: the same seed gives the same bytes, incidents included.
    let text = std::fs::read_to_string("scenarios/resilience/two-machines.toml").unwrap();
    let sets = vec![
        "fault[0]={ kind = \"host_failures\", mtbf = \"2h\", repair = { dist = \"exponential\", mean = \"20m\" } }".to_string(),
        "duration=12h".to_string(),
    ];
    let run = || {
        let sc = scenario::from_str(&text, "two-machines.toml", &sets)
            .unwrap()
            .scenario;
        run_files(&run_replication(&sc, 0), "")
    };
    let (a, b) = (run(), run());
    assert_eq!(a, b);
    let incidents = &a.iter().find(|(n, _)| n == "incidents.csv").unwrap().1;
    assert!(
        incidents.iter().filter(|&&c| c == b'\n').count() > 3,
        "expected several incidents"
    );
}

/// Machines created and destroyed during the run: a sweep over the launch scenario gives the
/// same bytes with one thread and with three.
#[test]
fn actions_are_deterministic_across_thread_counts() {
    let t = tempfile::tempdir().unwrap();
    let scenario = std::fs::read_to_string("scenarios/scale-for-launch.toml")
        .unwrap()
        .replace("duration = \"24h\"", "duration = \"12h20m\"")
        .replace("at = \"15h\"", "at = \"12h10m\"");
    std::fs::write(t.path().join("launch.toml"), scenario).unwrap();
    let sweep = t.path().join("sweep.toml");
    std::fs::write(
        &sweep,
        "name = \"launch\"\nscenario = \"launch.toml\"\nreplications = 2\n[[axis]]\npath = \"app.scaled.app_boot\"\nvalues = [\"2s\", \"8s\"]\n",
    )
    .unwrap();
    let outs = sweep_with_one_and_three_threads(t.path(), &sweep);
    let runs = &outs[0].iter().find(|f| f.0 == "runs.csv").unwrap().1;
    assert_eq!(
        String::from_utf8_lossy(runs).lines().count(),
        5,
        "a header and 4 runs"
    );
}

/// CPU quotas and several services: the same files with one thread and with three, run after
/// run.
#[test]
fn cpu_quotas_and_services_are_deterministic_across_thread_counts() {
    let t = tempfile::tempdir().unwrap();
    let sweep = t.path().join("sweep.toml");
    let base = std::fs::canonicalize("scenarios/cpu-quota.toml").unwrap();
    std::fs::write(
        &sweep,
        format!(
            "name = \"cpu\"\nscenario = {:?}\nreplications = 2\nset = [\"duration=\\\"14h\\\"\"]\n[[axis]]\npath = \"app.shared.fly.vm[0].size\"\nvalues = [\"shared-cpu-1x\", \"shared-cpu-2x\"]\n",
            base.display().to_string()
        ),
    )
    .unwrap();
    sweep_with_one_and_three_threads(t.path(), &sweep);
    // One run of each scenario twice: every file byte for byte.
    for (k, scenario) in ["scenarios/cpu-quota.toml", "scenarios/two-services.toml"]
        .iter()
        .enumerate()
    {
        let runs = run_twice(&t.path().join(format!("run{k}")), Path::new(scenario), "6h");
        assert!(runs.len() >= 3);
    }
}

/// The CSV and JSON-lines files of an output folder, by name.
/// Runs `scenario` for `duration` twice into folders beside `prefix`, asserts every result
/// file is the same bytes, and returns the files.
fn run_twice(prefix: &Path, scenario: &Path, duration: &str) -> Vec<(String, Vec<u8>)> {
    let mut runs = Vec::new();
    for i in 0..2 {
        let out = prefix.with_extension(i.to_string());
        let r = std::process::Command::new(env!("CARGO_BIN_EXE_flysim"))
            .args(["run", "-q", "--no-charts", "--set"])
            .arg(format!("duration=\"{duration}\""))
            .arg("--out")
            .arg(&out)
            .arg(scenario)
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        runs.push(result_files(&out));
    }
    assert_eq!(runs[0], runs[1], "{}: two runs differ", scenario.display());
    runs.swap_remove(0)
}

fn result_files(out: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv" || x == "jsonl"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// Runs `sweep` with `--jobs 1` and `--jobs 3` into folders under `dir`, asserts their result
/// files are the same bytes, and returns both.
fn sweep_with_one_and_three_threads(
    dir: &std::path::Path,
    sweep: &std::path::Path,
) -> Vec<Vec<(String, Vec<u8>)>> {
    let mut outs = Vec::new();
    for jobs in ["1", "3"] {
        let out = dir.join(format!("out{jobs}"));
        let r = std::process::Command::new(env!("CARGO_BIN_EXE_flysim"))
            .args(["sweep", "-q", "--jobs", jobs, "--out"])
            .arg(&out)
            .arg(sweep)
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let files = result_files(&out);
        assert!(files.len() >= 2, "{files:?}");
        outs.push(files);
    }
    assert_eq!(outs[0], outs[1], "--jobs 1 and --jobs 3 differ");
    outs
}

/// Deploys of every strategy, with a release command and a version that fails its checks half
/// the time: the same bytes with one thread or three, and run after run.
#[test]
fn deploys_are_deterministic_across_thread_counts() {
    let t = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize("scenarios/deploys.toml").unwrap();
    let text = std::fs::read_to_string(&base)
        .unwrap()
        .replace(
            "[[deploy]]\nat = \"15h\"\napp = \"web\"\n",
            "[[deploy]]\nat = \"15h\"\napp = \"web\"\nfail = \"health\"\nfail_probability = 0.5\nrelease_time = { dist = \"exponential\", mean = \"20s\" }\n",
        )
        .replace(
            "max_unavailable = 1\n",
            "max_unavailable = 1\nrelease_command = \"bin/migrate\"\n",
        );
    let scenario = t.path().join("deploys.toml");
    std::fs::write(&scenario, text).unwrap();
    let sweep = t.path().join("sweep.toml");
    std::fs::write(
        &sweep,
        format!(
            "name = \"deploys\"\nscenario = {:?}\nreplications = 2\nset = [\"duration=\\\"16h\\\"\", \"app.web.traffic[0].mean_rps=6\", \"app.web.traffic[0].peak_rps=10\"]\n[[axis]]\npath = \"app.web.fly.deploy.strategy\"\nvalues = [\"rolling\", \"canary\", \"bluegreen\", \"immediate\"]\n",
            scenario.display().to_string()
        ),
    )
    .unwrap();
    sweep_with_one_and_three_threads(t.path(), &sweep);
    let runs = run_twice(&t.path().join("run"), &scenario, "16h");
    assert!(runs.iter().any(|(n, _)| n.ends_with("deploys.csv")));
}

/// fly-autoscaler on both apps of its scenario (scrapes, reconciles, clones): the same bytes
/// with one thread or three, and run after run.
#[test]
fn autoscalers_are_deterministic_across_thread_counts() {
    let t = tempfile::tempdir().unwrap();
    let scenario = std::fs::canonicalize("scenarios/autoscaler.toml").unwrap();
    let sweep = t.path().join("sweep.toml");
    std::fs::write(
        &sweep,
        format!(
            "name = \"fas\"\nscenario = {:?}\nreplications = 2\nset = [\"duration=\\\"11h\\\"\"]\n[[axis]]\npath = \"app.jobs-fas.autoscaler.FAS_INTERVAL\"\nvalues = [\"5s\", \"20s\"]\n",
            scenario.display().to_string()
        ),
    )
    .unwrap();
    sweep_with_one_and_three_threads(t.path(), &sweep);
    let runs = run_twice(&t.path().join("run"), &scenario, "11h");
    let csv = runs
        .iter()
        .find(|(n, _)| n.ends_with("autoscaler.csv"))
        .expect("autoscaler.csv");
    assert!(csv.1.len() > 10_000, "{} bytes", csv.1.len());
}
