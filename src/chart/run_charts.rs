//! The charts of one run: load over time, the Machines' state timeline, the latency
//! distribution, the cost breakdown, and, when the run models CPU quotas, each region's CPU
//! balance and throttling over time.

use plotters::chart::DualCoordChartContext;
use plotters::coord::ranged1d::SegmentValue;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::metrics::results::RunSummary;

use super::table::Table;
use super::{DrawResult, FONT, both, colour, err, label_font, legend, tick_font, title_font};

/// The files a run's charts are drawn from.
pub struct RunData {
    /// `timeseries.csv`.
    pub timeseries: Table,
    /// `states.csv`.
    pub states: Table,
    /// `latency.csv`.
    pub latency: Table,
    /// `cost.csv`.
    pub cost: Table,
    /// `incidents.csv`.
    pub incidents: Table,
    /// `actions.csv` (absent in folders written before actions existed: no marks).
    pub actions: Option<Table>,
    /// `deploys.csv` (absent in folders written before deploys existed: no windows).
    pub deploys: Option<Table>,
    /// `summary.json`.
    pub summary: RunSummary<f64>,
    /// `machines.csv` (the report's per-Machine table; absent: no table).
    pub machines: Option<Table>,
}

impl RunData {
    /// Reads the files through `get` (a file name → its bytes).
    pub fn load(get: impl Fn(&str) -> Option<Vec<u8>>) -> Result<RunData, String> {
        let table = |name: &str| -> Result<Table, String> {
            let bytes = get(name).ok_or_else(|| format!("{name} is missing"))?;
            Table::parse(name, &bytes)
        };
        let summary = get("summary.json").ok_or("summary.json is missing")?;
        let summary = RunSummary::from_slice(&summary)?;
        let d = summary.duration_s;
        if !(d.is_finite() && d > 0.0 && d <= 1e15) {
            return Err(
                "summary.json: duration_s: expected the run's span in seconds, above 0".into(),
            );
        }
        let timeseries = table("timeseries.csv")?;
        let all: Vec<&str> = timeseries.header.iter().map(String::as_str).collect();
        timeseries
            .require_rows()?
            .require_numbers(
                &[
                    "t_start_s",
                    "offered_rps",
                    "served_rps",
                    "failed",
                    "cold_starts",
                ],
                false,
            )?
            .require_numbers(&all, false)?;
        let states = table("states.csv")?;
        let state_names: Vec<&str> = crate::platform::machine::MState::ALL
            .iter()
            .map(|s| s.name())
            .collect();
        states
            .require_numbers(&["start_s", "end_s"], false)?
            .require_known("state", &state_names)?
            .require_col("machine")?;
        let latency = table("latency.csv")?;
        latency.require_numbers(&["latency_ms", "share"], false)?;
        let cost = table("cost.csv")?;
        cost.require_numbers(&["compute_usd", "rootfs_usd", "volumes_usd"], false)?
            .require_col("app")?;
        cost.require_col("region")?;
        let incidents = table("incidents.csv")?;
        incidents
            .require_numbers(&["start_s"], false)?
            .require_numbers(&["host_back_s"], true)?;
        let actions = match get("actions.csv") {
            Some(bytes) => {
                let t = Table::parse("actions.csv", &bytes)?;
                t.require_numbers(&["at_s"], false)?.require_col("kind")?;
                Some(t)
            }
            None => None,
        };
        let deploys = match get("deploys.csv") {
            Some(bytes) => {
                let t = Table::parse("deploys.csv", &bytes)?;
                t.require_numbers(&["start_s", "end_s"], true)?;
                Some(t)
            }
            None => None,
        };
        let machines = match get("machines.csv") {
            Some(bytes) => Some(Table::parse("machines.csv", &bytes)?),
            None => None,
        };
        Ok(RunData {
            timeseries,
            states,
            latency,
            cost,
            incidents,
            actions,
            deploys,
            summary,
            machines,
        })
    }
}

