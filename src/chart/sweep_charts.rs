//! The charts of a sweep: availability against monthly cost, the key figures along the first
//! axis (one line per value of the second), and a heat map over two axes.

use super::table::Table;
use super::{DrawResult, PALETTE, both, colour, err, label_font, legend, tick_font, title_font};
use crate::metrics::results::SweepDoc;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

/// The files a sweep's charts are drawn from.
pub struct SweepData {
    /// `points.csv`.
    pub points: Table,
    /// `sweep.json`.
    pub sweep: SweepDoc,
}

impl SweepData {
    /// Reads the files through `get`.
    pub fn load(get: impl Fn(&str) -> Option<Vec<u8>>) -> Result<SweepData, String> {
        let points = Table::parse(
            "points.csv",
            &get("points.csv").ok_or("points.csv is missing")?,
        )?;
        let sweep = SweepDoc::from_slice(&get("sweep.json").ok_or("sweep.json is missing")?)?;
        let d = SweepData { points, sweep };
        if d.sweep.axes.is_empty() {
            return Err("sweep.json: axes: expected a list of the sweep's axes".into());
        }
        if let Some(i) = d.sweep.axes.iter().position(|a| a.values.is_empty()) {
            return Err(format!(
                "sweep.json: axes[{i}]: values: expected at least one value"
            ));
        }
        let figures: Vec<&str> = d
            .points
            .header
            .iter()
            .map(String::as_str)
            .filter(|h| h.ends_with(".mean") || h.ends_with(".ci95"))
            .collect();
        d.points
            .require_rows()?
            .require_numbers(&["point", "replications"], false)?
            .require_numbers(
                &[
                    "requests.availability.mean",
                    "requests.availability.ci95",
                    "cost_usd.per_30_days.mean",
                    "cost_usd.per_30_days.ci95",
                    "latency_ms.p99.mean",
                    "latency_ms.p99.ci95",
                ],
                false,
            )?
            .require_numbers(&figures, false)?;
        for a in d.axes() {
            d.points.require_col(&format!("param.{a}"))?;
        }
        if let Some(c) = d.sweep.cheapest_meeting_slo {
            let points: Vec<u64> = d.points.nums("point").iter().map(|p| *p as u64).collect();
            if !points.contains(&c) {
                return Err(format!(
                    "sweep.json: cheapest_meeting_slo: {c} is not a point of points.csv"
                ));
            }
        }
        Ok(d)
    }

    fn name(&self) -> String {
        self.sweep.name.clone()
    }

    /// Axis paths in declared order.
    pub fn axes(&self) -> Vec<String> {
        self.sweep.axes.iter().map(|a| a.path.clone()).collect()
    }

    /// Axis values in declared order, as shown (TOML strings without their quotes).
    pub(crate) fn axis_values(&self, i: usize) -> Vec<String> {
        self.sweep.axes[i]
            .values
            .iter()
            .map(|v| v.to_string())
            .collect()
    }

    /// A point's value of axis `i`, as shown.
    pub(crate) fn param(&self, row: usize, i: usize) -> String {
        let axes = self.axes();
        self.points
            .col(&format!("param.{}", axes[i]))
            .and_then(|c| self.points.rows[row].get(c))
            .map(|v| display_value(v))
            .unwrap_or_default()
    }

    /// Mean and half-width of `figure` for every point.
    pub(crate) fn stat(&self, figure: &str) -> Vec<(f64, f64)> {
        self.points
            .nums(&format!("{figure}.mean"))
            .into_iter()
            .zip(self.points.nums(&format!("{figure}.ci95")))
            .collect()
    }

    fn cheapest(&self) -> Option<usize> {
        self.sweep.cheapest_meeting_slo.map(|p| p as usize)
    }
}

/// A TOML value as shown on a chart: strings without quotes.
fn display_value(v: &str) -> String {
    v.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(v)
        .to_string()
}

/// The figures drawn along the first axis: (chart name, summary key, label, scale).
const FIGURES: [(&str, &str, &str, f64); 3] = [
    (
        "by-axis-availability",
        "requests.availability",
        "availability [%]",
        100.0,
    ),
    ("by-axis-p99", "latency_ms.p99", "p99 latency [ms]", 1.0),
    (
        "by-axis-cost",
        "cost_usd.per_30_days",
        "cost per 30 days [USD]",
        1.0,
    ),
];

