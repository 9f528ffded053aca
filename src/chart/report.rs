//! The self-contained HTML reports of a run and of a sweep: figures with their intervals,
//! charts a planner explores (hover, zoom on time, toggle series; `interactive`), sortable
//! tables of the Machines, incidents, deploys and actions, the inputs, and the static charts.
//!
//! Nothing is fetched: the font, the chart library and the script are embedded, so the page
//! opens the same way offline on any machine.

use std::fmt::Write;

use serde_json::Value;

use super::interactive::{
    axis, chart_holder, csv_table, esc, line_colour, page_foot, page_head, series, shade, some,
};
use super::run_charts::RunData;
use super::table::Table;
use crate::metrics::results::{InputsDoc, MeanCi, RunSummary};
use crate::output::figures::{count, duration_ms, pct, short};

/// The scenario a run's folder keeps (its text as read, overrides noted), shown in the report.
pub const SCENARIO_FILE: &str = "scenario.toml";

/// What a run's folder keeps of its inputs, shown in the report.
pub const INPUTS_FILE: &str = "inputs.json";

/// Rows of a two-column table, each figure already formatted with its unit.
fn kv_table(o: &mut String, rows: &[(&str, String)]) {
    let _ = writeln!(o, "<table><tr><th>figure</th><th>value</th></tr>");
    for (label, value) in rows {
        let _ = writeln!(o, "<tr><td>{}</td><td>{}</td></tr>", esc(label), esc(value));
    }
    let _ = writeln!(o, "</table>");
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

/// A figure of a mean over replications with its 95 % half-width, or of one run.
struct Fig<'a> {
    s: &'a RunSummary<f64>,
}

impl Fig<'_> {
    fn show(&self, get: impl Fn(&RunSummary<f64>) -> f64, fmt: impl Fn(f64) -> String) -> String {
        let mean = fmt(get(self.s));
        match &self.s.ci95 {
            Some(ci) => format!("{mean} ± {}", fmt(get(ci))),
            None => mean,
        }
    }
}

fn usd(x: f64) -> String {
    format!("${}", short(x))
}

