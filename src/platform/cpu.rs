//! CPU quotas: a Machine's balance of unused CPU time, and the CPU rate it may run at.
//!
//! Fly's rule (Fly docs, machines/cpu-performance; `[platform]` `cpu_*` for what the docs do
//! not say): each vCPU may run a baseline share of every 80 ms period (1/16 shared, 10/16
//! performance), pooled over the Machine's vCPUs. Unused baseline accrues as a balance, up to
//! a cap; while the balance lasts the vCPUs run at up to 100 %, and at zero the Machine runs at
//! its baseline. flysim takes the quota as a fluid: between events the Machine's CPU use is
//! constant, so the balance is linear in time and the instant it empties is computed exactly;
//! there is no event per 80 ms period.
//!
//! Owns [`Quota`] (one per Machine of an app that models CPU) and the pure rules: [`Rules`]
//! of a size and [`usage`]. The processor-sharing handlers in `service.rs` drive it.

use crate::engine::SimTime;
use crate::scenario::{CpuKind, CpuQuotas, VmSize};

/// The quota rules of one Machine size, in vCPUs and nanoseconds of CPU time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rules {
    /// CPU the Machine may use on average for ever [vCPU].
    pub baseline: f64,
    /// CPU it may use while its balance lasts [vCPU]: all its vCPUs.
    pub burst: f64,
    /// Largest balance [ns of CPU time].
    pub cap: f64,
}

impl Rules {
    /// The rules for size `vm` under `q`.
    pub fn of(q: &CpuQuotas, vm: &VmSize) -> Self {
        let n = f64::from(vm.cpus);
        let (share, max) = match vm.cpu_kind {
            CpuKind::Shared => (q.shared_baseline, q.shared_max_balance),
            CpuKind::Performance => (q.performance_baseline, q.performance_max_balance),
        };
        let per = if q.balance_per_vcpu { n } else { 1.0 };
        Rules {
            baseline: share * n,
            burst: n,
            cap: max.0 as f64 * per,
        }
    }

    /// A new Machine's balance under `q` [ns of CPU time].
    pub fn initial(&self, q: &CpuQuotas) -> f64 {
        let per = if q.balance_per_vcpu { self.burst } else { 1.0 };
        (q.initial_balance.0 as f64 * per).min(self.cap)
    }
}

/// CPU a Machine uses with `jobs` requests in their CPU part and `balance` left [vCPU]: each
/// request runs on at most one vCPU; with a balance the Machine may use all its vCPUs, without
/// one no more than its baseline.
#[inline]
pub fn usage(rules: Rules, balance: f64, jobs: usize) -> f64 {
    let demand = (jobs as f64).min(rules.burst);
    if balance > 0.0 || demand <= rules.baseline {
        demand
    } else {
        rules.baseline
    }
}

/// The quota account a new Machine of app `app` and size `vm` starts with at `now`, when the
/// app models CPU.
pub fn account_for(
    q: &CpuQuotas,
    app: &crate::scenario::App,
    vm: &VmSize,
    now: SimTime,
) -> Option<Box<Quota>> {
    if !app.models_cpu() {
        return None;
    }
    let mut account = Quota::new(Rules::of(q, vm).initial(q), now);
    account.requests = app.cpu.is_some();
    Some(Box::new(account))
}

/// One Machine's quota account.
#[derive(Clone, Debug, PartialEq)]
pub struct Quota {
    /// Unused CPU time it may still burst with [ns of CPU time].
    pub balance: f64,
    /// When the account was last brought up to date.
    pub since: SimTime,
    /// CPU time used [ns].
    pub used: f64,
    /// Time spent throttled: balance empty and demand above the baseline [ns].
    pub throttled_ns: f64,
    /// Time the VM ran, the time the balance accrues over [ns].
    pub running_ns: f64,
    /// vCPU time the VM had while it ran (its vCPUs × running time) [ns].
    pub vcpu_ns: f64,
    /// Whether it is throttled now.
    pub throttled: bool,
    /// How many times throttling began (a request notes it when its CPU part begins, to know
    /// at its end whether it ran throttled).
    pub throttle_spells: u32,
    /// Whether the VM runs (starting, started, or draining), so the balance moves.
    pub running: bool,
    /// Whether the app's requests give their CPU time, and so run under the quota (else only
    /// its boot does).
    pub requests: bool,
    /// The CPU-bound part of a running app boot, if any: while it lasts, the account follows
    /// it rather than the requests (none run during a boot).
    pub boot: Option<BootCpu>,
}

