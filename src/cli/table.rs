//! The summary printed after a run, read from the `summary.json` document so that a single
//! run and the mean of replications print the same way.

use std::fmt::Write;
use std::path::Path;

use serde_json::Value;

fn num(v: &Value, path: &str) -> f64 {
    path.split('.')
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_f64)
        .unwrap_or(0.0)
}

fn ci_of(v: &Value, path: &str) -> Option<f64> {
    path.split('.')
        .fold(v.get("ci95"), |v, k| v.and_then(|x| x.get(k)))
        .and_then(Value::as_f64)
        .filter(|h| *h > 0.0)
}

/// The 95 % half-width of a figure, in its own unit.
fn ci(v: &Value, path: &str) -> String {
    ci_of(v, path).map_or_else(String::new, |h| format!(" ±{}", short(h)))
}

/// The 95 % half-width of a share, in percentage points (the unit the share is printed in).
fn ci_pp(v: &Value, path: &str) -> String {
    ci_of(v, path).map_or_else(String::new, |h| format!(" ±{} pp", pct_value(h)))
}

/// A count; a mean over replications keeps one decimal, rounded (never cut off).
fn count(x: f64) -> String {
    let r = x.round();
    if (x - r).abs() < 1e-9 {
        group(r as i64)
    } else {
        let tenths = (x * 10.0).round() as i64;
        no_negative_zero(format!("{}.{}", group(tenths / 10), (tenths % 10).abs()))
    }
}

/// "-0", "-0.000" and the like lose their sign.
fn no_negative_zero(s: String) -> String {
    match s.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| matches!(c, '0' | '.' | ',')) => rest.to_string(),
        _ => s,
    }
}

/// A share as a percentage number: three decimals, more where rounding would turn a share
/// that is not exactly 1 into 100 (or one that is not 0 into 0); at most nine, cut rather
/// than rounded up at that depth.
pub(crate) fn pct_value(x: f64) -> String {
    let p = x * 100.0;
    for d in 3..=9 {
        let s = format!("{p:.d$}");
        let hides_failures = x < 1.0 && s.starts_with("100.");
        let hides_share = x > 0.0 && s.chars().all(|c| c == '0' || c == '.');
        if !hides_failures && !hides_share {
            return no_negative_zero(s);
        }
    }
    let cut = (p * 1e9).floor() / 1e9;
    no_negative_zero(format!("{cut:.9}"))
}

/// A number with a sensible number of digits.
fn short(x: f64) -> String {
    let a = x.abs();
    no_negative_zero(if a == 0.0 {
        "0".into()
    } else if a >= 1000.0 {
        group(x.round() as i64)
    } else if a >= 100.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    })
}

