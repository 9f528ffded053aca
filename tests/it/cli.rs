//! The command line's conventions: the same flags everywhere, exit codes, `--json`, typed
//! axis values, the JSON Schemas against real outputs, completions and the man page,
//! `import -o` and `--inline`, and `--set` into a referenced fly.toml.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn flysim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flysim"))
}

fn ok(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what}: exit {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A two-point sweep of the quickstart, for two hours, with a string axis.
fn sweep_file(dir: &Path) -> PathBuf {
    crate::common::quickstart_sweep(dir, "2h", "[1, 2]", r#"["stop"]"#)
}

fn validator(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(Path::new("docs/schema").join(name)).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn assert_valid(v: &jsonschema::Validator, doc: &serde_json::Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match its schema:\n{}",
        errors.join("\n")
    );
}

fn json_file(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn the_shipped_schemas_are_the_types_schemas() {
    let bless = std::env::var_os("FLYSIM_BLESS").is_some();
    for (name, text) in flysim::schema::schemas() {
        let path = Path::new("docs/schema").join(name);
        if bless {
            std::fs::create_dir_all("docs/schema").unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let shipped = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            shipped == text,
            "{} is not the schema of its type; regenerate with FLYSIM_BLESS=1 cargo test --release the_shipped_schemas",
            path.display()
        );
    }
}

#[test]
fn real_outputs_match_their_schemas_and_json_prints_the_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let summary = validator("summary.schema.json");
    // One replication (integer counts) and three (means and a ci95 tree).
    for reps in [1, 3] {
        let out = tmp.path().join(format!("run-{reps}"));
        let r = ok(
            flysim()
                .args([
                    "run",
                    "--json",
                    "--no-charts",
                    "-j",
                    "2",
                    "--set",
                    "duration=\"2h\"",
                ])
                .arg("--set")
                .arg(format!("replications={reps}"))
                .arg("-o")
                .arg(&out)
                .output()
                .unwrap(),
            "run --json",
        );
        let printed: serde_json::Value = serde_json::from_slice(&r.stdout)
            .unwrap_or_else(|e| panic!("--json printed no JSON: {e}"));
        let written = json_file(&out.join("summary.json"));
        assert_eq!(printed, written, "--json prints what summary.json holds");
        assert_eq!(written["schema_version"], flysim::schema::SCHEMA_VERSION);
        assert_valid(
            &summary,
            &written,
            &format!("summary.json, {reps} replications"),
        );
    }
    let sweep = sweep_file(tmp.path());
    let out = tmp.path().join("sweep");
    let r = ok(
        flysim()
            .args(["sweep", "--json", "-j", "2", "-o"])
            .arg(&out)
            .arg(&sweep)
            .output()
            .unwrap(),
        "sweep --json",
    );
    let doc = json_file(&out.join("sweep.json"));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&r.stdout).unwrap(),
        doc
    );
    assert_valid(&validator("sweep.schema.json"), &doc, "sweep.json");
    let plan_out = tmp.path().join("plan");
    let r = flysim()
        .args(["plan", "--json", "--no-charts", "-o"])
        .arg(&plan_out)
        .arg("plans/jobs.toml")
        .output()
        .unwrap();
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let doc = json_file(&plan_out.join("plan.json"));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&r.stdout).unwrap(),
        doc
    );
    assert_valid(&validator("plan.schema.json"), &doc, "plan.json");
    // The schemas are not vacuous: a wrong type is refused.
    let mut broken = json_file(&tmp.path().join("run-1/summary.json"));
    broken["requests"]["offered"] = serde_json::json!("many");
    assert!(!summary.is_valid(&broken));
}

#[test]
fn axis_values_are_typed_in_csv_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = sweep_file(tmp.path());
    let out = tmp.path().join("out");
    ok(
        flysim()
            .args(["sweep", "-q", "-o"])
            .arg(&out)
            .arg(&sweep)
            .output()
            .unwrap(),
        "sweep",
    );
    let doc = json_file(&out.join("sweep.json"));
    assert_eq!(doc["axes"][0]["values"], serde_json::json!([1, 2]));
    assert_eq!(doc["axes"][1]["values"], serde_json::json!(["stop"]));
    assert_eq!(
        doc["points"][1]["params"],
        serde_json::json!({"app.web.machines[0].count": 2, "app.web.fly.http_service.auto_stop_machines": "stop"})
    );
    for file in ["points.csv", "runs.csv"] {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        let mut rows = csv::Reader::from_reader(text.as_bytes());
        let header = rows.headers().unwrap().clone();
        let col = header
            .iter()
            .position(|h| h == "param.app.web.fly.http_service.auto_stop_machines")
            .unwrap();
        let count = header
            .iter()
            .position(|h| h == "param.app.web.machines[0].count")
            .unwrap();
        for row in rows.records() {
            let row = row.unwrap();
            assert_eq!(
                &row[col], "stop",
                "{file}: strings without their TOML quotes"
            );
            assert!(
                row[count].parse::<i64>().is_ok(),
                "{file}: counts as numbers"
            );
        }
    }
}

