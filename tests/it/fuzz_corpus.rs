//! The saved fuzzing corpus (`fuzz/corpus/<target>/`) replayed through the same entry points
//! the fuzzers call: every input, including each crash found and fixed, must return.

#[test]
fn every_saved_fuzz_input_returns_without_a_panic() {
    let mut replayed = 0;
    for (name, target) in flysim::fuzz_targets::TARGETS {
        let dir = std::path::Path::new("fuzz/corpus").join(name);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            panic!(
                "no saved corpus for fuzz target {name} in {}",
                dir.display()
            );
        };
        let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        assert!(!files.is_empty(), "{}: empty corpus", dir.display());
        for f in files {
            let data = std::fs::read(&f).unwrap();
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{} panicked", f.display());
            replayed += 1;
        }
    }
    assert!(replayed > 0);
}
