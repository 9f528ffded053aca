//! Progress bars on standard error, one style for every long command.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `total` runs, `done` of them already finished (a resumed sweep).
pub fn runs_bar(name: &str, total: usize, done: usize) -> ProgressBar {
    let b = ProgressBar::new(total as u64);
    b.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:40}] {pos}/{len} runs, ETA {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    b.set_message(name.to_string());
    b.set_position(done as u64);
    b
}

/// A bar over simulated time of `replications` runs, in thousandths of a run.
pub fn simulation_bar(name: &str, replications: u32) -> ProgressBar {
    let b = ProgressBar::new(u64::from(replications) * 1000);
    b.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:40}] {percent}% ETA {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    b.set_message(format!("simulating {name}"));
    b
}
