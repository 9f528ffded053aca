//! The chart of a plan: cost against availability and against p99 latency for every candidate
//! that was run, the Pareto front of each, the recommendation marked; and the plan's report.

use std::fmt::Write;

use super::{DrawResult, both, colour, err, label_font, legend, tick_font, title_font};
use crate::plan::outcome::{CandidateDoc, PlanDoc};
use plotters::prelude::*;

/// The candidates that were run: (cost, availability %, p99 ms, is the recommendation).
fn points(doc: &PlanDoc) -> Vec<(f64, f64, f64, bool)> {
    doc.candidates
        .iter()
        .filter_map(|c| {
            Some((
                c.cost?.mean,
                c.availability? * 100.0,
                c.latency_p99_ms?,
                doc.recommended == Some(c.candidate),
            ))
        })
        .collect()
}

/// The Pareto front of (cost, y): no other point is as cheap and better; `higher` says
/// which way y is better. Sorted by cost.
fn front(pts: &[(f64, f64)], higher: bool) -> Vec<(f64, f64)> {
    let mut sorted: Vec<(f64, f64)> = pts.to_vec();
    sorted.sort_by(|a, b| {
        a.0.total_cmp(&b.0).then(if higher {
            b.1.total_cmp(&a.1)
        } else {
            a.1.total_cmp(&b.1)
        })
    });
    let mut out: Vec<(f64, f64)> = Vec::new();
    for p in sorted {
        let better = out
            .last()
            .is_none_or(|last| if higher { p.1 > last.1 } else { p.1 < last.1 });
        if better {
            out.push(p);
        }
    }
    out
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    doc: &PlanDoc,
    availability: bool,
) -> DrawResult {
    let pts = points(doc);
    let ys: Vec<(f64, f64)> = pts
        .iter()
        .map(|p| (p.0, if availability { p.1 } else { p.2 }))
        .collect();
    let (mut lo, mut hi) = ys
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| {
            (l.min(p.1), h.max(p.1))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    let bound = if availability {
        doc.availability_target.map(|t| t * 100.0)
    } else {
        doc.latency_p99_target_ms
    };
    if let Some(t) = bound {
        (lo, hi) = (lo.min(t), hi.max(t));
    }
    let pad = ((hi - lo) * 0.08).max(if availability { 0.01 } else { 1.0 });
    let x_hi = ys.iter().map(|p| p.0).fold(0.0, f64::max) * 1.1 + 1e-6;
    let (caption, desc) = if availability {
        (
            "cost against availability",
            "availability, worst scenario [%]",
        )
    } else {
        (
            "cost against p99 latency",
            "p99 latency, worst scenario [ms]",
        )
    };
    let y_top = if availability {
        (hi + pad).min(100.0 + pad)
    } else {
        hi + pad
    };
    let mut chart = ChartBuilder::on(area)
        .caption(format!("{}: {caption}", doc.name), title_font())
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..x_hi, (lo - pad)..y_top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("cost per 30 days [USD]")
        .y_desc(desc)
        .axis_desc_style(label_font())
        .label_style(tick_font())
        .light_line_style(colour::GREY.mix(0.3))
        .draw()
        .map_err(err)?;
    let target = if availability {
        doc.availability_target.map(|t| t * 100.0)
    } else {
        doc.latency_p99_target_ms
    };
    if let Some(t) = target.filter(|t| (lo - pad..y_top).contains(t)) {
        chart
            .draw_series(LineSeries::new(
                vec![(0.0, t), (x_hi, t)],
                colour::RED.stroke_width(2),
            ))
            .map_err(err)?
            .label(if availability {
                format!("SLO: ≥ {} %", crate::output::figures::short(t))
            } else {
                format!("SLO: ≤ {} ms", crate::output::figures::short(t))
            })
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour::RED.stroke_width(2))
            });
    }
    chart
        .draw_series(ys.iter().map(|&p| Circle::new(p, 4, colour::BLUE.filled())))
        .map_err(err)?
        .label("candidate run")
        .legend(|(x, y)| Circle::new((x + 9, y), 4, colour::BLUE.filled()));
    chart
        .draw_series(LineSeries::new(
            front(&ys, availability),
            colour::ORANGE.stroke_width(2),
        ))
        .map_err(err)?
        .label("Pareto front")
        .legend(|(x, y)| {
            PathElement::new(vec![(x, y), (x + 18, y)], colour::ORANGE.stroke_width(2))
        });
    if let Some(r) = pts.iter().position(|p| p.3) {
        chart
            .draw_series([Circle::new(ys[r], 9, colour::GREEN.filled())])
            .map_err(err)?
            .label("recommended")
            .legend(|(x, y)| Circle::new((x + 9, y), 6, colour::GREEN.filled()));
    }
    legend(
        &mut chart,
        if availability {
            SeriesLabelPosition::LowerRight
        } else {
            SeriesLabelPosition::UpperRight
        },
    )
}

