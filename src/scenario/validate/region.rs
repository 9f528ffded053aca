//! `[[region]]`: hosts per region, their size, price markups, and round trips between regions.

use super::*;

const REGION_KEYS: &[&str] = &["code", "hosts", "host", "rtt", "price_multiplier"];
pub(super) const HOST_KEYS: &[&str] = &["cpus", "memory"];

impl Builder<'_> {
    pub(super) fn declared_region(&mut self, n: &Node, path: &str) {
        let mut t = TableReader::new(n, path, self.p);
        let Some(code) = t.req_str(self.p, "code") else {
            t.finish_strict(self.p, REGION_KEYS);
            return;
        };
        let code_origin = n.get("code").map_or(n.origin.clone(), |c| c.origin.clone());
        if self.regions.iter().any(|r| r.code == code) {
            self.p.error(
                &code_origin,
                &t.key_path("code"),
                format!("region {code:?} is declared twice"),
            );
        }
        let Some(idx) = self.region(&code, &code_origin, &t.key_path("code")) else {
            t.take("host");
            t.take("rtt");
            t.finish_strict(self.p, REGION_KEYS);
            return;
        };
        let count = t
            .opt_int(self.p, "hosts", 1, 100_000)
            .unwrap_or(self.default_hosts as i64);
        let spec = match t.take("host") {
            Some(h) => host_spec(self.p, h, &t.key_path("host")),
            None => self.default_host,
        };
        self.regions[idx].hosts = vec![spec; count as usize];
        if let Some(m) = t.opt_num(self.p, "price_multiplier", 0.0, 100.0) {
            self.regions[idx].price_multiplier = m;
        }
        // `rtt` is read once all regions are known (see rtt_matrix); check its shape here.
        if let Some(r) = t.take("rtt") {
            let _ = TableReader::new(r, &t.key_path("rtt"), self.p);
        }
        t.finish_strict(self.p, REGION_KEYS);
    }

    /// Round trips between every pair of regions in play: the model by default, `rtt` tables
    /// in `[[region]]` where given (symmetric).
    pub(super) fn rtt_matrix(
        &mut self,
        root: &Node,
        stretch: f64,
        base_ms: f64,
        same: SimDuration,
    ) -> Vec<Vec<SimDuration>> {
        let n = self.regions.len();
        let mut m = vec![vec![same; n]; n];
        #[allow(clippy::needless_range_loop)] // a and b index both the matrix and the regions
        for a in 0..n {
            for b in 0..n {
                if a != b {
                    let (ra, rb) = (
                        regions::lookup(&self.regions[a].code).expect("validated code"),
                        regions::lookup(&self.regions[b].code).expect("validated code"),
                    );
                    m[a][b] = SimDuration::from_secs_f64(
                        regions::model_rtt_ms(ra, rb, stretch, base_ms) / 1000.0,
                    );
                }
            }
        }
        let Some(Value::Array(declared)) = root.get("region").map(|r| &r.value) else {
            return m;
        };
        for (i, r) in declared.iter().enumerate() {
            let (Some(Value::Str(code)), Some(rtt)) =
                (r.get("code").map(|c| &c.value), r.get("rtt"))
            else {
                continue;
            };
            let Some(a) = self.regions.iter().position(|x| &x.code == code) else {
                continue;
            };
            for (other, v) in rtt.entries() {
                let path = format!("region[{i}].rtt.{other}");
                let Some(d) = duration_of(self.p, &path, v) else {
                    continue;
                };
                if regions::lookup(other).is_none() {
                    self.p
                        .error(&v.origin, &path, format!("unknown region {other:?}"));
                } else if let Some(b) = self.regions.iter().position(|x| &x.code == other) {
                    m[a][b] = d;
                    m[b][a] = d;
                }
            }
        }
        m
    }
}