/// Draws every run chart: `load`, `machines`, `latency`, `cost`, and `cpu` when the run models
/// CPU quotas (PNG and SVG each).
pub fn run_charts(d: &RunData) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    if !cpu_regions(d).is_empty() {
        both!(out, "cpu", |root: &DrawingArea<_, _>| draw_cpu(root, d));
    }
    both!(out, "load", |root: &DrawingArea<_, _>| draw_load(root, d));
    both!(out, "machines", |root: &DrawingArea<_, _>| draw_machines(
        root, d
    ));
    both!(out, "latency", |root: &DrawingArea<_, _>| draw_latency(
        root, d
    ));
    both!(out, "cost", |root: &DrawingArea<_, _>| draw_cost(root, d));
    Ok(out)
}

fn name_of(d: &RunData) -> String {
    if d.summary.scenario.is_empty() {
        "run".into()
    } else {
        d.summary.scenario.clone()
    }
}

/// The shade of a deploy's window.
const DEPLOY_SHADE: RGBAColor =
    RGBAColor(colour::PURPLE.0, colour::PURPLE.1, colour::PURPLE.2, 0.3);

/// Shades each span `(from, to)` of the x axis over `y` (bottom, top), with a legend entry.
fn shade<'a, DB: DrawingBackend + 'a, Y: Clone + 'static>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, impl Ranged<ValueType = Y>>>,
    spans: &[(f64, f64)],
    y: (Y, Y),
    fill: RGBAColor,
    label: &str,
) -> Result<(), String> {
    if spans.is_empty() {
        return Ok(());
    }
    chart
        .draw_series(
            spans
                .iter()
                .map(|&(a, b)| Rectangle::new([(a, y.0.clone()), (b, y.1.clone())], fill.filled())),
        )
        .map_err(err)?
        .label(label)
        .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], fill.filled()));
    Ok(())
}

/// Each deploy's window [h]: from its start until flyctl returned (the run's end if it had
/// not).
fn deploy_windows(d: &RunData) -> Vec<(f64, f64)> {
    let end_h = run_hours(d);
    let Some(t) = &d.deploys else {
        return Vec::new();
    };
    t.strs("start_s")
        .iter()
        .zip(t.strs("end_s"))
        .filter_map(|(s, e)| {
            let s = s.parse::<f64>().ok()? / 3600.0;
            let e = e.parse::<f64>().map_or(end_h, |e| e / 3600.0);
            Some((s, e.max(s + end_h * 0.005)))
        })
        .collect()
}

/// The run's simulated span [h].
fn run_hours(d: &RunData) -> f64 {
    d.summary.duration_s / 3600.0
}

fn max_of(v: impl Iterator<Item = f64>) -> f64 {
    v.fold(0.0, f64::max)
}

/// A chart over the run's hours with a left and a right axis.
type TimeChart<'a, DB> = DualCoordChartContext<
    'a,
    DB,
    Cartesian2d<RangedCoordf64, RangedCoordf64>,
    Cartesian2d<RangedCoordf64, RangedCoordf64>,
>;

/// A [`TimeChart`] titled `title` over `end_h` hours, its axes drawn: `left` and `right` are
/// each axis's description and top.
fn time_chart<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    end_h: f64,
    left: (&str, f64),
    right: (&str, f64),
) -> Result<TimeChart<'a, DB>, String> {
    let end_h = end_h.max(1e-6);
    let mut chart = ChartBuilder::on(root)
        .caption(title, title_font())
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .right_y_label_area_size(70)
        .build_cartesian_2d(0.0..end_h, 0.0..left.1)
        .map_err(err)?
        .set_secondary_coord(0.0..end_h, 0.0..right.1);
    chart
        .configure_mesh()
        .x_desc("time [h]")
        .y_desc(left.0)
        .axis_desc_style(label_font())
        .label_style(tick_font())
        .light_line_style(colour::GREY.mix(0.3))
        .draw()
        .map_err(err)?;
    chart
        .configure_secondary_axes()
        .y_desc(right.0)
        .axis_desc_style(label_font())
        .label_style(tick_font())
        .draw()
        .map_err(err)?;
    Ok(chart)
}

