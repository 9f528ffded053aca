//! A Machine's lifecycle during the run: starts (boot or resume), drains, stops and suspends,
//! the connect timeout of requests waiting for a boot, resizes, and what a Machine holds on
//! its host.
//!
//! Handlers of `BootDone`, `DrainDeadline`, `StopDone` and `ConnectCheck`. Every transition
//! goes through [`Sim::transition`], which checks it against the graph
//! ([`super::machine::MState::can_go_to`]), cancels the Machine's lifecycle timer, and tells
//! the census and the proxy.

use rand::RngExt;

use super::machine::{DrainTo, MState, Request, SnapshotLoss};
use super::{Event, MachineId, Sim};
use crate::engine::SimDuration;
use crate::metrics::FailReason;
use crate::scenario::VmSize;
use crate::workload::sample_ns;

impl Sim<'_> {
    /// Moves Machine `id` to `to` now.
    pub(super) fn transition(&mut self, id: MachineId, to: MState) {
        let now = self.now();
        if self.fleet[id].quota.is_some() {
            self.quota_transition(id, to);
        }
        if self.fleet[id].gate != 0 && to != MState::Started {
            self.gate_reset(id, to);
        }
        let m = &mut self.fleet[id];
        let from = m.go(to, now);
        self.census.moved(now, id, &self.fleet[id], from);
        self.reband(id);
    }

    /// The CPU-bound share `cpu_share` of an app boot of `app_boot` [ns] that begins `delay`
    /// [ns] from now on Machine `id`, just starting: its quota account follows the boot's CPU
    /// part, which runs at one vCPU while the balance lasts and at the baseline after; returns
    /// the start's whole duration [ns].
    #[cold]
    fn plan_boot_cpu(&mut self, id: MachineId, delay: u64, app_boot: u64, cpu_share: f64) -> u64 {
        let rules = super::cpu::Rules::of(&self.sc.platform.cpu, &self.fleet[id].vm);
        let Some(q) = &mut self.fleet[id].quota else {
            return delay + app_boot;
        };
        let work = app_boot as f64 * cpu_share;
        let cpu_time = q.boot_cpu_time(rules, delay as f64, work);
        q.boot = Some(super::cpu::BootCpu {
            delay: delay as f64,
            work,
        });
        delay + (app_boot as f64 - work + cpu_time).ceil() as u64
    }

    /// Machine `id`, which models CPU, moves to `to`: its quota account is brought up to now,
    /// then its balance moves only while its VM runs; a boot from stopped resets it when
    /// `cpu_balance_on_start = "reset"`.
    #[cold]
    fn quota_transition(&mut self, id: MachineId, to: MState) {
        self.ps_advance(id);
        let q_rules = self.sc.platform.cpu;
        let m = &mut self.fleet[id];
        let from = m.state;
        let rules = super::cpu::Rules::of(&q_rules, &m.vm);
        let Some(q) = &mut m.quota else { return };
        if from == MState::Starting {
            q.boot = None; // done, or cut short
        }
        q.running = matches!(
            to,
            MState::Starting | MState::Started | MState::Stopping | MState::Suspending
        );
        if q_rules.reset_on_start && from == MState::Stopped && to == MState::Starting {
            q.balance = rules.initial(&q_rules);
        }
        q.update_throttle(rules, m.ps_jobs.len());
    }

    /// Starts a stopped, suspended or suspending Machine. Returns false when its host has no
    /// room.
    pub(super) fn begin_start(&mut self, id: MachineId, by_proxy: bool) -> bool {
        let now = self.now();
        let sc = self.sc;
        let m = &self.fleet[id];
        let app = &sc.apps[m.app.index()];
        // A suspending Machine's start cancels the snapshot and un-pauses the VM (Fly's
        // interruptible suspend); it is taken to last a resume.
        let interrupt = m.state == MState::Suspending;
        let resume = m.state == MState::Suspended || interrupt;
        let mut migrate = SimDuration::ZERO;
        if !m.holds_host {
            let vm = m.vm;
            if !self.hosts[m.host].fits(&vm) {
                match self.migration_target(id) {
                    Some(to) => {
                        let from = self.fleet[id].host;
                        self.hosts.remove_machine(from, id);
                        self.fleet.moved(id, to);
                        self.hosts.add_machine(to, id);
                        migrate = sc.platform.migrate_time;
                    }
                    None => {
                        self.fleet[id].failed_starts += 1;
                        return false;
                    }
                }
            }
            self.hosts[self.fleet[id].host].hold(&vm);
        }
        let p = &sc.platform;
        let rng = self.fleet.rng(sc, id);
        let lost_snapshot = resume
            && !interrupt
            && p.snapshot_loss_probability > 0.0
            && rng.random::<f64>() < p.snapshot_loss_probability;
        let version = self.fleet[id].version;
        let boot_of = match version {
            0 => &app.app_boot,
            v => &self.deploys.version(v).app_boot,
        };
        let rng = self.fleet.rng(sc, id);
        let (vm_boot, app_boot) = if resume && !lost_snapshot {
            (sample_ns(&p.resume_time, rng), 0)
        } else {
            (sample_ns(&p.boot_time, rng), sample_ns(boot_of, rng))
        };
        let mut duration = migrate.0 + vm_boot + app_boot;
        self.transition(id, MState::Starting);
        if app.app_boot_cpu > 0.0 && app_boot > 0 {
            duration = self.plan_boot_cpu(id, migrate.0 + vm_boot, app_boot, app.app_boot_cpu);
        }
        let m = &mut self.fleet[id];
        m.book.snapshots_lost += u32::from(lost_snapshot);
        m.book.vm_up_at = now + SimDuration(migrate.0 + vm_boot);
        m.holds_host = true;
        m.ready_at = now + SimDuration(duration);
        m.starts += 1;
        if by_proxy {
            m.autostarts += 1;
        }
        if resume {
            m.resumes += 1;
        }
        let ready = m.ready_at;
        let token = m.lifecycle.arm();
        self.engine
            .schedule_at(ready, Event::BootDone { machine: id, token });
        self.arm_connect_check(id);
        true
    }

    pub(super) fn on_boot_done(&mut self, id: MachineId) {
        let now = self.now();
        self.transition(id, MState::Started);
        let m = &mut self.fleet[id];
        m.started_at = now;
        m.connect.cancel();
        let app = m.app.index();
        self.reband(id);
        while let Some(p) = self.fleet[id].take_pending() {
            self.rec.cold_wait(app, now - p.assigned);
            self.begin_service(
                id,
                p.arrived,
                p.service_ns,
                p.wait_ns,
                p.client,
                p.flags,
                p.svc,
            );
        }
        // A Machine with health checks takes queued requests once they pass.
        match self.checks_of(id) {
            Some(checks) => self.begin_checks(id, checks),
            None => self.feed_from_queue(id),
        }
        if self.fleet[id].load() == 0 {
            self.became_idle(id);
        }
        self.on_started(id);
        self.update_finished(id, true);
        self.deploy_started(id);
    }

    /// Begins stopping or suspending a started Machine: drain, then stop.
    pub(super) fn begin_drain(&mut self, id: MachineId, to: DrainTo) {
        let target = if to == DrainTo::Suspend {
            MState::Suspending
        } else {
            MState::Stopping
        };
        self.transition(id, target);
        let kill_timeout = self.sc.apps[self.fleet[id].app.index()].kill_timeout;
        let m = &mut self.fleet[id];
        m.drain_to = to;
        m.drained = false;
        if m.in_service == 0 {
            self.drained(id);
        } else {
            let at = self.engine.now() + kill_timeout;
            let token = m.lifecycle.arm();
            self.engine
                .schedule_at(at, Event::DrainDeadline { machine: id, token });
        }
    }

    /// The drain reached `kill_timeout`: what is left in service is killed.
    pub(super) fn on_drain_deadline(&mut self, id: MachineId) {
        self.kill_in_service(id, FailReason::Killed);
        self.drained(id);
    }

    /// The drain is over: schedule the stop (platform overhead) or the suspend (snapshot).
    /// Arming the stop cancels the drain deadline.
    pub(super) fn drained(&mut self, id: MachineId) {
        let sc = self.sc;
        let p = &sc.platform;
        let delay = match self.fleet[id].drain_to {
            DrainTo::Stop => p.stop_overhead,
            DrainTo::Suspend => {
                // The snapshot copies the Machine's memory: longer for larger Machines.
                let gb = self.fleet[id].vm.memory_mb as f64 / 1024.0;
                let copy = SimDuration::from_secs_f64(p.suspend_per_gb.as_secs_f64() * gb);
                SimDuration(sample_ns(&p.suspend_time, self.fleet.rng(sc, id))) + copy
            }
        };
        let at = self.engine.now() + delay;
        let m = &mut self.fleet[id];
        m.drained = true;
        let token = m.lifecycle.arm();
        self.engine
            .schedule_at(at, Event::StopDone { machine: id, token });
    }

    /// Fails every request still in service on `id`; returns how many.
    pub(super) fn kill_in_service(&mut self, id: MachineId, reason: FailReason) -> u64 {
        let now = self.now();
        let m = &mut self.fleet[id];
        let app = m.app.index();
        if m.quota.is_some() {
            self.ps_advance(id);
        }
        let m = &mut self.fleet[id];
        m.service_epoch.bump();
        m.ps.cancel();
        let first_route = m.first_route as usize;
        let mut arrivals: Vec<(u64, u8)> = m.ps_jobs.drain().map(|j| (j.arrived, j.svc)).collect();
        let mut free = vec![false; m.slots.len()];
        for &s in &m.free_slots {
            free[s as usize] = true;
        }
        arrivals.extend(
            m.slots
                .iter()
                .zip(&free)
                .filter(|(_, f)| !**f)
                .map(|(a, _)| (a.arrived, a.svc)),
        );
        m.slots.clear();
        m.free_slots.clear();
        m.in_service = 0;
        m.recount_after_kill();
        let vm = m.vm;
        if let Some(q) = &mut m.quota {
            q.update_throttle(super::cpu::Rules::of(&self.sc.platform.cpu, &vm), 0);
        }
        self.reband(id);
        let n = arrivals.len() as u64;
        for (a, svc) in arrivals {
            let route = first_route + svc as usize;
            self.rec
                .failed(app, route, now, crate::engine::SimTime(a), reason);
        }
        n
    }

    pub(super) fn on_stop_done(&mut self, id: MachineId) {
        match self.fleet[id].drain_to {
            DrainTo::Suspend => {
                self.transition(id, MState::Suspended);
                self.fleet[id].suspends += 1;
            }
            DrainTo::Stop => {
                self.transition(id, MState::Stopped);
                self.fleet[id].stops += 1;
                self.release_host(id);
            }
        }
        // An update takes its new size while stopped; a crash under a restart policy boots it
        // again; requests sent to it while it stopped wake it (the proxy's "recently stopped"
        // path).
        self.update_stopped(id);
        self.deploy_stopped(id);
        let restart = std::mem::take(&mut self.fleet[id].restart_after_stop);
        let wanted = !self.fleet[id].pending.is_empty();
        if (restart || wanted) && !self.begin_start(id, wanted) {
            self.fail_pending(id, FailReason::StartFailed);
            self.update_finished(id, false);
            self.deploy_start_failed(id);
        }
    }

    /// Fails every request waiting for Machine `id` to boot; returns how many.
    pub(super) fn fail_pending(&mut self, id: MachineId, reason: FailReason) -> u64 {
        let app = self.fleet[id].app.index();
        let now = self.now();
        let mut n = 0;
        while let Some(p) = self.fleet[id].take_pending() {
            self.rec
                .failed(app, p.route as usize, now, p.arrived, reason);
            n += 1;
        }
        self.reband(id);
        n
    }

    /// Arms the connect-timeout check for the oldest request waiting on `id`, when it could
    /// expire before the Machine is ready.
    pub(super) fn arm_connect_check(&mut self, id: MachineId) {
        let timeout = self.sc.platform.connect_timeout;
        let m = &mut self.fleet[id];
        let Some(head) = m.pending.front() else {
            return;
        };
        let deadline = head.assigned + timeout;
        if m.state == MState::Starting && m.ready_at <= deadline {
            return;
        }
        if !(m.connect.is_armed() && m.connect_at == deadline) {
            m.connect_at = deadline;
            let token = m.connect.arm();
            self.engine
                .schedule_at(deadline, Event::ConnectCheck { machine: id, token });
        }
    }

    /// The oldest request waiting on `id` reached the connect timeout: those that did give
    /// up on it and try again elsewhere, or fail when their retries are spent.
    pub(super) fn on_connect_check(&mut self, id: MachineId) {
        let now = self.now();
        let m = &self.fleet[id];
        if m.state == MState::Started {
            return;
        }
        let timeout = self.sc.platform.connect_timeout;
        let retries_allowed = self.sc.platform.connect_retries;
        let app = m.app.index();
        while let Some(head) = self.fleet[id].pending.front().copied() {
            if head.assigned + timeout > now {
                break;
            }
            self.fleet[id].take_pending();
            self.reband(id);
            if (head.retries as u32) < retries_allowed {
                self.rec.retried(app);
                let req = Request {
                    retries: head.retries + 1,
                    ..head.request()
                };
                self.dispatch(app, req, Some(id));
            } else {
                let route = head.route as usize;
                self.rec
                    .failed(app, route, now, head.arrived, FailReason::StartTimeout);
            }
        }
        self.arm_connect_check(id);
    }

    /// Where a stopped Machine whose host is full moves to start, if it may
    /// ([`super::placement::may_migrate`]): another host of its region that is up and has
    /// room, chosen like a new Machine's.
    fn migration_target(&self, id: MachineId) -> Option<super::HostId> {
        let m = &self.fleet[id];
        if !super::placement::may_migrate(self.sc, m) {
            return None;
        }
        // A standby and the Machine it watches never share a host (Fly places standbys on
        // other hosts), so a move avoids the hosts of the one and of the other.
        let mut avoid = vec![m.host];
        avoid.extend(
            self.fleet
                .standbys_of(id)
                .iter()
                .map(|&s| self.fleet[s].host),
        );
        if m.is_standby {
            avoid.extend(
                self.fleet
                    .ids()
                    .filter(|&w| self.fleet.standbys_of(w).contains(&id))
                    .map(|w| self.fleet[w].host),
            );
        }
        super::placement::choose_host(
            self.hosts.as_slice(),
            self.hosts.in_region(m.region as usize),
            self.fleet.app_on_host(m.app.index()),
            &avoid,
            Some(&m.vm),
        )
        .filter(|h| !avoid.contains(h))
    }

    /// A suspended Machine's snapshot is dropped (`why`): it becomes stopped, gives back its
    /// host's CPU and memory, and its next start boots cold. The one place every cause that
    /// comes before a start goes through (updates now; deploys and host moves later); a loss
    /// found at a resume is drawn in [`Sim::begin_start`] and counted there.
    pub(super) fn drop_snapshot(&mut self, id: MachineId, why: SnapshotLoss) {
        debug_assert_eq!(self.fleet[id].state, MState::Suspended, "{why:?}");
        self.release_host(id);
        self.transition(id, MState::Stopped);
        self.fleet[id].book.snapshots_lost += 1;
    }

    /// Machine `id` gives its host's CPU and memory back (stopped, destroyed, or a snapshot
    /// dropped).
    pub(super) fn release_host(&mut self, id: MachineId) {
        let m = &mut self.fleet[id];
        if std::mem::take(&mut m.holds_host) {
            self.hosts[m.host].release(&m.vm);
        }
    }

    /// Changes Machine `id`'s size from now on (it holds no host resources).
    pub(super) fn resize(&mut self, id: MachineId, vm: VmSize) {
        let now = self.now();
        let m = &self.fleet[id];
        debug_assert!(!m.holds_host);
        let rate = self
            .sc
            .started_price(m.app.index(), m.group as usize, m.region as usize, &vm);
        self.billing.resize(&mut self.fleet[id], now, vm, rate);
        let cap = super::cpu::Rules::of(&self.sc.platform.cpu, &vm).cap;
        if let Some(q) = &mut self.fleet[id].quota {
            q.balance = q.balance.min(cap);
        }
    }
}
