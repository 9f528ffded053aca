//! The model against results known in closed form.
//!
//! Each check runs independent replications and compares the replication mean with the
//! formula. Tolerance: the Student-t 99.9 % half-width (≈ 1.6 × the 95 % one for 20
//! replications), so a correct model fails about once in a thousand seeds, plus nothing else.
//! The seeds are fixed, so each check is deterministic; the bands are what a correct model
//! lands in, not widened until green.

use super::common::*;

/// 99.9 % / 97.5 % quantile ratio of Student t with 19 degrees of freedom (3.883 / 2.093).
const WIDEN_TO_999: f64 = 3.883 / 2.093;

fn assert_close(name: &str, xs: &[f64], expected: f64) {
    let (mean, half95) = mean_ci(xs);
    let half = half95 * WIDEN_TO_999;
    assert!(
        (mean - expected).abs() <= half,
        "{name}: mean {mean:.5} ± {half:.5} (99.9 %) over {} replications, expected {expected:.5}",
        xs.len()
    );
    // The interval must also be tight enough to mean something.
    assert!(
        half < 0.05 * expected.abs().max(1e-3),
        "{name}: interval ±{half} too wide to test anything"
    );
}

#[test]
fn erlang_c_waiting_probability_and_mean_wait() {
    // M/M/4 at a = 3.2 erlangs: P(wait) = 0.5964, Wq = 0.7455 mean service times.
    let c = 4;
    let a = 3.2;
    let pw = erlang_c(c, a);
    assert!((pw - 0.5964).abs() < 5e-5, "formula check: {pw}");
    let wq = pw / (c as f64 - a); // in service times (mean service 1 s)
    assert!((wq - 0.7455).abs() < 5e-5, "formula check: {wq}");
    let sc = scenario(&single_machine(
        c,
        a,
        "1s",
        "20000s",
        "max_queue_wait = \"1000d\"",
    ));
    let (mut p_wait, mut w, mut l) = (vec![], vec![], vec![]);
    for rep in 0..20 {
        let sim = run(&sc, rep);
        let r = &sim.rec.apps[0];
        assert_eq!(r.failed_total(), 0);
        p_wait.push(r.queued as f64 / r.offered as f64);
        w.push(r.queue_wait_ns as f64 / 1e9 / r.offered as f64);
        // Little's law on the outputs: L = λ (Wq + 1/μ).
        l.push(r.in_flight_area as f64 / sc.duration.0 as f64);
    }
    assert_close("P(wait)", &p_wait, pw);
    assert_close("Wq [s]", &w, wq);
    assert_close("L (Little)", &l, a * (wq + 1.0));
}

#[test]
fn erlang_b_loss_without_a_queue() {
    // Fail fast at the hard limit (the observed default): M/M/4/4 loses B(4, 3.2) = 0.2281.
    let (c, a) = (4, 3.2);
    let b = erlang_b(c, a);
    assert!((b - 0.228_14).abs() < 1e-4, "formula check: {b}");
    let sc = scenario(&single_machine(c, a, "1s", "20000s", ""));
    let loss: Vec<f64> = (0..20)
        .map(|rep| {
            let sim = run(&sc, rep);
            let r = &sim.rec.apps[0];
            assert_eq!(
                r.failed_total(),
                r.failed[flysim::metrics::FailReason::AtHardLimit as usize]
            );
            r.failed_total() as f64 / r.offered as f64
        })
        .collect();
    assert_close("Erlang B loss", &loss, b);
}

#[test]
fn erlang_b_is_insensitive_to_the_service_distribution() {
    // Loss depends on the service time's mean only: constant service gives the same B.
    let (c, a) = (3, 2.0);
    let text = single_machine(c, a, "1s", "20000s", "").replace(
        r#"{ dist = "exponential", mean = "1s" }"#,
        r#"{ dist = "lognormal", median = "0.5s", p99 = "4s" }"#,
    );
    let sc = scenario(&text);
    let mean_service = sc.apps[0].service_time.mean_secs();
    let b = erlang_b(c, a * mean_service);
    let loss: Vec<f64> = (0..20)
        .map(|rep| {
            let r = &run(&sc, rep).rec.apps[0];
            r.failed_total() as f64 / r.offered as f64
        })
        .collect();
    assert_close("Erlang B (lognormal service)", &loss, b);
}