fn draw_pareto<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    doc: &PlanDoc,
) -> DrawResult {
    let (left, right) = root.split_horizontally(root.dim_in_pixel().0 / 2);
    draw_panel(&left, doc, true)?;
    draw_panel(&right, doc, false)
}

/// The chart files of a plan.
pub(super) fn plan_charts(doc: &PlanDoc) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    both!(out, "pareto", |root: &DrawingArea<_, _>| draw_pareto(
        root, doc
    ));
    Ok(out)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The plan's report: the recommendation as printed, the chart, the candidates that were run.
pub(super) fn plan_report(doc: &PlanDoc, text: &str, charts: &[(String, Vec<u8>)]) -> String {
    let mut o = super::interactive::page_head(&format!("flysim plan: {}", doc.name));
    let _ = writeln!(o, "<h1>flysim plan: {}</h1>", esc(&doc.name));
    let _ = writeln!(o, "<pre>{}</pre>", esc(text));
    if let Some((_, svg)) = charts.iter().find(|(n, _)| n == "pareto.svg") {
        let svg = String::from_utf8_lossy(svg);
        let body = svg.find("<svg").map_or(&svg[..], |i| &svg[i..]);
        let _ = writeln!(
            o,
            "<figure>{body}<figcaption>Every candidate that was run: its mean cost against its worst scenario's availability and p99 latency; the Pareto front in orange, the recommendation in green.</figcaption></figure>"
        );
    }
    let _ = writeln!(o, "<h2>Candidates run</h2><table><tr><th>candidate</th>");
    let names: Vec<&String> = doc.axes.keys().collect();
    for n in &names {
        let _ = write!(o, "<th>{}</th>", esc(n));
    }
    let _ = writeln!(
        o,
        "<th>status</th><th>replications</th><th>$ / 30 days</th><th>availability %</th><th>p99 ms</th><th>why</th></tr>"
    );
    let run: Vec<&CandidateDoc> = doc.candidates.iter().filter(|c| c.cost.is_some()).collect();
    for c in run {
        let _ = write!(o, "<tr><td>{}</td>", c.candidate);
        for n in &names {
            let _ = write!(
                o,
                "<td>{}</td>",
                esc(&c.params.get(*n).map(|v| v.to_string()).unwrap_or_default())
            );
        }
        let cost = c.cost.expect("filtered");
        let class = if doc.recommended == Some(c.candidate) {
            " class=\"met\""
        } else {
            ""
        };
        let _ = writeln!(
            o,
            "<td{class}>{}</td><td>{}</td><td>{} ± {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.status),
            c.replications,
            crate::output::figures::short(cost.mean),
            crate::output::figures::short(cost.half),
            c.availability
                .map_or(String::new(), crate::output::figures::pct_value),
            c.latency_p99_ms
                .map_or(String::new(), crate::output::figures::short),
            esc(&c.reason)
        );
    }
    let _ = writeln!(o, "</table></body></html>");
    o
}

#[cfg(test)]
mod tests {
    use super::front;

    #[test]
    fn the_front_keeps_what_no_cheaper_point_beats() {
        let pts = [
            (1.0, 99.0),
            (2.0, 98.0),
            (2.0, 99.5),
            (3.0, 99.9),
            (4.0, 99.9),
        ];
        assert_eq!(
            front(&pts, true),
            vec![(1.0, 99.0), (2.0, 99.5), (3.0, 99.9)]
        );
        let p99 = [(1.0, 900.0), (2.0, 950.0), (3.0, 400.0)];
        assert_eq!(front(&p99, false), vec![(1.0, 900.0), (3.0, 400.0)]);
    }
}
