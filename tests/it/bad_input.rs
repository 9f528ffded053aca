//! Broken inputs: each gives its specific message, exit code 1, and writes no output.
//!
//! Every file in `tests/fixtures/bad/` starts with `# expect: <text>` lines; the run must fail
//! with each text in its error output.

use std::process::Command;

fn flysim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flysim"))
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
    let files = corpus("tests/fixtures/bad", 25);
    let tmp = tempfile::tempdir().unwrap();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let expected: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .collect();
        assert!(
            !expected.is_empty(),
            "{} has no `# expect:` line",
            f.display()
        );
        let out = tmp.path().join(f.file_stem().unwrap());
        let run = flysim()
            .arg("run")
            .arg(f)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(
            run.status.code(),
            Some(1),
            "{}: exit code; stderr:\n{stderr}",
            f.display()
        );
        for e in expected {
            assert!(
                stderr.contains(e),
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
    let files = corpus("tests/fixtures/bad-fly", 10);
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let expected: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .collect();
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
            String::from_utf8_lossy(&i.stderr).contains(expected[0]),
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