/// Draws every sweep chart: `tradeoff`, `by-axis-<figure>`, and `heatmap` when the sweep is a
/// grid over exactly two axes.
pub fn sweep_charts(d: &SweepData) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    both!(out, "tradeoff", |root: &DrawingArea<_, _>| draw_tradeoff(
        root, d
    ));
    for (name, key, label, scale) in FIGURES {
        both!(out, name, |root: &DrawingArea<_, _>| draw_by_axis(
            root, d, key, label, scale
        ));
    }
    let axes = d.axes();
    let grid =
        axes.len() == 2 && d.axis_values(0).len() * d.axis_values(1).len() == d.points.rows.len();
    if grid {
        both!(out, "heatmap", |root: &DrawingArea<_, _>| draw_heatmap(
            root, d
        ));
    }
    Ok(out)
}

fn draw_tradeoff<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    d: &SweepData,
) -> DrawResult {
    let avail: Vec<(f64, f64)> = d
        .stat("requests.availability")
        .into_iter()
        .map(|(m, h)| (m * 100.0, h * 100.0))
        .collect();
    let cost = d.stat("cost_usd.per_30_days");
    let target = d
        .points
        .nums("slo.availability_target.mean")
        .first()
        .copied()
        .unwrap_or(0.999)
        * 100.0;
    let n = avail.len();
    let (mut y_lo, mut y_hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (m, h) in &avail {
        y_lo = y_lo.min(m - h);
        y_hi = y_hi.max(m + h);
    }
    y_lo = y_lo.min(target);
    y_hi = y_hi.max(target).min(100.0);
    let pad = ((y_hi - y_lo) * 0.1).max(0.01);
    let x_hi = cost.iter().map(|(m, h)| m + h).fold(0.0, f64::max) * 1.15 + 1e-6;
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!("{}: availability against monthly cost", d.name()),
            title_font(),
        )
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..x_hi, (y_lo - pad)..(y_hi + pad).min(100.0 + pad))
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("cost per 30 days [USD], mean and 95 % interval")
        .y_desc("availability [%]")
        .axis_desc_style(label_font())
        .label_style(tick_font())
        .light_line_style(colour::GREY.mix(0.3))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(
            vec![(0.0, target), (x_hi, target)],
            colour::RED.stroke_width(2),
        ))
        .map_err(err)?
        .label(format!("SLO: availability ≥ {target} %"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour::RED.stroke_width(2)));
    let cheapest = d.cheapest();
    for i in 0..n {
        let (cm, ch) = cost[i];
        let (am, ah) = avail[i];
        let c = if Some(i) == cheapest {
            colour::GREEN
        } else {
            colour::BLUE
        };
        chart
            .draw_series([ErrorBar::new_vertical(
                cm,
                am - ah,
                am,
                am + ah,
                c.stroke_width(2),
                10,
            )])
            .map_err(err)?;
        chart
            .draw_series([ErrorBar::new_horizontal(
                am,
                cm - ch,
                cm,
                cm + ch,
                c.stroke_width(2),
                10,
            )])
            .map_err(err)?;
        chart
            .draw_series([Circle::new(
                (cm, am),
                if Some(i) == cheapest { 9 } else { 6 },
                c.filled(),
            )])
            .map_err(err)?;
        let label = if Some(i) == cheapest {
            format!("  {i}: cheapest meeting the SLO")
        } else {
            format!("  {i}")
        };
        chart
            .draw_series([Text::new(label, (cm, am), tick_font())])
            .map_err(err)?;
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight)
}

