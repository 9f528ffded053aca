//! `[[fault]]`: random host failures, scheduled host and region outages, Machine crashes.

use super::*;

impl Builder<'_> {
    /// A `[[fault]]`: random host failures, a scheduled outage, or Machine crashes.
    pub(super) fn fault(&mut self, n: &Node, path: &str, apps: &[App]) -> Option<Fault> {
        let mut t = TableReader::new(n, path, self.p);
        let kind = t.req_str(self.p, "kind");
        let p = &mut *self.p;
        let positive =
            |t: &mut TableReader, p: &mut Problems, key: &str, hint: &str| -> Option<SimDuration> {
                let v = t.opt_duration(p, key);
                match v {
                    Some(d) if d > SimDuration::ZERO => Some(d),
                    Some(_) => {
                        p.error(t.origin(), &t.key_path(key), "must be longer than 0s");
                        None
                    }
                    None => {
                        if !t.has(key) {
                            p.error(t.origin(), &t.key_path(key), format!("missing; {hint}"));
                        }
                        None
                    }
                }
            };
        let fault = match kind.as_deref() {
            Some("host_failures") => {
                let mtbf = positive(
                    &mut t,
                    p,
                    "mtbf",
                    "expected the mean time between failures of one host, e.g. mtbf = \"365d\"",
                );
                let shape = t.opt_num(p, "weibull_shape", 0.05, 20.0);
                let repair = match t.take("repair") {
                    Some(r) => dist(p, &t.key_path("repair"), r),
                    None => Some(lognormal(3600.0, 2.0 * 86400.0, Z99)),
                };
                let regions = match t.opt_str_list(p, "regions") {
                    None => Vec::new(),
                    Some(codes) => {
                        let path = t.key_path("regions");
                        let origin = t.origin().clone();
                        let mut out = Vec::new();
                        for c in codes {
                            match self.regions.iter().position(|r| r.code == c) {
                                Some(i) => out.push(i),
                                None => self.p.error(&origin, &path, format!("region {c:?} has no hosts in this scenario (regions in play: {})", self.region_codes())),
                            }
                        }
                        out
                    }
                };
                let p = &mut *self.p;
                t.finish_strict(p, &["kind", "mtbf", "weibull_shape", "repair", "regions"]);
                let ttf = match (mtbf, shape) {
                    (Some(m), Some(k)) => TimeToFailure::Weibull {
                        shape: k,
                        scale_s: m.as_secs_f64() / gamma(1.0 + 1.0 / k),
                    },
                    (Some(m), None) => TimeToFailure::Exponential(m),
                    _ => return None,
                };
                Fault::HostFailures {
                    regions,
                    ttf,
                    repair: repair?,
                }
            }
            Some("host_down") | Some("region_down") => {
                let at = t.opt_duration(p, "at");
                let duration = positive(
                    &mut t,
                    p,
                    "for",
                    "expected how long the outage lasts, e.g. for = \"45m\"",
                );
                if at.is_none() && !t.has("at") {
                    p.error(
                        t.origin(),
                        &t.key_path("at"),
                        "missing; expected when the outage starts, e.g. at = \"6h\"",
                    );
                }
                let target =
                    self.outage_target(&mut t, apps, kind.as_deref() == Some("region_down"));
                t.finish_strict(self.p, &["kind", "at", "for", "host", "target", "region"]);
                Fault::Outage {
                    target: target?,
                    at: at?,
                    duration: duration?,
                }
            }
            Some("machine_crashes") => {
                let mtbf = positive(
                    &mut t,
                    p,
                    "mtbf",
                    "expected the mean running time between crashes of one Machine, e.g. mtbf = \"30d\"",
                );
                let app = match t.opt_str(p, "app") {
                    None => None,
                    Some(name) => match apps.iter().position(|a| a.name == name) {
                        Some(i) => Some(i),
                        None => {
                            p.error(
                                t.origin(),
                                &t.key_path("app"),
                                format!("no app named {name:?}"),
                            );
                            return None;
                        }
                    },
                };
                t.finish_strict(p, &["kind", "mtbf", "app"]);
                Fault::MachineCrashes { app, mtbf: mtbf? }
            }
            Some(other) => {
                p.error(t.origin(), &t.key_path("kind"), format!(
                    "unknown fault {other:?}; expected \"host_failures\", \"host_down\", \"region_down\" or \"machine_crashes\""));
                return None;
            }
            None => return None,
        };
        Some(fault)
    }

    /// What a scheduled outage takes down: `host = "ams:2"`, `target = "web:0"` (the host of
    /// that Machine) or `region = "ams"`.
    pub(super) fn outage_target(
        &mut self,
        t: &mut TableReader,
        apps: &[App],
        region_only: bool,
    ) -> Option<OutageTarget> {
        let host = t.opt_str(self.p, "host");
        let target = t.opt_str(self.p, "target");
        let region = t.opt_str(self.p, "region");
        let given = [host.is_some(), target.is_some(), region.is_some()]
            .iter()
            .filter(|x| **x)
            .count();
        if given != 1 || (region_only && region.is_none()) {
            let expected = if region_only {
                "region = \"ams\""
            } else {
                "one of host = \"ams:0\", target = \"web:0\" (its host) or region = \"ams\""
            };
            self.p
                .error(t.origin(), &t.path, format!("give {expected}"));
            return None;
        }
        if let Some(code) = region {
            return match self.regions.iter().position(|r| r.code == code) {
                Some(r) => Some(OutageTarget::Region(r)),
                None => {
                    let msg = format!(
                        "region {code:?} has no hosts in this scenario (regions in play: {})",
                        self.region_codes()
                    );
                    self.p.error(t.origin(), &t.key_path("region"), msg);
                    None
                }
            };
        }
        if let Some(h) = host {
            let parsed = h
                .split_once(':')
                .and_then(|(c, i)| Some((c.to_string(), i.parse::<usize>().ok()?)));
            let found = parsed.as_ref().and_then(|(c, i)| {
                let r = self.regions.iter().position(|r| &r.code == c)?;
                (*i < self.regions[r].hosts.len()).then_some((r, *i))
            });
            return match found {
                Some((r, i)) => Some(OutageTarget::Host(r, i)),
                None => {
                    let hosts: Vec<String> = self
                        .regions
                        .iter()
                        .map(|r| format!("{}:0..{}", r.code, r.hosts.len() - 1))
                        .collect();
                    self.p.error(
                        t.origin(),
                        &t.key_path("host"),
                        format!(
                            "no host {h:?}; expected <region>:<index>, one of {}",
                            hosts.join(", ")
                        ),
                    );
                    None
                }
            };
        }
        let target = target.expect("exactly one given");
        match machine_ref(&target, apps) {
            Ok((a, ordinal)) => Some(OutageTarget::MachineHost(a, ordinal)),
            Err(msg) => {
                self.p.error(t.origin(), &t.key_path("target"), msg);
                None
            }
        }
    }
}

/// Γ(x) for x > 0 (Lanczos approximation, g = 7; relative error below 1e-13).
pub(super) fn gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return std::f64::consts::PI / ((std::f64::consts::PI * x).sin() * gamma(1.0 - x));
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let sum: f64 = C[0] + (1..9).map(|i| C[i] / (x + i as f64)).sum::<f64>();
    (2.0 * std::f64::consts::PI).sqrt() * t.powf(x + 0.5) * (-t).exp() * sum
}

#[cfg(test)]
mod tests {
    #[test]
    fn gamma_matches_known_values() {
        assert!((super::gamma(1.0) - 1.0).abs() < 1e-12);
        assert!((super::gamma(5.0) - 24.0).abs() < 1e-10);
        assert!((super::gamma(0.5) - std::f64::consts::PI.sqrt()).abs() < 1e-12);
        assert!((super::gamma(1.5) - 0.886_226_925_452_758).abs() < 1e-12);
    }
}