#[test]
fn replications_in_parallel_write_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut folders = Vec::new();
    for jobs in ["1", "3"] {
        let out = tmp.path().join(format!("j{jobs}"));
        ok(
            flysim()
                .args([
                    "run",
                    "-q",
                    "--set",
                    "duration=\"1h\"",
                    "--set",
                    "replications=3",
                    "-j",
                    jobs,
                    "-o",
                ])
                .arg(&out)
                .output()
                .unwrap(),
            "run -j",
        );
        folders.push(out);
    }
    for name in [
        "summary.json",
        "replications.csv",
        "rep-002/timeseries.csv",
        "report.html",
        "rep-000/load.svg",
    ] {
        assert_eq!(
            std::fs::read(folders[0].join(name)).unwrap(),
            std::fs::read(folders[1].join(name)).unwrap(),
            "{name} differs between -j 1 and -j 3"
        );
    }
}

#[test]
fn fail_on_slo_exits_3_only_when_the_slo_is_missed() {
    let base = [
        "run",
        "--no-output",
        "-q",
        "--fail-on-slo",
        "--set",
        "duration=\"1h\"",
    ];
    let met = flysim().args(base).output().unwrap();
    assert_eq!(
        met.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&met.stderr)
    );
    let missed = flysim()
        .args(base)
        .args(["--set", "slo.latency_p99=\"1ms\""])
        .output()
        .unwrap();
    assert_eq!(missed.status.code(), Some(3));
    let err = String::from_utf8_lossy(&missed.stderr);
    assert!(
        err.contains("missed its SLO") && err.contains("target 1 ms"),
        "{err}"
    );
    // Without the flag, a missed SLO is not an error.
    let plain = flysim()
        .args([
            "run",
            "--no-output",
            "-q",
            "--set",
            "duration=\"1h\"",
            "--set",
            "slo.latency_p99=\"1ms\"",
        ])
        .output()
        .unwrap();
    assert_eq!(plain.status.code(), Some(0));
    // A sweep none of whose points meets it.
    let tmp = tempfile::tempdir().unwrap();
    let sweep = sweep_file(tmp.path());
    let r = flysim()
        .args([
            "sweep",
            "-q",
            "--fail-on-slo",
            "--set",
            "slo.latency_p99=\"1ms\"",
            "-o",
        ])
        .arg(tmp.path().join("s"))
        .arg(&sweep)
        .output()
        .unwrap();
    assert_eq!(
        r.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
}

#[test]
fn seed_and_set_reach_sweeps_and_plans() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = sweep_file(tmp.path());
    let run = |extra: &[&str], name: &str| {
        let out = tmp.path().join(name);
        ok(
            flysim()
                .args(["sweep", "-q", "-o"])
                .arg(&out)
                .args(extra)
                .arg(&sweep)
                .output()
                .unwrap(),
            name,
        );
        json_file(&out.join("sweep.json"))
    };
    let plain = run(&[], "plain");
    let seeded = run(&["--seed", "99"], "seeded");
    let longer = run(&["--set", "duration=\"3h\""], "longer");
    assert_ne!(plain["hash"], seeded["hash"]);
    assert_ne!(
        plain["points"], seeded["points"],
        "--seed changes the streams"
    );
    assert_ne!(
        plain["points"], longer["points"],
        "--set reaches every point"
    );
    // A plan validates its overrides with the rest.
    let r = flysim()
        .args([
            "plan",
            "-q",
            "--set",
            "platform.max_queue_wait=forever",
            "plans/jobs.toml",
        ])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("--set platform.max_queue_wait=forever"));
}

