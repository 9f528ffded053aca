//! One test per defect found, named after it; each failed before its fix.
//!
//! Most drive the `flysim` binary, so they can be checked against an older build:
//! `FLYSIM_BIN=/path/to/old/flysim cargo test --release regression` runs them on it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn flysim() -> Command {
    Command::new(std::env::var_os("FLYSIM_BIN").unwrap_or(env!("CARGO_BIN_EXE_flysim").into()))
}

/// Runs a command to its end, or kills it after two minutes (a hang is a defect too: the
/// exit code is then `None`).
fn run(cmd: &mut Command) -> (Option<i32>, String, String) {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let o = Output {
        status: status.unwrap_or_else(|| {
            use std::os::unix::process::ExitStatusExt;
            std::process::ExitStatus::from_raw(9)
        }),
        stdout: reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    };
    (
        status.and(o.status.code()),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A ten-minute scenario that runs in milliseconds.
const TINY: &str = r#"
name = "tiny"
duration = "10m"
seed = 3
[[region]]
code = "ams"
hosts = 2
[[app]]
name = "web"
machines = [{ count = 2, regions = ["ams"] }]
request = { service_time = "20ms" }
[app.fly]
primary_region = "ams"
[app.fly.http_service]
auto_stop_machines = "stop"
[app.fly.http_service.concurrency]
type = "requests"
soft_limit = 5
hard_limit = 8
[[app.traffic]]
from = "ams"
shape = "poisson"
rps = 20
"#;

fn tiny(dir: &Path) -> PathBuf {
    let p = dir.join("tiny.toml");
    std::fs::write(&p, TINY).unwrap();
    p
}

fn tiny_sweep(dir: &Path) -> PathBuf {
    tiny(dir);
    let p = dir.join("sweep.toml");
    std::fs::write(
        &p,
        "name = \"ts\"\nscenario = \"tiny.toml\"\nreplications = 2\n[[axis]]\npath = \"app.web.machines[0].count\"\nvalues = [1, 2]\n",
    )
    .unwrap();
    p
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn assert_refused(code: Option<i32>, err: &str, what: &str) {
    assert_eq!(code, Some(1), "{what}: exit code; stderr:\n{err}");
    assert!(
        err.starts_with("error: "),
        "{what}: message without `error:`:\n{err}"
    );
    assert!(!err.contains("panicked"), "{what}: panic:\n{err}");
}

// ---- Data loss -------------------------------------------------------------------------

#[test]
fn run_out_on_an_existing_folder_deleted_its_files() {
    let t = tmp();
    let d = t.path().join("d");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("notes.txt"), "x").unwrap();
    let (code, _, err) = run(flysim().arg("run").arg(tiny(t.path())).arg("--out").arg(&d));
    assert_refused(code, &err, "existing folder");
    assert!(err.contains("not created by flysim"), "{err}");
    assert_eq!(std::fs::read_to_string(d.join("notes.txt")).unwrap(), "x");
}

#[test]
fn run_out_on_the_parent_folder_deleted_the_working_folder() {
    let t = tmp();
    let work = t.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let sc = tiny(&work);
    let (code, _, err) = run(flysim()
        .current_dir(&work)
        .arg("run")
        .arg(&sc)
        .arg("--out")
        .arg(".."));
    assert_refused(code, &err, "--out ..");
    let (code, _, err) = run(flysim()
        .current_dir(&work)
        .arg("run")
        .arg(&sc)
        .arg("--out")
        .arg(t.path()));
    assert_refused(code, &err, "--out parent");
    assert!(sc.exists() && work.is_dir());
}

#[test]
fn run_out_on_a_file_replaced_it_by_a_folder() {
    let t = tmp();
    let f = t.path().join("my.toml");
    std::fs::write(&f, "keep me").unwrap();
    let (code, _, err) = run(flysim().arg("run").arg(tiny(t.path())).arg("--out").arg(&f));
    assert_refused(code, &err, "file");
    assert!(err.contains("is a file"), "{err}");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "keep me");
    let hidden: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "hidden files left: {hidden:?}");
}

#[test]
fn run_out_on_a_device_or_fifo_replaced_it_by_a_folder() {
    let t = tmp();
    let fifo = t.path().join("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let (code, _, err) = run(flysim()
        .arg("run")
        .arg(tiny(t.path()))
        .arg("--out")
        .arg(&fifo));
    assert_refused(code, &err, "fifo");
    assert!(err.contains("special file"), "{err}");
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
}