/// The report of a run. `top` is the top-level summary (the mean over replications) when it
/// differs from the charted replication's; `inputs` and `scenario` what the folder keeps of
/// the inputs.
pub fn run_report(
    d: &RunData,
    top: Option<&[u8]>,
    charts: &[(String, Vec<u8>)],
    inputs: Option<&InputsDoc>,
    scenario: Option<&str>,
) -> String {
    let s: RunSummary<f64> = top
        .and_then(|b| RunSummary::from_slice(b).ok())
        .unwrap_or_else(|| d.summary.clone());
    let name = if s.scenario.is_empty() {
        "run"
    } else {
        &s.scenario
    };
    let f = Fig { s: &s };
    let mut o = page_head(&format!("flysim: {name}"));
    let _ = writeln!(o, "<h1>flysim report: {}</h1>", esc(name));
    let reps = s.replications.unwrap_or(1);
    let _ = writeln!(
        o,
        "<p>flysim {}, seed {}, {} simulated, {} replication{}.</p>",
        esc(&s.flysim_version),
        s.seed,
        duration_ms(s.duration_s * 1000.0),
        reps,
        if reps == 1 {
            ""
        } else {
            "s: figures are means ± 95 % Student-t half-widths; the charts over time show replication 0"
        },
    );
    let verdict = |met: bool| {
        if met {
            "<span class=\"met\">met</span>"
        } else {
            "<span class=\"missed\">missed</span>"
        }
    };
    let card = |o: &mut String, value: String, label: &str| {
        let _ = write!(
            o,
            "<div class=\"card\"><div class=\"v\">{}</div><div class=\"l\">{}</div></div>",
            esc(&value),
            esc(label)
        );
    };
    let _ = write!(o, "<div class=\"cards\">");
    card(
        &mut o,
        f.show(|s| s.requests.availability, pct),
        &format!("availability (target {})", pct(s.slo.availability_target)),
    );
    card(
        &mut o,
        f.show(|s| s.latency_ms.p99, duration_ms),
        &format!(
            "p99 latency (target {})",
            duration_ms(s.slo.latency_p99_target_ms)
        ),
    );
    card(
        &mut o,
        f.show(|s| s.cost_usd.per_30_days, usd),
        "cost per 30 days",
    );
    card(
        &mut o,
        f.show(|s| s.requests.failed, count),
        "requests failed",
    );
    card(
        &mut o,
        f.show(|s| s.requests.cold_starts, count),
        "cold starts",
    );
    let _ = writeln!(o, "</div>");
    let _ = writeln!(
        o,
        "<p>SLO: availability {} · p99 latency {}</p>",
        verdict(s.slo.availability_met),
        verdict(s.slo.latency_p99_met)
    );

    let _ = writeln!(
        o,
        "<h2>Over time</h2><p class=\"hint\">Hover for values; drag across a chart to zoom in on a span, double-click to zoom out; click a legend entry to hide or show its line.</p>"
    );
    let specs = run_chart_specs(d);
    for spec in &specs {
        let id = spec["id"].as_str().unwrap_or_default();
        chart_holder(&mut o, id, spec["caption"].as_str().unwrap_or_default());
    }

    let r = &s.requests;
    let _ = writeln!(o, "<h2>Requests</h2>");
    kv_table(
        &mut o,
        &[
            ("offered", f.show(|s| s.requests.offered, count)),
            ("served", f.show(|s| s.requests.served, count)),
            ("failed", f.show(|s| s.requests.failed, count)),
            ("availability", f.show(|s| s.requests.availability, pct)),
            (
                "within the SLO latency",
                f.show(|s| s.requests.slo_share, pct),
            ),
            ("cold starts", f.show(|s| s.requests.cold_starts, count)),
            (
                "mean cold-start wait",
                f.show(|s| s.requests.cold_start_wait_ms_mean, duration_ms),
            ),
            ("queued at the proxy", f.show(|s| s.requests.queued, count)),
            ("latency p50", f.show(|s| s.latency_ms.p50, duration_ms)),
            ("latency p99", f.show(|s| s.latency_ms.p99, duration_ms)),
            ("latency max", f.show(|s| s.latency_ms.max, duration_ms)),
            (
                "cross-region share",
                f.show(|s| s.requests.cross_region_share, pct),
            ),
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
    let avg = |state: &'static str| {
        f.show(
            move |s| s.machines.time_avg.get(state).copied().unwrap_or(0.0),
            short,
        )
    };
    let _ = writeln!(o, "<h2>Machines and cost</h2>");
    kv_table(
        &mut o,
        &[
            ("Machines", f.show(|s| s.machines.count, count)),
            ("on average started", avg("started")),
            ("on average stopped", avg("stopped")),
            ("on average suspended", avg("suspended")),
            ("on average down", avg("down")),
            ("starts", f.show(|s| s.machines.starts, count)),
            ("cost of the run", f.show(|s| s.cost_usd.total, usd)),
            ("per 30 days", f.show(|s| s.cost_usd.per_30_days, usd)),
            (
                "per million requests",
                f.show(|s| s.cost_usd.per_million_requests, usd),
            ),
            ("host failures", f.show(|s| s.incidents.count, count)),
            ("volumes lost", f.show(|s| s.volumes.lost, count)),
        ],
    );
    if let Some(dep) = &s.deploys {
        let _ = writeln!(o, "<h2>Deploys</h2>");
        kv_table(
            &mut o,
            &[
                ("deploys", count(dep.count)),
                ("complete", count(dep.complete)),
                ("failed, rolled back or refused", count(dep.failed)),
                ("time deploying", duration_ms(dep.time_s * 1000.0)),
                ("availability during deploys", pct(dep.availability)),
                ("requests failed during deploys", count(dep.requests_failed)),
                ("cold starts during deploys", count(dep.cold_starts)),
                (
                    "worst p99 during one deploy",
                    duration_ms(dep.latency_p99_ms_worst),
                ),
                ("extra cost", usd(dep.extra_cost_usd)),
            ],
        );
        if let Some(t) = d.deploys.as_ref().filter(|t| !t.rows.is_empty()) {
            csv_table(&mut o, t, &[]);
        }
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
    if !d.incidents.rows.is_empty() {
        let _ = writeln!(
            o,
            "<h2>Incidents</h2><p class=\"hint\">Each host failure{}: click a column to sort.</p>",
            if reps > 1 { " of replication 0" } else { "" }
        );
        csv_table(&mut o, &d.incidents, &[]);
    }
    if let Some(t) = d.actions.as_ref().filter(|t| !t.rows.is_empty()) {
        let _ = writeln!(o, "<h2>Actions</h2>");
        csv_table(&mut o, t, &[]);
    }
    if let Some(t) = &d.machines {
        let _ = writeln!(
            o,
            "<h2>Machines</h2><p class=\"hint\">Each Machine that existed{}, with seconds in each state; click a column to sort.</p>",
            if reps > 1 { " in replication 0" } else { "" }
        );
        csv_table(&mut o, t, &[]);
    }
    if inputs.is_some() || scenario.is_some() {
        let _ = writeln!(o, "<h2>Inputs</h2>");
    }
    if let Some(i) = inputs {
        inputs_section(&mut o, i);
    }
    if let Some(text) = scenario {
        let _ = writeln!(
            o,
            "<details><summary>The scenario file</summary><pre>{}</pre></details>",
            esc(text)
        );
    }
    let _ = writeln!(
        o,
        "<h2>Charts for print</h2><p class=\"hint\">The same folder holds each as PNG and SVG.</p>"
    );
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
    o.push_str(&page_foot(&specs));
    o
}

fn inputs_section(o: &mut String, i: &InputsDoc) {
    let regions: Vec<String> = i
        .regions
        .iter()
        .map(|r| format!("{} ({} hosts)", r.code, r.hosts))
        .collect();
    let _ = writeln!(
        o,
        "<p>{} simulated, {} replication{}; SLO: availability {} and p99 latency {}. Regions: {}.</p>",
        duration_ms(i.duration_s * 1000.0),
        i.replications,
        if i.replications == 1 { "" } else { "s" },
        pct(i.slo_availability),
        duration_ms(i.slo_latency_p99_ms),
        esc(&regions.join(", "))
    );
    for app in &i.apps {
        let _ = writeln!(o, "<h3>App {}</h3>", esc(&app.name));
        let _ = writeln!(
            o,
            "<table><tr><th>service</th><th>concurrency</th><th>soft limit</th><th>hard limit</th><th>autostop</th><th>autostart</th><th>min running</th></tr>"
        );
        for s in &app.services {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td class=\"text\">{}</td><td>{}</td><td>{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td><td>{}</td></tr>",
                esc(&s.name),
                esc(&s.concurrency),
                s.soft_limit,
                s.hard_limit.map_or("none".to_string(), |h| h.to_string()),
                esc(&s.auto_stop_machines),
                s.auto_start_machines,
                s.min_machines_running
            );
        }
        let _ = writeln!(
            o,
            "</table><table><tr><th>group</th><th>Machines by region</th><th>size</th><th>at the start</th></tr>"
        );
        for m in &app.machines {
            let by: Vec<String> = m.regions.iter().map(|(r, n)| format!("{r}: {n}")).collect();
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td></tr>",
                esc(&m.group),
                esc(&by.join(", ")),
                esc(&m.size),
                esc(&m.state)
            );
        }
        let _ = writeln!(o, "</table><p>Requests: {}.</p>", esc(&app.request));
        if !app.traffic.is_empty() {
            let _ = writeln!(o, "<ul>");
            for t in &app.traffic {
                let _ = writeln!(o, "<li>Traffic: {}</li>", esc(t));
            }
            let _ = writeln!(o, "</ul>");
        }
    }
    for (title, list) in [
        ("Faults", &i.faults),
        ("Actions", &i.actions),
        ("Deploys", &i.deploys),
    ] {
        if !list.is_empty() {
            let _ = writeln!(o, "<p>{title}:</p><ul>");
            for x in list {
                let _ = writeln!(o, "<li>{}</li>", esc(x));
            }
            let _ = writeln!(o, "</ul>");
        }
    }
}