#[test]
fn completions_and_the_man_page() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let r = ok(
            flysim().args(["completions", shell]).output().unwrap(),
            shell,
        );
        let text = String::from_utf8_lossy(&r.stdout);
        assert!(
            text.contains("flysim") && text.contains("fail-on-slo"),
            "{shell}"
        );
    }
    let r = ok(flysim().arg("man").output().unwrap(), "man");
    assert!(r.stdout.starts_with(b".ie \\n(.g .ds Aq") || r.stdout.starts_with(b".TH"));
    let page = String::from_utf8_lossy(&r.stdout);
    for sub in [
        "flysim\\-run",
        "flysim\\-sweep",
        "flysim\\-plan",
        "Exit codes",
    ] {
        assert!(page.contains(sub), "the man page lacks {sub}");
    }
    let shipped = std::fs::read("docs/man/flysim.1").unwrap_or_default();
    if std::env::var_os("FLYSIM_BLESS").is_some() {
        std::fs::create_dir_all("docs/man").unwrap();
        std::fs::write("docs/man/flysim.1", &r.stdout).unwrap();
    } else {
        assert!(
            shipped == r.stdout,
            "docs/man/flysim.1 is stale; regenerate with FLYSIM_BLESS=1"
        );
    }
    // Every subcommand's help ends with examples.
    for sub in [
        "run",
        "sweep",
        "plan",
        "merge",
        "chart",
        "import",
        "validate",
        "completions",
        "man",
    ] {
        let r = ok(flysim().args([sub, "--help"]).output().unwrap(), sub);
        assert!(
            String::from_utf8_lossy(&r.stdout).contains("Examples:"),
            "{sub} --help"
        );
    }
}

#[test]
fn import_out_writes_paths_relative_to_the_file_and_inline_runs_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let my = tmp.path().join("my");
    std::fs::create_dir(&my).unwrap();
    std::fs::write(
        my.join("fly.toml"),
        "app = \"shop\"\nprimary_region = \"ams\"\n[http_service]\ninternal_port = 8080\nauto_stop_machines = \"stop\"\n[http_service.concurrency]\ntype = \"requests\"\nsoft_limit = 5\nhard_limit = 10\n",
    )
    .unwrap();
    ok(
        flysim()
            .current_dir(tmp.path())
            .args(["import", "-q", "my/fly.toml", "-o", "my/s.toml"])
            .output()
            .unwrap(),
        "import -o",
    );
    let text = std::fs::read_to_string(my.join("s.toml")).unwrap();
    assert!(text.contains("fly_toml = \"fly.toml\""), "{text}");
    // A second import never writes over the file.
    let again = flysim()
        .current_dir(tmp.path())
        .args(["import", "my/fly.toml", "-o", "my/s.toml"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(my.join("s.toml")).unwrap(), text);
    let inline = ok(
        flysim()
            .current_dir(tmp.path())
            .args(["import", "-q", "--inline", "my/fly.toml"])
            .output()
            .unwrap(),
        "import --inline",
    );
    std::fs::write(tmp.path().join("inline.toml"), &inline.stdout).unwrap();
    let summary = |dir: &Path, file: &str, extra: &[&str]| {
        let r = ok(
            flysim()
                .current_dir(dir)
                .args([
                    "run",
                    "--json",
                    "--no-output",
                    "--set",
                    "duration=\"1h\"",
                    file,
                ])
                .args(extra)
                .output()
                .unwrap(),
            file,
        );
        let mut v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
        v["scenario_hash"] = serde_json::Value::Null;
        v
    };
    // Run from another folder than the file's: the path still resolves.
    let by_path = summary(tmp.path(), "my/s.toml", &[]);
    let embedded = summary(tmp.path(), "inline.toml", &[]);
    assert_eq!(
        by_path, embedded,
        "--inline runs the same as the referenced fly.toml"
    );
    // --set reaches into the referenced fly.toml, like into the embedded one.
    let set = "app.shop.fly.http_service.auto_stop_machines=\"off\"";
    let a = summary(tmp.path(), "my/s.toml", &["--set", set]);
    let b = summary(tmp.path(), "inline.toml", &["--set", set]);
    assert_eq!(a, b);
    assert_ne!(a, by_path, "the override changed the run");
}

#[test]
fn validate_names_fly_toml_typos_and_a_missing_primary_region() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("fly.toml");
    std::fs::write(
        &f,
        "app = \"t\"\n[http_service]\ninternal_port = 8080\n[http_service.concurrency]\ntype = \"requests\"\nsoft_limt = 10\n",
    )
    .unwrap();
    let r = ok(
        flysim().args(["validate", "-q"]).arg(&f).output().unwrap(),
        "validate",
    );
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(text.contains(":6:13: http_service.concurrency.soft_limt: ignored: `soft_limt` is not a fly.toml key; did you mean `soft_limit`?"), "{text}");
    assert!(text.contains("primary_region: missing"), "{text}");
    assert!(!text.contains("ok:"), "-q prints only problems: {text}");
}