fn draw_load<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    d: &RunData,
) -> DrawResult {
    let ts = &d.timeseries;
    let hours: Vec<f64> = ts.nums("t_start_s").iter().map(|t| t / 3600.0).collect();
    let offered = ts.nums("offered_rps");
    let served = ts.nums("served_rps");
    let failed: Vec<f64> = ts
        .nums("failed")
        .iter()
        .zip(
            ts.nums("t_start_s")
                .windows(2)
                .map(|w| w[1] - w[0])
                .chain([60.0]),
        )
        .map(|(f, w)| f / w.max(1e-9))
        .collect();
    let cold = ts.nums("cold_starts");
    let end_h = run_hours(d);
    let y_max = max_of(offered.iter().chain(&served).copied()).max(1.0) * 1.1;
    let regions: Vec<String> = ts
        .header
        .iter()
        .filter_map(|h| h.strip_prefix("started_").map(String::from))
        .collect();
    let machines: Vec<Vec<f64>> = regions
        .iter()
        .map(|r| ts.nums(&format!("started_{r}")))
        .collect();
    // Machines in any state (created, not destroyed), when the fleet changes during the run
    // (fly-autoscaler, operator actions, deploys).
    let states = [
        "started",
        "starting",
        "stopping",
        "stopped",
        "suspending",
        "suspended",
        "down",
    ];
    let mut created = vec![0.0; hours.len()];
    for h in &ts.header {
        if states
            .iter()
            .any(|s| h.strip_prefix(s).is_some_and(|r| r.starts_with('_')))
        {
            for (c, v) in created.iter_mut().zip(ts.nums(h)) {
                *c += v;
            }
        }
    }
    let fleet_changes = created.windows(2).any(|w| w[0] != w[1]);
    let m_max = max_of(
        machines
            .iter()
            .flatten()
            .copied()
            .chain(created.iter().copied().filter(|_| fleet_changes)),
    )
    .max(1.0)
    .ceil()
        + 1.0;

    let mut chart = time_chart(
        root,
        &format!("{}: load and running Machines", name_of(d)),
        end_h,
        ("requests per second", y_max),
        ("started Machines", m_max),
    )?;

    // Host outages, shaded.
    let starts = d.incidents.nums("start_s");
    let backs = d.incidents.strs("host_back_s");
    let outages: Vec<(f64, f64)> = starts
        .iter()
        .zip(&backs)
        .map(|(s, b)| (s / 3600.0, b.parse::<f64>().map_or(end_h, |b| b / 3600.0)))
        .collect();
    shade(
        &mut chart,
        &outages,
        (0.0, y_max),
        colour::GREY.mix(0.45),
        "host down",
    )?;
    // Deploys, shaded from their start until flyctl returned.
    shade(
        &mut chart,
        &deploy_windows(d),
        (0.0, y_max),
        DEPLOY_SHADE,
        "deploy",
    )?;
    // Operator actions, as vertical lines.
    let action_hours: Vec<f64> = d
        .actions
        .as_ref()
        .map_or_else(Vec::new, |a| a.nums("at_s"))
        .iter()
        .map(|t| t / 3600.0)
        .collect();
    if !action_hours.is_empty() {
        let style = colour::BLACK.mix(0.7).stroke_width(2);
        chart
            .draw_series(
                action_hours
                    .iter()
                    .map(|&h| PathElement::new(vec![(h, 0.0), (h, y_max)], style)),
            )
            .map_err(err)?
            .label("operator actions")
            .legend(move |(x, y)| PathElement::new(vec![(x + 9, y - 7), (x + 9, y + 7)], style));
    }
    chart
        .draw_series(LineSeries::new(
            hours.iter().copied().zip(offered.iter().copied()),
            colour::BLUE.stroke_width(2),
        ))
        .map_err(err)?
        .label("offered")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour::BLUE.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(
            hours.iter().copied().zip(served.iter().copied()),
            colour::GREEN.stroke_width(2),
        ))
        .map_err(err)?
        .label("served")
        .legend(|(x, y)| {
            PathElement::new(vec![(x, y), (x + 18, y)], colour::GREEN.stroke_width(2))
        });
    if failed.iter().any(|f| *f > 0.0) {
        chart
            .draw_series(
                AreaSeries::new(
                    hours.iter().copied().zip(failed.iter().copied()),
                    0.0,
                    colour::RED.mix(0.5),
                )
                .border_style(colour::RED),
            )
            .map_err(err)?
            .label("failed")
            .legend(|(x, y)| {
                Rectangle::new([(x, y - 6), (x + 18, y + 6)], colour::RED.mix(0.5).filled())
            });
    }
    let cold_points: Vec<(f64, f64)> = hours
        .iter()
        .zip(&served)
        .zip(&cold)
        .filter(|(_, c)| **c > 0.0)
        .map(|((h, s), _)| (*h, *s))
        .collect();
    if !cold_points.is_empty() {
        chart
            .draw_series(
                cold_points
                    .iter()
                    .map(|&p| TriangleMarker::new(p, 7, colour::ORANGE.filled())),
            )
            .map_err(err)?
            .label("cold starts")
            .legend(|(x, y)| TriangleMarker::new((x + 9, y), 7, colour::ORANGE.filled()));
    }
    let region_colours = [colour::BLACK, colour::PURPLE, colour::SKY, colour::YELLOW];
    for (i, (r, m)) in regions.iter().zip(&machines).enumerate() {
        let c = region_colours[i % region_colours.len()];
        // Steps: a Machine count holds for its whole bucket.
        let steps: Vec<(f64, f64)> = hours
            .iter()
            .zip(hours.iter().skip(1).chain([&end_h]))
            .zip(m)
            .flat_map(|((a, b), v)| [(*a, *v), (*b, *v)])
            .collect();
        chart
            .draw_secondary_series(LineSeries::new(steps, c.stroke_width(2)))
            .map_err(err)?
            .label(format!("started Machines, {r}"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    if fleet_changes {
        let style = colour::BLACK.mix(0.6).stroke_width(1);
        let steps: Vec<(f64, f64)> = hours
            .iter()
            .zip(hours.iter().skip(1).chain([&end_h]))
            .zip(&created)
            .flat_map(|((a, b), v)| [(*a, *v), (*b, *v)])
            .collect();
        chart
            .draw_secondary_series(DashedLineSeries::new(steps, 6, 4, style))
            .map_err(err)?
            .label("created Machines (any state), all regions")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

/// Colour and label of each Machine state in the timeline.
const STATE_STYLE: [(&str, RGBColor); 7] = [
    ("started", colour::GREEN),
    ("starting", colour::YELLOW),
    ("stopping", colour::ORANGE),
    ("stopped", RGBColor(225, 225, 225)),
    ("suspending", colour::PURPLE),
    ("suspended", colour::SKY),
    ("down", colour::RED),
];

fn draw_machines<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    d: &RunData,
) -> DrawResult {
    let st = &d.states;
    let names = st.strs("machine");
    let mut lanes: Vec<String> = Vec::new();
    for n in &names {
        if !lanes.contains(n) {
            lanes.push(n.clone());
        }
    }
    let starts = st.nums("start_s");
    let ends = st.nums("end_s");
    let states = st.strs("state");
    let end_h = run_hours(d);
    let title = format!("{}: Machine states", name_of(d));
    let mut chart = lane_chart(root, &title, 0.0..end_h.max(1e-6), "time [h]", &lanes, 110)?;
    for (label, c) in STATE_STYLE {
        let rects: Vec<Rectangle<(f64, SegmentValue<u32>)>> = (0..names.len())
            .filter(|&i| states[i] == label)
            .map(|i| {
                let lane = lanes.iter().position(|l| *l == names[i]).unwrap_or(0) as u32;
                Rectangle::new(
                    [
                        (starts[i] / 3600.0, SegmentValue::Exact(lane)),
                        (ends[i] / 3600.0, SegmentValue::Exact(lane + 1)),
                    ],
                    c.filled(),
                )
            })
            .collect();
        chart
            .draw_series(rects)
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], c.filled()));
    }
    // Deploys, shaded over every lane.
    let top = SegmentValue::Exact(lanes.len() as u32);
    shade(
        &mut chart,
        &deploy_windows(d),
        (SegmentValue::Exact(0), top),
        DEPLOY_SHADE,
        "deploy",
    )?;
    legend(&mut chart, SeriesLabelPosition::LowerRight)
}

