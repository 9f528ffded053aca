//! The self-contained HTML report: the summary tables and every chart, inline.
//!
//! Nothing is fetched: charts are inline SVG, the font is embedded as a data URI, styles are
//! inline. It opens the same way offline on any machine.

use std::fmt::Write;

use base64::Engine;

use super::FONT_BYTES;
use super::run_charts::RunData;
use crate::metrics::results::{MeanCi, RunSummary};
use crate::output::figures::{count, pct, short};

/// The scenario a run's folder keeps (its text as read, overrides noted), shown in the report.
pub const SCENARIO_FILE: &str = "scenario.toml";

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page head every report shares.
pub(crate) fn head_for(title: &str) -> String {
    head(title)
}

fn head(title: &str) -> String {
    let font = base64::engine::general_purpose::STANDARD.encode(FONT_BYTES);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{t}</title><style>\
@font-face {{ font-family: 'DejaVu Sans'; src: url(data:font/ttf;base64,{font}) format('truetype'); }}\
body {{ font-family: 'DejaVu Sans', sans-serif; margin: 2rem auto; max-width: 1240px; color: #111; padding: 0 1rem; }}\
h1 {{ font-size: 1.6rem; }} h2 {{ font-size: 1.25rem; margin-top: 2rem; }}\
table {{ border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }}\
td, th {{ border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }} th {{ background: #f2f2f2; }}\
td:first-child, th:first-child {{ text-align: left; }}\
figure {{ margin: 1rem 0; }} figure svg {{ width: 100%; height: auto; border: 1px solid #eee; }}\
.met {{ color: #009E73; font-weight: bold; }} .missed {{ color: #D55E00; font-weight: bold; }}\
</style></head><body>\n",
        t = esc(title)
    )
}

/// Rows of a two-column table from (label, JSON pointer, unit, scale) specs.
/// A table of figures, each already formatted with its unit.
fn kv_table(o: &mut String, rows: &[(&str, String)]) {
    let _ = writeln!(o, "<table><tr><th>figure</th><th>value</th></tr>");
    for (label, value) in rows {
        let _ = writeln!(o, "<tr><td>{}</td><td>{}</td></tr>", esc(label), esc(value));
    }
    let _ = writeln!(o, "</table>");
}

fn ms(x: f64) -> String {
    format!("{} ms", short(x))
}

fn trim(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e15 {
        format!("{x:.0}")
    } else if x.abs() >= 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.4}")
    }
}

fn figures(o: &mut String, charts: &[(String, Vec<u8>)], captions: &[(&str, &str)]) {
    for (name, caption) in captions {
        if let Some((_, svg)) = charts.iter().find(|(n, _)| n == &format!("{name}.svg")) {
            let svg = String::from_utf8_lossy(svg);
            let body = svg.find("<svg").map_or(&svg[..], |i| &svg[i..]);
            let _ = writeln!(
                o,
                "<figure>{body}<figcaption>{}</figcaption></figure>",
                esc(caption)
            );
        }
    }
}

/// The report of a sweep: the per-point table and every chart.
pub fn sweep_report(d: &super::SweepData, charts: &[(String, Vec<u8>)]) -> String {
    let name = &d.sweep.name;
    let mut o = head(&format!("flysim: {name}"));
    let _ = writeln!(o, "<h1>flysim sweep report: {}</h1>", esc(name));
    let axes = d.axes();
    let _ = writeln!(
        o,
        "<p>{} points × {} replications; means with 95 % Student-t intervals.</p>",
        d.points.rows.len(),
        d.sweep.replications
    );
    let _ = write!(o, "<table><tr><th>point</th>");
    for a in &axes {
        let _ = write!(o, "<th>{}</th>", esc(a));
    }
    let _ = writeln!(
        o,
        "<th>availability %</th><th>p99 ms</th><th>$ / 30 days</th><th>SLO</th></tr>"
    );
    let cheapest = d.sweep.cheapest_meeting_slo;
    for p in &d.sweep.points {
        let i = p.point;
        let _ = write!(
            o,
            "<tr><td>{i}{}</td>",
            if Some(i) == cheapest {
                " (cheapest meeting the SLO)"
            } else {
                ""
            }
        );
        for a in &axes {
            let value = p.params.get(a).map(|v| v.to_string()).unwrap_or_default();
            let _ = write!(o, "<td>{}</td>", esc(&value));
        }
        let pair = |f: MeanCi, s: f64| format!("{} ± {}", trim(f.mean * s), trim(f.ci95 * s));
        let met = if p.meets_slo {
            "<span class=\"met\">met</span>"
        } else {
            "<span class=\"missed\">no</span>"
        };
        let _ = writeln!(
            o,
            "<td>{}</td><td>{}</td><td>{}</td><td>{met}</td></tr>",
            pair(p.availability, 100.0),
            pair(p.latency_p99_ms, 1.0),
            pair(p.cost_usd_per_30_days, 1.0)
        );
    }
    let _ = writeln!(o, "</table><h2>Charts</h2>");
    figures(
        &mut o,
        charts,
        &[
            (
                "tradeoff",
                "Availability against monthly cost per point, with 95 % intervals; the cheapest point meeting the SLO with confidence in green.",
            ),
            (
                "by-axis-availability",
                "Availability along the first axis, one line per value of the second, 95 % bands.",
            ),
            ("by-axis-p99", "p99 latency along the first axis."),
            ("by-axis-cost", "Monthly cost along the first axis."),
            ("heatmap", "Availability over the two axes."),
        ],
    );
    let _ = writeln!(o, "</body></html>");
    o
}

/// The report of a run. `top` is the top-level summary (the mean over replications) when it
/// differs from the charted replication's.
pub fn run_report(d: &RunData, top: Option<&[u8]>, charts: &[(String, Vec<u8>)]) -> String {
    let s: RunSummary<f64> = top
        .and_then(|b| RunSummary::from_slice(b).ok())
        .unwrap_or_else(|| d.summary.clone());
    let name = if s.scenario.is_empty() {
        "run"
    } else {
        &s.scenario
    };
    let mut o = head(&format!("flysim: {name}"));
    let _ = writeln!(o, "<h1>flysim report: {}</h1>", esc(name));
    let reps = s.replications.unwrap_or(1);
    let _ = writeln!(
        o,
        "<p>flysim {}, seed {}, {} s simulated, {} replication{}.</p>",
        esc(&s.flysim_version),
        s.seed,
        trim(s.duration_s),
        reps,
        if reps == 1 {
            ""
        } else {
            "s (figures are means; charts show replication 0)"
        },
    );
    let verdict = |met: bool| {
        if met {
            "<span class=\"met\">met</span>"
        } else {
            "<span class=\"missed\">missed</span>"
        }
    };
    let _ = writeln!(
        o,
        "<p>SLO: availability {} · p99 latency {}</p>",
        verdict(s.slo.availability_met),
        verdict(s.slo.latency_p99_met)
    );
    let r = &s.requests;
    let l = &s.latency_ms;
    let _ = writeln!(o, "<h2>Requests</h2>");
    kv_table(
        &mut o,
        &[
            ("offered", count(r.offered)),
            ("served", count(r.served)),
            ("failed", count(r.failed)),
            ("availability", pct(r.availability)),
            ("within the SLO latency", pct(r.slo_share)),
            ("cold starts", count(r.cold_starts)),
            ("mean cold-start wait", ms(r.cold_start_wait_ms_mean)),
            ("latency p50", ms(l.p50)),
            ("latency p99", ms(l.p99)),
            ("latency max", ms(l.max)),
            ("cross-region share", pct(r.cross_region_share)),
        ],
    );
    let reasons: Vec<(&String, f64)> = r
        .failed_by_reason
        .iter()
        .filter(|(_, n)| **n > 0.0)
        .map(|(k, n)| (k, *n))
        .collect();
    if !reasons.is_empty() {
        let _ = writeln!(
            o,
            "<table><tr><th>failure reason</th><th>requests</th></tr>"
        );
        for (k, n) in reasons {
            let _ = writeln!(o, "<tr><td>{}</td><td>{}</td></tr>", esc(k), count(n));
        }
        let _ = writeln!(o, "</table>");
    }
    let m = &s.machines;
    let avg = |state: &str| short(m.time_avg.get(state).copied().unwrap_or(0.0));
    let usd = |x: f64| format!("{} USD", short(x));
    let _ = writeln!(o, "<h2>Machines and cost</h2>");
    kv_table(
        &mut o,
        &[
            ("Machines", count(m.count)),
            ("on average started", avg("started")),
            ("on average stopped", avg("stopped")),
            ("on average suspended", avg("suspended")),
            ("on average down", avg("down")),
            ("starts", count(m.starts)),
            ("cost of the run", usd(s.cost_usd.total)),
            ("per 30 days", usd(s.cost_usd.per_30_days)),
            ("per million requests", usd(s.cost_usd.per_million_requests)),
            ("host failures", count(s.incidents.count)),
            ("volumes lost", count(s.volumes.lost)),
        ],
    );
    if let Some(d) = &s.deploys {
        let _ = writeln!(o, "<h2>Deploys</h2>");
        kv_table(
            &mut o,
            &[
                ("deploys", count(d.count)),
                ("complete", count(d.complete)),
                ("failed, rolled back or refused", count(d.failed)),
                ("time deploying", format!("{} s", short(d.time_s))),
                ("availability during deploys", pct(d.availability)),
                ("requests failed during deploys", count(d.requests_failed)),
                ("cold starts during deploys", count(d.cold_starts)),
                (
                    "worst p99 during one deploy",
                    format!("{} ms", short(d.latency_p99_ms_worst)),
                ),
                ("extra cost", usd(d.extra_cost_usd)),
            ],
        );
    }
    if let Some(a) = &s.autoscaler {
        let _ = writeln!(o, "<h2>fly-autoscaler</h2>");
        kv_table(
            &mut o,
            &[
                ("reconciles", count(a.reconciles)),
                ("that scaled", count(a.scaled)),
                (
                    "failed (empty query, NaN, nothing to clone)",
                    count(a.failed),
                ),
                ("skipped during deploys", count(a.skipped)),
                ("Machines created", count(a.created)),
                ("Machines destroyed", count(a.destroyed)),
                ("Machines started", count(a.started)),
                ("Machines stopped", count(a.stopped)),
                ("creates or starts without room", count(a.no_room)),
            ],
        );
    }
    let _ = writeln!(o, "<h2>Charts</h2>");
    figures(
        &mut o,
        charts,
        &[
            (
                "load",
                "Offered and served requests per second, started Machines per region (right axis) and, when the fleet changes, the Machines created in any state (dashed); failures in red, host outages and deploys shaded, cold starts marked.",
            ),
            (
                "machines",
                "Each Machine's state over time; deploys shaded.",
            ),
            (
                "latency",
                "Share of served requests within a latency, with the SLO.",
            ),
            (
                "cost",
                "Cost over the run by app and region, split into compute, stopped rootfs and volumes.",
            ),
            (
                "cpu",
                "CPU quotas: each region's mean balance of unused CPU time (solid, left) and the share of its Machines' running time spent throttled at the baseline (dashed, right).",
            ),
        ],
    );
    let _ = writeln!(o, "</body></html>");
    o
}
