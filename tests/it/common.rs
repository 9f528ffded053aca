//! Helpers shared by the integration tests.

use flysim::platform::Sim;
use flysim::scenario::{self, Scenario};

/// A sweep file in `dir` over the quickstart scenario cut to `duration`, two replications, with
/// `counts` Machines (TOML array text) × `modes` of `auto_stop_machines` (TOML array text).
pub fn quickstart_sweep(
    dir: &std::path::Path,
    duration: &str,
    counts: &str,
    modes: &str,
) -> std::path::PathBuf {
    let base = std::fs::canonicalize("scenarios/quickstart.toml").unwrap();
    let path = dir.join("sweep.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"s\"\nscenario = {:?}\nreplications = 2\nset = [\"duration=\\\"{duration}\\\"\"]\n[[axis]]\npath = \"app.web.machines[0].count\"\nvalues = {counts}\n[[axis]]\npath = \"app.web.fly.http_service.auto_stop_machines\"\nvalues = {modes}\n",
            base.display().to_string()
        ),
    )
    .unwrap();
    path
}

/// Validates scenario text, panicking with every problem if it does not validate.
pub fn scenario(text: &str) -> Scenario {
    match scenario::from_str(text, "test.toml", &[]) {
        Ok(l) => l.scenario,
        Err(e) => panic!("test scenario does not validate:\n{e}"),
    }
}

/// Runs replication `rep` to the end.
pub fn run(sc: &Scenario, rep: u64) -> Sim<'_> {
    let mut sim = Sim::new(sc, rep);
    sim.run();
    sim
}

/// Mean and 95 % half-width over replications (Student t).
pub fn mean_ci(xs: &[f64]) -> (f64, f64) {
    flysim::metrics::stats::mean_ci95(xs)
}

/// Erlang B: loss probability of c servers offered `a` erlangs (stable recursion).
pub fn erlang_b(c: u32, a: f64) -> f64 {
    (1..=c).fold(1.0, |b, k| a * b / (k as f64 + a * b))
}

/// Erlang C: probability that an arrival waits in an M/M/c queue.
pub fn erlang_c(c: u32, a: f64) -> f64 {
    let b = erlang_b(c, a);
    let rho = a / c as f64;
    b / (1.0 - rho * (1.0 - b))
}

/// One app, one region, one Machine with `soft = hard = c`, the given platform lines and
/// Poisson traffic at `rps`; service times exponential with `mean`.
pub fn single_machine(c: u32, rps: f64, mean: &str, duration: &str, platform: &str) -> String {
    format!(
        r#"
name = "mmc"
duration = "{duration}"
seed = 42

[platform]
{platform}

[[region]]
code = "iad"
hosts = 1

[[app]]
name = "q"
machines = [{{ count = 1, regions = ["iad"] }}]
request = {{ service_time = {{ dist = "exponential", mean = "{mean}" }} }}

[app.fly]
primary_region = "iad"
[app.fly.http_service]
auto_stop_machines = "off"
[app.fly.http_service.concurrency]
type = "requests"
soft_limit = {c}
hard_limit = {c}

[[app.traffic]]
from = "iad"
shape = "poisson"
rps = {rps}
"#
    )
}
