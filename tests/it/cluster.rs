//! The cluster recipes run: `cluster/parallel/sweep.sh` runs a sweep in three shards through
//! GNU parallel and merges them, and every file of the merged folder (tables, sweep.json,
//! charts and report) is byte-identical to one `flysim sweep` of the whole grid.
//!
//! Without GNU parallel the test says so and passes, except under CI (`CI` set), where
//! `.ci/run` installs it.

use std::path::Path;
use std::process::Command;

#[test]
fn three_shards_through_gnu_parallel_merge_to_the_bytes_of_one_sweep() {
    let has_parallel = Command::new("parallel")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_parallel {
        assert!(
            std::env::var_os("CI").is_none(),
            "GNU parallel is missing; .ci/run installs Debian's parallel package"
        );
        eprintln!("no GNU parallel found: the recipe test checked nothing");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let sweep =
        crate::common::quickstart_sweep(tmp.path(), "1h", "[1, 2, 3]", r#"["stop", "suspend"]"#);
    let out = tmp.path().join("out");
    let r = Command::new("bash")
        .arg("cluster/parallel/sweep.sh")
        .arg(&sweep)
        .arg("3")
        .arg(&out)
        .env("FLYSIM", env!("CARGO_BIN_EXE_flysim"))
        .output()
        .unwrap();
    assert!(
        r.status.success(),
        "{}{}",
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr)
    );
    let one = tmp.path().join("one");
    let r = Command::new(env!("CARGO_BIN_EXE_flysim"))
        .args(["sweep", "-q", "-o"])
        .arg(&one)
        .arg(&sweep)
        .output()
        .unwrap();
    assert!(r.status.success());
    let merged = out.join("all");
    let mut names: Vec<String> = std::fs::read_dir(&one)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    for required in [
        "runs.csv",
        "points.csv",
        "sweep.json",
        "report.html",
        "tradeoff.svg",
        "heatmap.png",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "one sweep lacks {required}"
        );
    }
    for name in &names {
        let a = std::fs::read(one.join(name)).unwrap();
        let b = std::fs::read(merged.join(name))
            .unwrap_or_else(|e| panic!("the merged folder lacks {name}: {e}"));
        assert!(
            a == b,
            "{name} differs between the merged shards and one sweep"
        );
    }
    assert!(Path::new(&out.join("shard-3")).is_dir());
}
