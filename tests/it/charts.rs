//! Charts: produced for every example, valid, of the right size, not blank, tied to the data;
//! `flysim chart` redraws the same bytes; the HTML report is self-contained.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use flysim::chart::{SIZE, charts_for_run_files, charts_for_sweep_files};

fn check_png(name: &str, bytes: &[u8]) {
    let img = image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
        .unwrap_or_else(|e| panic!("{name}: not a PNG: {e}"));
    assert_eq!((img.width(), img.height()), SIZE, "{name}: size");
    let rgb = img.to_rgb8();
    let colours: BTreeSet<[u8; 3]> = rgb.pixels().step_by(7).map(|p| p.0).collect();
    assert!(
        colours.len() >= 8,
        "{name}: looks blank ({} colours)",
        colours.len()
    );
    let non_white = rgb.pixels().filter(|p| p.0 != [255, 255, 255]).count();
    assert!(
        non_white > 5_000,
        "{name}: almost nothing drawn ({non_white} pixels)"
    );
}

fn count(svg: &[u8], needle: &str) -> usize {
    String::from_utf8_lossy(svg).matches(needle).count()
}

fn check_self_contained(report: &[u8]) {
    let html = String::from_utf8_lossy(report);
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Scripts and styles are inline: nothing is loaded from a file or an address.
    for bad in [
        "<script src",
        "<link",
        "<img",
        "<iframe",
        "src=\"",
        "@import",
    ] {
        assert!(!html.contains(bad), "report.html contains {bad:?}");
    }
    assert!(html.contains("Content-Security-Policy\" content=\"default-src 'none'"));
    // Every URL is the SVG namespace or the embedded chart library's license banner (the
    // browser test checks that nothing is requested).
    for (i, _) in html.match_indices("://") {
        let around = &html[i.saturating_sub(8)..(i + 30).min(html.len())];
        assert!(
            around.contains("www.w3.org") || around.contains("github.com/leeoniya/uPlot"),
            "report.html refers outside itself: …{around}…"
        );
    }
    assert!(
        html.contains("url(data:font/ttf;base64,"),
        "the font is embedded"
    );
}

#[test]
fn every_example_scenario_gets_every_run_chart() {
    let mut files: Vec<_> = std::fs::read_dir("scenarios")
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.extend(
        std::fs::read_dir("scenarios/resilience")
            .unwrap()
            .map(|e| e.unwrap().path()),
    );
    files.retain(|p| p.extension().is_some_and(|e| e == "toml"));
    files.sort();
    for f in &files {
        let sc = flysim::scenario::load(f, &["duration=6h".into()])
            .unwrap()
            .scenario;
        let out = flysim::run::run_files(&flysim::run::run_replication(&sc, 0), "");
        let charts =
            charts_for_run_files(&out, "").unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for chart in ["load", "machines", "latency", "cost"] {
            let png = &charts
                .iter()
                .find(|(n, _)| *n == format!("{chart}.png"))
                .unwrap()
                .1;
            check_png(&format!("{} {chart}.png", f.display()), png);
            let svg = &charts
                .iter()
                .find(|(n, _)| *n == format!("{chart}.svg"))
                .unwrap()
                .1;
            assert!(
                String::from_utf8_lossy(svg).starts_with("<svg"),
                "{chart}.svg"
            );
        }
        // The state timeline draws one rectangle per state interval (plus the legend's seven
        // and the background).
        let states = out.iter().find(|(n, _)| n == "states.csv").unwrap();
        let intervals = String::from_utf8_lossy(&states.1).lines().count() - 1;
        let machines_svg = &charts.iter().find(|(n, _)| n == "machines.svg").unwrap().1;
        assert!(
            count(machines_svg, "<rect") >= intervals + 7,
            "{}: {} rects for {intervals} intervals",
            f.display(),
            count(machines_svg, "<rect")
        );
        check_self_contained(&charts.iter().find(|(n, _)| n == "report.html").unwrap().1);
    }
}

#[test]
fn every_example_sweep_gets_every_sweep_chart() {
    let tmp = tempfile::tempdir().unwrap();
    let mut files: Vec<_> = std::fs::read_dir("scenarios/sweeps")
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in &files {
        let s = flysim::sweep::load(f).unwrap();
        let dir = tmp.path().join(&s.name);
        let opts = flysim::sweep::exec::RunOptions {
            jobs: 2,
            shard: (1, 1),
            progress: false,
        };
        let mut owned = flysim::output::OwnedDir::open(&dir).unwrap();
        let entries = flysim::sweep::exec::run(&s, &mut owned, opts)
            .unwrap()
            .entries;
        let res =
            flysim::sweep::exec::result_files(&flysim::sweep::exec::manifest(&s, (1, 1)), &entries);
        let charts = charts_for_sweep_files(&res.files).unwrap();
        let mut expected = vec![
            "tradeoff",
            "by-axis-availability",
            "by-axis-p99",
            "by-axis-cost",
        ];
        if s.axes.len() == 2 && s.combine == flysim::sweep::Combine::Grid {
            expected.push("heatmap");
        }
        for chart in expected {
            let png = &charts
                .iter()
                .find(|(n, _)| *n == format!("{chart}.png"))
                .unwrap_or_else(|| panic!("{}: no {chart}", f.display()))
                .1;
            check_png(&format!("{} {chart}.png", f.display()), png);
        }
        // Each point in the trade-off chart: its marker, and the centre dot of each of its two
        // error bars.
        let tradeoff = &charts.iter().find(|(n, _)| n == "tradeoff.svg").unwrap().1;
        assert_eq!(
            count(tradeoff, "<circle"),
            3 * s.points.len(),
            "{}",
            f.display()
        );
        check_self_contained(&charts.iter().find(|(n, _)| n == "report.html").unwrap().1);
    }
}

#[test]
fn flysim_chart_redraws_the_same_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let bin = env!("CARGO_BIN_EXE_flysim");
    let r = Command::new(bin)
        .args([
            "run",
            "-q",
            "--set",
            "duration=3h",
            "--set",
            "replications=2",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let names: Vec<String> = [
        "load.png",
        "load.svg",
        "machines.png",
        "latency.svg",
        "cost.png",
    ]
    .iter()
    .map(|n| format!("rep-000/{n}"))
    .chain(["report.html".to_string()])
    .collect();
    let before: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(out.join(n)).unwrap())
        .collect();
    for n in &names {
        std::fs::remove_file(out.join(n)).unwrap();
    }
    let r = Command::new(bin).arg("chart").arg(&out).output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    for (n, b) in names.iter().zip(&before) {
        assert!(
            std::fs::read(out.join(n)).unwrap() == *b,
            "{n} differs after flysim chart"
        );
    }
    // A folder that is neither a run nor a sweep is refused with exit code 1.
    let r = Command::new(bin)
        .arg("chart")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    assert!(Path::new(&out).join("rep-001/summary.json").is_file());
}
