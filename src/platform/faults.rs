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
//!
//! Owns the failure processes, the hosts of each scheduled outage, the crash rates, the
//! incidents and the requests failing over; handles the fault events.

use rand::RngExt;
use rand_distr::Exp1;

use super::fleet::Fleet;
use super::hosts::Hosts;
use super::machine::{DrainTo, MState, Request};
use super::{AppId, Event, HostId, MachineId, Sim, world};
use crate::engine::{RngStreams, SimDuration, SimTime, StreamRng};
use crate::metrics::FailReason;
use crate::scenario::{Dist, Fault, OutageTarget, Scenario, StandbyReturn, TimeToFailure};
use crate::workload::sample_ns;

/// The run's faults: what fails when, and what it did.
pub struct Faults {
    /// Random host-failure processes.
    processes: Vec<FailureProcess>,
    /// Hosts each scheduled outage takes down (by fault index; empty for other faults).
    outage_hosts: Vec<Vec<HostId>>,
    /// Mean time between crashes per app, when crashes are modelled.
    crash_mtbf: Vec<Option<SimDuration>>,
    /// Stream for fault side effects (volume loss).
    rng_effects: StreamRng,
    /// Host failures so far.
    incidents: Vec<Incident>,
    /// Requests waiting to fail over from a failed host, by the index their `Retry` event
    /// carries, and the free indices.
    failovers: Vec<Failover>,
    free_failovers: Vec<u32>,
    /// Requests failing over now.
    retrying: u64,
}

/// A request waiting to fail over from a Machine on a failed host.
#[derive(Clone, Copy, Debug)]
struct Failover {
    app: AppId,
    avoid: MachineId,
    request: Request,
}

/// Each app's mean running time between crashes of one Machine, if its crashes are modelled
/// (the last `machine_crashes` fault that covers it).
pub fn crash_mtbf_of(sc: &Scenario) -> Vec<Option<SimDuration>> {
    let mut crash_mtbf: Vec<Option<SimDuration>> = vec![None; sc.apps.len()];
    for f in &sc.faults {
        if let Fault::MachineCrashes { app, mtbf } = f {
            for (ai, slot) in crash_mtbf.iter_mut().enumerate() {
                if app.is_none_or(|a| a == ai) {
                    *slot = Some(*mtbf);
                }
            }
        }
    }
    crash_mtbf
}

impl Faults {
    /// The scenario's faults: a failure process per host in scope, the hosts of scheduled
    /// outages (a Machine's host as placed at time 0), crash rates per app.
    pub fn new(sc: &Scenario, hosts: &Hosts, fleet: &Fleet, streams: &RngStreams) -> Self {
        let mut processes = Vec::new();
        let mut outage_hosts = Vec::new();
        let crash_mtbf = crash_mtbf_of(sc);
        for (fi, f) in sc.faults.iter().enumerate() {
            let mut hs = Vec::new();
            match f {
                Fault::HostFailures {
                    regions,
                    ttf,
                    repair,
                } => {
                    for (h, host) in hosts.as_slice().iter().enumerate() {
                        if regions.is_empty() || regions.contains(&(host.region as usize)) {
                            processes.push(FailureProcess {
                                host: HostId::at(h),
                                ttf: *ttf,
                                repair: *repair,
                                rng: streams.stream(&format!("faults/{fi}/{h}")),
                            });
                        }
                    }
                }
                Fault::Outage { target, .. } => match target {
                    OutageTarget::Host(r, i) => hs.push(hosts.in_region(*r)[*i]),
                    OutageTarget::Region(r) => hs.extend(hosts.in_region(*r)),
                    OutageTarget::MachineHost(a, ordinal) => {
                        if let Some(id) = fleet.by_ordinal(*a, *ordinal) {
                            hs.push(fleet[id].host);
                        }
                    }
                },
                Fault::MachineCrashes { .. } => {}
            }
            outage_hosts.push(hs);
        }
        Faults {
            processes,
            outage_hosts,
            crash_mtbf,
            rng_effects: streams.stream("faults/effects"),
            incidents: Vec::new(),
            failovers: Vec::new(),
            free_failovers: Vec::new(),
            retrying: 0,
        }
    }

    /// Host failures so far.
    pub fn incidents(&self) -> &[Incident] {
        &self.incidents
    }

    /// Requests failing over now.
    pub fn retrying(&self) -> u64 {
        self.retrying
    }
}

/// One host's random failure process.
pub(super) struct FailureProcess {
    /// The host it fails.
    pub host: HostId,
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
    pub host: HostId,
    /// Its region.
    pub region: u16,
    /// Machines on it.
    pub machines: Vec<MachineId>,
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
    /// Schedules the first random failures and the scheduled outages.
    pub(super) fn seed_faults(&mut self) {
        for process in 0..self.faults.processes.len() {
            let first = self.faults.processes[process].next_failure();
            self.engine.schedule_at(
                SimTime::ZERO + first,
                Event::RandomFailure {
                    process: process as u32,
                },
            );
        }
        for (fi, f) in self.sc.faults.iter().enumerate() {
            if let Fault::Outage { at, duration, .. } = f {
                let start = SimTime(at.0);
                self.engine
                    .schedule_at(start, Event::OutageStart { fault: fi as u32 });
                self.engine
                    .schedule_at(start + *duration, Event::OutageEnd { fault: fi as u32 });
            }
        }
    }

