//! What Machines cost: per-second prices by state, at each size a Machine had.
//!
//! Owns the prices that depend on the app (a stopped Machine's rootfs, each group's volume)
//! and the arithmetic over a Machine's state times; the price of a started Machine is
//! [`crate::scenario::Scenario::started_price`], kept on the Machine's [`super::machine::Book`]
//! with the cost banked at earlier sizes. Pure reads of Machines, never of the clock.

use super::machine::{MState, Machine};
use crate::engine::SimTime;
use crate::scenario::{Scenario, VmSize};

/// Cost by component [USD].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CostSplit {
    /// Started Machines' CPU and RAM.
    pub compute: f64,
    /// Stopped and suspended Machines' root filesystems.
    pub rootfs: f64,
    /// Volumes, in any state.
    pub volumes: f64,
}

impl CostSplit {
    /// Sum of the components.
    pub fn total(&self) -> f64 {
        self.compute + self.rootfs + self.volumes
    }

    /// Adds another split into this one.
    pub fn add(&mut self, o: &CostSplit) {
        self.compute += o.compute;
        self.rootfs += o.rootfs;
        self.volumes += o.volumes;
    }
}

/// The prices of a run that depend on the app.
#[derive(Debug)]
pub struct Billing {
    /// Per app: one stopped or suspended Machine's rootfs [USD/s].
    rootfs_rate: Vec<f64>,
    /// Per app and group: one Machine's volume [USD/s] (0 without a volume), in any state.
    volume_rate: Vec<Vec<f64>>,
    /// Whether starting, stopping and suspending are billed like started.
    bill_transient: bool,
}

impl Billing {
    /// The scenario's prices.
    pub fn new(sc: &Scenario) -> Self {
        Billing {
            rootfs_rate: sc
                .apps
                .iter()
                .map(|a| sc.prices.rootfs_per_sec(a.rootfs_gb))
                .collect(),
            volume_rate: sc
                .apps
                .iter()
                .map(|a| {
                    a.groups
                        .iter()
                        .map(|g| sc.prices.volume_per_sec(g.volume_gb.unwrap_or(0.0)))
                        .collect()
                })
                .collect(),
            bill_transient: sc.platform.bill_transient_states,
        }
    }

    /// One Machine's cost up to `now`: exact state times × per-second prices, at each size it
    /// had; its volume is billed over its life.
    pub fn machine_cost(&self, m: &Machine, now: SimTime) -> CostSplit {
        let mut c = m.book.banked;
        c.add(&self.since_resize(m, now));
        let end = if m.state == MState::Destroyed {
            m.since.min(now)
        } else {
            now
        };
        c.volumes = end.since(m.book.created_at).as_secs_f64()
            * self.volume_rate[m.app.index()][m.group as usize];
        c
    }

    /// Compute and rootfs cost since the Machine's size last changed.
    fn since_resize(&self, m: &Machine, now: SimTime) -> CostSplit {
        let t = m.time_in_until(now);
        let secs = |s: MState| (t[s as usize] - m.book.rate_mark[s as usize]) as f64 / 1e9;
        let mut compute_secs = secs(MState::Started);
        if self.bill_transient {
            compute_secs +=
                secs(MState::Starting) + secs(MState::Stopping) + secs(MState::Suspending);
        }
        CostSplit {
            compute: compute_secs * m.book.compute_rate,
            rootfs: (secs(MState::Stopped) + secs(MState::Suspended))
                * self.rootfs_rate[m.app.index()],
            volumes: 0.0,
        }
    }

    /// Machine `m` takes size `vm` at `now` (billed at `rate` while started from then on): what
    /// it cost so far is banked at the old size.
    pub fn resize(&self, m: &mut Machine, now: SimTime, vm: VmSize, rate: f64) {
        let c = self.since_resize(m, now);
        m.book.banked.add(&c);
        m.book.rate_mark = m.time_in_until(now);
        m.book.compute_rate = rate;
        m.vm = vm;
        m.book.resized.push((now, vm));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::ids::{AppId, HostId};
    use crate::scenario::CpuKind;

    #[test]
    fn a_resized_machine_is_billed_at_each_size_for_its_time_there() {
        let sc = crate::scenario::from_str(
            "name = \"b\"\nduration = \"3h\"\n[[region]]\ncode = \"iad\"\n[[app]]\nname = \"web\"\n[app.fly]\nprimary_region = \"iad\"\n",
            "b.toml",
            &[],
        )
        .unwrap()
        .scenario;
        let billing = Billing::new(&sc);
        let small = VmSize {
            cpu_kind: CpuKind::Shared,
            cpus: 1,
            memory_mb: 256,
        };
        let big = VmSize { cpus: 2, ..small };
        let h = SimTime(3_600_000_000_000);
        let mut m = Machine::new(
            AppId(0),
            0,
            HostId(0),
            0,
            MState::Started,
            small,
            1e-5,
            SimTime::ZERO,
        );
        // One hour started small, then stopped for the resize and started big for an hour.
        m.go(MState::Stopping, h);
        m.go(MState::Stopped, h);
        billing.resize(&mut m, h, big, 3e-5);
        m.go(MState::Starting, h);
        m.go(MState::Started, h);
        let c = billing.machine_cost(&m, SimTime(2 * h.0));
        assert!(
            (c.compute - (3600.0 * 1e-5 + 3600.0 * 3e-5)).abs() < 1e-12,
            "{c:?}"
        );
        assert_eq!(c.rootfs, 0.0);
        assert_eq!(m.book.resized, vec![(h, big)]);
    }
}