/// Regions with Machines in `timeseries.csv`, in column order: a region none of whose state
/// columns is ever above zero gets no line.
fn regions_with_machines(ts: &Table) -> Vec<String> {
    ts.header
        .iter()
        .filter_map(|h| h.strip_prefix("started_"))
        .filter(|r| {
            ["started_", "starting_", "stopped_", "suspended_"]
                .iter()
                .any(|p| ts.nums(&format!("{p}{r}")).iter().any(|x| *x > 0.0))
        })
        .map(String::from)
        .collect()
}

/// The charts over time of a run, from its `timeseries.csv` (and its incidents and deploys
/// for shading).
fn run_chart_specs(d: &RunData) -> Vec<Value> {
    let ts = &d.timeseries;
    let t = ts.nums("t_start_s");
    let end = d.summary.duration_s;
    let bucket = if t.len() > 1 {
        t[1] - t[0]
    } else {
        end.max(1.0)
    };
    let x = serde_json::json!({ "kind": "time", "label": "time", "values": t });
    let mut shades = Vec::new();
    for row in 0..d.incidents.rows.len() {
        let from = d.incidents.nums("start_s")[row];
        let to = d.incidents.nums("host_back_s")[row];
        shades.push(shade(
            from,
            if to > from { to } else { end },
            "rgba(160,160,160,0.35)",
        ));
    }
    if let Some(dep) = &d.deploys {
        let starts = dep.nums("start_s");
        let ends = dep.strs("end_s");
        for (s0, e) in starts.iter().zip(ends) {
            let e = e.trim().parse::<f64>().unwrap_or(end);
            shades.push(shade(*s0, e, "rgba(86,180,233,0.25)"));
        }
    }
    let served = ts.nums("served");
    let gaps = |col: &str| -> Vec<Option<f64>> {
        ts.nums(col)
            .iter()
            .zip(&served)
            .map(|(v, n)| (*n > 0.0 && v.is_finite()).then_some(*v))
            .collect()
    };
    let per_second = |col: &str| -> Vec<Option<f64>> {
        some(&ts.nums(col).iter().map(|x| x / bucket).collect::<Vec<_>>())
    };
    let mut specs = Vec::new();
    // Served first, filled, so that the dashed offered line drawn over it stays visible where
    // the two are equal.
    let mut load = vec![
        series("served", 0, "#0072B2", &[], &some(&ts.nums("served_rps"))),
        series("failed", 0, "#D55E00", &[], &per_second("failed")),
        series(
            "offered",
            0,
            "#000000",
            &[6, 6],
            &some(&ts.nums("offered_rps")),
        ),
    ];
    load[0]["fill"] = "rgba(0,114,178,0.15)".into();
    // Cold starts as marks where there were any.
    let colds: Vec<Option<f64>> = ts
        .nums("cold_starts")
        .iter()
        .map(|&c| (c > 0.0).then_some(c))
        .collect();
    let mut cold = series("cold starts", 1, "#E69F00", &[], &colds);
    cold["points"] = true.into();
    cold["points_only"] = true.into();
    load.push(cold);
    specs.push(serde_json::json!({
        "id": "load",
        "title": "Requests",
        "caption": "Served requests per second (blue, filled), offered (dashed, drawn over it), failures per second (red); cold starts per bucket as orange marks on the right axis. Host outages grey, deploys blue.",
        "x": x,
        "axes": [axis("requests per second", "plain", "/s", false), axis(&format!("cold starts per {}", duration_ms(bucket * 1000.0)), "plain", "", false)],
        "series": load,
        "shades": shades,
    }));
    let regions = regions_with_machines(ts);
    let mut machines = Vec::new();
    for (k, r) in regions.iter().enumerate() {
        let c = line_colour(k);
        machines.push(series(
            &format!("{r} started"),
            0,
            c,
            &[],
            &some(&ts.nums(&format!("started_{r}"))),
        ));
        let idle: Vec<f64> = ts
            .nums(&format!("stopped_{r}"))
            .iter()
            .zip(ts.nums(&format!("suspended_{r}")))
            .map(|(a, b)| a + b)
            .collect();
        if idle.iter().any(|x| *x > 0.0) {
            machines.push(series(
                &format!("{r} stopped or suspended"),
                0,
                c,
                &[6, 4],
                &some(&idle),
            ));
        }
    }
    if !machines.is_empty() {
        specs.push(serde_json::json!({
            "id": "machines-over-time",
            "title": "Machines by region",
            "caption": "Time-averaged Machines per bucket in each region that has any: started (solid), stopped or suspended (dashed).",
            "x": x,
            "axes": [axis("Machines", "plain", "", false)],
            "series": machines,
            "shades": shades,
        }));
    }
    let mut latency = Vec::new();
    for (k, (col, label)) in [
        ("latency_p50_ms", "p50"),
        ("latency_p90_ms", "p90"),
        ("latency_p99_ms", "p99"),
        ("latency_max_ms", "max"),
    ]
    .iter()
    .enumerate()
    {
        if ts.col(col).is_some() {
            latency.push(series(label, 0, line_colour(k), &[], &gaps(col)));
        }
    }
    let slo = d.summary.slo.latency_p99_target_ms;
    if slo > 0.0 {
        latency.push(series(
            "SLO p99",
            0,
            "#D55E00",
            &[4, 4],
            &vec![Some(slo); t.len()],
        ));
    }
    specs.push(serde_json::json!({
        "id": "latency-over-time",
        "title": "Latency of the requests served in each bucket",
        "caption": "Percentiles of the latency clients saw, per bucket (log scale; gaps where nothing was served), and the SLO's p99 target.",
        "x": x,
        "axes": [axis("latency", "ms", "", true)],
        "series": latency,
        "shades": shades,
    }));
    specs.push(serde_json::json!({
        "id": "cost-over-time",
        "title": "Cost so far",
        "caption": "Cost accrued from the start of the run.",
        "x": x,
        "axes": [axis("cost", "usd", "", false)],
        "series": [series("cost", 0, "#009E73", &[], &some(&ts.nums("cost_usd")))],
        "shades": [],
    }));
    let cpu: Vec<String> = ts
        .header
        .iter()
        .filter_map(|h| h.strip_prefix("cpu_util_"))
        .map(String::from)
        .collect();
    if !cpu.is_empty() {
        let mut list = Vec::new();
        for (k, r) in cpu.iter().enumerate() {
            let c = line_colour(k);
            let util: Vec<f64> = ts
                .nums(&format!("cpu_util_{r}"))
                .iter()
                .map(|x| x * 100.0)
                .collect();
            let thr: Vec<f64> = ts
                .nums(&format!("cpu_throttled_{r}"))
                .iter()
                .map(|x| x * 100.0)
                .collect();
            list.push(series(&format!("{r} CPU used"), 0, c, &[], &some(&util)));
            list.push(series(
                &format!("{r} throttled"),
                0,
                c,
                &[6, 4],
                &some(&thr),
            ));
            list.push(series(
                &format!("{r} balance"),
                1,
                c,
                &[2, 3],
                &some(&ts.nums(&format!("cpu_balance_s_{r}"))),
            ));
        }
        specs.push(serde_json::json!({
            "id": "cpu-over-time",
            "title": "CPU quotas",
            "caption": "Per region: CPU used over the vCPU time of running Machines, the share of their time throttled (dashed), and their mean balance (dotted, right axis).",
            "x": x,
            "axes": [axis("share", "percent", "", false), axis("balance", "time", "", false)],
            "series": list,
            "shades": shades,
        }));
    }
    specs
}