    /// A scheduled outage begins (`down`) or ends.
    pub(super) fn on_outage(&mut self, fault: usize, down: bool) {
        for i in 0..self.faults.outage_hosts[fault].len() {
            let h = self.faults.outage_hosts[fault][i];
            if down {
                self.host_down(h);
            } else {
                self.host_up(h);
            }
        }
    }

    /// A request waiting to fail over tries another Machine.
    pub(super) fn on_retry(&mut self, request: u32) {
        self.faults.retrying -= 1;
        let f = self.faults.failovers[request as usize];
        self.faults.free_failovers.push(request);
        self.dispatch(f.app.index(), f.request, Some(f.avoid));
    }

    /// Failed requests so far, all apps.
    fn failed_so_far(&self) -> u64 {
        self.rec.apps.iter().map(|c| c.failed_total()).sum()
    }

    /// A random failure process fires.
    pub(super) fn on_random_failure(&mut self, process: usize) {
        let p = &mut self.faults.processes[process];
        let host = p.host;
        let repair = p.repair_time();
        let process = process as u32;
        self.engine
            .schedule_in(repair, Event::RandomRepair { process });
        self.host_down(host);
    }

    /// A random failure's repair completes.
    pub(super) fn on_random_repair(&mut self, process: usize) {
        let p = &mut self.faults.processes[process];
        let host = p.host;
        let next = p.next_failure();
        let process = process as u32;
        self.engine
            .schedule_in(next, Event::RandomFailure { process });
        self.host_up(host);
    }