/// The CPU-bound part of an app boot: single-threaded, at most one vCPU.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BootCpu {
    /// Time before it begins (the VM boot) [ns].
    pub delay: f64,
    /// CPU time it still needs [ns].
    pub work: f64,
}

/// A balance this small is spent: it would last under a nanosecond at any rate.
const SPENT: f64 = 1e-3;

impl Quota {
    /// A new account with `balance`, not running, at `now`.
    pub fn new(balance: f64, now: SimTime) -> Self {
        Quota {
            balance,
            since: now,
            used: 0.0,
            throttled_ns: 0.0,
            running_ns: 0.0,
            vcpu_ns: 0.0,
            throttled: false,
            throttle_spells: 0,
            running: false,
            requests: true,
            boot: None,
        }
    }

    /// `dt` [ns] at usage `u`.
    fn step(&mut self, rules: Rules, u: f64, dt: f64, throttled: bool) {
        self.running_ns += dt;
        self.vcpu_ns += rules.burst * dt;
        if throttled {
            self.throttled_ns += dt;
        }
        let balance = self.balance + (rules.baseline - u) * dt;
        // Event times are whole nanoseconds, so a burst may run a fraction of a nanosecond
        // past the balance's end: the quota never grants that, so it is not counted as used.
        self.used += u * dt + balance.min(0.0);
        self.balance = balance.clamp(0.0, rules.cap);
    }

    /// How long [ns] a boot's CPU part of `work` takes if it begins after `delay` from now,
    /// this account not having moved since now: at one vCPU while the balance lasts, at the
    /// baseline after.
    pub fn boot_cpu_time(&self, rules: Rules, delay: f64, work: f64) -> f64 {
        let u = rules.burst.min(1.0);
        let balance = (self.balance + rules.baseline * delay).min(rules.cap);
        if u <= rules.baseline {
            return work / u;
        }
        let burst = balance / (u - rules.baseline);
        if burst * u >= work {
            work / u
        } else {
            burst + (work - burst * u) / rules.baseline
        }
    }

    /// `dt` [ns] of a boot's CPU part (see [`Quota::boot`]).
    fn advance_boot(&mut self, rules: Rules, mut dt: f64, mut b: BootCpu) {
        let idle = b.delay.min(dt);
        self.step(rules, 0.0, idle, false);
        b.delay -= idle;
        dt -= idle;
        let u = rules.burst.min(1.0);
        while dt > 0.0 && b.work > SPENT {
            if self.balance > SPENT || u <= rules.baseline {
                let mut seg = dt.min(b.work / u);
                if u > rules.baseline {
                    seg = seg.min(self.balance / (u - rules.baseline));
                }
                self.step(rules, u, seg, false);
                b.work -= u * seg;
                dt -= seg;
                if u > rules.baseline && self.balance <= SPENT {
                    self.balance = 0.0;
                }
            } else {
                if !self.throttled {
                    self.throttle_spells += 1;
                    self.throttled = true;
                }
                let seg = dt.min(b.work / rules.baseline);
                self.step(rules, rules.baseline, seg, true);
                b.work -= rules.baseline * seg;
                dt -= seg;
            }
        }
        self.throttled = false;
        self.step(rules, 0.0, dt.max(0.0), false);
        self.boot = (b.work > SPENT).then_some(b);
    }

    /// Brings the account up to `now`, the Machine having used `u` vCPUs since it was last
    /// brought up to date: the balance moves by (baseline − u) per unit of time, within
    /// [0, cap].
    pub fn advance(&mut self, rules: Rules, u: f64, now: SimTime) {
        let dt = now.0.saturating_sub(self.since.0);
        self.since = now;
        if !self.running || dt == 0 {
            return;
        }
        match self.boot {
            Some(b) => self.advance_boot(rules, dt as f64, b),
            None => self.step(rules, u, dt as f64, self.throttled),
        }
    }

