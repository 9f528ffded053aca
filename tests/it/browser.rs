//! The HTML reports in a real browser: headless Chromium (Debian's package, installed by
//! `.ci/run`) opens a run's and a sweep's `report.html` and the test fails on any console
//! error or uncaught exception, on any request that leaves the page (everything must be
//! embedded), on a chart that drew nothing, and on hover or sorting that does not respond.
//! Screenshots go to `target/tmp/report-screenshots/`.
//!
//! Without Chromium the test says so and passes, except under CI (`CI` set), where a missing
//! browser is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::protocol::cdp::{Network, Page, Runtime};
use headless_chrome::{Browser, LaunchOptions, Tab};

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FLYSIM_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

fn flysim(args: &[&str], out: &Path) {
    let r = Command::new(env!("CARGO_BIN_EXE_flysim"))
        .args(args)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        r.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&r.stderr)
    );
}

/// What a page did while it was open.
#[derive(Default)]
struct Seen {
    errors: Vec<String>,
    requests: Vec<String>,
}

fn watch(tab: &Tab) -> Arc<Mutex<Seen>> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    tab.add_event_listener(Arc::new(move |event: &Event| {
        let mut s = s.lock().unwrap();
        match event {
            Event::RuntimeConsoleAPICalled(e)
                if matches!(
                    e.params.Type,
                    Runtime::ConsoleAPICalledEventTypeOption::Error
                        | Runtime::ConsoleAPICalledEventTypeOption::Assert
                ) =>
            {
                s.errors.push(format!("console: {:?}", e.params.args));
            }
            Event::RuntimeExceptionThrown(e) => {
                s.errors
                    .push(format!("exception: {:?}", e.params.exception_details));
            }
            Event::LogEntryAdded(e)
                if format!("{:?}", e.params.entry.level).to_lowercase() == "error" =>
            {
                s.errors.push(format!("log: {}", e.params.entry.text));
            }
            Event::NetworkRequestWillBeSent(e) => s.requests.push(e.params.request.url.clone()),
            _ => {}
        }
    }))
    .unwrap();
    tab.enable_runtime().unwrap();
    tab.enable_log().unwrap();
    tab.call_method(Network::Enable {
        max_total_buffer_size: None,
        max_resource_buffer_size: None,
        max_post_data_size: None,
        report_direct_socket_traffic: None,
        enable_durable_messages: None,
    })
    .unwrap();
    seen
}

fn eval_json(tab: &Tab, js: &str) -> serde_json::Value {
    let r = tab.evaluate(js, false).unwrap();
    let text = r
        .value
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| "null".into());
    serde_json::from_str(&text).unwrap()
}