    /// A host goes down (outages can overlap: it is down while any lasts).
    pub(super) fn host_down(&mut self, host: HostId) {
        let now = self.now();
        let h = &mut self.hosts[host];
        h.outages += 1;
        if h.outages > 1 {
            return;
        }
        h.detected = false;
        h.used_cpus = 0;
        h.used_mb = 0;
        let detect_at = self.engine.now() + self.sc.platform.failure_detection;
        let token = h.detection.arm();
        let region = h.region;
        let incident = self.faults.incidents.len() as u32;
        let failed_at_start = self.failed_so_far();
        self.hosts[host].incident = Some(incident);
        let on_host = self.hosts.machines_on(host).to_vec();
        self.faults.incidents.push(Incident {
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
        self.engine
            .schedule_at(detect_at, Event::FailureDetected { host, token });
    }

    fn machine_down(&mut self, id: MachineId, incident: u32) {
        let now = self.now();
        if self.fleet[id].state == MState::Down {
            return;
        }
        // Everything in flight there fails.
        let lost = self.kill_in_service(id, FailReason::HostFailure)
            + self.fail_pending(id, FailReason::HostFailure);
        self.faults.incidents[incident as usize].requests_failed_on_host += lost;
        let m = &mut self.fleet[id];
        m.before_down = m.state;
        m.holds_host = false;
        m.connect.cancel();
        m.restart_after_stop = false;
        if let Some(gb) = self.sc.apps[m.app.index()].groups[m.group as usize].volume_gb {
            let p = self.sc.platform.volume_loss_probability;
            if gb > 0.0 && p > 0.0 && self.faults.rng_effects.random::<f64>() < p {
                m.volume_lost = true;
                let inc = &mut self.faults.incidents[incident as usize];
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
    pub(super) fn on_failure_detected(&mut self, host: HostId) {
        let now = self.now();
        let h = &mut self.hosts[host];
        h.detected = true;
        let incident = h.incident;
        // The proxy sees its Machines as down now.
        self.proxy
            .reband_host(world!(self), self.hosts.machines_on(host));
        let Some(incident) = incident else { return };
        self.faults.incidents[incident as usize].detected = Some(now);
        for id in self.hosts.machines_on(host).to_vec() {
            let before = self.fleet[id].before_down;
            if !matches!(before, MState::Started | MState::Starting) {
                continue;
            }
            for s in self.fleet.standbys_of(id).to_vec() {
                let sm = &self.fleet[s];
                if sm.state == MState::Stopped
                    && self.hosts[sm.host].outages == 0
                    && self.begin_start(s, false)
                {
                    self.fleet[s].taking_over = Some(incident);
                }
            }
        }
    }

    /// A host comes back: its Machines return to their state before the failure.
    pub(super) fn host_up(&mut self, host: HostId) {
        let now = self.now();
        let h = &mut self.hosts[host];
        h.outages = h.outages.saturating_sub(1);
        if h.outages > 0 {
            return;
        }
        h.detected = false;
        h.detection.cancel();
        let incident = h.incident.take();
        if let Some(i) = incident {
            self.faults.incidents[i as usize].host_back = Some(now);
        }
        for id in self.hosts.machines_on(host).to_vec() {
            let m = &self.fleet[id];
            if m.state != MState::Down || m.volume_lost {
                continue;
            }
            match m.before_down {
                MState::Started | MState::Starting => {
                    self.transition(id, MState::Stopped);
                    if self.begin_start(id, false) {
                        self.fleet[id].recovering = incident;
                        if let Some(i) = incident {
                            self.faults.incidents[i as usize].to_recover += 1;
                        }
                    }
                }
                MState::Suspending | MState::Suspended => {
                    let vm = self.fleet[id].vm;
                    self.hosts[host].hold(&vm);
                    self.fleet[id].holds_host = true;
                    self.transition(id, MState::Suspended);
                }
                _ => self.transition(id, MState::Stopped),
            }
        }
        // Machines still down (a lost volume) look again as they were before the failure.
        self.proxy
            .reband_host(world!(self), self.hosts.machines_on(host));
        if let Some(i) = incident {
            let failed = self.failed_so_far();
            let inc = &mut self.faults.incidents[i as usize];
            if inc.to_recover == 0 {
                inc.recovered = Some(now);
                inc.requests_failed_during = failed - inc.failed_at_start;
            }
        }
    }

    /// Bookkeeping when a Machine becomes started: recoveries, takeovers, standbys that step
    /// back, and the next crash.
    pub(super) fn on_started(&mut self, id: MachineId) {
        let now = self.now();
        if let Some(i) = self.fleet[id].recovering.take() {
            self.recovery_settled(i);
            if self.sc.platform.standby_on_host_return == StandbyReturn::StandbyStops {
                for s in self.fleet.standbys_of(id).to_vec() {
                    let sm = &mut self.fleet[s];
                    if sm.state == MState::Started && sm.taking_over.is_some() {
                        sm.taking_over = None;
                        self.begin_drain(s, DrainTo::Stop);
                    }
                }
            }
        }
        if let Some(i) = self.fleet[id].taking_over {
            let inc = &mut self.faults.incidents[i as usize];
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
        let inc = &mut self.faults.incidents[i as usize];
        inc.to_recover = inc.to_recover.saturating_sub(1);
        if inc.to_recover == 0 && inc.recovered.is_none() {
            inc.recovered = Some(now);
            inc.requests_failed_during = failed - inc.failed_at_start;
        }
    }

    /// Draws when Machine `id` crashes next, if crashes are modelled for its app.
    pub(super) fn schedule_crash(&mut self, id: MachineId) {
        let app = self.fleet[id].app.index();
        let mtbf = match self.fleet[id].version {
            0 => self.faults.crash_mtbf[app],
            v => self.deploys.version(v).crash_mtbf,
        };
        let Some(mtbf) = mtbf else {
            return;
        };
        let e: f64 = self.fleet.crash_rng(self.sc, id).sample(Exp1);
        let at = self.engine.now() + SimDuration((e * mtbf.0 as f64).round() as u64);
        let token = self.fleet[id].lifecycle.arm();
        self.engine
            .schedule_at(at, Event::Crash { machine: id, token });
    }

    /// A running Machine crashes: its requests fail; its restart policy decides what follows
    /// (Fly's default for Machines of `fly deploy` is on-failure, 10 retries in 5 minutes).
    pub(super) fn on_crash(&mut self, id: MachineId) {
        let now = self.now();
        if self.fleet[id].state != MState::Started {
            return;
        }
        self.kill_in_service(id, FailReason::Crashed);
        let m = &self.fleet[id];
        let app = &self.sc.apps[m.app.index()];
        let policy = app.groups[m.group as usize]
            .restart
            .unwrap_or(crate::scenario::fly::Restart::OnFailure(10));
        let m = &mut self.fleet[id];
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
    pub(super) fn dead_route(&mut self, id: MachineId, app: usize, req: Request) {
        let (arrived, retries) = (req.arrived, req.retries);
        let now = self.now();
        let host = self.fleet[id].host;
        if (retries as u32) + 1 < self.sc.platform.failover_attempts {
            let faults = &mut self.faults;
            faults.retrying += 1;
            let delay = self.sc.platform.dead_retry_delay;
            let f = Failover {
                app: AppId::at(app),
                avoid: id,
                request: Request {
                    retries: retries + 1,
                    ..req
                },
            };
            let request = match faults.free_failovers.pop() {
                Some(i) => {
                    faults.failovers[i as usize] = f;
                    i
                }
                None => {
                    faults.failovers.push(f);
                    (faults.failovers.len() - 1) as u32
                }
            };
            self.engine.schedule_in(delay, Event::Retry { request });
        } else {
            let route = req.route as usize;
            self.rec
                .failed(app, route, now, arrived, FailReason::HostFailure);
            if let Some(i) = self.hosts[host].incident {
                self.faults.incidents[i as usize].requests_failed_on_host += 1;
            }
        }
    }

    /// Closes open incidents at the end of the run.
    pub(super) fn close_incidents(&mut self) {
        let failed = self.failed_so_far();
        for inc in &mut self.faults.incidents {
            if inc.recovered.is_none() {
                inc.requests_failed_during = failed - inc.failed_at_start;
            }
        }
    }
}