fn group(n: i64) -> String {
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

fn pct(x: f64) -> String {
    format!("{} %", pct_value(x))
}

/// Renders the summary table.
pub(crate) fn render(s: &Value, wall_s: f64, out: Option<&Path>) -> String {
    let mut o = String::new();
    let reps = s.get("replications").and_then(Value::as_u64).unwrap_or(1);
    let name = s.get("scenario").and_then(Value::as_str).unwrap_or("?");
    let _ = writeln!(
        o,
        "flysim {}: {name}, seed {}, {} simulated, {} replication{} in {:.2} s ({} events)",
        env!("CARGO_PKG_VERSION"),
        s.get("seed").and_then(Value::as_u64).unwrap_or(0),
        crate::engine::SimDuration::from_secs_f64(num(s, "duration_s")),
        reps,
        if reps == 1 { "" } else { "s" },
        wall_s,
        group(num(s, "events") as i64),
    );
    if reps > 1 {
        let _ = writeln!(
            o,
            "(means over replications, ± 95 % confidence half-widths; pp: percentage points)"
        );
    }
    let row = |o: &mut String, label: &str, text: String| {
        let width = 13.max(label.len() + 2);
        let _ = writeln!(o, "  {label:<width$}{text}");
    };
    let r = "requests";
    row(
        &mut o,
        "requests",
        format!(
            "offered {}   served {}   failed {}   availability {}{}",
            count(num(s, "requests.offered")),
            count(num(s, "requests.served")),
            count(num(s, "requests.failed")),
            pct(num(s, "requests.availability")),
            ci_pp(s, "requests.availability"),
        ),
    );
    let reasons: Vec<String> = s
        .pointer("/requests/failed_by_reason")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter(|(_, v)| v.as_f64().unwrap_or(0.0) > 0.0)
                .map(|(k, v)| format!("{k} {}", count(v.as_f64().unwrap_or(0.0))))
                .collect()
        })
        .unwrap_or_default();
    if !reasons.is_empty() {
        row(&mut o, "failures", reasons.join("   "));
    }
    row(
        &mut o,
        "latency",
        format!(
            "p50 {} ms   p90 {} ms   p99 {} ms{}   max {} ms   within SLO {}",
            short(num(s, "latency_ms.p50")),
            short(num(s, "latency_ms.p90")),
            short(num(s, "latency_ms.p99")),
            ci(s, "latency_ms.p99"),
            short(num(s, "latency_ms.max")),
            pct(num(s, &format!("{r}.slo_share"))),
        ),
    );
    row(
        &mut o,
        "cold starts",
        format!(
            "{} (mean wait {} ms)   queued {} (mean wait {} ms)   cross-region {}",
            count(num(s, "requests.cold_starts")),
            short(num(s, "requests.cold_start_wait_ms_mean")),
            count(num(s, "requests.queued")),
            short(num(s, "queue_wait_ms.mean")),
            pct(num(s, "requests.cross_region_share")),
        ),
    );
    row(
        &mut o,
        "machines",
        format!(
            "{} in all; on average {} started, {} stopped, {} suspended, {} down   starts {}   stops {}   suspends {}",
            count(num(s, "machines.count")),
            short(num(s, "machines.time_avg.started")),
            short(num(s, "machines.time_avg.stopped")),
            short(num(s, "machines.time_avg.suspended")),
            short(num(s, "machines.time_avg.down")),
            count(num(s, "machines.starts")),
            count(num(s, "machines.stops")),
            count(num(s, "machines.suspends")),
        ),
    );
    row(
        &mut o,
        "cost",
        format!(
            "${} (compute ${}, rootfs ${}, volumes ${})   ${}{} per 30 days   ${} per million requests",
            short(num(s, "cost_usd.total")),
            short(num(s, "cost_usd.compute")),
            short(num(s, "cost_usd.rootfs")),
            short(num(s, "cost_usd.volumes")),
            short(num(s, "cost_usd.per_30_days")),
            ci(s, "cost_usd.per_30_days"),
            short(num(s, "cost_usd.per_million_requests")),
        ),
    );
    if num(s, "incidents.count") > 0.0 {
        row(
            &mut o,
            "host failures",
            format!(
                "{} (hosts down {} s in all)   Machines back after {} s on average   standby takeovers {} after {} s   requests failed on failed hosts {}   volumes lost {}",
                short(num(s, "incidents.count")),
                short(num(s, "incidents.host_down_s_total")),
                short(num(s, "incidents.recovery_s_mean")),
                short(num(s, "incidents.takeovers")),
                short(num(s, "incidents.takeover_s_mean")),
                count(num(s, "incidents.requests_failed_on_host")),
                short(num(s, "volumes.lost")),
            ),
        );
    }
    if let Some(workers) = s.get("workers").and_then(Value::as_object) {
        let parts: Vec<String> = workers
            .iter()
            .map(|(k, w)| {
                format!(
                    "{k} {}",
                    pct(w.get("availability").and_then(Value::as_f64).unwrap_or(0.0))
                )
            })
            .collect();
        if !parts.is_empty() {
            row(&mut o, "workers up", parts.join("   "));
        }
    }
    let verdict = |b: bool| if b { "met" } else { "MISSED" };
    let met = |k: &str| {
        s.pointer(&format!("/slo/{k}"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    row(
        &mut o,
        "SLO",
        format!(
            "availability {} (target {}): {}   p99 {} ms (target {} ms): {}",
            pct(num(s, "requests.availability")),
            pct(num(s, "slo.availability_target")),
            verdict(met("availability_met")),
            short(num(s, "latency_ms.p99")),
            short(num(s, "slo.latency_p99_target_ms")),
            verdict(met("latency_p99_met")),
        ),
    );
    if let Some(apps) = s.get("apps").and_then(Value::as_object)
        && apps.len() > 1
    {
        for (name, a) in apps {
            row(
                &mut o,
                &format!("app {name}"),
                format!(
                    "served {}   availability {}   p99 {} ms   cold starts {} (mean wait {} ms)   ${} per 30 days",
                    count(num(a, "requests.served")),
                    pct(num(a, "requests.availability")),
                    short(num(a, "latency_ms.p99")),
                    count(num(a, "requests.cold_starts")),
                    short(num(a, "requests.cold_start_wait_ms_mean")),
                    short(num(a, "cost_usd.per_30_days")),
                ),
            );
        }
    }
    if let Some(dir) = out {
        row(
            &mut o,
            "output",
            format!(
                "{}/ (summary.json, CSV files, charts, report.html)",
                dir.display()
            ),
        );
    }
    o
}

/// Renders a sweep's per-point table and its verdict.
pub(crate) fn render_sweep(
    axes: &[String],
    stats: &[crate::sweep::exec::PointStats],
    cheapest: Option<usize>,
    dir: &Path,
) -> String {
    let mut o = String::new();
    let mut header: Vec<String> = vec!["point".into()];
    header.extend(axes.iter().cloned());
    header.extend([
        "availability %".into(),
        "p99 ms".into(),
        "$ / 30 days".into(),
        "SLO".into(),
    ]);
    let mut rows: Vec<Vec<String>> = Vec::new();
    for s in stats {
        let mut row = vec![s.point.to_string()];
        row.extend(s.params.iter().cloned());
        let ci = |h: f64, f: &dyn Fn(f64) -> String| {
            if h > 0.0 {
                format!(" ±{}", f(h))
            } else {
                String::new()
            }
        };
        row.push(format!(
            "{}{}",
            pct_value(s.availability.0),
            ci(s.availability.1, &pct_value)
        ));
        row.push(format!("{}{}", short(s.p99_ms.0), ci(s.p99_ms.1, &short)));
        row.push(format!(
            "{}{}",
            short(s.cost_30d.0),
            ci(s.cost_30d.1, &short)
        ));
        row.push(if s.meets_slo {
            "met".into()
        } else {
            "-".into()
        });
        rows.push(row);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |o: &mut String, cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(o, "  {}", parts.join("  ").trim_end());
    };
    line(&mut o, &header);
    for r in &rows {
        line(&mut o, r);
    }
    match cheapest.and_then(|c| stats.iter().find(|s| s.point == c)) {
        Some(s) => {
            let params: Vec<String> = axes
                .iter()
                .zip(&s.params)
                .map(|(a, v)| format!("{a}={v}"))
                .collect();
            let _ = writeln!(
                o,
                "  cheapest point meeting the SLO with 95 % confidence: point {} ({}) at ${} per 30 days",
                s.point,
                params.join(", "),
                short(s.cost_30d.0)
            );
        }
        None => {
            let _ = writeln!(
                o,
                "  no point meets the SLO with 95 % confidence (availability lower bound and p99 upper bound)"
            );
        }
    }
    let _ = writeln!(
        o,
        "  output       {}/ (runs.csv, points.csv, sweep.json)",
        dir.display()
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_never_round_failures_away() {
        assert_eq!(pct_value(1.0), "100.000");
        assert_eq!(pct_value(0.99999), "99.999");
        assert_eq!(pct_value(0.9999996), "99.99996");
        assert_eq!(pct_value(1.0 - 1e-15), "99.999999999");
        assert_eq!(pct_value(0.0), "0.000");
        assert_eq!(pct_value(2e-6), "0.0002");
        assert_eq!(pct_value(-0.0), "0.000");
    }

    #[test]
    fn means_are_rounded_with_a_decimal_and_counts_stay_whole() {
        assert_eq!(count(186.7), "186.7");
        assert_eq!(count(186.66), "186.7");
        assert_eq!(count(187.0), "187");
        assert_eq!(count(12345.25), "12,345.3");
        assert_eq!(count(-0.0), "0");
        assert_eq!(short(-0.0001), "0.000");
    }
}