#[test]
fn littles_law_holds_on_every_run() {
    // L = λW on the sample path: time-average in flight equals the rate of departures times
    // the mean time in the system, up to the requests still in flight at the end.
    let sc = scenario(&single_machine(
        4,
        3.5,
        "1s",
        "5000s",
        "max_queue_wait = \"2s\"",
    ));
    for rep in 0..3 {
        let sim = run(&sc, rep);
        let r = &sim.rec.apps[0];
        let t = sc.duration.0 as f64;
        let l = r.in_flight_area as f64 / t;
        let departures = (r.served + r.failed_total()) as f64;
        let lambda_w = departures / t * (r.sojourn_ns as f64 / departures);
        assert!((l - lambda_w).abs() / l < 0.002, "L {l} vs λW {lambda_w}");
        assert!(
            r.failed[flysim::metrics::FailReason::QueueTimeout as usize] > 0,
            "the queue limit was never reached"
        );
    }
}

#[test]
fn processor_sharing_mean_response_matches_mm1_ps() {
    // One vCPU shared by all requests (M/M/1-PS): mean response = S / (1 − ρ).
    let (rate, s) = (0.7, 1.0);
    let text = single_machine(1000, rate, "1s", "20000s", "").replace(
        "request = { service_time = { dist = \"exponential\", mean = \"1s\" } }",
        "request = { service_time = { dist = \"exponential\", mean = \"1s\" }, model = \"processor_sharing\" }",
    );
    let sc = scenario(&text);
    let resp: Vec<f64> = (0..20)
        .map(|rep| {
            let r = &run(&sc, rep).rec.apps[0];
            r.response_ns as f64 / 1e9 / r.served as f64
        })
        .collect();
    assert_close("M/M/1-PS response [s]", &resp, s / (1.0 - rate * s));
}

#[test]
fn a_throttled_machine_is_an_mm1_ps_queue_at_its_baseline_rate() {
    // A shared-cpu-1x with no CPU balance and none to gain (cap 0) runs at its baseline, 1/16
    // of a vCPU, whenever it has work: requests of exponential CPU time s = 25 ms take
    // S_b = s × 16 = 0.4 s alone, and with Poisson arrivals at λ = 1.5/s (ρ_b = 0.6) the mean
    // response of M/M/1-PS at that rate is S_b / (1 − ρ_b) = 1 s.
    let (rate, s_b) = (1.5, 0.4);
    let text = single_machine(
        1000,
        rate,
        "25ms",
        "20000s",
        "cpu_initial_balance = \"0s\"\ncpu_shared_max_balance = \"0s\"",
    )
    .replace(
        "request = { service_time = { dist = \"exponential\", mean = \"25ms\" } }",
        "request = { cpu = { dist = \"exponential\", mean = \"25ms\" } }",
    );
    let sc = scenario(&text);
    assert!(sc.apps[0].cpu.is_some());
    let resp: Vec<f64> = (0..20)
        .map(|rep| {
            let r = &run(&sc, rep).rec.apps[0];
            assert_eq!(r.served_throttled, r.served);
            r.response_ns as f64 / 1e9 / r.served as f64
        })
        .collect();
    assert_close(
        "throttled M/M/1-PS response [s]",
        &resp,
        s_b / (1.0 - rate * s_b),
    );
}

#[test]
fn idle_exit_law_share_of_cold_requests() {
    // One Machine, Poisson λ, the app exits after T idle: a request is cold iff the gap since
    // the previous one exceeds T (service and boot are 1 ms), so P(cold) = e^(−λT).
    let (lambda, t): (f64, f64) = (0.01, 60.0);
    let text = format!(
        r#"
name = "idle"
duration = "1000000s"
[platform]
boot_time = "1ms"
stop_overhead = "0s"
[[app]]
name = "fn"
machines = [{{ count = 1, regions = ["iad"] }}]
request = {{ service_time = "1ms" }}
app_boot = "0s"
idle_exit = "{t}s"
[app.fly]
primary_region = "iad"
[app.fly.http_service]
[[app.traffic]]
from = "iad"
shape = "poisson"
rps = {lambda}
"#
    );
    let sc = scenario(&text);
    let cold: Vec<f64> = (0..20)
        .map(|rep| {
            let r = &run(&sc, rep).rec.apps[0];
            assert_eq!(r.failed_total(), 0);
            r.cold_starts as f64 / r.offered as f64
        })
        .collect();
    assert_close("P(cold)", &cold, (-lambda * t).exp());
}