/// The report of a sweep: the per-point table, the figures along the first axis, the static
/// charts.
pub fn sweep_report(d: &super::SweepData, charts: &[(String, Vec<u8>)]) -> String {
    let name = &d.sweep.name;
    let mut o = page_head(&format!("flysim: {name}"));
    let _ = writeln!(o, "<h1>flysim sweep report: {}</h1>", esc(name));
    let axes = d.axes();
    let _ = writeln!(
        o,
        "<p>{} points × {} replications; means ± 95 % Student-t half-widths. A point meets the SLO when its availability's lower bound and its p99's upper bound are within the targets.</p>",
        d.points.rows.len(),
        d.sweep.replications
    );
    let specs = sweep_chart_specs(d);
    if !specs.is_empty() {
        let _ = writeln!(
            o,
            "<h2>Along {}</h2><p class=\"hint\">Hover for values; click a legend entry to hide or show its line; drag to zoom, double-click to zoom out.</p>",
            esc(&axes[0])
        );
        for spec in &specs {
            let id = spec["id"].as_str().unwrap_or_default();
            chart_holder(&mut o, id, spec["caption"].as_str().unwrap_or_default());
        }
    }
    let _ = writeln!(
        o,
        "<h2>Points</h2><div class=\"scroll\"><table class=\"sortable\"><thead><tr><th>point</th>"
    );
    for a in &axes {
        let _ = write!(o, "<th>{}</th>", esc(a));
    }
    let _ = writeln!(
        o,
        "<th>availability</th><th>p99 latency</th><th>$ / 30 days</th><th>SLO</th></tr></thead><tbody>"
    );
    let cheapest = d.sweep.cheapest_meeting_slo;
    for p in &d.sweep.points {
        let i = p.point;
        let _ = write!(
            o,
            "<tr><td data-v=\"{i}\">{i}{}</td>",
            if Some(i) == cheapest {
                " (cheapest meeting the SLO)"
            } else {
                ""
            }
        );
        for a in &axes {
            let value = p.params.get(a).map(|v| v.to_string()).unwrap_or_default();
            let _ = write!(o, "<td class=\"text\">{}</td>", esc(&value));
        }
        let pair = |f: MeanCi, show: fn(f64) -> String| {
            format!(
                "<td data-v=\"{}\">{} ± {}</td>",
                f.mean,
                esc(&show(f.mean)),
                esc(&show(f.ci95))
            )
        };
        let met = if p.meets_slo {
            "<span class=\"met\">met</span>"
        } else {
            "<span class=\"missed\">no</span>"
        };
        let _ = writeln!(
            o,
            "{}{}{}<td class=\"text\">{met}</td></tr>",
            pair(p.availability, |x| format!("{:.3} %", x * 100.0)),
            pair(p.latency_p99_ms, duration_ms),
            pair(p.cost_usd_per_30_days, usd)
        );
    }
    let _ = writeln!(o, "</tbody></table></div><h2>Charts</h2>");
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
    o.push_str(&page_foot(&specs));
    o
}

