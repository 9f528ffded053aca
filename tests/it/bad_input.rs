//! Broken inputs: each gives its specific message, exit code 1, and writes no output.
//!
//! Every file in `tests/fixtures/bad/` starts with `# expect: <text>` lines; the run must fail
//! with each text in its error output.

use std::process::Command;

/// `flysim` under a 4 GB address-space limit, so that a broken input that made it allocate
/// without bound fails the test instead of the machine.
fn flysim() -> Command {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("ulimit -v 4000000; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_flysim"));
    c
}

/// The `# expect: <text>` lines of a corpus file: texts its error output must contain.
fn expectations(f: &std::path::Path) -> Vec<String> {
    let expected: Vec<String> = std::fs::read_to_string(f)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("# expect: ").map(String::from))
        .collect();
    assert!(
        !expected.is_empty(),
        "{} has no `# expect:` line",
        f.display()
    );
    expected
}

/// Fails if `f` took longer than a broken input ever should.
fn within_time(started: std::time::Instant, f: &std::path::Path) {
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "{}: took {:?}",
        f.display(),
        started.elapsed()
    );
}

/// The files of a broken-input corpus, sorted; at least `min` of them.
fn corpus(dir: &str, min: usize) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= min,
        "expected a corpus of at least {min} broken files in {dir}"
    );
    files
}

#[test]
fn every_broken_scenario_gives_its_message_and_no_output() {
    let files = corpus("tests/fixtures/bad", 120);
    let tmp = tempfile::tempdir().unwrap();
    for f in &files {
        let expected = expectations(f);
        let out = tmp.path().join(f.file_stem().unwrap());
        let started = std::time::Instant::now();
        let run = flysim()
            .arg("run")
            .arg(f)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        within_time(started, f);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(
            run.status.code(),
            Some(1),
            "{}: exit code; stderr:\n{stderr}",
            f.display()
        );
        // Every message names the file, and for a problem in the file, its line:column.
        let first = stderr.lines().next().unwrap_or("");
        assert!(first.starts_with("error: "), "{}: {first}", f.display());
        for e in expected {
            assert!(
                stderr.contains(e.as_str()),
                "{}: expected {e:?} in:\n{stderr}",
                f.display()
            );
        }
        assert!(
            !stderr.contains("panicked"),
            "{}: panic:\n{stderr}",
            f.display()
        );
        assert!(
            !out.exists(),
            "{}: an output folder was written",
            f.display()
        );
        // `validate` reports the same problems, also with exit code 1.
        let v = flysim().arg("validate").arg(f).output().unwrap();
        assert_eq!(
            v.status.code(),
            Some(1),
            "{}: validate exit code",
            f.display()
        );
    }
}

#[test]
fn every_broken_fly_toml_gives_its_message() {
    let files = corpus("tests/fixtures/bad-fly", 25);
    for f in &files {
        let expected = expectations(f);
        let v = flysim().arg("validate").arg(f).output().unwrap();
        let out = format!(
            "{}{}",
            String::from_utf8_lossy(&v.stdout),
            String::from_utf8_lossy(&v.stderr)
        );
        assert_eq!(
            v.status.code(),
            Some(1),
            "{}: validate exit code:\n{out}",
            f.display()
        );
        for e in &expected {
            assert!(
                out.contains(e),
                "{}: expected {e:?} in:\n{out}",
                f.display()
            );
        }
        assert!(!out.contains("panicked"), "{}", f.display());
        // import refuses it too, with the same message.
        let i = flysim().arg("import").arg(f).output().unwrap();
        assert_eq!(
            i.status.code(),
            Some(1),
            "{}: import exit code",
            f.display()
        );
        assert!(
            String::from_utf8_lossy(&i.stderr).contains(expected[0].as_str()),
            "{}",
            f.display()
        );
    }
}

#[test]
fn bad_flags_are_usage_errors_or_named_errors() {
    let r = flysim()
        .args(["run", "--set", "app.nope.count=1"])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("no element named \"nope\""));
    let r = flysim()
        .args(["run", "--set", "platform.max_queue_wait=forever"])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(
        e.contains("--set platform.max_queue_wait=forever") && e.contains("expected a duration"),
        "{e}"
    );
    let r = flysim()
        .args(["run", "--seed", "minus-one"])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    let r = flysim()
        .args(["run", "does-not-exist.toml"])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("does-not-exist.toml: cannot read the file")
    );
}

