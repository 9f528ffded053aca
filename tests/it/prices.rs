//! Prices against Fly's pricing page (superfly/docs `about/pricing.mdx` and its
//! `RegionPricingSelector`): every preset and RAM tier of the page's table, in every region
//! with a published markup, to the cent per 30 days; the figures its prose quotes; overrides.

use flysim::scenario::regions::price_markup;
use flysim::scenario::{CpuKind, Prices, VmSize};

use super::common::scenario;

const MONTH: f64 = 2_592_000.0;

fn vm(kind: CpuKind, cpus: u32, memory_mb: u64) -> VmSize {
    VmSize {
        cpu_kind: kind,
        cpus,
        memory_mb,
    }
}

/// The page's table as it lists it: preset, vCPUs, CPU kind, RAM tiers [MB].
fn page_table() -> Vec<(&'static str, u32, CpuKind, Vec<u64>)> {
    use CpuKind::*;
    let gb = |g: &[f64]| g.iter().map(|g| (g * 1024.0) as u64).collect::<Vec<u64>>();
    vec![
        ("shared-cpu-1x", 1, Shared, vec![256, 512, 1024, 2048]),
        ("shared-cpu-2x", 2, Shared, vec![512, 1024, 2048, 4096]),
        ("shared-cpu-4x", 4, Shared, gb(&[1.0, 2.0, 4.0, 8.0])),
        ("shared-cpu-6x", 6, Shared, gb(&[1.5, 3.0, 6.0, 12.0])),
        ("shared-cpu-8x", 8, Shared, gb(&[2.0, 4.0, 8.0, 16.0])),
        ("performance-1x", 1, Performance, gb(&[2.0, 4.0, 8.0])),
        ("performance-2x", 2, Performance, gb(&[4.0, 8.0, 16.0])),
        ("performance-4x", 4, Performance, gb(&[8.0, 16.0, 32.0])),
        ("performance-6x", 6, Performance, gb(&[12.0, 24.0, 48.0])),
        ("performance-8x", 8, Performance, gb(&[16.0, 32.0, 64.0])),
        ("performance-10x", 10, Performance, gb(&[20.0, 40.0, 80.0])),
        ("performance-12x", 12, Performance, gb(&[24.0, 48.0, 96.0])),
        ("performance-14x", 14, Performance, gb(&[28.0, 56.0, 112.0])),
        ("performance-16x", 16, Performance, gb(&[32.0, 64.0, 128.0])),
    ]
}

/// The page's regions and markups.
const REGIONS: &[(&str, f64)] = &[
    ("ams", 1.038461538),
    ("iad", 1.0),
    ("ord", 1.25),
    ("dfw", 1.25),
    ("fra", 1.153846154),
    ("jnb", 1.302884615),
    ("lhr", 1.134615385),
    ("lax", 1.199519231),
    ("cdg", 1.134615385),
    ("sjc", 1.192307692),
    ("gru", 1.615384615),
    ("ewr", 1.0),
    ("sin", 1.269230769),
    ("arn", 1.038461538),
    ("syd", 1.269230769),
    ("nrt", 1.307692308),
    ("yyz", 1.115384615),
];

/// The page's price of a preset tier per 30 days, from its published constants.
fn page_month(cpus: u32, kind: CpuKind, memory_mb: u64, markup: f64) -> f64 {
    let (per_vcpu, included) = match kind {
        CpuKind::Shared => (0.000_000_846_5, 0.25),
        CpuKind::Performance => (0.000_012_732, 2.0),
    };
    let ram_gb = memory_mb as f64 / 1024.0;
    (cpus as f64 * per_vcpu + (ram_gb - cpus as f64 * included) * 0.000_002_316) * markup * MONTH
}

fn cents(usd: f64) -> i64 {
    (usd * 100.0).round() as i64
}

#[test]
fn every_preset_tier_in_every_region_is_the_pages_price_to_the_cent() {
    let p = Prices::default();
    let mut checked = 0;
    for (name, cpus, kind, tiers) in page_table() {
        let preset = flysim::scenario::fly::preset(name).unwrap();
        assert_eq!((preset.cpu_kind, preset.cpus), (kind, cpus), "{name}");
        for &mb in &tiers {
            for &(code, markup) in REGIONS {
                assert_eq!(price_markup(code), Some(markup), "{code}");
                let ours = p.vm_per_sec(&vm(kind, cpus, mb)) * price_markup(code).unwrap() * MONTH;
                assert_eq!(
                    cents(ours),
                    cents(page_month(cpus, kind, mb, markup)),
                    "{name} {mb} MB in {code}: {ours}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 47 * REGIONS.len());
}

#[test]
fn the_figures_the_pricing_page_quotes() {
    let p = Prices::default();
    let month = |v: VmSize, code: &str| {
        format!(
            "{:.2}",
            p.vm_per_sec(&v) * price_markup(code).unwrap() * MONTH
        )
    };
    use CpuKind::*;
    // "Everything we bill for" (iad) and the three-region example.
    assert_eq!(month(vm(Shared, 1, 256), "iad"), "2.19");
    assert_eq!(month(vm(Shared, 1, 512), "iad"), "3.69");
    assert_eq!(month(vm(Shared, 1, 1024), "iad"), "6.70");
    assert_eq!(month(vm(Shared, 2, 2048), "iad"), "13.39");
    assert_eq!(month(vm(Performance, 1, 2048), "iad"), "33.00");
    assert_eq!(month(vm(Performance, 2, 4096), "iad"), "66.00");
    assert_eq!(month(vm(Shared, 1, 1024), "fra"), "7.73");
    assert_eq!(month(vm(Shared, 1, 1024), "sin"), "8.50");
    // "Additional Machine RAM: $6.00/GB/month".
    let extra = p.vm_per_sec(&vm(Performance, 1, 3072)) - p.vm_per_sec(&vm(Performance, 1, 2048));
    assert_eq!(format!("{:.2}", extra * MONTH), "6.00");
}

#[test]
fn overrides_follow_the_same_shape_and_a_preset_can_be_priced_alone() {
    let base = r#"
name = "p"
duration = "1h"
[[region]]
code = "fra"
[[app]]
name = "web"
[app.fly]
primary_region = "fra"
[[app.fly.vm]]
size = "performance-2x"
memory = "8gb"
"#;
    let sc = scenario(&format!(
        "{base}[prices]\nperformance_vcpu_second = 0.00001\nram_gb_second = 0.000002\n[prices.preset]\n\"shared-cpu-1x\" = 0.000001\n"
    ));
    let vm8 = vm(CpuKind::Performance, 2, 8192);
    // 2 vCPUs with 4 GB, plus 4 GB more, times fra's markup.
    let expected = (2.0 * 0.00001 + 4.0 * 0.000002) * 1.153846154;
    let got = sc.started_price(0, 0, 0, &vm8);
    assert!((got - expected).abs() < 1e-15, "{got} vs {expected}");
    // The preset override replaces the vCPUs' price, RAM beyond still per GB.
    let small = vm(CpuKind::Shared, 1, 1024);
    assert!((sc.prices.vm_per_sec(&small) - (0.000001 + 0.75 * 0.000002)).abs() < 1e-15);
    // A preset that is not one is an error at its line.
    let e = flysim::scenario::from_str(
        &format!("{base}[prices.preset]\n\"a100-40gb\" = 0.001\n"),
        "p.toml",
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("prices.preset.a100-40gb") && e.contains("p.toml:"),
        "{e}"
    );
}