fn draw_by_axis<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    d: &SweepData,
    key: &str,
    label: &str,
    scale: f64,
) -> DrawResult {
    let axes = d.axes();
    let xs = d.axis_values(0);
    let stat: Vec<(f64, f64)> = d
        .stat(key)
        .into_iter()
        .map(|(m, h)| (m * scale, h * scale))
        .collect();
    let series: Vec<String> = if axes.len() > 1 {
        d.axis_values(1)
    } else {
        vec![String::new()]
    };
    let lo = stat
        .iter()
        .map(|(m, h)| m - h)
        .fold(f64::INFINITY, f64::min);
    let hi = stat
        .iter()
        .map(|(m, h)| m + h)
        .fold(f64::NEG_INFINITY, f64::max);
    let pad = if hi > lo {
        (hi - lo) * 0.15
    } else {
        (hi.abs() * 0.001).max(1e-6)
    };
    let nx = xs.len().max(1) as u32;
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!(
                "{}: {label} by {}",
                d.name(),
                axes.first().map_or("", |s| s.as_str())
            ),
            title_font(),
        )
        .margin(16)
        .x_label_area_size(60)
        .y_label_area_size(80)
        .build_cartesian_2d(
            super::lane_range(nx as usize).into_segmented(),
            (lo - pad)..(hi + pad),
        )
        .map_err(err)?;
    let names = xs.clone();
    chart
        .configure_mesh()
        .x_desc(axes.first().cloned().unwrap_or_default())
        .y_desc(format!("{label}, mean and 95 % interval"))
        .axis_desc_style(label_font())
        .label_style(tick_font())
        .x_label_formatter(&move |x: &SegmentValue<u32>| match x {
            SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .light_line_style(colour::GREY.mix(0.3))
        .draw()
        .map_err(err)?;
    for (si, s) in series.iter().enumerate() {
        let c = PALETTE[(si + 5) % PALETTE.len()];
        let mut line: Vec<(SegmentValue<u32>, f64)> = Vec::new();
        let mut band_hi = Vec::new();
        let mut band_lo = Vec::new();
        for (xi, x) in xs.iter().enumerate() {
            // The first point with this x (and this series' second-axis value).
            let row = (0..d.points.rows.len())
                .find(|&r| d.param(r, 0) == *x && (axes.len() < 2 || d.param(r, 1) == *s));
            if let Some(r) = row {
                let (m, h) = stat[r];
                line.push((SegmentValue::CenterOf(xi as u32), m));
                band_hi.push((SegmentValue::CenterOf(xi as u32), m + h));
                band_lo.push((SegmentValue::CenterOf(xi as u32), m - h));
            }
        }
        let mut band = band_hi.clone();
        band.extend(band_lo.iter().rev().cloned());
        if band.len() > 2 {
            chart
                .draw_series([Polygon::new(band, c.mix(0.15).filled())])
                .map_err(err)?;
        }
        let label = if axes.len() > 1 {
            format!("{} = {s}", axes[1])
        } else {
            label.to_string()
        };
        chart
            .draw_series(LineSeries::new(line.clone(), c.stroke_width(3)))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3)));
        chart
            .draw_series(line.iter().map(|p| Circle::new(p.clone(), 5, c.filled())))
            .map_err(err)?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// A sequential colour scale from light yellow (0) to dark blue (1).
fn scale_colour(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let (a, b) = ((255.0, 247.0, 188.0), (8.0, 48.0, 107.0));
    RGBColor(
        (a.0 + (b.0 - a.0) * t) as u8,
        (a.1 + (b.1 - a.1) * t) as u8,
        (a.2 + (b.2 - a.2) * t) as u8,
    )
}

fn draw_heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    d: &SweepData,
) -> DrawResult {
    let axes = d.axes();
    let (xs, ys) = (d.axis_values(0), d.axis_values(1));
    let avail: Vec<f64> = d
        .stat("requests.availability")
        .into_iter()
        .map(|(m, _)| m * 100.0)
        .collect();
    let lo = avail.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = avail.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (nx, ny) = (xs.len() as u32, ys.len() as u32);
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!("{}: availability [%] over two axes", d.name()),
            title_font(),
        )
        .margin(16)
        .x_label_area_size(60)
        .y_label_area_size(140)
        .build_cartesian_2d(
            super::lane_range(nx as usize).into_segmented(),
            super::lane_range(ny as usize).into_segmented(),
        )
        .map_err(err)?;
    let (xn, yn) = (xs.clone(), ys.clone());
    chart
        .configure_mesh()
        .x_desc(axes[0].clone())
        .y_desc(axes[1].clone())
        .axis_desc_style(label_font())
        .label_style(tick_font())
        .disable_mesh()
        .x_label_formatter(&move |x: &SegmentValue<u32>| {
            if let SegmentValue::CenterOf(i) = x {
                xn.get(*i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&move |y: &SegmentValue<u32>| {
            if let SegmentValue::CenterOf(i) = y {
                yn.get(*i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .draw()
        .map_err(err)?;
    for (r, value) in avail.iter().enumerate() {
        let (Some(xi), Some(yi)) = (
            xs.iter().position(|x| *x == d.param(r, 0)),
            ys.iter().position(|y| *y == d.param(r, 1)),
        ) else {
            continue;
        };
        let t = if hi > lo {
            (*value - lo) / (hi - lo)
        } else {
            0.5
        };
        let (x, y) = (xi as u32, yi as u32);
        chart
            .draw_series([Rectangle::new(
                [
                    (SegmentValue::Exact(x), SegmentValue::Exact(y)),
                    (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
                ],
                scale_colour(t).filled(),
            )])
            .map_err(err)?;
        let text_colour = if t > 0.55 { WHITE } else { colour::BLACK };
        chart
            .draw_series([Text::new(
                format!("{:.3}", *value),
                (SegmentValue::CenterOf(x), SegmentValue::CenterOf(y)),
                tick_font().color(&text_colour),
            )])
            .map_err(err)?;
    }
    Ok(())
}