#[test]
fn run_out_through_a_symbolic_link_replaced_the_link() {
    let t = tmp();
    let real = t.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let link = t.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let (code, _, err) = run(flysim()
        .arg("run")
        .arg(tiny(t.path()))
        .arg("--out")
        .arg(&link));
    assert_refused(code, &err, "symlink");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn run_replacing_its_own_output_deleted_a_users_file_in_it() {
    let t = tmp();
    let sc = tiny(t.path());
    let out = t.path().join("out");
    let (code, _, err) = run(flysim()
        .arg("run")
        .arg(&sc)
        .arg("-q")
        .arg("--out")
        .arg(&out));
    assert_eq!(code, Some(0), "{err}");
    std::fs::write(out.join("my-notes.md"), "mine").unwrap();
    let (code, _, err) = run(flysim()
        .arg("run")
        .arg(&sc)
        .arg("-q")
        .arg("--out")
        .arg(&out));
    assert_refused(code, &err, "user file inside output");
    assert!(err.contains("my-notes.md"), "{err}");
    assert_eq!(
        std::fs::read_to_string(out.join("my-notes.md")).unwrap(),
        "mine"
    );
    // Without the stranger, replacing works and stays atomic: one folder, no leftovers.
    std::fs::remove_file(out.join("my-notes.md")).unwrap();
    let (code, _, err) = run(flysim()
        .arg("run")
        .arg(&sc)
        .arg("-q")
        .arg("--out")
        .arg(&out));
    assert_eq!(code, Some(0), "{err}");
    let names: Vec<String> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
}

#[test]
fn a_second_sweep_into_a_folder_being_written_corrupted_its_results() {
    let t = tmp();
    let sweep = tiny_sweep(t.path());
    let out = t.path().join("out");
    // Another process (here: this test) holds the folder's lock, as a running sweep does.
    let held = flysim::output::OwnedDir::open(&out).unwrap();
    let (code, _, err) = run(flysim()
        .arg("sweep")
        .arg(&sweep)
        .arg("-q")
        .arg("--out")
        .arg(&out));
    assert_refused(code, &err, "second sweep");
    assert!(err.contains("is being written by flysim process"), "{err}");
    assert!(!out.join("runs.jsonl").exists());
    drop(held);
    let (code, _, err) = run(flysim()
        .arg("sweep")
        .arg(&sweep)
        .arg("-q")
        .arg("--out")
        .arg(&out));
    assert_eq!(code, Some(0), "{err}");
}

/// Two shards of the tiny sweep, in `t/s1` and `t/s2`.
fn two_shards(t: &Path) -> (PathBuf, PathBuf) {
    let sweep = tiny_sweep(t);
    let dirs = (t.join("s1"), t.join("s2"));
    for (k, d) in [(1, &dirs.0), (2, &dirs.1)] {
        let (code, _, err) = run(flysim()
            .arg("sweep")
            .arg(&sweep)
            .arg("-q")
            .arg("--shard")
            .arg(format!("{k}/2"))
            .arg("--out")
            .arg(d));
        assert_eq!(code, Some(0), "{err}");
    }
    dirs
}

#[test]
fn merge_cut_a_shard_journal_at_a_corrupt_line() {
    let t = tmp();
    let (s1, s2) = two_shards(t.path());
    let journal = s1.join("runs.jsonl");
    let mut lines: Vec<String> = std::fs::read_to_string(&journal)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    lines[0] = "{\"point\": 0, \"replic garbage".into();
    let damaged = lines.join("\n") + "\n";
    std::fs::write(&journal, &damaged).unwrap();
    let (code, _, err) = run(flysim()
        .arg("merge")
        .arg(&s1)
        .arg(&s2)
        .arg("--out")
        .arg(t.path().join("m")));
    assert_refused(code, &err, "corrupt journal");
    assert!(err.contains("runs.jsonl:1"), "{err}");
    assert_eq!(std::fs::read_to_string(&journal).unwrap(), damaged);
    assert!(!t.path().join("m").exists());
}

#[test]
fn merge_overwrote_an_input_given_as_out() {
    let t = tmp();
    let (s1, s2) = two_shards(t.path());
    let before = std::fs::read(s1.join("runs.jsonl")).unwrap();
    let (code, _, err) = run(flysim()
        .arg("merge")
        .arg(&s1)
        .arg(&s2)
        .arg("--out")
        .arg(&s1));
    assert_refused(code, &err, "merge into an input");
    assert!(err.contains("only reads its inputs"), "{err}");
    assert_eq!(std::fs::read(s1.join("runs.jsonl")).unwrap(), before);
    assert!(!s1.join("points.csv").exists());
}

#[test]
fn merge_dropped_a_garbage_journal_line_and_exited_0() {
    let t = tmp();
    let (s1, s2) = two_shards(t.path());
    let journal = s2.join("runs.jsonl");
    let mut bytes = std::fs::read(&journal).unwrap();
    bytes.extend_from_slice(b"not json at all\n");
    std::fs::write(&journal, &bytes).unwrap();
    let (code, _, err) = run(flysim()
        .arg("merge")
        .arg(&s1)
        .arg(&s2)
        .arg("--out")
        .arg(t.path().join("m")));
    assert_refused(code, &err, "garbage line");
    assert_eq!(std::fs::read(&journal).unwrap(), bytes);
}

#[test]
fn resume_over_a_damaged_journal_reran_the_finished_runs() {
    let t = tmp();
    let sweep = tiny_sweep(t.path());
    let out = t.path().join("out");
    let (code, _, err) = run(flysim()
        .arg("sweep")
        .arg(&sweep)
        .arg("-q")
        .arg("--out")
        .arg(&out));
    assert_eq!(code, Some(0), "{err}");
    let journal = out.join("runs.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    let damaged = text.replacen("{\"point\"", "{\"pont\"", 1);
    std::fs::write(&journal, &damaged).unwrap();
    let (code, _, err) = run(flysim()
        .arg("sweep")
        .arg(&sweep)
        .arg("-q")
        .arg("--out")
        .arg(&out));
    assert_refused(code, &err, "damaged journal");
    assert!(
        err.contains("runs.jsonl:1") && err.contains("damaged"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&journal).unwrap(), damaged);
}

#[test]
fn a_killed_run_left_temporary_folders_that_nothing_removed() {
    let t = tmp();
    let sc = tiny(t.path());
    // What a run killed mid-write leaves: a marked temporary folder whose lock nobody holds.
    let stale = t.path().join(".out.flysim-tmp-4000000");
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(
        stale.join(".flysim"),
        "# flysim output folder. flysim may replace this folder and delete the files listed below; it touches nothing else.\nbig.csv\n",
    )
    .unwrap();
    std::fs::write(stale.join("big.csv"), vec![b'x'; 10_000]).unwrap();
    std::fs::write(stale.join(".flysim-lock"), "4000000\n").unwrap();
    let (code, _, err) = run(flysim()
        .arg("run")
        .arg(&sc)
        .arg("-q")
        .arg("--out")
        .arg(t.path().join("out")));
    assert_eq!(code, Some(0), "{err}");
    assert!(!stale.exists(), "the stale temporary folder is still there");
}

// ---- Crashes, hangs, memory -------------------------------------------------------------

/// A run's output folder of the tiny scenario.
fn tiny_output(t: &Path) -> PathBuf {
    let out = t.join("out");
    let (code, _, err) = run(flysim()
        .arg("run")
        .arg(tiny(t))
        .arg("-q")
        .arg("--out")
        .arg(&out));
    assert_eq!(code, Some(0), "{err}");
    out
}

fn tiny_sweep_output(t: &Path) -> PathBuf {
    let out = t.join("sout");
    let (code, _, err) = run(flysim()
        .arg("sweep")
        .arg(tiny_sweep(t))
        .arg("-q")
        .arg("--out")
        .arg(&out));
    assert_eq!(code, Some(0), "{err}");
    out
}

#[test]
fn chart_panicked_on_a_truncated_or_empty_points_csv() {
    let t = tmp();
    let out = tiny_sweep_output(t.path());
    let points = out.join("points.csv");
    let full = std::fs::read(&points).unwrap();
    for cut in [0, 10, full.len() / 2, full.len() - 3] {
        std::fs::write(&points, &full[..cut]).unwrap();
        let (code, _, err) = run(flysim().arg("chart").arg(&out));
        assert_refused(code, &err, &format!("points.csv cut at {cut}"));
        assert!(err.contains("points.csv"), "{err}");
    }
}

#[test]
fn chart_redrew_from_nan_huge_unknown_and_missing_values() {
    let t = tmp();
    let out = tiny_output(t.path());
    let ts = out.join("timeseries.csv");
    let original = std::fs::read_to_string(&ts).unwrap();
    let second_row_first_cell = |v: &str| {
        let mut lines: Vec<String> = original.lines().map(String::from).collect();
        let rest = lines[2].split_once(',').unwrap().1.to_string();
        lines[2] = format!("{v},{rest}");
        lines.join("\n") + "\n"
    };
    for bad in ["NaN", "1e308", "inf", "x"] {
        std::fs::write(&ts, second_row_first_cell(bad)).unwrap();
        let (code, _, err) = run(flysim().arg("chart").arg(&out));
        assert_refused(code, &err, bad);
        assert!(err.contains("timeseries.csv:3"), "{bad}: {err}");
    }
    std::fs::write(&ts, &original).unwrap();
    let states = out.join("states.csv");
    let s = std::fs::read_to_string(&states).unwrap();
    std::fs::write(&states, s.replacen("started", "flying", 1)).unwrap();
    let (code, _, err) = run(flysim().arg("chart").arg(&out));
    assert_refused(code, &err, "unknown state");
    assert!(err.contains("unknown value \"flying\""), "{err}");
    std::fs::write(&states, s.replacen("end_s", "finish", 1)).unwrap();
    let (code, _, err) = run(flysim().arg("chart").arg(&out));
    assert_refused(code, &err, "missing column");
    std::fs::write(&states, &s).unwrap();
    let (code, _, err) = run(flysim().arg("chart").arg(&out));
    assert_eq!(code, Some(0), "{err}");
}

/// Runs `flysim` under a 2 GB address-space limit, as a guard against runaway allocation.
fn flysim_limited(args: &[&str], dir: &Path) -> (Option<i32>, String, String) {
    let bin = std::env::var("FLYSIM_BIN").unwrap_or(env!("CARGO_BIN_EXE_flysim").to_string());
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    run(Command::new("sh").current_dir(dir).arg("-c").arg(format!(
        "ulimit -v 2000000; exec '{bin}' {}",
        quoted.join(" ")
    )))
}

fn trace_scenario(dir: &Path, file: &str, extra: &str) -> PathBuf {
    let text = format!(
        "name = \"tr\"\nduration = \"10m\"\n[[region]]\ncode = \"ams\"\nhosts = 1\n[[app]]\nname = \"web\"\nmachines = [{{ count = 1, regions = [\"ams\"] }}]\n[app.fly]\nprimary_region = \"ams\"\n[app.fly.http_service]\nauto_stop_machines = \"off\"\n[[app.traffic]]\nfrom = \"ams\"\nshape = \"trace\"\nfile = \"{file}\"\n{extra}"
    );
    let p = dir.join("tr.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn one_far_away_trace_timestamp_allocated_gigabytes() {
    let t = tmp();
    std::fs::write(
        t.path().join("t.csv"),
        "t,n\n0,5\n1,5\n2,5\n60000000000,5\n",
    )
    .unwrap();
    trace_scenario(t.path(), "t.csv", "");
    let (code, _, err) = flysim_limited(&["run", "tr.toml", "--no-output", "-q"], t.path());
    assert_eq!(code, Some(0), "{err}");
    // A Prometheus sample far in the future.
    std::fs::write(
        t.path().join("p.json"),
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"region":"ams"},"values":[[1700000000,"3"],[1700000060,"4"],[170000000000,"1"]]}]}}"#,
    )
    .unwrap();
    trace_scenario(t.path(), "p.json", "");
    let (code, _, err) = flysim_limited(&["run", "tr.toml", "--no-output", "-q"], t.path());
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn an_iso_offset_with_huge_minutes_aborted_the_process() {
    let t = tmp();
    std::fs::write(
        t.path().join("t.csv"),
        "time,n\n1995-07-01T00:00:00-04:00,1\n1995-07-01T00:01:00-04:00,2\n1995-07-01T00:02:00-04:9223372036854775807,3\n",
    )
    .unwrap();
    trace_scenario(t.path(), "t.csv", "");
    let (code, _, err) = flysim_limited(&["run", "tr.toml", "--no-output"], t.path());
    assert_refused(code, &err, "iso offset");
    assert!(err.contains("t.csv:4"), "{err}");
}

