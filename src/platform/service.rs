//! A request's path through a Machine: arrival, the proxy's decision, service under the app's
//! model (independent, or processor sharing over the Machine's vCPUs), the proxy queue and
//! its expiry.
//!
//! Handlers of `Arrival`, `RequestDone`, `PsDone` and `QueueExpire`. The in-service state
//! (slots, processor-sharing jobs) lives on each Machine; the queue on the proxy.

use super::machine::{InService, MState, PsJob, Request, flags};
use super::proxy::{self, Queued};
use super::{Event, MachineId, Sim, cpu, world};
use crate::engine::timer::Token;
use crate::engine::{SimDuration, SimTime};
use crate::metrics::FailReason;
use crate::scenario::ServiceModel;

impl Sim<'_> {
    pub(super) fn on_arrival(&mut self, s: usize) {
        let now = self.now();
        let src = &mut self.sources[s];
        let app = src.app as usize;
        let (svc, route) = (src.service, src.route);
        let client = src.client();
        let (service_ns, wait_ns) = src.work.sample(&mut src.service_rng);
        if let Some(t) = src.next(Some(now)) {
            self.engine
                .schedule_at(t, Event::Arrival { source: s as u32 });
        }
        if src.shared {
            self.rec.routes[route as usize][0] += 1;
        }
        self.rec.arrived(app, now, client);
        let req = Request {
            arrived: now,
            service_ns,
            wait_ns,
            client,
            retries: 0,
            flags: 0,
            svc,
            route,
        };
        self.dispatch(app, req, None);
    }

    /// Routes a request of app `app` to its service (avoiding Machine `avoid`, which just
    /// failed it) and acts on the decision.
    pub(super) fn dispatch(&mut self, app: usize, req: Request, avoid: Option<MachineId>) {
        let now = self.now();
        let route = req.route as usize;
        match self
            .proxy
            .route(world!(self), route, req.client, avoid, now)
        {
            proxy::Route::Serve(m) | proxy::Route::Wait(m)
                if self.fleet[m].state == MState::Down =>
            {
                self.dead_route(m, app, req)
            }
            proxy::Route::Serve(m) => self.begin_service(
                m,
                req.arrived,
                req.service_ns,
                req.wait_ns,
                req.client,
                req.flags,
                req.svc,
            ),
            proxy::Route::Wait(m) => self.wait_on(m, req),
            proxy::Route::Wake(m) => {
                if self.begin_start(m, true) {
                    self.wait_on(m, req);
                } else {
                    self.rec
                        .failed(app, route, now, req.arrived, FailReason::StartFailed);
                }
            }
            // The start is counted when the stop completes (see `on_stop_done`).
            proxy::Route::WakeAfterStop(m) => self.wait_on(m, req),
            proxy::Route::Interrupt(m) => {
                self.begin_start(m, true);
                self.wait_on(m, req);
            }
            proxy::Route::Queue => {
                self.proxy.queue(route).push_back(Queued {
                    arrived: req.arrived,
                    enqueued: now,
                    service_ns: req.service_ns,
                    wait_ns: req.wait_ns,
                    client: req.client,
                });
                self.rec.queued(app);
                self.arm_queue_expiry(route);
            }
            proxy::Route::Fail(reason) => self.rec.failed(app, route, now, req.arrived, reason),
        }
    }

    /// Sends a request to a Machine that is not started yet: it waits for the boot.
    pub(super) fn wait_on(&mut self, id: MachineId, req: Request) {
        let now = self.now();
        let m = &mut self.fleet[id];
        if req.flags & flags::COLD == 0 {
            self.rec.cold_start(m.app.index());
        }
        m.last_used = now;
        m.count_in(req.svc);
        m.pending.push_back(super::machine::Pending {
            arrived: req.arrived,
            assigned: now,
            service_ns: req.service_ns,
            wait_ns: req.wait_ns,
            client: req.client,
            retries: req.retries,
            flags: req.flags | flags::COLD,
            svc: req.svc,
            route: req.route,
        });
        self.reband(id);
        self.arm_connect_check(id);
    }

    /// A request's work on a Machine of version `v`: its service time (CPU time and waiting)
    /// scaled by the version's factor.
    #[cold]
    fn version_work(&self, v: u16, service_ns: u64, wait_ns: u64) -> (u64, u64) {
        let f = self.deploys.version(v).service_factor;
        if f == 1.0 {
            return (service_ns, wait_ns);
        }
        let scale = |x: u64| (x as f64 * f).round() as u64;
        (scale(service_ns), scale(wait_ns))
    }

    /// Starts serving a request of service `svc` on a started Machine: `service_ns` of
    /// service (of CPU time under processor sharing), then `wait_ns` of waiting.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn begin_service(
        &mut self,
        id: MachineId,
        arrived: SimTime,
        service_ns: u64,
        wait_ns: u64,
        client: u16,
        fl: u8,
        svc: u8,
    ) {
        let now = self.now();
        let model = self.sc.apps[self.fleet[id].app.index()].service_model;
        // A deployed version may serve faster or slower.
        let (service_ns, wait_ns) = match self.fleet[id].version {
            0 => (service_ns, wait_ns),
            v => self.version_work(v, service_ns, wait_ns),
        };
        let m = &mut self.fleet[id];
        m.last_used = now;
        m.count_in(svc);
        m.in_service += 1;
        match model {
            ServiceModel::Independent => {
                let entry = InService {
                    arrived: arrived.0,
                    client,
                    flags: fl,
                    svc,
                };
                self.hold_in_slot(id, entry, now + SimDuration(service_ns));
            }
            ServiceModel::ProcessorSharing => {
                self.ps_advance(id);
                let m = &mut self.fleet[id];
                let finish = m.ps_vtime + service_ns as f64;
                let spells = m.quota.as_ref().map_or(0, |q| q.throttle_spells);
                m.ps_jobs.push(PsJob {
                    finish,
                    arrived: arrived.0,
                    client,
                    flags: fl,
                    svc,
                    wait_ns,
                    spells,
                });
                self.ps_reschedule(id);
            }
        }
        self.reband(id);
    }

    /// Keeps a request in service on Machine `id` in a slot until `done` (independent
    /// service, or the waiting after a request's CPU time).
    #[inline(always)]
    fn hold_in_slot(&mut self, id: MachineId, entry: InService, done: SimTime) {
        let m = &mut self.fleet[id];
        let slot = match m.free_slots.pop() {
            Some(s) => {
                m.slots[s as usize] = entry;
                s
            }
            None => {
                m.slots.push(entry);
                (m.slots.len() - 1) as u32
            }
        };
        let ev = Event::RequestDone {
            machine: id,
            epoch: m.service_epoch,
            slot,
        };
        self.engine.schedule_at(done, ev);
    }

    pub(super) fn on_request_done(&mut self, id: MachineId, epoch: Token, slot: u32) {
        let m = &mut self.fleet[id];
        if m.service_epoch != epoch {
            return; // killed with its Machine's drain
        }
        m.free_slots.push(slot);
        let r = m.slots[slot as usize];
        self.complete(id, SimTime(r.arrived), r.client, r.flags, r.svc);
    }

    /// A request of service `svc` finished on Machine `id`.
    fn complete(&mut self, id: MachineId, arrived: SimTime, client: u16, fl: u8, svc: u8) {
        let now = self.now();
        let m = &mut self.fleet[id];
        m.in_service -= 1;
        m.count_out(svc);
        m.served += 1;
        let (app, region) = (m.app.index(), m.region as usize);
        if !m.svc_load.is_empty() {
            self.rec.routes[m.first_route as usize + svc as usize][1] += 1;
        }
        if fl & flags::THROTTLED != 0 {
            self.rec.apps[app].served_throttled += 1;
        }
        self.reband(id);
        self.autoscale.response(id, now - arrived);
        let rtt = self.sc.rtt[client as usize][region];
        self.rec.served(
            app,
            now,
            arrived,
            rtt,
            fl & flags::COLD != 0,
            client as usize != region,
        );
        self.after_load_drop(id);
    }

    fn after_load_drop(&mut self, id: MachineId) {
        let m = &self.fleet[id];
        match m.state {
            MState::Started => {
                self.feed_from_queue(id);
                if self.fleet[id].load() == 0 {
                    self.became_idle(id);
                }
            }
            MState::Stopping | MState::Suspending if m.in_service == 0 && !m.drained => {
                self.drained(id);
            }
            _ => {}
        }
    }

    /// Gives queued requests of each of its services to Machine `id` while it is under
    /// that service's hard limit.
    pub(super) fn feed_from_queue(&mut self, id: MachineId) {
        if !self.queues {
            return; // no request ever waits in a queue
        }
        let sc = self.sc;
        let m = &self.fleet[id];
        if !m.serves {
            return; // a worker takes no requests
        }
        let app = m.app.index();
        let route = m.first_route as usize;
        if let Some(hard) = self.proxy.sole_service_hard_limit(route) {
            // The common case: one service, one queue, most often empty.
            if self.proxy.queue_len(route) > 0 {
                self.feed_route(id, app, route, 0, hard);
            }
            return;
        }
        let a = &sc.apps[app];
        for &svc in &a.groups[m.group as usize].services {
            let hard = a.services[svc as usize].hard_limit;
            self.feed_route(id, app, a.first_route + svc as usize, svc, hard);
        }
    }

    /// Gives Machine `id` queued requests of route `route` (service `svc` of app `app`) while
    /// its load of that service is under `hard`.
    #[inline(always)]
    fn feed_route(&mut self, id: MachineId, app: usize, route: usize, svc: u8, hard: u32) {
        while self.fleet[id].load_for(svc) < hard {
            let Some(q) = self.proxy.queue(route).pop_front() else {
                break;
            };
            let now = self.now();
            self.rec.dequeued(app, now - q.enqueued);
            self.begin_service(
                id,
                q.arrived,
                q.service_ns,
                q.wait_ns,
                q.client,
                flags::QUEUED,
                svc,
            );
        }
    }

    /// Keeps the queue's expiry timer at the oldest request's deadline (deadlines are in
    /// queue order, as every request may wait the same `max_queue_wait`). A timer whose head
    /// was served meanwhile expires nothing and moves on to the new head when it fires.
    fn arm_queue_expiry(&mut self, route: usize) {
        let wait = self.proxy.queue_wait(route);
        let (queue, expiry) = self.proxy.queue_and_expiry(route);
        let Some(head) = queue.front() else { return };
        if expiry.is_armed() {
            return;
        }
        let at = head.enqueued + wait;
        let token = expiry.arm();
        let route = route as u32;
        self.engine
            .schedule_at(at, Event::QueueExpire { route, token });
    }

    pub(super) fn on_queue_expire(&mut self, route: usize, token: Token) {
        if !self.proxy.queue_and_expiry(route).1.fires(token) {
            return;
        }
        let now = self.now();
        let app = self.proxy.app_of(route);
        let wait = self.proxy.queue_wait(route);
        while let Some(q) = self.proxy.queue(route).front().copied() {
            if q.enqueued + wait > now {
                break;
            }
            self.proxy.queue(route).pop_front();
            self.rec.dequeued(app, now - q.enqueued);
            self.rec
                .failed(app, route, now, q.arrived, FailReason::QueueTimeout);
        }
        self.arm_queue_expiry(route);
    }

    // ----- processor sharing ----------------------------------------------------------

    /// The rate at which each request in its CPU part runs on Machine `id` [vCPU]: its
    /// vCPUs shared equally, at most one each; under a CPU quota, what the quota lets the
    /// Machine use ([`super::cpu::usage`]) shared the same way.
    #[inline]
    fn ps_rate(&self, id: MachineId) -> f64 {
        let m = &self.fleet[id];
        let jobs = m.ps_jobs.len();
        if jobs == 0 {
            return 0.0;
        }
        match &m.quota {
            Some(q) if q.requests => {
                let rules = cpu::Rules::of(&self.sc.platform.cpu, &m.vm);
                cpu::usage(rules, q.balance, jobs) / jobs as f64
            }
            _ => (m.vm.cpus as f64 / jobs as f64).min(1.0),
        }
    }

    /// Machine `id`'s CPU quota account as it stands at `now` (not before its last change),
    /// if its app models CPU.
    pub fn quota_at(&self, id: MachineId, now: SimTime) -> Option<cpu::Quota> {
        let m = &self.fleet[id];
        let q = m.quota.as_ref()?;
        let rules = cpu::Rules::of(&self.sc.platform.cpu, &m.vm);
        Some(q.at(rules, self.cpu_use(id, self.ps_rate(id)), now.max(q.since)))
    }

    /// The CPU Machine `id`'s requests use while each runs at `rate` [vCPU]: none when its
    /// quota covers only its boot.
    #[inline]
    fn cpu_use(&self, id: MachineId, rate: f64) -> f64 {
        let m = &self.fleet[id];
        match &m.quota {
            Some(q) if q.requests => rate * m.ps_jobs.len() as f64,
            _ => 0.0,
        }
    }

    /// Brings Machine `id`'s processor sharing (and its CPU quota account) up to now.
    pub(super) fn ps_advance(&mut self, id: MachineId) {
        let now = self.now();
        let rate = self.ps_rate(id);
        let used = self.cpu_use(id, rate);
        let cpu_rules = &self.sc.platform.cpu;
        let m = &mut self.fleet[id];
        m.ps_vtime += (now.0 - m.ps_last.0) as f64 * rate;
        m.ps_last = now;
        if let Some(q) = &mut m.quota {
            q.advance(cpu::Rules::of(cpu_rules, &m.vm), used, now);
        }
    }

    /// Arms Machine `id`'s processor-sharing timer for its next change: the earliest CPU
    /// part done, or its CPU balance running out.
    pub(super) fn ps_reschedule(&mut self, id: MachineId) {
        let rate = self.ps_rate(id);
        let used = self.cpu_use(id, rate);
        let now = self.now();
        let cpu_rules = &self.sc.platform.cpu;
        let m = &mut self.fleet[id];
        let jobs = m.ps_jobs.len();
        let mut empties = None;
        if let Some(q) = &mut m.quota {
            let rules = cpu::Rules::of(cpu_rules, &m.vm);
            q.update_throttle(rules, jobs);
            empties = q.empties_in(rules, used);
        }
        match m.ps_jobs.peek() {
            Some(top) => {
                let mut dt = ((top.finish - m.ps_vtime) / rate).max(0.0);
                if let Some(e) = empties {
                    dt = dt.min(e);
                }
                let at = now + SimDuration(dt.ceil() as u64);
                let token = m.ps.arm();
                self.engine
                    .schedule_at(at, Event::PsDone { machine: id, token });
            }
            None => m.ps.cancel(),
        }
    }

    pub(super) fn on_ps_done(&mut self, id: MachineId, token: Token) {
        if !self.fleet[id].ps.fires(token) {
            return;
        }
        self.ps_advance(id);
        loop {
            let m = &mut self.fleet[id];
            match m.ps_jobs.peek() {
                Some(top) if top.finish <= m.ps_vtime + 0.5 => {
                    let job = m.ps_jobs.pop().expect("peeked");
                    self.cpu_part_done(id, job);
                }
                _ => break,
            }
        }
        self.ps_reschedule(id);
    }

    /// A request's CPU part is done on Machine `id`: it waits, if it has waiting left, else
    /// it is done.
    fn cpu_part_done(&mut self, id: MachineId, job: PsJob) {
        let mut fl = job.flags;
        if let Some(q) = &self.fleet[id].quota
            && (q.throttled || q.throttle_spells != job.spells)
        {
            fl |= flags::THROTTLED;
        }
        if job.wait_ns == 0 {
            self.complete(id, SimTime(job.arrived), job.client, fl, job.svc);
            return;
        }
        let entry = InService {
            arrived: job.arrived,
            client: job.client,
            flags: fl,
            svc: job.svc,
        };
        let done = self.now() + SimDuration(job.wait_ns);
        self.hold_in_slot(id, entry, done);
    }
}
