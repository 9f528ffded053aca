//! Host failures, outages, Machine crashes, standbys and incidents.
//!
//! What a host failure does (fly-platform.md §1.6, §3, §8; defaults in `[platform]`):
//! every Machine on it goes `down`; requests in flight there fail; the proxy keeps routing to
//! those Machines until `failure_detection` has passed, and a request sent to one fails over
//! to another Machine after `dead_retry_delay` (at most `failover_attempts` tries); when the
//! failure is detected, standbys watching a Machine that was running there start. When the
//! host returns, its Machines come back as they were (running ones boot again), except those
//! whose volume was destroyed (`volume_loss_probability`), which stay down. Each failure opens
//! an incident, reported in `incidents.csv`.
//!
//! Randomness: each random fault process draws from its own stream (`faults/<n>/<host>`,
//! `crash/<app>/<ordinal>`), so traffic changes never move failures.

use rand::RngExt;
use rand_distr::Exp1;

use super::machine::{DrainTo, MState};
use super::{Event, Sim};
use crate::engine::{SimDuration, SimTime, StreamRng};
use crate::metrics::FailReason;
use crate::scenario::{Dist, StandbyReturn, TimeToFailure};
use crate::workload::sample_ns;

/// One host's random failure process.
pub(super) struct FailureProcess {
    /// The host it fails.
    pub host: u32,
    pub ttf: TimeToFailure,
    pub repair: Dist,
    pub rng: StreamRng,
}

impl FailureProcess {
    /// Time until the next failure.
    pub(super) fn next_failure(&mut self) -> SimDuration {
        match self.ttf {
            TimeToFailure::Exponential(mean) => {
                let e: f64 = self.rng.sample(Exp1);
                SimDuration((e * mean.0 as f64).round() as u64)
            }
            TimeToFailure::Weibull { shape, scale_s } => {
                // Inverse transform: λ (−ln U)^(1/k).
                let u: f64 = 1.0 - self.rng.random::<f64>();
                SimDuration::from_secs_f64(scale_s * (-u.ln()).powf(1.0 / shape))
            }
        }
    }

    /// Time until the host is repaired.
    pub(super) fn repair_time(&mut self) -> SimDuration {
        SimDuration(sample_ns(&self.repair, &mut self.rng))
    }
}

/// One host failure and what followed.
#[derive(Clone, Debug)]
pub struct Incident {
    /// When the host failed.
    pub start: SimTime,
    /// The host.
    pub host: u32,
    /// Its region.
    pub region: u16,
    /// Machines on it.
    pub machines: Vec<u32>,
    /// When the failure was detected.
    pub detected: Option<SimTime>,
    /// When the first standby taking over was running.
    pub takeover: Option<SimTime>,
    /// When the host came back.
    pub host_back: Option<SimTime>,
    /// When every Machine that was running before ran again.
    pub recovered: Option<SimTime>,
    /// Machines still to recover.
    pub to_recover: u32,
    /// Requests that failed on this host (in flight, or sent there before detection).
    pub requests_failed_on_host: u64,
    /// All requests that failed from the failure to the recovery (any reason, any app).
    pub requests_failed_during: u64,
    /// Failed-request count of the run when the incident began.
    pub failed_at_start: u64,
    /// Volumes destroyed.
    pub volumes_lost: u32,
    /// Data written since the last daily snapshot on the destroyed volumes [h].
    pub data_lost_hours: f64,
}