fn draw_latency<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    d: &RunData,
) -> DrawResult {
    let lat = d.latency.nums("latency_ms");
    let share = d.latency.nums("share");
    let slo = match d.summary.slo.latency_p99_target_ms {
        t if t > 0.0 && t.is_finite() => t,
        _ => 1000.0,
    };
    let lo = lat.first().copied().unwrap_or(1.0).max(0.001) / 1.5;
    let hi = max_of(lat.iter().copied()).max(slo) * 1.5;
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!("{}: latency distribution", name_of(d)),
            title_font(),
        )
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d((lo..hi).log_scale(), 0.0..1.0)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("latency seen by the client [ms], log scale")
        .y_desc("share of served requests within")
        .axis_desc_style(label_font())
        .label_style(tick_font())
        .light_line_style(colour::GREY.mix(0.3))
        .draw()
        .map_err(err)?;
    if lat.is_empty() {
        root.draw(&Text::new(
            "no request was served",
            (500, 330),
            (FONT, 24).into_font(),
        ))
        .map_err(err)?;
        return Ok(());
    }
    let steps: Vec<(f64, f64)> = lat.iter().zip(&share).map(|(l, s)| (*l, *s)).collect();
    chart
        .draw_series(LineSeries::new(steps, colour::BLUE.stroke_width(3)))
        .map_err(err)?
        .label("served requests")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour::BLUE.stroke_width(3)));
    chart
        .draw_series(LineSeries::new(
            vec![(slo, 0.0), (slo, 1.0)],
            colour::RED.stroke_width(2),
        ))
        .map_err(err)?
        .label(format!("SLO: p99 ≤ {slo} ms"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour::RED.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(
            vec![(lo, 0.99), (hi, 0.99)],
            colour::BLACK.mix(0.6).stroke_width(1),
        ))
        .map_err(err)?
        .label("99 % of requests")
        .legend(|(x, y)| {
            PathElement::new(
                vec![(x, y), (x + 18, y)],
                colour::BLACK.mix(0.6).stroke_width(1),
            )
        });
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

/// A chart with a numeric x axis and one named lane per y segment (the state timeline, the
/// cost bars), its mesh drawn.
type LaneChart<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<
        plotters::coord::types::RangedCoordf64,
        plotters::coord::ranged1d::SegmentedCoord<plotters::coord::types::RangedCoordu32>,
    >,
>;

fn lane_chart<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    x: std::ops::Range<f64>,
    x_desc: &str,
    lanes: &[String],
    label_width: u32,
) -> Result<LaneChart<'a, DB>, String> {
    let n = lanes.len().max(1);
    let mut chart = ChartBuilder::on(root)
        .caption(title, title_font())
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(label_width)
        .build_cartesian_2d(x, (0u32..n as u32).into_segmented())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .axis_desc_style(label_font())
        .label_style(tick_font())
        .disable_y_mesh()
        .y_labels(n.min(40))
        .y_label_formatter(&|y: &SegmentValue<u32>| lane_label(lanes, y))
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// The name of a lane for a segmented axis label.
fn lane_label(names: &[String], y: &SegmentValue<u32>) -> String {
    match y {
        SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

/// The regions with CPU columns in `timeseries.csv`.
fn cpu_regions(d: &RunData) -> Vec<String> {
    d.timeseries
        .header
        .iter()
        .filter_map(|h| h.strip_prefix("cpu_balance_s_").map(String::from))
        .collect()
}

/// Each region's mean CPU balance [s] (left axis) and the share of its Machines' running time
/// spent throttled (right axis, dashed), over time.
fn draw_cpu<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    d: &RunData,
) -> DrawResult {
    let ts = &d.timeseries;
    let hours: Vec<f64> = ts.nums("t_start_s").iter().map(|t| t / 3600.0).collect();
    let end_h = run_hours(d).max(1e-6);
    let regions = cpu_regions(d);
    let balance: Vec<Vec<f64>> = regions
        .iter()
        .map(|r| ts.nums(&format!("cpu_balance_s_{r}")))
        .collect();
    let throttled: Vec<Vec<f64>> = regions
        .iter()
        .map(|r| ts.nums(&format!("cpu_throttled_{r}")))
        .collect();
    let b_max = max_of(balance.iter().flatten().copied()).max(1.0) * 1.1;
    let mut chart = time_chart(
        root,
        &format!("{}: CPU balance and throttling", name_of(d)),
        end_h,
        ("mean balance of running Machines [s]", b_max),
        ("share of running time throttled", 1.05),
    )?;
    let palette = [
        colour::BLUE,
        colour::GREEN,
        colour::PURPLE,
        colour::SKY,
        colour::ORANGE,
        colour::BLACK,
    ];
    for (i, r) in regions.iter().enumerate() {
        let c = palette[i % palette.len()];
        chart
            .draw_series(LineSeries::new(
                hours.iter().copied().zip(balance[i].iter().copied()),
                c.stroke_width(2),
            ))
            .map_err(err)?
            .label(format!("balance, {r}"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
        let red = colour::RED;
        chart
            .draw_secondary_series(DashedLineSeries::new(
                hours.iter().copied().zip(throttled[i].iter().copied()),
                6,
                4,
                red.mix(1.0 - 0.25 * (i % 3) as f64).stroke_width(2),
            ))
            .map_err(err)?
            .label(format!("throttled, {r}"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], red.stroke_width(2)));
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

fn draw_cost<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    d: &RunData,
) -> DrawResult {
    let c = &d.cost;
    let labels: Vec<String> = c
        .strs("app")
        .iter()
        .zip(c.strs("region"))
        .map(|(a, r)| format!("{a} · {r}"))
        .collect();
    let parts = [
        ("compute", c.nums("compute_usd"), colour::BLUE),
        ("rootfs", c.nums("rootfs_usd"), colour::ORANGE),
        ("volumes", c.nums("volumes_usd"), colour::GREEN),
    ];
    let totals: Vec<f64> = (0..labels.len())
        .map(|i| parts.iter().map(|p| p.1[i]).sum())
        .collect();
    let x_max = max_of(totals.iter().copied()).max(1e-6) * 1.15;
    let title = format!("{}: cost over the run by app and region [USD]", name_of(d));
    let mut chart = lane_chart(root, &title, 0.0..x_max, "USD", &labels, 160)?;
    let mut left = vec![0.0; labels.len()];
    for (name, values, colour) in parts {
        let rects: Vec<Rectangle<(f64, SegmentValue<u32>)>> = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let r = Rectangle::new(
                    [
                        (left[i], SegmentValue::Exact(i as u32)),
                        (left[i] + v, SegmentValue::Exact(i as u32 + 1)),
                    ],
                    colour.filled(),
                );
                left[i] += v;
                r
            })
            .collect();
        chart
            .draw_series(rects)
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], colour.filled()));
    }
    chart
        .draw_series(totals.iter().enumerate().map(|(i, t)| {
            Text::new(
                format!(" ${t:.4}"),
                (*t, SegmentValue::CenterOf(i as u32)),
                tick_font(),
            )
        }))
        .map_err(err)?;
    legend(&mut chart, SeriesLabelPosition::LowerRight)
}