#[test]
fn a_good_run_writes_its_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("q");
    let r = flysim()
        .args(["run", "--quiet", "--set", "duration=2h", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    for f in ["summary.json", "timeseries.csv", "machines.csv"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    for key in [
        "/seed",
        "/duration_s",
        "/requests/offered",
        "/requests/served",
        "/requests/failed",
        "/requests/availability",
        "/requests/cold_starts",
        "/requests/queued",
        "/requests/mean_in_flight",
        "/queue_wait_ms/mean",
        "/latency_ms/p50",
        "/latency_ms/p99",
        "/latency_ms/max",
        "/machines/time_avg/started",
        "/machines/time_avg/stopped",
        "/machines/time_avg/suspended",
        "/cost_usd/total",
        "/cost_usd/compute",
        "/cost_usd/rootfs",
        "/cost_usd/per_30_days",
        "/apps/web/requests/served",
        "/apps/web/latency_ms/p99",
        "/apps/web/cost_usd/total",
    ] {
        assert!(s.pointer(key).is_some(), "summary.json lacks {key}");
    }
    // Replications: per-replication folders, a mean summary with confidence half-widths.
    let out2 = tmp.path().join("reps");
    let r = flysim()
        .args([
            "run",
            "-q",
            "--set",
            "duration=1h",
            "--set",
            "replications=3",
            "--out",
        ])
        .arg(&out2)
        .output()
        .unwrap();
    assert!(r.status.success());
    assert!(out2.join("rep-002/summary.json").is_file());
    assert!(out2.join("replications.csv").is_file());
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out2.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["replications"], 3);
    assert!(s.pointer("/ci95/requests/availability").is_some());
}

/// Every file of `dir` given to `flysim <command>`: its messages, exit code 1, no output;
/// `validate` refuses it too.
fn every_broken_file_fails(dir: &str, min: usize, command: &str) {
    let files = corpus(dir, min);
    let tmp = tempfile::tempdir().unwrap();
    for f in &files {
        let expected = expectations(f);
        let out = tmp.path().join(f.file_stem().unwrap());
        let started = std::time::Instant::now();
        let r = flysim()
            .arg(command)
            .arg(f)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        within_time(started, f);
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{}: {stderr}", f.display());
        assert!(stderr.starts_with("error: "), "{}: {stderr}", f.display());
        for e in expected {
            assert!(
                stderr.contains(e.as_str()),
                "{}: expected {e:?} in:\n{stderr}",
                f.display()
            );
        }
        assert!(!stderr.contains("panicked"), "{}", f.display());
        assert!(
            !out.exists(),
            "{}: an output folder was written",
            f.display()
        );
        let v = flysim().arg("validate").arg(f).output().unwrap();
        assert_eq!(
            v.status.code(),
            Some(1),
            "{}: validate exit code",
            f.display()
        );
    }
}

#[test]
fn every_broken_sweep_gives_its_message_and_no_output() {
    every_broken_file_fails("tests/fixtures/bad-sweep", 15, "sweep");
}

#[test]
fn every_broken_plan_gives_its_message_and_no_output() {
    every_broken_file_fails("tests/fixtures/bad-plan", 20, "plan");
}

/// Files of `tests/fixtures/bad-charts/`: `<file>--<case>` replaces `<file>` in a good output.
#[test]
fn every_damaged_chart_input_gives_an_error_naming_the_file_and_changes_nothing() {
    let files = corpus("tests/fixtures/bad-charts", 20);
    let tmp = tempfile::tempdir().unwrap();
    let run_dir = tmp.path().join("run");
    let sweep_dir = tmp.path().join("sweep");
    let r = flysim()
        .args(["run", "-q", "--set", "duration=\"30m\"", "--out"])
        .arg(&run_dir)
        .output()
        .unwrap();
    assert!(r.status.success());
    // The sweep the damaged sweep files were cut from (tests/fixtures/chart-sweep).
    let base = std::fs::canonicalize("tests/fixtures/gen/base.toml").unwrap();
    let sweep_file = tmp.path().join("s.toml");
    std::fs::write(
        &sweep_file,
        format!("name = \"s\"\nscenario = {:?}\nreplications = 2\n[[axis]]\npath = \"app.web.machines[0].count\"\nvalues = [1, 2]\n", base.display().to_string()),
    )
    .unwrap();
    let r = flysim()
        .arg("sweep")
        .arg(&sweep_file)
        .arg("-q")
        .arg("--out")
        .arg(&sweep_dir)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    // Every file but the lock (which records the last process that held it): name and bytes,
    // hashed to keep a failure's message short.
    let snapshot = |d: &std::path::Path| -> Vec<(std::ffi::OsString, u64)> {
        use std::hash::{Hash, Hasher};
        let mut v: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().unwrap().is_file() && e.file_name() != ".flysim-lock")
            .map(|e| {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                std::fs::read(e.path()).unwrap().hash(&mut h);
                (e.file_name(), h.finish())
            })
            .collect();
        v.sort();
        v
    };
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let (target, _) = name.split_once("--").expect("names are <file>--<case>");
        let dir = if ["points.csv", "sweep.json"].contains(&target) {
            &sweep_dir
        } else {
            &run_dir
        };
        let good = std::fs::read(dir.join(target)).unwrap();
        std::fs::copy(f, dir.join(target)).unwrap();
        let before = snapshot(dir);
        let started = std::time::Instant::now();
        let r = flysim().arg("chart").arg(dir).output().unwrap();
        within_time(started, f);
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{name}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(target),
            "{name}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert_eq!(snapshot(dir), before, "{name}: chart wrote files");
        std::fs::write(dir.join(target), good).unwrap();
    }
}