impl Sim<'_> {
    /// Failed requests so far, all apps.
    fn failed_so_far(&self) -> u64 {
        self.rec.apps.iter().map(|c| c.failed_total()).sum()
    }

    /// A random failure process fires.
    pub(super) fn on_random_failure(&mut self, process: u32) {
        let p = &mut self.failure_processes[process as usize];
        let host = p.host;
        let repair = p.repair_time();
        self.engine
            .schedule_in(repair, Event::RandomRepair { process });
        self.host_down(host);
    }

    /// A random failure's repair completes.
    pub(super) fn on_random_repair(&mut self, process: u32) {
        let p = &mut self.failure_processes[process as usize];
        let host = p.host;
        let next = p.next_failure();
        self.engine
            .schedule_in(next, Event::RandomFailure { process });
        self.host_up(host);
    }

    /// A host goes down (outages can overlap: it is down while any lasts).
    pub(super) fn host_down(&mut self, host: u32) {
        let now = self.now();
        let h = &mut self.hosts[host as usize];
        h.outages += 1;
        if h.outages > 1 {
            return;
        }
        h.detected = false;
        h.generation = h.generation.wrapping_add(1);
        h.used_cpus = 0;
        h.used_mb = 0;
        let generation = h.generation;
        let region = h.region;
        let incident = self.incidents.len() as u32;
        let failed_at_start = self.failed_so_far();
        self.hosts[host as usize].incident = Some(incident);
        let on_host = self.machines_on_host[host as usize].clone();
        self.incidents.push(Incident {
            start: now,
            host,
            region,
            machines: on_host.clone(),
            detected: None,
            takeover: None,
            host_back: None,
            recovered: None,
            to_recover: 0,
            requests_failed_on_host: 0,
            requests_failed_during: 0,
            failed_at_start,
            volumes_lost: 0,
            data_lost_hours: 0.0,
        });
        for id in on_host {
            self.machine_down(id, incident);
        }
        let detect = self.sc.platform.failure_detection;
        self.engine
            .schedule_in(detect, Event::FailureDetected { host, generation });
    }

    fn machine_down(&mut self, id: u32, incident: u32) {
        let now = self.now();
        if self.machines[id as usize].state == MState::Down {
            return;
        }
        // Everything in flight there fails.
        let lost = self.kill_in_service(id, FailReason::HostFailure)
            + self.fail_pending(id, FailReason::HostFailure);
        self.incidents[incident as usize].requests_failed_on_host += lost;
        let m = &mut self.machines[id as usize];
        m.before_down = m.state;
        m.holds_host = false;
        m.connect_check_at = SimTime::NEVER;
        m.restart_after_stop = false;
        if let Some(gb) = self.sc.apps[m.app as usize].groups[m.group as usize].volume_gb {
            let p = self.sc.platform.volume_loss_probability;
            if gb > 0.0 && p > 0.0 && self.rng_faults.random::<f64>() < p {
                m.volume_lost = true;
                let inc = &mut self.incidents[incident as usize];
                inc.volumes_lost += 1;
                // Daily snapshots at 00:00 of simulated time: what was written since is lost.
                inc.data_lost_hours += (now.0 % crate::engine::time::NS_PER_DAY) as f64
                    / crate::engine::time::NS_PER_H as f64;
            }
        }
        self.transition(id, MState::Down);
        self.update_finished(id, false);
    }

    /// The platform notices the failure: the proxy stops routing there; standbys start.
    pub(super) fn on_failure_detected(&mut self, host: u32, generation: u32) {
        let now = self.now();
        let h = &mut self.hosts[host as usize];
        if h.generation != generation || h.outages == 0 {
            return;
        }
        h.detected = true;
        let incident = h.incident;
        // The proxy sees its Machines as down now.
        self.reband_host(host);
        let Some(incident) = incident else { return };
        self.incidents[incident as usize].detected = Some(now);
        for id in self.machines_on_host[host as usize].clone() {
            let before = self.machines[id as usize].before_down;
            if !matches!(before, MState::Started | MState::Starting) {
                continue;
            }
            for s in self.standbys_of[id as usize].clone() {
                let sm = &self.machines[s as usize];
                if sm.state == MState::Stopped
                    && self.hosts[sm.host as usize].outages == 0
                    && self.begin_start(s, false)
                {
                    self.machines[s as usize].taking_over = Some(incident);
                }
            }
        }
    }

    /// A host comes back: its Machines return to their state before the failure.
    pub(super) fn host_up(&mut self, host: u32) {
        let now = self.now();
        let h = &mut self.hosts[host as usize];
        h.outages = h.outages.saturating_sub(1);
        if h.outages > 0 {
            return;
        }
        h.detected = false;
        h.generation = h.generation.wrapping_add(1);
        let incident = h.incident.take();
        if let Some(i) = incident {
            self.incidents[i as usize].host_back = Some(now);
        }
        for id in self.machines_on_host[host as usize].clone() {
            let m = &self.machines[id as usize];
            if m.state != MState::Down || m.volume_lost {
                continue;
            }
            match m.before_down {
                MState::Started | MState::Starting => {
                    self.transition(id, MState::Stopped);
                    if self.begin_start(id, false) {
                        self.machines[id as usize].recovering = incident;
                        if let Some(i) = incident {
                            self.incidents[i as usize].to_recover += 1;
                        }
                    }
                }
                MState::Suspending | MState::Suspended => {
                    let vm = self.vm_of(id);
                    self.hosts[host as usize].hold(&vm);
                    self.machines[id as usize].holds_host = true;
                    self.transition(id, MState::Suspended);
                }
                _ => self.transition(id, MState::Stopped),
            }
        }
        // Machines still down (a lost volume) look again as they were before the failure.
        self.reband_host(host);
        if let Some(i) = incident {
            let failed = self.failed_so_far();
            let inc = &mut self.incidents[i as usize];
            if inc.to_recover == 0 {
                inc.recovered = Some(now);
                inc.requests_failed_during = failed - inc.failed_at_start;
            }
        }
    }

    /// Bookkeeping when a Machine becomes started: recoveries, takeovers, standbys that step
    /// back, and the next crash.
    pub(super) fn on_started(&mut self, id: u32) {
        let now = self.now();
        if let Some(i) = self.machines[id as usize].recovering.take() {
            self.recovery_settled(i);
            if self.sc.platform.standby_on_host_return == StandbyReturn::StandbyStops {
                for s in self.standbys_of[id as usize].clone() {
                    let sm = &mut self.machines[s as usize];
                    if sm.state == MState::Started && sm.taking_over.is_some() {
                        sm.taking_over = None;
                        self.begin_drain(s, DrainTo::Stop);
                    }
                }
            }
        }
        if let Some(i) = self.machines[id as usize].taking_over {
            let inc = &mut self.incidents[i as usize];
            if inc.takeover.is_none() {
                inc.takeover = Some(now);
            }
        }
        self.schedule_crash(id);
    }

    /// One Machine incident `i` waited for runs again (or is gone): the incident is over when
    /// none is left.
    pub(super) fn recovery_settled(&mut self, i: u32) {
        let now = self.now();
        let failed = self.failed_so_far();
        let inc = &mut self.incidents[i as usize];
        inc.to_recover = inc.to_recover.saturating_sub(1);
        if inc.to_recover == 0 && inc.recovered.is_none() {
            inc.recovered = Some(now);
            inc.requests_failed_during = failed - inc.failed_at_start;
        }
    }

    /// Draws when Machine `id` crashes next, if crashes are modelled for its app.
    pub(super) fn schedule_crash(&mut self, id: u32) {
        let app = self.machines[id as usize].app as usize;
        let Some(mtbf) = self.crash_mtbf[app] else {
            return;
        };
        let Some(rng) = self.crash_rngs.get_mut(id as usize) else {
            return;
        };
        let e: f64 = rng.sample(Exp1);
        let generation = self.machines[id as usize].generation;
        self.engine.schedule_in(
            SimDuration((e * mtbf.0 as f64).round() as u64),
            Event::Crash {
                machine: id,
                generation,
            },
        );
    }

    /// A running Machine crashes: its requests fail; its restart policy decides what follows
    /// (Fly's default for Machines of `fly deploy` is on-failure, 10 retries in 5 minutes).
    pub(super) fn on_crash(&mut self, id: u32, generation: u32) {
        let now = self.now();
        let m = &self.machines[id as usize];
        if m.generation != generation || m.state != MState::Started {
            return;
        }
        self.kill_in_service(id, FailReason::Crashed);
        let m = &self.machines[id as usize];
        let app = &self.sc.apps[m.app as usize];
        let policy = app.groups[m.group as usize]
            .restart
            .unwrap_or(crate::scenario::fly::Restart::OnFailure(10));
        let m = &mut self.machines[id as usize];
        m.crashes += 1;
        if now.since(m.restart_window_start) > SimDuration::from_secs(300) {
            m.restart_window_start = now;
            m.restarts_in_window = 0;
        }
        m.restart_after_stop = match policy {
            crate::scenario::fly::Restart::Always => true,
            crate::scenario::fly::Restart::Never => false,
            crate::scenario::fly::Restart::OnFailure(n) => m.restarts_in_window < n,
        };
        if m.restart_after_stop {
            m.restarts_in_window += 1;
        }
        self.begin_drain(id, DrainTo::Stop);
    }

    /// A request was sent to a Machine on a failed host the proxy has not noticed yet: it
    /// fails over after `dead_retry_delay`, or fails when the attempts are spent.
    pub(super) fn dead_route(&mut self, id: u32, app: usize, req: super::machine::Request) {
        let (arrived, retries) = (req.arrived, req.retries);
        let now = self.now();
        let host = self.machines[id as usize].host as usize;
        if (retries as u32) + 1 < self.sc.platform.failover_attempts {
            self.retrying += 1;
            let delay = self.sc.platform.dead_retry_delay;
            let f = super::Failover {
                app: app as u16,
                avoid: id,
                request: super::machine::Request {
                    retries: retries + 1,
                    ..req
                },
            };
            let request = match self.free_failovers.pop() {
                Some(i) => {
                    self.failovers[i as usize] = f;
                    i
                }
                None => {
                    self.failovers.push(f);
                    (self.failovers.len() - 1) as u32
                }
            };
            self.engine.schedule_in(delay, Event::Retry { request });
        } else {
            self.rec.failed(app, now, arrived, FailReason::HostFailure);
            if let Some(i) = self.hosts[host].incident {
                self.incidents[i as usize].requests_failed_on_host += 1;
            }
        }
    }

    /// Closes open incidents at the end of the run.
    pub(super) fn close_incidents(&mut self) {
        let failed = self.failed_so_far();
        for inc in &mut self.incidents {
            if inc.recovered.is_none() {
                inc.requests_failed_during = failed - inc.failed_at_start;
            }
        }
    }
}