/// Availability, p99 and cost along the first axis, one line per value of the second (with
/// the 95 % bounds dotted).
fn sweep_chart_specs(d: &super::SweepData) -> Vec<Value> {
    let axes = d.axes();
    // With more than two axes, lines along the first axis would mix points: the table and the
    // static charts cover those.
    if axes.is_empty() || axes.len() > 2 || d.points.rows.is_empty() {
        return Vec::new();
    }
    let first = d.axis_values(0);
    let lines: Vec<String> = if axes.len() > 1 {
        d.axis_values(1)
    } else {
        vec![String::new()]
    };
    let x = serde_json::json!({
        "kind": "category", "label": axes[0], "categories": first,
        "values": (0..first.len()).collect::<Vec<_>>(),
    });
    let mut specs = Vec::new();
    for (id, figure, title, format, scale) in [
        (
            "sweep-availability",
            "requests.availability",
            "Availability",
            "percent",
            100.0,
        ),
        ("sweep-p99", "latency_ms.p99", "p99 latency", "ms", 1.0),
        (
            "sweep-cost",
            "cost_usd.per_30_days",
            "Cost per 30 days",
            "usd",
            1.0,
        ),
    ] {
        let stats = d.stat(figure);
        let mut list = Vec::new();
        for (k, line) in lines.iter().enumerate() {
            let mut mean = vec![None; first.len()];
            let mut low = vec![None; first.len()];
            let mut high = vec![None; first.len()];
            for (row, (m, h)) in stats.iter().enumerate() {
                let on_line = axes.len() < 2 || d.param(row, 1) == *line;
                let Some(at) = first.iter().position(|v| *v == d.param(row, 0)) else {
                    continue;
                };
                if on_line {
                    mean[at] = Some(m * scale);
                    low[at] = Some((m - h) * scale);
                    high[at] = Some((m + h) * scale);
                }
            }
            // The second axis by its last key, so that legends stay short.
            let label = if line.is_empty() {
                "mean".to_string()
            } else {
                let key = axes[1].rsplit('.').next().unwrap_or(&axes[1]);
                format!("{key} = {line}")
            };
            let c = line_colour(k);
            let mut m = series(&label, 0, c, &[], &mean);
            m["points"] = true.into();
            list.push(m);
            list.push(series(&format!("{label}: 95 % low"), 0, c, &[2, 3], &low));
            list.push(series(&format!("{label}: 95 % high"), 0, c, &[2, 3], &high));
        }
        specs.push(serde_json::json!({
            "id": id,
            "title": title,
            "caption": format!("{title} along {}, the mean with points and the 95 % interval dotted.", axes[0]),
            "x": x,
            "axes": [axis(title, format, "", false)],
            "series": list,
            "shades": [],
            "height": 320,
        }));
    }
    specs
}
