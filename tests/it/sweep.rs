//! Sweeps: identical results whatever the threads or shards, resume after a kill, refusal of
//! a changed sweep, confidence intervals that cover, and clear errors for bad sweep files.

use std::path::{Path, PathBuf};
use std::process::Command;

use flysim::sweep::{self, exec};

fn flysim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flysim"))
}

/// A small sweep file over the quickstart scenario, written into `dir`.
fn small_sweep(dir: &Path, replications: u32) -> PathBuf {
    let base = std::fs::canonicalize("scenarios/quickstart.toml").unwrap();
    let text = format!(
        "name = \"t\"\nscenario = {:?}\nreplications = {replications}\nset = [\"duration=20m\"]\n[[axis]]\npath = \"app.web.machines[0].count\"\nvalues = [1, 2]\n[[axis]]\npath = \"app.web.fly.http_service.auto_stop_machines\"\nvalues = [\"stop\", \"suspend\"]\n",
        base.display().to_string()
    );
    let path = dir.join("sweep.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn results(dir: &Path) -> Vec<(String, Vec<u8>)> {
    ["runs.csv", "points.csv", "sweep.json"]
        .iter()
        .map(|f| (f.to_string(), std::fs::read(dir.join(f)).unwrap()))
        .collect()
}

#[test]
fn one_or_two_threads_and_shards_give_identical_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let file = small_sweep(tmp.path(), 3);
    let s = sweep::load(&file).unwrap();
    assert_eq!((s.points.len(), s.total_runs()), (4, 12));
    let mut outputs = Vec::new();
    for jobs in [1, 2] {
        let dir = tmp.path().join(format!("jobs{jobs}"));
        let mut owned = flysim::output::OwnedDir::open(&dir).unwrap();
        let entries = exec::run(
            &s,
            &mut owned,
            exec::RunOptions {
                jobs,
                shard: (1, 1),
                progress: false,
            },
        )
        .unwrap()
        .entries;
        assert_eq!(entries.len(), 12);
        let res = exec::result_files(&exec::manifest(&s, (1, 1)), &entries);
        exec::write_results(&mut owned, &res.files).unwrap();
        outputs.push(results(&dir));
    }
    assert_eq!(outputs[0], outputs[1], "--jobs 1 and --jobs 2 differ");
    // Three shards through the command line, merged: the same bytes as one run.
    let mut shard_dirs = Vec::new();
    for k in 1..=3 {
        let d = tmp.path().join(format!("shard{k}"));
        let r = flysim()
            .args([
                "sweep",
                "-q",
                "--jobs",
                "1",
                "--shard",
                &format!("{k}/3"),
                "--out",
            ])
            .arg(&d)
            .arg(&file)
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        shard_dirs.push(d);
    }
    let merged = tmp.path().join("merged");
    let r = flysim()
        .args(["merge", "-q", "--out"])
        .arg(&merged)
        .args(&shard_dirs)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(
        results(&merged),
        outputs[0],
        "merged shards differ from one run"
    );
    // Merging an incomplete set is refused.
    let r = flysim()
        .args(["merge", "--out"])
        .arg(tmp.path().join("bad"))
        .args(&shard_dirs[..2])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("missing point"));
}

#[test]
fn an_interrupted_sweep_resumes_without_losing_or_repeating_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let file = small_sweep(tmp.path(), 4);
    let out = tmp.path().join("out");
    // The hidden hook kills the process after 5 journaled runs, as a crash would.
    let r = flysim()
        .args(["sweep", "-q", "--jobs", "2", "--out"])
        .arg(&out)
        .arg(&file)
        .env("FLYSIM_STOP_AFTER_RUNS", "5")
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(75));
    let journal = out.join(exec::JOURNAL);
    assert_eq!(exec::read_journal(&journal).unwrap().entries.len(), 5);
    // A torn last line, as a kill in mid-write leaves, is dropped and rerun.
    let mut bytes = std::fs::read(&journal).unwrap();
    bytes.extend_from_slice(b"{\"point\": 3, \"replic");
    std::fs::write(&journal, bytes).unwrap();
    let r = flysim()
        .args(["sweep", "-q", "--jobs", "2", "--out"])
        .arg(&out)
        .arg(&file)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let entries = exec::read_journal(&journal).unwrap().entries;
    assert_eq!(entries.len(), 16, "every run exactly once");
    let mut keys: Vec<(usize, usize)> = entries.iter().map(|e| (e.point, e.replication)).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 16);
    // The results equal an uninterrupted sweep's.
    let fresh = tmp.path().join("fresh");
    let r = flysim()
        .args(["sweep", "-q", "--out"])
        .arg(&fresh)
        .arg(&file)
        .output()
        .unwrap();
    assert!(r.status.success());
    assert_eq!(results(&out), results(&fresh));
    // A changed sweep file is refused for resume.
    let changed = std::fs::read_to_string(&file)
        .unwrap()
        .replace("values = [1, 2]", "values = [1, 3]");
    std::fs::write(&file, changed).unwrap();
    let r = flysim()
        .args(["sweep", "-q", "--out"])
        .arg(&out)
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("holds results of a different sweep"));
}