#[test]
fn values_that_validate_but_hang_or_exhaust_memory_are_refused_with_the_reason() {
    let t = tmp();
    let sc = tiny(t.path());
    let cases: &[(&str, &str)] = &[
        ("platform.autostop_interval=\"1ns\"", "autostop_interval"),
        ("app.web.traffic[0].rps=1e9", "requests"),
        ("duration=\"36500d\"", "requests"),
        ("replications=100000", "replications"),
    ];
    for (set, expect) in cases {
        let started = std::time::Instant::now();
        let (code, _, err) = run(flysim()
            .arg("run")
            .arg(&sc)
            .arg("--set")
            .arg(set)
            .arg("--no-output"));
        assert_refused(code, &err, set);
        assert!(err.contains(expect), "{set}: {err}");
        assert!(
            started.elapsed().as_secs() < 20,
            "{set}: took {:?}",
            started.elapsed()
        );
    }
    // A host that fails every nanosecond.
    let faulty = format!("{TINY}\n[[fault]]\nkind = \"host_failures\"\nmtbf = \"1ns\"\n");
    std::fs::write(t.path().join("faulty.toml"), faulty).unwrap();
    let (code, _, err) = run(flysim()
        .arg("run")
        .arg(t.path().join("faulty.toml"))
        .arg("--no-output"));
    assert_refused(code, &err, "mtbf 1ns");
    assert!(err.contains("failures"), "{err}");
}

#[test]
fn a_multi_million_point_set_grid_and_huge_jobs_hung_or_exhausted_memory() {
    let t = tmp();
    let sc = tiny(t.path());
    let values: Vec<String> = (1..=2000).map(|i| i.to_string()).collect();
    let started = std::time::Instant::now();
    let (code, _, err) = run(flysim()
        .arg("run")
        .arg(&sc)
        .arg("--set")
        .arg(format!("app.web.machines[0].count={}", values.join(",")))
        .arg("--set")
        .arg(format!("seed={}", values.join(","))));
    assert_refused(code, &err, "grid");
    assert!(err.contains("at most 20000"), "{err}");
    assert!(started.elapsed().as_secs() < 20);
    let (code, _, err) = run(flysim()
        .arg("sweep")
        .arg(tiny_sweep(t.path()))
        .arg("--jobs")
        .arg("100000"));
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn a_huge_scenario_name_simulated_then_failed_at_the_write() {
    let t = tmp();
    for name in ["x".repeat(300), "y".repeat(10 << 20)] {
        let text = TINY.replace("name = \"tiny\"", &format!("name = \"{name}\""));
        let p = t.path().join("long.toml");
        std::fs::write(&p, text).unwrap();
        let started = std::time::Instant::now();
        let (code, _, err) = run(flysim().arg("run").arg(&p));
        assert_refused(code, &err, "long name");
        assert!(err.contains("bytes"), "{}", &err[..err.len().min(300)]);
        assert!(err.len() < 2000, "the message repeats the whole name");
        assert!(started.elapsed().as_secs() < 20);
    }
}

#[test]
fn a_sweep_named_dotdot_wrote_outside_output() {
    let t = tmp();
    let sweep = tiny_sweep(t.path());
    let text = std::fs::read_to_string(&sweep)
        .unwrap()
        .replace("name = \"ts\"", "name = \"../x\"");
    std::fs::write(&sweep, text).unwrap();
    let (code, _, err) = run(flysim().current_dir(t.path()).arg("sweep").arg(&sweep));
    assert_refused(code, &err, "../x");
    assert!(!t.path().join("x").exists());
}

#[test]
fn validate_said_ok_to_a_scenario_without_app() {
    let t = tmp();
    let p = t.path().join("noapp.toml");
    std::fs::write(
        &p,
        "name = \"x\"\nduration = \"1h\"\n[platform]\nautostop_interval = \"3m\"\n",
    )
    .unwrap();
    let (code, out, _) = run(flysim().arg("validate").arg(&p));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("no [[app]]"), "{out}");
    let p = t.path().join("noapp2.toml");
    std::fs::write(&p, "name = \"x\"\n[[region]]\ncode = \"ams\"\n").unwrap();
    let (code, _, _) = run(flysim().arg("validate").arg(&p));
    assert_eq!(code, Some(1));
}

#[test]
fn import_printed_a_scenario_that_run_rejects() {
    let t = tmp();
    std::fs::write(
        t.path().join("fly.toml"),
        "app = \"x\"\nprimary_region = \"xxx\"\n[http_service]\ninternal_port = 8080\n",
    )
    .unwrap();
    let (code, text, err) = run(flysim().current_dir(t.path()).arg("import").arg("fly.toml"));
    assert_eq!(code, Some(0), "{err}");
    std::fs::write(t.path().join("s.toml"), text).unwrap();
    let (code, _, err) = run(flysim()
        .current_dir(t.path())
        .arg("run")
        .arg("s.toml")
        .arg("--set")
        .arg("duration=\"10m\"")
        .arg("--no-output"));
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("fly.toml:2:18"),
        "the warning names the fly.toml: {err}"
    );
}

// ---- Figures -----------------------------------------------------------------------------

fn table_of(args: &[&str], dir: &Path) -> String {
    let (code, out, err) = run(flysim().current_dir(dir).args(args));
    assert_eq!(code, Some(0), "{err}");
    out
}

#[test]
fn replication_half_widths_were_fractions_beside_percentages() {
    let t = tmp();
    tiny(t.path());
    let out = table_of(
        &[
            "run",
            "tiny.toml",
            "--no-output",
            "--set",
            "replications=3",
            "--set",
            "app.web.traffic[0].rps=60",
        ],
        t.path(),
    );
    let line = out
        .lines()
        .find(|l| l.contains("availability") && l.contains("offered"))
        .unwrap();
    let after = line.split(" % ").nth(1).unwrap_or("");
    assert!(after.is_empty() || after.ends_with(" pp"), "{line}");
}

