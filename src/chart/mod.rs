//! Charts and the HTML report, drawn from a finished run's or sweep's files.
//!
//! Every chart is drawn from the CSV (and JSON) bytes the run wrote, never from engine state,
//! so `flysim chart DIR` redraws exactly what `flysim run` drew. Each chart comes as PNG and SVG.
//! Text uses DejaVu Sans, bundled with the binary (`assets/fonts`), so PNGs render the same
//! on every machine; SVGs name the same family, and the HTML report embeds the font.
//! Colours are the Okabe–Ito palette, distinguishable with the common colour-vision
//! deficiencies (Okabe and Ito, "Color Universal Design", 2008).
//!
//! Depends on `output` (file names) only through the tables it is given.

mod interactive;
mod plan_charts;
pub mod report;
mod run_charts;
mod sweep_charts;
pub mod table;

use std::sync::OnceLock;

use plotters::prelude::*;

pub use run_charts::run_charts;
pub use sweep_charts::{SweepData, sweep_charts};

/// Chart size in pixels.
pub const SIZE: (u32, u32) = (1200, 675);

/// The bundled font.
pub const FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The family every chart uses.
pub const FONT: &str = "DejaVu Sans";

/// Okabe–Ito colours: black, orange, sky blue, bluish green, yellow, blue, vermillion,
/// reddish purple.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 0, 0),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 158, 115),
    RGBColor(240, 228, 66),
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(204, 121, 167),
];

/// Named colours of the palette.
pub mod colour {
    use plotters::style::RGBColor;
    /// Black.
    pub const BLACK: RGBColor = super::PALETTE[0];
    /// Orange.
    pub const ORANGE: RGBColor = super::PALETTE[1];
    /// Sky blue.
    pub const SKY: RGBColor = super::PALETTE[2];
    /// Bluish green.
    pub const GREEN: RGBColor = super::PALETTE[3];
    /// Yellow.
    pub const YELLOW: RGBColor = super::PALETTE[4];
    /// Blue.
    pub const BLUE: RGBColor = super::PALETTE[5];
    /// Vermillion.
    pub const RED: RGBColor = super::PALETTE[6];
    /// Reddish purple.
    pub const PURPLE: RGBColor = super::PALETTE[7];
    /// Light grey for outages and grid lines.
    pub const GREY: RGBColor = RGBColor(200, 200, 200);
}

/// Registers the bundled font with plotters (once per process).
fn ensure_font() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            plotters::style::register_font(FONT, style, FONT_BYTES)
                .unwrap_or_else(|_| panic!("the bundled font is a valid TrueType file"));
        }
    });
}

/// What drawing returns: plotters' errors as text (they only happen on bugs or full memory).
pub(crate) type DrawResult = Result<(), String>;

/// Turns any drawing error into text.
pub(crate) fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Draws onto an RGB buffer and encodes it as PNG.
pub(crate) fn to_png(
    draw: impl FnOnce(DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> DrawResult,
) -> Result<Vec<u8>, String> {
    ensure_font();
    let (w, h) = SIZE;
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(root.clone())?;
        root.present().map_err(err)?;
    }
    let mut out = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut out),
        &buf,
        w,
        h,
        image::ColorType::Rgb8,
    )
    .map_err(err)?;
    Ok(out)
}

/// Draws into an SVG document.
pub(crate) fn to_svg(
    draw: impl FnOnce(DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> DrawResult,
) -> Result<Vec<u8>, String> {
    ensure_font();
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(root.clone())?;
        root.present().map_err(err)?;
    }
    Ok(text.into_bytes())
}

/// Renders a chart function to `<name>.png` and `<name>.svg`.
macro_rules! both {
    ($out:expr, $name:expr, $draw:expr) => {{
        $out.push((
            format!("{}.png", $name),
            $crate::chart::to_png(|root| $draw(&root))?,
        ));
        $out.push((
            format!("{}.svg", $name),
            $crate::chart::to_svg(|root| $draw(&root))?,
        ));
    }};
}
pub(crate) use both;

/// Draws a chart's legend box at `position`.
pub(crate) fn legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> DrawResult
where
    DB: DrawingBackend + 'a,
    CT: plotters::coord::CoordTranslate,
{
    chart
        .configure_series_labels()
        .label_font(tick_font())
        .background_style(WHITE.mix(0.9))
        .border_style(colour::GREY)
        .position(position)
        .draw()
        .map_err(err)
}

/// A title style.
pub(crate) fn title_font() -> TextStyle<'static> {
    (FONT, 26)
        .into_font()
        .style(FontStyle::Bold)
        .color(&colour::BLACK)
}

/// An axis label style.
pub(crate) fn label_font() -> TextStyle<'static> {
    (FONT, 18).into_font().color(&colour::BLACK)
}

/// A tick label style.
pub(crate) fn tick_font() -> TextStyle<'static> {
    (FONT, 15).into_font().color(&colour::BLACK)
}

/// The charts and report of a sweep, from its result files.
pub fn charts_for_sweep_files(
    files: &[(String, Vec<u8>)],
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let get = |name: &str| {
        files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.clone())
    };
    let data = SweepData::load(get)?;
    let mut out = sweep_charts(&data)?;
    let report = report::sweep_report(&data, &out);
    out.push(("report.html".to_string(), report.into_bytes()));
    Ok(out)
}

/// The chart and report of a plan, from its document and printed text.
pub fn charts_for_plan(
    doc: &crate::plan::outcome::PlanDoc,
    text: &str,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = plan_charts::plan_charts(doc)?;
    let report = plan_charts::plan_report(doc, text, &out);
    out.push(("report.html".to_string(), report.into_bytes()));
    Ok(out)
}

/// The charts and report of a run, from its files (`prefix` selects a replication's folder).
/// Returns `(file name, bytes)` to add to the output folder.
pub fn charts_for_run_files(
    files: &[(String, Vec<u8>)],
    prefix: &str,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let get = |name: &str| {
        files
            .iter()
            .find(|(n, _)| *n == format!("{prefix}{name}"))
            .map(|(_, b)| b.clone())
    };
    let data = run_charts::RunData::load(get)?;
    let charts = run_charts(&data)?;
    // The folder's own files, beside the charted replication's.
    let root = |name: &str| files.iter().find(|(n, _)| n == name).map(|(_, b)| b);
    let top_summary = root("summary.json");
    let inputs = root(report::INPUTS_FILE)
        .map(|b| {
            serde_json::from_slice::<crate::metrics::results::InputsDoc>(b)
                .map_err(|e| format!("{}: {e}", report::INPUTS_FILE))
        })
        .transpose()?;
    let scenario = root(report::SCENARIO_FILE).map(|b| String::from_utf8_lossy(b).into_owned());
    let report = report::run_report(
        &data,
        top_summary.map(Vec::as_slice),
        &charts,
        inputs.as_ref(),
        scenario.as_deref(),
    );
    let mut out: Vec<(String, Vec<u8>)> = charts
        .into_iter()
        .map(|(n, b)| (format!("{prefix}{n}"), b))
        .collect();
    out.push(("report.html".to_string(), report.into_bytes()));
    Ok(out)
}

/// The range of a segmented axis with `n` lanes, each lane `i` spanning `Exact(i)..Exact(i + 1)`.
/// One lane needs a range of two values: a range of one value has no height, and every bar
/// on it would be drawn flat.
pub(crate) fn lane_range(n: usize) -> std::ops::Range<u32> {
    0..(n.saturating_sub(1)).max(1) as u32
}