    /// The account as it stands at `now`, the Machine using `u` vCPUs since it was last
    /// brought up to date (for reports: the Machine's own account is not touched).
    pub fn at(&self, rules: Rules, u: f64, now: SimTime) -> Quota {
        let mut q = self.clone();
        q.advance(rules, u, now);
        q
    }

    /// Sets whether the Machine is throttled with `jobs` requests in their CPU part (after
    /// [`Quota::advance`] to now); requests that do not run under the quota count for none.
    pub fn update_throttle(&mut self, rules: Rules, jobs: usize) {
        let jobs = if self.requests { jobs } else { 0 };
        let now_throttled =
            self.running && self.balance <= 0.0 && (jobs as f64).min(rules.burst) > rules.baseline;
        if now_throttled && !self.throttled {
            self.throttle_spells += 1;
        }
        self.throttled = now_throttled;
    }

    /// After how long [ns] the balance runs out at usage `u`, if it does.
    pub fn empties_in(&self, rules: Rules, u: f64) -> Option<f64> {
        (self.running && self.balance > 0.0 && u > rules.baseline)
            .then(|| self.balance / (u - rules.baseline))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimDuration;

    fn quotas() -> CpuQuotas {
        CpuQuotas {
            shared_baseline: 1.0 / 16.0,
            performance_baseline: 10.0 / 16.0,
            shared_max_balance: SimDuration::from_secs(500),
            performance_max_balance: SimDuration::from_secs(5000),
            initial_balance: SimDuration::from_secs(5),
            balance_per_vcpu: true,
            reset_on_start: false,
        }
    }

    const S: f64 = 1e9;

    #[test]
    fn rules_follow_flys_table() {
        let shared2 = VmSize {
            cpu_kind: CpuKind::Shared,
            cpus: 2,
            memory_mb: 512,
        };
        let r = Rules::of(&quotas(), &shared2);
        assert_eq!((r.baseline, r.burst, r.cap), (0.125, 2.0, 1000.0 * S));
        assert_eq!(r.initial(&quotas()), 10.0 * S);
        let perf1 = VmSize {
            cpu_kind: CpuKind::Performance,
            cpus: 1,
            memory_mb: 2048,
        };
        let r = Rules::of(&quotas(), &perf1);
        assert_eq!((r.baseline, r.burst, r.cap), (0.625, 1.0, 5000.0 * S));
    }

    #[test]
    fn usage_bursts_with_a_balance_and_falls_to_the_baseline_without() {
        let r = Rules {
            baseline: 0.125,
            burst: 2.0,
            cap: 1000.0 * S,
        };
        assert_eq!(usage(r, 1.0, 3), 2.0);
        assert_eq!(usage(r, 1.0, 1), 1.0);
        assert_eq!(usage(r, 0.0, 3), 0.125);
        assert_eq!(usage(r, 0.0, 0), 0.0);
    }

    #[test]
    fn the_balance_drains_then_stops_at_zero_and_accrues_up_to_its_cap() {
        let r = Rules {
            baseline: 0.25,
            burst: 1.0,
            cap: 10.0 * S,
        };
        let mut q = Quota::new(3.0 * S, SimTime::ZERO);
        q.running = true;
        // Demand 1 vCPU, baseline 0.25: 3 s of balance last 3 / 0.75 = 4 s.
        assert_eq!(q.empties_in(r, 1.0), Some(4.0 * S));
        q.advance(r, 1.0, SimTime(4_000_000_000));
        assert_eq!(q.balance, 0.0);
        q.update_throttle(r, 1);
        assert!(q.throttled && q.throttle_spells == 1);
        q.advance(r, usage(r, q.balance, 1), SimTime(6_000_000_000));
        assert_eq!((q.balance, q.throttled_ns), (0.0, 2e9));
        assert_eq!(q.used, 4.5 * S);
        // Idle for 100 s: it accrues 25 s but stops at the 10 s cap.
        q.update_throttle(r, 0);
        q.advance(r, 0.0, SimTime(106_000_000_000));
        assert_eq!(q.balance, 10.0 * S);
        assert!(!q.throttled);
        // Not running: nothing moves.
        q.running = false;
        q.advance(r, 0.0, SimTime(200_000_000_000));
        assert_eq!((q.balance, q.running_ns), (10.0 * S, 106e9));
    }
}
