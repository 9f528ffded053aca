//! `[slo]` and `[prices]`.

use super::*;

const SLO_KEYS: &[&str] = &["availability", "latency_p99"];
const PRICE_KEYS: &[&str] = &[
    "shared_vcpu_second",
    "performance_vcpu_second",
    "ram_gb_second",
    "preset",
    "rootfs_gb_month",
    "volume_gb_month",
    "gpu_hour",
];

impl Builder<'_> {
    pub(super) fn slo(&mut self, n: &Node) -> Slo {
        let mut t = TableReader::new(n, "slo", self.p);
        let availability = t.opt_num(self.p, "availability", 0.0, 1.0).unwrap_or(0.999);
        let latency_p99 = t
            .opt_duration(self.p, "latency_p99")
            .unwrap_or(SimDuration::from_secs(1));
        t.finish_strict(self.p, SLO_KEYS);
        Slo {
            availability,
            latency_p99,
        }
    }

    pub(super) fn prices(&mut self, n: &Node) -> Prices {
        let mut t = TableReader::new(n, "prices", self.p);
        let d = Prices::default();
        let mut get =
            |key: &str, default: f64, max: f64| t.opt_num(self.p, key, 0.0, max).unwrap_or(default);
        let mut prices = Prices {
            shared_vcpu_second: get("shared_vcpu_second", d.shared_vcpu_second, 1.0),
            performance_vcpu_second: get("performance_vcpu_second", d.performance_vcpu_second, 1.0),
            ram_gb_second: get("ram_gb_second", d.ram_gb_second, 1.0),
            presets: Vec::new(),
            rootfs_gb_month: get("rootfs_gb_month", d.rootfs_gb_month, 1e6),
            volume_gb_month: get("volume_gb_month", d.volume_gb_month, 1e6),
            gpu_hour: Vec::new(),
        };
        if let Some(n) = t.take("preset") {
            let mut g = TableReader::new(n, "prices.preset", self.p);
            for (name, _) in n.entries() {
                let Some(v) = g.opt_num(self.p, name, 0.0, 1.0) else {
                    continue;
                };
                match fly::preset(name) {
                    Some(vm) if name.starts_with("shared") || name.starts_with("performance") => {
                        prices.presets.push((vm.cpu_kind, vm.cpus, v))
                    }
                    _ => self.p.error(
                        &n.get(name).map_or(&n.origin, |v| &v.origin).clone(),
                        &format!("prices.preset.{name}"),
                        format!(
                            "expected a CPU preset (shared-cpu-1x … shared-cpu-8x, performance-1x … performance-16x), found {name:?}"
                        ),
                    ),
                }
            }
            g.finish_strict(self.p, &[]);
        }
        if let Some(n) = t.take("gpu_hour") {
            let mut g = TableReader::new(n, "prices.gpu_hour", self.p);
            for (kind, _) in n.entries() {
                if let Some(v) = g.opt_num(self.p, kind, 0.0, 1e6) {
                    prices.gpu_hour.push((kind.clone(), v));
                }
            }
            g.finish_strict(self.p, &[]);
        }
        t.finish_strict(self.p, PRICE_KEYS);
        prices
    }
}

impl Default for Prices {
    /// Fly's published constants (superfly/docs `about/pricing.mdx`, its
    /// `RegionPricingSelector`): $0.0000008465 per shared vCPU second with 256 MB,
    /// $0.000012732 per performance vCPU second with 2 GB, $0.000002316 per extra GB second,
    /// in iad/ewr. Rootfs and volumes: $0.15 per GB per 30 days.
    fn default() -> Self {
        Prices {
            shared_vcpu_second: 0.000_000_846_5,
            performance_vcpu_second: 0.000_012_732,
            ram_gb_second: 0.000_002_316,
            presets: Vec::new(),
            rootfs_gb_month: 0.15,
            volume_gb_month: 0.15,
            gpu_hour: Vec::new(),
        }
    }
}