#[test]
fn confidence_intervals_cover_the_true_mean_about_95_percent_of_the_time() {
    // The number of arrivals of a Poisson source at 1/s over 100 s has mean 100. Over 400
    // independent groups of 5 replications, the 95 % Student-t interval should cover 100 in
    // about 380 of them; a binomial(400, 0.95) lies in [366, 393] with probability > 99.9 %.
    let text = "name = \"ci\"\nduration = \"100s\"\n[[app]]\nname = \"a\"\nmachines = [{ count = 1, regions = [\"iad\"] }]\n[app.fly]\nprimary_region = \"iad\"\n[app.fly.http_service]\n[[app.traffic]]\nfrom = \"iad\"\nshape = \"poisson\"\nrps = 1\n";
    let mut covered = 0;
    for group in 0..400u64 {
        let sc = flysim::scenario::from_str(text, "ci.toml", &[format!("seed={}", 1000 + group)])
            .unwrap()
            .scenario;
        let xs: Vec<f64> = (0..5)
            .map(|rep| {
                flysim::run::run_replication(&sc, rep)
                    .summary
                    .requests
                    .offered as f64
            })
            .collect();
        let (m, h) = flysim::metrics::stats::mean_ci95(&xs);
        if (m - 100.0).abs() <= h {
            covered += 1;
        }
    }
    assert!((366..=393).contains(&covered), "covered {covered} of 400");
}

#[test]
fn bad_sweep_files_fail_before_any_run() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize("scenarios/quickstart.toml").unwrap();
    let cases = [
        (
            "[[axis]]\npath = \"app.web.nope\"\nvalues = [1]\n",
            "app[0].nope: unknown key",
        ),
        (
            "[[axis]]\npath = \"app.web.machines[0].count\"\nvalues = [\"two\"]\n",
            "app[0].machines[0].count: expected an integer, got \"two\"",
        ),
        (
            "[[axis]]\npath = \"app.web.machines[0].count\"\nvalues = []\n",
            "axis[0].values: empty axis",
        ),
        (
            "[[axis]]\npath = \"app.db.machines[0].count\"\nvalues = [1]\n",
            "no element named \"db\"",
        ),
        (
            "[[axis]]\npath = \"seed\"\nrange = { from = 5, to = 1 }\n",
            "empty range: to (1) is below from (5)",
        ),
        (
            "combine = \"zip\"\n[[axis]]\npath = \"seed\"\nvalues = [1, 2]\n[[axis]]\npath = \"duration\"\nvalues = [\"1h\"]\n",
            "zipped axes need the same number of values",
        ),
        ("axes = 3\n", "axes: unknown key; did you mean \"axis\"?"),
    ];
    for (i, (body, expected)) in cases.iter().enumerate() {
        let file = tmp.path().join(format!("bad{i}.toml"));
        std::fs::write(
            &file,
            format!("scenario = {:?}\n{body}", base.display().to_string()),
        )
        .unwrap();
        let out = tmp.path().join(format!("out{i}"));
        let r = flysim()
            .args(["sweep", "--out"])
            .arg(&out)
            .arg(&file)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "case {i}: {stderr}");
        assert!(
            stderr.contains(expected),
            "case {i}: expected {expected:?} in:\n{stderr}"
        );
        assert!(!out.exists(), "case {i}: output written");
    }
    // The same through `flysim run --set a,b`.
    let r = flysim()
        .args([
            "run",
            "scenarios/quickstart.toml",
            "--set",
            "app.web.machines[0].count=1,x",
            "--out",
        ])
        .arg(tmp.path().join("o"))
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("expected an integer, got \"x\""));
}
