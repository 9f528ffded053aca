//! The summary printed after a run, read from the typed `summary.json` document so that a
//! single run and the mean of replications print the same way.

use std::fmt::Write;
use std::path::Path;

use crate::metrics::results::RunSummary;
use crate::output::figures::{count, group, pct, pct_value, short};

type Summary = RunSummary<f64>;

/// The half-width of the figure `f` picks, when the summary is a mean over replications.
fn ci_of(s: &Summary, f: fn(&Summary) -> f64) -> Option<f64> {
    s.ci95.as_deref().map(f).filter(|h| *h > 0.0)
}

/// The 95 % half-width of a figure, in its own unit.
fn ci(s: &Summary, f: fn(&Summary) -> f64) -> String {
    ci_of(s, f).map_or_else(String::new, |h| format!(" ±{}", short(h)))
}

/// The 95 % half-width of a share, in percentage points (the unit the share is printed in).
fn ci_pp(s: &Summary, f: fn(&Summary) -> f64) -> String {
    ci_of(s, f).map_or_else(String::new, |h| format!(" ±{} pp", pct_value(h)))
}

/// Renders the summary table.
pub(crate) fn render(s: &Summary, wall_s: f64, out: Option<&Path>) -> String {
    let mut o = String::new();
    let reps = s.replications.unwrap_or(1);
    let _ = writeln!(
        o,
        "flysim {}: {}, seed {}, {} simulated, {} replication{} in {:.2} s ({} events)",
        env!("CARGO_PKG_VERSION"),
        s.scenario,
        s.seed,
        crate::engine::SimDuration::from_secs_f64(s.duration_s),
        reps,
        if reps == 1 { "" } else { "s" },
        wall_s,
        group(s.events as i64),
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
    let r = &s.requests;
    row(
        &mut o,
        "requests",
        format!(
            "offered {}   served {}   failed {}   availability {}{}",
            count(r.offered),
            count(r.served),
            count(r.failed),
            pct(r.availability),
            ci_pp(s, |s| s.requests.availability),
        ),
    );
    let reasons: Vec<String> = r
        .failed_by_reason
        .iter()
        .filter(|(_, n)| **n > 0.0)
        .map(|(k, n)| format!("{k} {}", count(*n)))
        .collect();
    if !reasons.is_empty() {
        row(&mut o, "failures", reasons.join("   "));
    }
    let l = &s.latency_ms;
    row(
        &mut o,
        "latency",
        format!(
            "p50 {} ms   p90 {} ms   p99 {} ms{}   max {} ms   within SLO {}",
            short(l.p50),
            short(l.p90),
            short(l.p99),
            ci(s, |s| s.latency_ms.p99),
            short(l.max),
            pct(r.slo_share),
        ),
    );
    row(
        &mut o,
        "cold starts",
        format!(
            "{} (mean wait {} ms)   queued {} (mean wait {} ms)   cross-region {}",
            count(r.cold_starts),
            short(r.cold_start_wait_ms_mean),
            count(r.queued),
            short(s.queue_wait_ms.mean),
            pct(r.cross_region_share),
        ),
    );
    let m = &s.machines;
    let avg = |state: &str| m.time_avg.get(state).copied().unwrap_or(0.0);
    row(
        &mut o,
        "machines",
        format!(
            "{} in all; on average {} started, {} stopped, {} suspended, {} down   starts {}   stops {}   suspends {}",
            count(m.count),
            short(avg("started")),
            short(avg("stopped")),
            short(avg("suspended")),
            short(avg("down")),
            count(m.starts),
            count(m.stops),
            count(m.suspends),
        ),
    );
    if let Some(cpu) = &s.cpu {
        row(
            &mut o,
            "cpu",
            format!(
                "used {} s ({} of the vCPU time)   throttled {} of Machine time   served while throttled {} ({})   balance at end {} s on average",
                short(cpu.used_s),
                pct(cpu.utilisation),
                pct(cpu.throttled_share),
                count(cpu.served_throttled),
                pct(cpu.served_throttled_share),
                short(cpu.balance_s_mean_at_end),
            ),
        );
    }
    if let Some(d) = &s.deploys {
        row(
            &mut o,
            "deploys",
            format!(
                "{} ({} complete, {} failed), {} s in all   during them: availability {}, {} failed, {} cold starts, worst p99 {} ms   extra cost ${}",
                count(d.count),
                count(d.complete),
                count(d.failed),
                short(d.time_s),
                pct(d.availability),
                count(d.requests_failed),
                count(d.cold_starts),
                short(d.latency_p99_ms_worst),
                short(d.extra_cost_usd),
            ),
        );
    }
    if let Some(a) = &s.autoscaler {
        row(
            &mut o,
            "autoscaler",
            format!(
                "{} reconciles ({} scaled, {} failed, {} skipped for deploys)   created {}, destroyed {}, started {}, stopped {}   no room {}",
                count(a.reconciles),
                count(a.scaled),
                count(a.failed),
                count(a.skipped),
                count(a.created),
                count(a.destroyed),
                count(a.started),
                count(a.stopped),
                count(a.no_room),
            ),
        );
    }
    let c = &s.cost_usd;
    row(
        &mut o,
        "cost",
        format!(
            "${} (compute ${}, rootfs ${}, volumes ${})   ${}{} per 30 days   ${} per million requests",
            short(c.total),
            short(c.compute),
            short(c.rootfs),
            short(c.volumes),
            short(c.per_30_days),
            ci(s, |s| s.cost_usd.per_30_days),
            short(c.per_million_requests),
        ),
    );
    let i = &s.incidents;
    if i.count > 0.0 {
        row(
            &mut o,
            "host failures",
            format!(
                "{} (hosts down {} s in all)   Machines back after {} s on average   standby takeovers {} after {} s   requests failed on failed hosts {}   volumes lost {}",
                short(i.count),
                short(i.host_down_s_total),
                short(i.recovery_s_mean),
                short(i.takeovers),
                short(i.takeover_s_mean),
                count(i.requests_failed_on_host),
                short(s.volumes.lost),
            ),
        );
    }
    let workers: Vec<String> = s
        .workers
        .iter()
        .map(|(k, w)| format!("{k} {}", pct(w.availability)))
        .collect();
    if !workers.is_empty() {
        row(&mut o, "workers up", workers.join("   "));
    }
    let verdict = |b: bool| if b { "met" } else { "MISSED" };
    row(
        &mut o,
        "SLO",
        format!(
            "availability {} (target {}): {}   p99 {} ms (target {} ms): {}",
            pct(r.availability),
            pct(s.slo.availability_target),
            verdict(s.slo.availability_met),
            short(l.p99),
            short(s.slo.latency_p99_target_ms),
            verdict(s.slo.latency_p99_met),
        ),
    );
    if s.apps.len() > 1 {
        for (name, a) in &s.apps {
            row(
                &mut o,
                &format!("app {name}"),
                format!(
                    "served {}   availability {}   p99 {} ms   cold starts {} (mean wait {} ms)   ${} per 30 days",
                    count(a.requests.served),
                    pct(a.requests.availability),
                    short(a.latency_ms.p99),
                    count(a.requests.cold_starts),
                    short(a.requests.cold_start_wait_ms_mean),
                    short(a.cost_usd.per_30_days),
                ),
            );
            for (svc, r) in &a.services {
                row(
                    &mut o,
                    &format!("  {svc}"),
                    format!(
                        "offered {}   served {}   failed {}   availability {}",
                        count(r.offered),
                        count(r.served),
                        count(r.failed),
                        pct(r.availability),
                    ),
                );
            }
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