#[test]
fn means_over_replications_were_cut_off_not_rounded() {
    let out = table_of(
        &["run", "--no-output", "--set", "replications=3"],
        Path::new("."),
    );
    let figure = |key: &str| -> String {
        let at = out.find(key).unwrap_or_else(|| panic!("{key} in {out}")) + key.len();
        out[at..].split_whitespace().next().unwrap().to_string()
    };
    // Every failure of the quickstart is at the hard limit: both are the same mean.
    assert_eq!(figure("failed "), figure("at_hard_limit "), "{out}");
    assert!(
        figure("failed ").contains('.'),
        "a mean of three runs shown without decimals: {out}"
    );
}

#[test]
fn availability_printed_100_percent_while_requests_failed() {
    let t = tmp();
    let text = format!(
        "{}\n[[fault]]\nkind = \"region_down\"\nregion = \"ams\"\nat = \"5m\"\nfor = \"30ms\"\n",
        TINY.replace("duration = \"10m\"", "duration = \"10d\"")
            .replace("rps = 20", "rps = 60")
            .replace("hard_limit = 8", "hard_limit = 1000")
            .replace(
                "auto_stop_machines = \"stop\"",
                "auto_stop_machines = \"off\""
            )
            .replace("shape = \"poisson\"", "shape = \"constant\"")
    );
    std::fs::write(t.path().join("s.toml"), text).unwrap();
    let out = table_of(&["run", "s.toml", "--no-output"], t.path());
    let failed: f64 = out
        .split("failed ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .replace(',', "")
        .parse()
        .unwrap();
    assert!(failed > 0.0, "the scenario must fail some requests: {out}");
    assert!(
        !out.contains("100.000 %") || !out.contains("availability 100.000 %"),
        "{out}"
    );
    assert!(!out.contains("availability 100.000"), "{out}");
    assert!(!out.contains("-0"), "negative zero: {out}");
}

#[test]
fn the_cost_chart_was_blank_for_one_app_in_one_region() {
    let t = tmp();
    let out = tiny_output(t.path());
    let img = image::open(out.join("cost.png")).unwrap().to_rgb8();
    // The compute bar is Okabe–Ito blue (0, 114, 178).
    let blue = img.pixels().filter(|p| p.0 == [0, 114, 178]).count();
    assert!(blue > 5_000, "{blue} bar pixels");
    let img = image::open(out.join("machines.png")).unwrap().to_rgb8();
    let white = img.pixels().filter(|p| p.0 == [255, 255, 255]).count();
    assert!(
        white < img.pixels().count() * 95 / 100,
        "the state timeline is blank"
    );
}

#[test]
fn csv_columns_changed_type_mid_file() {
    let t = tmp();
    let out = tiny_output(t.path());
    for file in [
        "timeseries.csv",
        "machines.csv",
        "states.csv",
        "cost.csv",
        "latency.csv",
    ] {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        let mut rows = text.lines();
        let header: Vec<&str> = rows.next().unwrap().split(',').collect();
        let rows: Vec<Vec<&str>> = rows.map(|r| r.split(',').collect()).collect();
        for (c, name) in header.iter().enumerate() {
            let numeric: Vec<&str> = rows
                .iter()
                .map(|r| r[c])
                .filter(|v| v.parse::<f64>().is_ok())
                .collect();
            if numeric.len() < 2 {
                continue;
            }
            let with_point = numeric.iter().filter(|v| v.contains('.')).count();
            assert!(
                with_point == 0 || with_point == numeric.len(),
                "{file}: column {name} mixes integers and decimals"
            );
        }
    }
}

#[test]
fn negative_zero_appeared_in_summary_json() {
    let t = tmp();
    let out = tiny_output(t.path());
    for f in [
        "summary.json",
        "timeseries.csv",
        "machines.csv",
        "incidents.csv",
        "cost.csv",
    ] {
        let text = std::fs::read_to_string(out.join(f)).unwrap();
        for bad in [": -0.0", ": -0,", ",-0.0", ",-0,", ",-0\n"] {
            assert!(!text.contains(bad), "{f} holds {bad:?}");
        }
    }
}

#[test]
fn hosts_were_numbered_across_regions_instead_of_named() {
    let t = tmp();
    let out = tiny_output(t.path());
    let text = std::fs::read_to_string(out.join("machines.csv")).unwrap();
    let mut lines = text.lines();
    let col = lines
        .next()
        .unwrap()
        .split(',')
        .position(|h| h == "host")
        .unwrap();
    let hosts: Vec<String> = lines
        .map(|l| l.split(',').nth(col).unwrap().to_string())
        .collect();
    assert_eq!(hosts, vec!["ams:0", "ams:1"]);
}

#[test]
fn merge_wrote_no_charts_and_left_a_stale_report() {
    let t = tmp();
    let (s1, s2) = two_shards(t.path());
    let m = t.path().join("m");
    let (code, _, err) = run(flysim()
        .arg("merge")
        .arg(&s1)
        .arg(&s2)
        .arg("-q")
        .arg("--out")
        .arg(&m));
    assert_eq!(code, Some(0), "{err}");
    for f in [
        "report.html",
        "tradeoff.png",
        "runs.csv",
        "points.csv",
        "sweep.json",
        "runs.jsonl",
    ] {
        assert!(m.join(f).exists(), "{f} missing");
    }
    // Merging again replaces the whole folder: a chart an earlier merge drew and this one
    // does not draw is gone.
    let marker = m.join(".flysim");
    let mut listed = std::fs::read_to_string(&marker).unwrap();
    listed.push_str("heatmap.png\n");
    std::fs::write(&marker, listed).unwrap();
    std::fs::write(m.join("heatmap.png"), "from an earlier sweep").unwrap();
    let (code, _, err) = run(flysim()
        .arg("merge")
        .arg(&s1)
        .arg(&s2)
        .arg("-q")
        .arg("--out")
        .arg(&m));
    assert_eq!(code, Some(0), "{err}");
    assert!(!m.join("heatmap.png").exists());
    assert!(m.join("report.html").exists());
}

#[test]
fn a_resumed_sweep_did_not_say_how_many_runs_were_done() {
    let t = tmp();
    let sweep = tiny_sweep(t.path());
    let out = t.path().join("out");
    let (code, _, _) = run(flysim()
        .arg("sweep")
        .arg(&sweep)
        .arg("-q")
        .arg("--out")
        .arg(&out)
        .env("FLYSIM_STOP_AFTER_RUNS", "2"));
    assert_eq!(code, Some(75));
    let (code, _, err) = run(flysim().arg("sweep").arg(&sweep).arg("--out").arg(&out));
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("resumed: 2 of 4 runs were already done"),
        "{err}"
    );
}

#[test]
fn the_journal_order_depended_on_jobs() {
    let t = tmp();
    let sweep = tiny_sweep(t.path());
    let mut journals = Vec::new();
    for jobs in ["1", "2"] {
        let out = t.path().join(format!("j{jobs}"));
        let (code, _, err) = run(flysim()
            .arg("sweep")
            .arg(&sweep)
            .arg("-q")
            .arg("--jobs")
            .arg(jobs)
            .arg("--out")
            .arg(&out));
        assert_eq!(code, Some(0), "{err}");
        journals.push(std::fs::read(out.join("runs.jsonl")).unwrap());
    }
    assert_eq!(journals[0], journals[1]);
}

