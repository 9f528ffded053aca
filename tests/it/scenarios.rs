//! Every example scenario in `scenarios/` validates and runs.

use std::path::{Path, PathBuf};

fn toml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            toml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

#[test]
fn every_example_scenario_runs() {
    let mut files = Vec::new();
    toml_files(Path::new("scenarios"), &mut files);
    files.sort();
    assert!(
        files.len() >= 3,
        "expected the example scenarios, found {files:?}"
    );
    for f in &files {
        if f.starts_with("scenarios/sweeps") {
            continue; // run by `every_example_sweep_runs`
        }
        // Benchmark scenarios run for a month; here an hour shows they work.
        let sets: Vec<String> = if f.starts_with("scenarios/bench") {
            vec!["duration=1h".into()]
        } else {
            Vec::new()
        };
        let loaded =
            flysim::scenario::load(f, &sets).unwrap_or_else(|e| panic!("{}:\n{e}", f.display()));
        let sc = &loaded.scenario;
        let rec = flysim::run::run_replication(sc, 0);
        let offered = rec.summary.requests.offered;
        let served = rec.summary.requests.served;
        let has_traffic = sc.apps.iter().any(|a| !a.traffic.is_empty());
        assert!(
            !has_traffic || (offered > 0 && served > 0),
            "{}: no traffic served",
            f.display()
        );
    }
}

#[test]
fn the_built_in_quickstart_is_the_file() {
    let file = std::fs::read_to_string("scenarios/quickstart.toml").unwrap();
    assert_eq!(file, flysim::scenario::QUICKSTART);
}

#[test]
fn every_example_sweep_runs() {
    let mut files = Vec::new();
    toml_files(Path::new("scenarios/sweeps"), &mut files);
    files.sort();
    assert!(files.len() >= 2);
    let tmp = tempfile::tempdir().unwrap();
    for f in &files {
        let mut s = flysim::sweep::load(f).unwrap_or_else(|e| panic!("{}:\n{e}", f.display()));
        // Half a day and two replications show a sweep runs; the README's figures are from
        // the full ones.
        s.replications = s.replications.min(2);
        for (_, sc) in &mut s.points {
            sc.duration = sc
                .duration
                .min(flysim::engine::SimDuration::from_secs(12 * 3600));
        }
        let dir = tmp.path().join(&s.name);
        let opts = flysim::sweep::exec::RunOptions {
            jobs: 2,
            shard: (1, 1),
            progress: false,
        };
        let mut owned = flysim::output::OwnedDir::open(&dir).unwrap();
        let entries = flysim::sweep::exec::run(&s, &mut owned, opts)
            .unwrap()
            .entries;
        assert_eq!(entries.len(), s.total_runs());
        let res =
            flysim::sweep::exec::result_files(&flysim::sweep::exec::manifest(&s, (1, 1)), &entries);
        assert_eq!(res.stats.len(), s.points.len());
    }
}