/// Opens `report`, checks it, saves a screenshot as `shot`.
fn check_report(browser: &Browser, report: &Path, shot: &Path) {
    let tab = browser.new_tab().unwrap();
    tab.set_default_timeout(Duration::from_secs(30));
    let seen = watch(&tab);
    let url = format!("file://{}", report.display());
    tab.navigate_to(&url).unwrap();
    tab.wait_until_navigated().unwrap();
    tab.wait_for_element("html[data-charts-drawn]")
        .unwrap_or_else(|e| panic!("{}: the charts were never drawn: {e}", report.display()));
    // Every chart holder has a canvas with a drawing on it.
    let pixels = eval_json(
        &tab,
        r#"JSON.stringify(Array.from(document.querySelectorAll('.chart')).map(h => {
            const c = h.querySelector('canvas');
            if (!c) return [h.id, -1];
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 0; i < d.length; i += 4) {
                if (d[i + 3] > 0 && (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200)) n++;
            }
            return [h.id, n];
        }))"#,
    );
    let pixels = pixels.as_array().unwrap();
    assert!(!pixels.is_empty(), "{}: no charts", report.display());
    for p in pixels {
        let n = p[1].as_i64().unwrap();
        assert!(
            n > 2000,
            "{}: chart {} drew {n} coloured pixels",
            report.display(),
            p[0]
        );
    }
    // Hovering the middle of the first chart shows values in its legend.
    let hovered = eval_json(
        &tab,
        r#"(() => {
            const over = document.querySelector('.chart .u-over');
            const r = over.getBoundingClientRect();
            over.dispatchEvent(new MouseEvent('mousemove', {clientX: r.left + r.width / 2, clientY: r.top + r.height / 2, bubbles: true}));
            const values = Array.from(document.querySelectorAll('.chart')[0].querySelectorAll('.u-legend .u-value')).map(v => v.textContent);
            return JSON.stringify(values);
        })()"#,
    );
    let values: Vec<String> = hovered
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        values.iter().filter(|v| *v != "–" && !v.is_empty()).count() >= 2,
        "{}: hover showed no values: {values:?}",
        report.display()
    );
    // A click on a sortable column's header sorts by it.
    let sorted = eval_json(
        &tab,
        r#"(() => {
            const t = document.querySelector('table.sortable');
            if (!t) return JSON.stringify(null);
            const th = t.querySelector('thead th');
            th.click(); th.click();
            const first = t.tBodies[0].rows[0].cells[0].getAttribute('data-v');
            const all = Array.from(t.tBodies[0].rows).map(r => r.cells[0].getAttribute('data-v'));
            return JSON.stringify({sort: th.getAttribute('data-sort'), first: first, all: all});
        })()"#,
    );
    if !sorted.is_null() {
        assert_eq!(sorted["sort"], "desc", "{}", report.display());
        let all: Vec<f64> = sorted["all"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str().and_then(|s| s.parse().ok()))
            .collect();
        assert!(
            all.windows(2).all(|w| w[0] >= w[1]),
            "{}: not sorted descending: {all:?}",
            report.display()
        );
    }
    let png = tab
        .capture_screenshot(Page::CaptureScreenshotFormatOption::Png, None, None, true)
        .unwrap();
    std::fs::write(shot, png).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let seen = seen.lock().unwrap();
    assert!(
        seen.errors.is_empty(),
        "{}: {:?}",
        report.display(),
        seen.errors
    );
    let outside: Vec<&String> = seen
        .requests
        .iter()
        .filter(|u| {
            !(u.starts_with("file://") || u.starts_with("data:") || u.starts_with("about:"))
        })
        .collect();
    assert!(
        outside.is_empty(),
        "{}: requests that leave the page: {outside:?}",
        report.display()
    );
    // The page itself was loaded, so requests were observed at all.
    assert!(
        seen.requests.iter().any(|u| u.ends_with("report.html")),
        "{}: no request seen: {:?}",
        report.display(),
        seen.requests
    );
}

#[test]
fn run_and_sweep_reports_render_in_a_real_browser() {
    let Some(path) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "Chromium is missing; .ci/run installs Debian's chromium package"
        );
        eprintln!("no Chromium found: the browser test checked nothing (set FLYSIM_CHROMIUM)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // A run with host failures and replications, a run with deploys, and a sweep.
    let run = tmp.path().join("run");
    flysim(
        &[
            "run",
            "-q",
            "scenarios/resilience/two-machines.toml",
            "--set",
            "replications=2",
        ],
        &run,
    );
    let deploys = tmp.path().join("deploys");
    flysim(&["run", "-q", "scenarios/deploys.toml"], &deploys);
    let sweep_file =
        crate::common::quickstart_sweep(tmp.path(), "2h", "[1, 2, 3]", r#"["stop", "suspend"]"#);
    let sweep = tmp.path().join("sweep");
    flysim(&["sweep", "-q", sweep_file.to_str().unwrap()], &sweep);

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let args: Vec<&std::ffi::OsStr> = [
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ]
    .iter()
    .map(std::ffi::OsStr::new)
    .collect();
    let browser = Browser::new(
        LaunchOptions::default_builder()
            .path(Some(path))
            .sandbox(false)
            .window_size(Some((1280, 1000)))
            .user_data_dir(Some(profile.path().to_path_buf()))
            .args(args)
            .idle_browser_timeout(Duration::from_secs(120))
            .build()
            .unwrap(),
    )
    .unwrap();
    for (dir, name) in [(&run, "run"), (&deploys, "deploys"), (&sweep, "sweep")] {
        check_report(
            &browser,
            &dir.join("report.html"),
            &shots.join(format!("{name}.png")),
        );
    }
}