#[test]
fn sweep_of_a_scenario_answered_with_six_unknown_key_errors() {
    let t = tmp();
    let (code, _, err) = run(flysim().arg("sweep").arg(tiny(t.path())));
    assert_refused(code, &err, "sweep scenario");
    assert!(err.contains("flysim run"), "{err}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    let (code, _, err) = run(flysim().arg("run").arg(tiny_sweep(t.path())));
    assert_refused(code, &err, "run sweep");
    assert!(err.contains("flysim sweep"), "{err}");
}

// ---- Messages ----------------------------------------------------------------------------

#[test]
fn duplicate_key_was_reported_without_the_key() {
    let t = tmp();
    let p = t.path().join("d.toml");
    std::fs::write(&p, "name = \"a\"\nduration = \"1h\"\nname = \"b\"\n").unwrap();
    let (code, _, err) = run(flysim().arg("run").arg(&p));
    assert_refused(code, &err, "duplicate");
    assert!(
        err.contains("d.toml:3:1") && err.contains("`name`"),
        "{err}"
    );
}

#[test]
fn standby_capacity_and_utf8_errors_had_no_line_and_column() {
    let t = tmp();
    let p = t.path().join("s.toml");
    std::fs::write(&p, TINY.replace("machines = [{ count = 2, regions = [\"ams\"] }]", "machines = [{ count = 2, regions = [\"ams\"] }, { count = 1, regions = [\"ams\"], standby_for = \"web:9\" }]")).unwrap();
    let (code, _, err) = run(flysim().arg("run").arg(&p));
    assert_refused(code, &err, "standby_for");
    assert!(err.contains("s.toml:10:93"), "{err}");
    std::fs::write(
        &p,
        TINY.replace(
            "hosts = 2",
            "hosts = 2\nhost = { cpus = 1, memory = \"128mb\" }",
        ),
    )
    .unwrap();
    let (code, _, err) = run(flysim().arg("run").arg(&p));
    assert_refused(code, &err, "fits on no host");
    assert!(
        err.contains("fits on no host") && err.contains("s.toml:"),
        "{err}"
    );
    assert!(!err.contains("s.toml: app"), "{err}");
    let mut bytes = TINY.as_bytes().to_vec();
    bytes.extend_from_slice(b"\n# caf\xe9\n");
    std::fs::write(&p, bytes).unwrap();
    let (code, _, err) = run(flysim().arg("run").arg(&p));
    assert_refused(code, &err, "utf-8");
    assert!(
        err.contains("s.toml:25:6") && err.contains("UTF-8"),
        "{err}"
    );
}

#[test]
fn bucket_and_duration_errors_pointed_at_1_1() {
    let t = tmp();
    let p = t.path().join("s.toml");
    std::fs::write(&p, TINY.replace("seed = 3", "seed = 3\nbucket = \"1ns\"")).unwrap();
    let (_, _, err) = run(flysim().arg("run").arg(&p));
    assert!(err.contains("s.toml:5:10: bucket"), "{err}");
    std::fs::write(&p, TINY.replace("duration = \"10m\"", "duration = \"0s\"")).unwrap();
    let (_, _, err) = run(flysim().arg("run").arg(&p));
    assert!(err.contains("s.toml:3:12: duration"), "{err}");
}

#[test]
fn a_huge_trace_count_was_blamed_on_scale_without_the_csv_row() {
    let t = tmp();
    std::fs::write(t.path().join("t.csv"), "t,n\n0,5\n60,5000\n120,7\n").unwrap();
    trace_scenario(t.path(), "t.csv", "scale = 1e5\n");
    let (code, _, err) = run(flysim().current_dir(t.path()).arg("run").arg("tr.toml"));
    assert_refused(code, &err, "huge count");
    assert!(err.contains("t.csv:3"), "{err}");
}

#[test]
fn os_errors_were_printed_twice_with_temporary_paths() {
    let t = tmp();
    let f = t.path().join("file");
    std::fs::write(&f, "x").unwrap();
    let (code, _, err) = run(flysim()
        .arg("run")
        .arg(tiny(t.path()))
        .arg("--out")
        .arg(f.join("sub")));
    assert_refused(code, &err, "parent is a file");
    assert!(!err.contains("tmp-"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(
        err.matches("(os error").count(),
        1,
        "the OS error is printed twice: {err}"
    );
}

#[test]
fn sweep_merge_and_chart_errors_had_no_error_prefix() {
    let t = tmp();
    let (code, _, err) = run(flysim().arg("chart").arg(t.path()));
    assert_refused(code, &err, "chart");
    let (code, _, err) = run(flysim()
        .arg("merge")
        .arg(t.path())
        .arg("--out")
        .arg(t.path().join("m")));
    assert_refused(code, &err, "merge");
    let changed = tiny_sweep(t.path());
    let out = t.path().join("o");
    run(flysim()
        .arg("sweep")
        .arg(&changed)
        .arg("-q")
        .arg("--out")
        .arg(&out));
    std::fs::write(
        t.path().join("tiny.toml"),
        TINY.replace("rps = 20", "rps = 21"),
    )
    .unwrap();
    let (code, _, err) = run(flysim().arg("sweep").arg(&changed).arg("--out").arg(&out));
    assert_refused(code, &err, "changed sweep");
}

#[test]
fn the_largest_u64_seed_was_refused_as_not_an_integer() {
    let t = tmp();
    let (code, out, err) = run(flysim()
        .arg("run")
        .arg(tiny(t.path()))
        .arg("--no-output")
        .arg("--seed")
        .arg("18446744073709551615"));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("seed 18446744073709551615"), "{out}");
}

#[test]
fn a_bad_rps_exited_1_where_other_bad_flags_exit_2() {
    let t = tmp();
    std::fs::write(
        t.path().join("fly.toml"),
        "app = \"x\"\nprimary_region = \"ams\"\n",
    )
    .unwrap();
    for rps in ["x", "-1", "0", "inf"] {
        let (code, _, err) = run(flysim()
            .current_dir(t.path())
            .args(["import", "fly.toml", "--rps", rps]));
        assert_eq!(code, Some(2), "--rps {rps}: {err}");
    }
}

#[test]
fn set_without_a_scenario_read_quickstart_from_the_working_folder() {
    let t = tmp();
    let (code, _, err) = run(flysim()
        .current_dir(t.path())
        .args([
            "run",
            "-q",
            "--set",
            "duration=\"10m\"",
            "--set",
            "app.web.machines[0].count=1,2",
        ])
        .arg("--out")
        .arg(t.path().join("o")));
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn availability_counted_requests_still_in_flight_at_the_end_as_lost() {
    let t = tmp();
    let out = t.path().join("o");
    let (code, _, err) = run(flysim()
        .arg("run")
        .arg("tests/fixtures/gen/base.toml")
        .arg("-q")
        .arg("--no-charts")
        .arg("--out")
        .arg(&out));
    assert_eq!(code, Some(0), "{err}");
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let r = &s["requests"];
    // The case in point: nothing failed, but requests were still being served at the end.
    assert_eq!(r["failed"], 0, "{r}");
    assert!(r["in_flight_at_end"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["availability"].as_f64(), Some(1.0), "{r}");
}

/// An app that exits when idle, under `[[restart]] policy = "always"`, is started again by Fly
/// at once: it never stays stopped. Under "never" (and the default "on-failure": a clean exit)
/// it stays stopped until a request wakes it.
#[test]
fn an_idle_exit_under_restart_always_stayed_stopped() {
    let text = |policy: &str| {
        format!(
            r#"
name = "idle"
duration = "1h"
[platform]
boot_time = "1s"
stop_overhead = "1s"
[[region]]
code = "ams"
hosts = 1
[[app]]
name = "web"
machines = [{{ count = 1, regions = ["ams"] }}]
request = {{ service_time = "10ms" }}
app_boot = "2s"
idle_exit = "5m"
[app.fly]
primary_region = "ams"
[app.fly.http_service]
auto_stop_machines = "off"
{policy}
"#
        )
    };
    // No traffic: the Machine starts idle at 0, exits at 5 min.
    let always = crate::common::scenario(&text("[[app.fly.restart]]\npolicy = \"always\""));
    let sim = crate::common::run(&always, 0);
    let m = &sim.machines()[0];
    // Each cycle: 5 min idle, 1 s to stop, 1 s boot + 2 s app boot, then idle again from the
    // moment it is started: 304 s a cycle, so 11 exits and 11 restarts in the hour.
    assert_eq!((m.stops, m.starts), (11, 11), "{m:?}");
    assert_eq!(m.state, flysim::platform::machine::MState::Started);
    let never = crate::common::scenario(&text("[[app.fly.restart]]\npolicy = \"never\""));
    let sim = crate::common::run(&never, 0);
    assert_eq!((sim.machines()[0].stops, sim.machines()[0].starts), (1, 0));
    let default = crate::common::scenario(&text(""));
    let sim = crate::common::run(&default, 0);
    assert_eq!((sim.machines()[0].stops, sim.machines()[0].starts), (1, 0));
}

/// The mean availability over replications was rounded to 6 decimals: 3 failures in 10 million
/// requests per replication became an availability of exactly 1 in `summary.json`, and the
/// table printed 100 %.
#[test]
fn replication_means_rounded_rare_failures_into_an_availability_of_one() {
    let one = serde_json::json!({
        "seed": 1,
        "replication": 0,
        "requests": { "availability": 0.9999997, "slo_share": 0.9999996, "cross_region_share": 3e-7 },
        "workers": { "jobs": { "availability": 0.99999985 } },
        "cost_usd": { "total": 0.5292651 }
    });
    let agg = flysim::run::aggregate(&[one.clone(), one]);
    assert_eq!(agg["requests"]["availability"], 0.9999997);
    assert_eq!(agg["requests"]["slo_share"], 0.9999996);
    assert_eq!(agg["requests"]["cross_region_share"], 3e-7);
    assert_eq!(agg["workers"]["jobs"]["availability"], 0.99999985);
    // Other figures keep 6 decimals.
    assert_eq!(agg["cost_usd"]["total"], 0.529265);
}

/// The HTML report printed shares with four decimals: an availability of 0.99999999 (failed
/// requests) showed as "100.0000 %".
#[test]
fn the_report_printed_100_percent_while_requests_failed() {
    let sc = flysim::scenario::from_str(TINY, "tiny.toml", &[])
        .unwrap()
        .scenario;
    let mut files = flysim::run::run_files(&flysim::run::run_replication(&sc, 0), "");
    let summary = files.iter_mut().find(|f| f.0 == "summary.json").unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&summary.1).unwrap();
    v["requests"]["availability"] = serde_json::json!(0.99999999);
    v["requests"]["failed"] = serde_json::json!(1);
    summary.1 = serde_json::to_vec(&v).unwrap();
    let out = flysim::chart::charts_for_run_files(&files, "").unwrap();
    let report =
        String::from_utf8(out.iter().find(|f| f.0 == "report.html").unwrap().1.clone()).unwrap();
    assert!(
        !report.contains("100.0000"),
        "the report rounds a failure away"
    );
    assert!(
        report.contains("99.999999 %"),
        "availability as the table prints it"
    );
}

/// `flysim run --set ...` without a scenario must run the built-in quickstart, whatever a
/// `scenarios/quickstart.toml` in the working folder says (one run and a sweep of `--set`).
#[test]
fn run_set_without_a_scenario_read_quickstart_from_the_working_folder() {
    let t = tmp();
    std::fs::create_dir(t.path().join("scenarios")).unwrap();
    std::fs::write(
        t.path().join("scenarios/quickstart.toml"),
        "name = \"not-the-built-in\"\nduration = \"1h\"\n",
    )
    .unwrap();
    let (code, out, err) = run(flysim().current_dir(t.path()).args([
        "run",
        "--no-output",
        "--set",
        "duration=\"1h\"",
    ]));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("quickstart, seed 7"), "{out}");
    let (code, out, err) = run(flysim().current_dir(t.path()).args([
        "run",
        "--set",
        "duration=\"1h\"",
        "--set",
        "app.web.machines[0].count=1,2",
        "--out",
        "sweep-out",
        "-q",
    ]));
    assert_eq!(code, Some(0), "{err}{out}");
    let sweep = std::fs::read_to_string(t.path().join("sweep-out/sweep.json")).unwrap();
    assert!(sweep.contains("quickstart-sweep"), "{sweep}");
}

/// `flysim import` listed a worker's standby after every group, while an app without
/// `machines` (the same fly.toml run directly) put it right after its Machine: the same
/// fly.toml gave Machines different ids (`shop:1` a standby in one, a web Machine in the
/// other). Both now take Fly's default layout from `fly::deploy_layout`.
#[test]
fn import_numbered_machines_unlike_a_run_of_the_same_fly_toml() {
    let tmp = tempfile::tempdir().unwrap();
    let fly = tmp.path().join("fly.toml");
    std::fs::write(&fly, "app = 'shop'\nprimary_region = 'fra'\n[processes]\nworker = 'b'\nweb = 'a'\ndb = 'c'\n[http_service]\nprocesses = ['web']\n[[mounts]]\nsource = 'd'\ndestination = '/d'\nprocesses = ['db']\n").unwrap();
    let imported = flysim::import::import(
        &fly,
        None,
        5.0,
        &flysim::import::FlyReference::Path(fly.clone()),
    )
    .unwrap();
    let from_import = flysim::scenario::from_str(
        &imported.text,
        &tmp.path().join("s.toml").display().to_string(),
        &[],
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", imported.text))
    .scenario;
    let text = format!(
        "duration = \"1h\"\n[[app]]\nname = \"shop\"\nfly_toml = {:?}\n",
        fly.display().to_string()
    );
    let default = flysim::scenario::from_str(&text, "d.toml", &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario;
    let layout = |sc: &flysim::scenario::Scenario| -> Vec<(usize, bool, Vec<u32>, u32)> {
        sc.apps[0]
            .machines
            .iter()
            .map(|g| {
                let n: u32 = g.per_region.iter().map(|x| x.1).sum();
                (g.group, g.started, g.standby_for.clone(), n)
            })
            .collect()
    };
    assert_eq!(layout(&from_import), layout(&default));
    // worker:0, its standby shop:1, web shop:2 and shop:3, db shop:4.
    assert_eq!(layout(&default)[1].2, vec![0]);
}

/// A process group reached only by a second service (`[[services]]` beside `[http_service]`)
/// was laid out as a worker, one Machine and a standby, by both an app without `machines` and
/// `flysim import`: only the first service's groups counted. flyctl gives every group with
/// any service two Machines.
#[test]
fn default_layout_counted_only_the_first_services_groups() {
    let tmp = tmp();
    let fly = tmp.path().join("fly.toml");
    std::fs::write(&fly, "app = 'api'\nprimary_region = 'fra'\n[processes]\nweb = 'a'\ngrpc = 'b'\n[http_service]\ninternal_port = 8080\nprocesses = ['web']\n[[services]]\ninternal_port = 50051\nprocesses = ['grpc']\n").unwrap();
    let text = format!(
        "duration = \"1h\"\n[[app]]\nname = \"api\"\nfly_toml = {:?}\n",
        fly.display().to_string()
    );
    let default = flysim::scenario::from_str(&text, "d.toml", &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario;
    let layout: Vec<(usize, u32, bool)> = default.apps[0]
        .machines
        .iter()
        .map(|g| (g.group, g.per_region[0].1, g.standby_for.is_empty()))
        .collect();
    assert_eq!(layout, vec![(0, 2, true), (1, 2, true)]);
    let imported = flysim::import::import(
        &fly,
        None,
        5.0,
        &flysim::import::FlyReference::Path(fly.clone()),
    )
    .unwrap();
    assert!(
        imported.text.contains("group = \"grpc\", count = 2"),
        "{}",
        imported.text
    );
    assert!(!imported.text.contains("standby_for"), "{}", imported.text);
    // The second service is offered a source to fill in.
    assert!(
        imported.text.contains("# service = 50051"),
        "{}",
        imported.text
    );
}

/// A worker Machine (a group no service reaches) that finished booting took requests waiting
/// in the proxy queue: the boot fed it from its app's queue like a web Machine.
#[test]
fn a_booting_worker_took_requests_from_the_proxy_queue() {
    // web:0 (hard limit 1) serves the first of three requests arriving at 1 s; the other two
    // queue. The worker web:1 starts at 1.5 s and boots by 3 s; the queued requests must wait
    // for web:0 (done at 11 s, then 21 s), not go to the worker.
    let text = r#"
name = "worker-queue"
duration = "60s"
[platform]
max_queue_wait = "60s"
boot_time = "1s"
[[region]]
code = "iad"
hosts = 2
[[app]]
name = "web"
machines = [{ group = "web", count = 1, regions = ["iad"] }, { group = "worker", count = 1, regions = ["iad"], state = "stopped" }]
request = { service_time = "10s" }
app_boot = "0.5s"
[app.fly]
primary_region = "iad"
[app.fly.processes]
web = "serve"
worker = "work"
[app.fly.http_service]
processes = ["web"]
[app.fly.http_service.concurrency]
type = "requests"
soft_limit = 1
hard_limit = 1
[[app.traffic]]
from = "iad"
shape = "constant"
rps = 1000
start = "1s"
end = "1.003s"
[[action]]
at = "1.5s"
kind = "machine_start"
machine = "web:1"
"#;
    let sc = flysim::scenario::from_str(text, "w.toml", &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario;
    let mut sim = flysim::platform::Sim::new(&sc, 0);
    sim.run();
    let served: Vec<u64> = sim.machines().iter().map(|m| m.served).collect();
    assert_eq!(served, vec![3, 0]);
}

/// A bluegreen deploy creates the green Machine of a stopped blue one stopped and cordoned;
/// the cordon was set after the proxy had indexed the new Machine as one to wake, so the index
/// would wake a Machine the proxy must not (found by the property test: the index and a scan of
/// every Machine disagreed).
#[test]
fn a_cordoned_green_machine_stayed_wakeable_in_the_routing_index() {
    let text = r#"
name = "w"
duration = "10m"
[platform]
create_time = "1s"
boot_time = "1s"
[[region]]
code = "iad"
hosts = 4
[[app]]
name = "web"
request = { service_time = "40ms" }
machines = [{ count = 1, regions = ["iad"] }, { count = 1, regions = ["iad"], state = "stopped" }]
[app.fly]
primary_region = "iad"
[app.fly.http_service]
auto_start_machines = true
[app.fly.http_service.concurrency]
type = "requests"
soft_limit = 1
hard_limit = 1
[[app.fly.http_service.checks]]
grace_period = "1s"
interval = "5s"
[[app.traffic]]
from = "iad"
shape = "poisson"
rps = 8
start = "65s"
[[deploy]]
at = "60s"
app = "web"
strategy = "bluegreen"
fail = "health"
"#;
    let sc = flysim::scenario::from_str(text, "w.toml", &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario;
    let mut sim = flysim::platform::Sim::new(&sc, 0);
    // Every routing decision of the index is also made by a scan, and compared.
    sim.check_routing(true);
    sim.run();
    let green = &sim.machines()[3];
    assert_eq!(green.ordinal, 3);
    assert_eq!(green.served, 0, "the cordoned green Machine took requests");
}

/// A deploy's update holds a Machine (no new requests, never woken) from its drain to the end
/// of its boot. When the Machine's host failed during the drain, the boot never came and the
/// hold stayed for good: once the host was back the proxy never started the Machine again.
#[test]
fn an_update_held_a_machine_whose_host_failed_for_good() {
    let text = r#"
name = "w"
duration = "10m"
[platform]
boot_time = "1s"
stop_overhead = "0s"
[[region]]
code = "iad"
hosts = 4
[[app]]
name = "web"
app_boot = "1.5s"
request = { service_time = "40ms" }
machines = [{ count = 1, regions = ["iad"] }]
[[app.traffic]]
from = "iad"
shape = "constant"
rps = 1
start = "0.5s"
[app.fly]
primary_region = "iad"
[app.fly.http_service]
auto_start_machines = true
# web:0 drains a request in flight since 100.5 s when its host fails at 100.52 s.
[[deploy]]
at = "100510ms"
app = "web"
strategy = "rolling"
wait_timeout = "60s"
[[fault]]
kind = "host_down"
at = "100520ms"
for = "200s"
target = "web:0"
"#;
    let sc = flysim::scenario::from_str(text, "w.toml", &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario;
    let mut sim = flysim::platform::Sim::new(&sc, 0);
    sim.run();
    let m = &sim.machines()[0];
    assert_eq!(m.gate, 0, "the Machine is still held by the update");
    assert_eq!(m.state, flysim::platform::machine::MState::Started);
    assert!(sim.rec.apps[0].served > 350, "{}", sim.rec.apps[0].served);
}

/// A Machine whose host was full at a start moved to a host of its region with room, which
/// could be the host of its own standby: the two then shared a host, which Fly never allows
/// (found by the property test; host failures and a `scale_vm` fill the hosts).
#[test]
fn a_machine_moved_at_a_start_onto_its_standbys_host() {
    let text = r##"
name = "prop"
duration = "900s"
bucket = "30s"
[platform]
max_queue_wait = "0ms"
boot_time = "10ms"
autostop_interval = "20s"
autostop_min_runtime = "30s"
autostop_idle_window = "10s"
failure_detection = "20s"
tiebreak = "random"
cross_region_spill = "hard"
[[region]]
code = "ams"
hosts = 2
host = { cpus = 2, memory = "4gb" }
[[app]]
name = "web"
machines = [{ count = 3, regions = ["ams", "fra"] }]
request = { service_time = { dist = "lognormal", median = "80ms", p99 = "900ms" }, model = "independent" }
app_boot = "500ms"
[app.fly]
primary_region = "ams"
[app.fly.http_service]
auto_stop_machines = "off"
[app.fly.http_service.concurrency]
type = "requests"
soft_limit = 1
hard_limit = 1
[[app.fly.vm]]
size = "shared-cpu-1x"
memory = "1gb"
[[app.traffic]]
from = "ams"
shape = "poisson"
rps = 0.5
[[app.traffic]]
from = "fra"
shape = "burst"
at = "300s"
for = "20s"
rps = 0
[[app]]
name = "jobs"
machines = [{ count = 1, regions = ["ams"] }, { count = 1, regions = ["ams"], standby_for = "jobs:0" }]
[app.fly]
primary_region = "ams"
[app.fly.processes]
worker = "run"
[[app.fly.vm]]
size = "shared-cpu-1x"
[[fault]]
kind = "host_failures"
mtbf = "7m"
repair = { dist = "exponential", mean = "3m" }

[[action]]
at = "343s"
app = "web"
kind = "scale_vm"
size = "shared-cpu-2x"
memory = "1gb"

"##;
    let sc = flysim::scenario::from_str(text, "w.toml", &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario;
    let mut sim = flysim::platform::Sim::new(&sc, 0);
    sim.run();
    let jobs: Vec<_> = sim
        .machines()
        .iter()
        .filter(|m| m.app.index() == 1)
        .collect();
    assert!(jobs[1].is_standby);
    assert_ne!(
        jobs[0].host, jobs[1].host,
        "a standby shares its watched Machine's host"
    );
}

/// A query that matched on a label its series do not carry (`mode` of a histogram bucket,
/// `status` of an app's fourth gauge) looked the label up in another family's table of
/// values and panicked at the first scrape.
#[test]
fn a_query_on_a_label_its_series_do_not_carry_panicked_a_scrape() {
    let text = r#"
name = "labels"
duration = "2m"
[[region]]
code = "ams"
hosts = 1
[[app]]
name = "web"
machines = [{ count = 1, regions = ["ams"] }]
gauge = [
  { name = "g0", value = "queued" },
  { name = "g1", value = "queued" },
  { name = "g2", value = "queued" },
  { name = "g3", value = "queued" },
]
[app.fly]
primary_region = "ams"
[app.fly.http_service]
auto_stop_machines = "off"
[app.autoscaler]
FAS_STARTED_MACHINE_COUNT = "1 + 0 * (a + b)"
[[app.autoscaler.metric-collectors]]
type = "prometheus"
metric-name = "a"
query = "sum(fly_app_http_response_time_seconds_bucket{mode='user'}) or vector(0)"
[[app.autoscaler.metric-collectors]]
type = "prometheus"
metric-name = "b"
query = "sum(g3{status='200'}) or vector(0)"
[[app.traffic]]
from = "ams"
shape = "constant"
rps = 1
"#;
    let sc = flysim::scenario::from_str(text, "labels.toml", &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario;
    let mut sim = flysim::platform::Sim::new(&sc, 0);
    sim.run();
    let fas = sim.autoscalers()[0].as_ref().unwrap();
    let last = fas.reconciles.last().unwrap();
    assert_eq!(last.values, vec![0.0, 0.0], "{last:?}");
}

/// A bluegreen deploy gave green Machines only to the Machines the scenario planned: the clones
/// fly-autoscaler had created kept the old version beside the new one.
#[test]
fn a_bluegreen_deploy_left_fly_autoscalers_clones_on_the_old_version() {
    let text = r#"
name = "bluegreen-clones"
duration = "10m"
[platform]
boot_time = "1s"
create_time = "2s"
[[region]]
code = "ams"
hosts = 2
[[app]]
name = "web"
machines = [{ count = 1, regions = ["ams"] }]
app_boot = "1s"
[app.fly]
primary_region = "ams"
[app.fly.deploy]
strategy = "bluegreen"
[app.fly.http_service]
auto_stop_machines = "off"
[[app.fly.http_service.checks]]
grace_period = "1s"
interval = "5s"
[app.autoscaler]
FAS_MIN_CREATED_MACHINE_COUNT = "3"
FAS_MAX_CREATED_MACHINE_COUNT = "10"
[[app.traffic]]
from = "ams"
shape = "constant"
rps = 2
[[deploy]]
at = "2m"
app = "web"
"#;
    let sc = flysim::scenario::from_str(text, "bg.toml", &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario;
    let mut sim = flysim::platform::Sim::new(&sc, 0);
    sim.run();
    let d = &sim.deploys()[0];
    assert_eq!(
        d.outcome,
        flysim::platform::deploys::Outcome::Complete,
        "{}",
        d.why
    );
    let live: Vec<_> = sim
        .machines()
        .iter()
        .filter(|m| m.state != flysim::platform::machine::MState::Destroyed)
        .collect();
    assert_eq!(live.len(), 3);
    assert!(
        live.iter().all(|m| m.version == 1),
        "{:?}",
        live.iter()
            .map(|m| (m.ordinal, m.version))
            .collect::<Vec<_>>()
    );
}

/// A scrape of a selector naming its app listed the app's Machines by ordinal, not in key
/// order; a Machine of a planned ordinal created after a clone of fly-autoscaler was then not
/// found in the scrape before a window, and `increase` counted it from 0.
#[test]
fn a_machine_created_after_a_clone_was_counted_from_zero_by_increase() {
    let text = r#"
name = "order"
duration = "6m"
[platform]
create_time = "1s"
boot_time = "1s"
[[region]]
code = "ams"
hosts = 2
[[app]]
name = "web"
machines = [{ count = 1, regions = ["ams"] }]
request = { service_time = "100ms" }
app_boot = "1s"
[app.fly]
primary_region = "ams"
[app.fly.http_service]
auto_stop_machines = "off"
[app.fly.http_service.concurrency]
type = "requests"
soft_limit = 1
hard_limit = 50
[app.autoscaler]
FAS_MIN_CREATED_MACHINE_COUNT = "2"
FAS_MAX_CREATED_MACHINE_COUNT = "10"
FAS_MIN_STARTED_MACHINE_COUNT = "0 * (named + all)"
FAS_MAX_STARTED_MACHINE_COUNT = "10"
[[app.autoscaler.metric-collectors]]
type = "prometheus"
metric-name = "named"
query = "sum(increase(fly_app_http_responses_count{app='web'}[1m]))"
[[app.autoscaler.metric-collectors]]
type = "prometheus"
metric-name = "all"
query = "sum(increase(fly_app_http_responses_count[1m]))"
[[app.traffic]]
from = "ams"
shape = "constant"
rps = 10
[[action]]
at = "1m"
app = "web"
kind = "scale_count"
count = "+1"
"#;
    let sc = flysim::scenario::from_str(text, "order.toml", &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario;
    let mut sim = flysim::platform::Sim::new(&sc, 0);
    sim.run();
    let fas = sim.autoscalers()[0].as_ref().unwrap();
    assert_eq!(fas.created, 1);
    for r in &fas.reconciles {
        assert_eq!(r.values[0].to_bits(), r.values[1].to_bits(), "{r:?}");
    }
}

#[test]
fn a_journal_read_back_floats_a_few_bits_off_so_a_resumed_plan_differed_from_a_fresh_one() {
    // Journals (sweeps' and plans') hold figures as JSON text; reading one back must give the
    // very numbers written, or a resumed run's results differ in the last digits.
    let mut off = 0;
    for i in 1..20_000u32 {
        let x = f64::from(i).sqrt() * 1e-3 / 7.0;
        let text = serde_json::to_string(&x).unwrap();
        let back: f64 = serde_json::from_str(&text).unwrap();
        off += usize::from(back.to_bits() != x.to_bits());
    }
    assert_eq!(off, 0, "{off} numbers came back different");
}

/// `run::aggregate` removed the identity keys from the `ci95` tree with a swap-remove, so the
/// tree's keys came out of the document's order (`volumes` first, `events` last).
#[test]
fn the_ci95_tree_of_a_mean_was_out_of_the_documents_key_order() {
    let sc = crate::common::scenario(
        "name = \"o\"\nduration = \"10m\"\n[[region]]\ncode = \"ams\"\n[[app]]\nname = \"web\"\nmachines = [{ count = 1, regions = [\"ams\"] }]\nrequest = { service_time = { dist = \"constant\", value = \"50ms\" } }\n[app.fly.http_service]\ninternal_port = 8080\n[[app.traffic]]\nfrom = \"ams\"\nshape = \"poisson\"\nrps = 2\n",
    );
    let summaries: Vec<serde_json::Value> = (0..2)
        .map(|r| flysim::run::run_replication(&sc, r).summary.to_value())
        .collect();
    let mean = flysim::run::aggregate(&summaries);
    let doc_keys: Vec<&String> = mean.as_object().unwrap().keys().collect();
    let ci_keys: Vec<&String> = mean["ci95"].as_object().unwrap().keys().collect();
    let in_doc_order: Vec<&String> = doc_keys
        .iter()
        .copied()
        .filter(|k| ci_keys.contains(k))
        .collect();
    assert_eq!(ci_keys, in_doc_order);
}
