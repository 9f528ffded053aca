//! The world during a run: hosts, Machines, the proxy, autostart/autostop, faults, actions,
//! deploys, fly-autoscaler.
//!
//! The world is split into components, each owning its state: [`hosts::Hosts`] (capacity and
//! the Machines on each host), [`fleet::Fleet`] (every Machine, by typed [`ids`]), the
//! [`proxy::Proxy`] (routing state and the proxy queues), [`billing::Billing`] (prices),
//! [`census::Census`] (Machines per state over time), [`faults`] (failure processes and
//! incidents), [`autostop`] (the passes), [`actions`] (what each `[[action]]` did),
//! [`deploys`] (each `[[deploy]]` and the health checks) and [`autoscaler`] (the scrapes and
//! each app's reconciler). [`Sim`]
//! owns the components, the clock and the queue, and dispatches the closed [`Event`] enum.
//! An event usually touches several components, so its handler is an `impl Sim` block in the
//! file of the component it is about (`service.rs` for a request's path, `lifecycle.rs` for a
//! Machine's states, ...); policies are pure functions ([`proxy::tie_break`],
//! [`autostop::choose_victim`], [`placement::choose_host`]). Stale timers follow the one
//! scheme of [`crate::engine::timer`].
//!
//! Depends on `engine`, `scenario` (validated inputs), `metrics` and `workload`.

pub mod actions;
pub mod autoscaler;
pub mod autostop;
pub mod billing;
pub mod census;
pub mod cpu;
pub mod deploys;
pub mod faults;
pub mod fleet;
pub mod hosts;
pub mod ids;
mod lifecycle;
pub mod machine;
pub mod placement;
pub mod proxy;
mod route_index;
mod service;

use crate::engine::timer::Token;
use crate::engine::{Engine, RngStreams, SimTime};
use crate::metrics::Recorder;
use crate::scenario::Scenario;
use crate::workload::{self, Source};
pub use billing::CostSplit;
pub use census::{STATE_COLUMNS, Transition};
use fleet::Fleet;
use hosts::Hosts;
use ids::{AppId, HostId, MachineId};
use machine::{MState, Machine};
use proxy::Proxy;

/// Everything that can happen. Payloads are ids and small values, so events are `Copy`.
/// A timer event carries the [`Token`] of the timer it was armed on.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    /// Traffic source `source` produces a request.
    Arrival {
        /// Source index.
        source: u32,
    },
    /// A request finishes on `machine` (independent service model).
    RequestDone {
        /// The Machine.
        machine: MachineId,
        /// Its `service_epoch` when the request started.
        epoch: Token,
        /// Slot of the request in the Machine's in-service table (arrival, client, flags).
        slot: u32,
    },
    /// The earliest processor-sharing job on `machine` may be done (its `ps` timer).
    PsDone {
        /// The Machine.
        machine: MachineId,
        /// The timer's token.
        token: Token,
    },
    /// A boot or resume finishes (its lifecycle timer).
    BootDone {
        /// The Machine.
        machine: MachineId,
        /// The timer's token.
        token: Token,
    },
    /// A drain reached `kill_timeout`: kill what is left (its lifecycle timer).
    DrainDeadline {
        /// The Machine.
        machine: MachineId,
        /// The timer's token.
        token: Token,
    },
    /// A stop or suspend finishes (its lifecycle timer).
    StopDone {
        /// The Machine.
        machine: MachineId,
        /// The timer's token.
        token: Token,
    },
    /// A running Machine crashes (its lifecycle timer).
    Crash {
        /// The Machine.
        machine: MachineId,
        /// The timer's token.
        token: Token,
    },
    /// The oldest request waiting on a booting Machine reaches the connect timeout (its
    /// `connect` timer).
    ConnectCheck {
        /// The Machine.
        machine: MachineId,
        /// The timer's token.
        token: Token,
    },
    /// The app's idle-exit time may have passed for `machine` (its `idle` timer).
    IdleCheck {
        /// The Machine.
        machine: MachineId,
        /// The timer's token.
        token: Token,
    },
    /// The head of a route's proxy queue has waited `max_queue_wait` (the queue's timer).
    QueueExpire {
        /// The route (an app's service).
        route: u32,
        /// The timer's token.
        token: Token,
    },
    /// An autostop pass for one app in one region.
    AutostopPass {
        /// The app.
        app: AppId,
        /// Region index.
        region: u16,
    },
    /// A time-series bucket ends.
    BucketEnd,
    /// A random host-failure process fails its host.
    RandomFailure {
        /// Process index.
        process: u32,
    },
    /// A random host failure is repaired.
    RandomRepair {
        /// Process index.
        process: u32,
    },
    /// A scheduled outage begins.
    OutageStart {
        /// Index into the scenario's faults.
        fault: u32,
    },
    /// A scheduled outage ends.
    OutageEnd {
        /// Index into the scenario's faults.
        fault: u32,
    },
    /// The platform notices that a host failed (the host's `detection` timer).
    FailureDetected {
        /// The host.
        host: HostId,
        /// The timer's token.
        token: Token,
    },
    /// A request that was sent to a failed host tries another Machine.
    Retry {
        /// Index of the request in the failover pool.
        request: u32,
    },
    /// An `[[action]]`'s time has come.
    Action {
        /// Index into the scenario's actions.
        index: u32,
    },
    /// One create of an action finished.
    Created {
        /// Index into the scenario's actions.
        action: u32,
        /// Which of its creates.
        step: u32,
    },
    /// A `scale_vm` checks again whether its next Machine can be updated.
    UpdateNext {
        /// Index into the scenario's actions.
        action: u32,
    },
    /// A step of a `[[deploy]]` (`deploys::step`).
    Deploy {
        /// Index into the scenario's deploys.
        index: u32,
        /// Which step.
        step: u8,
        /// The step's argument (a Machine, a create, a phase's sequence number).
        arg: u32,
    },
    /// A Machine's health checks ran (its `health` timer).
    Health {
        /// The Machine.
        machine: MachineId,
        /// The timer's token.
        token: Token,
    },
    /// Prometheus scrapes the apps' metrics.
    Scrape,
    /// A step of an app's fly-autoscaler (`autoscaler::step`).
    Autoscale {
        /// The app.
        app: u16,
        /// Which step.
        step: u8,
    },
}

/// The proxy's view of the world, borrowed field by field so that the proxy itself can be
/// borrowed mutably beside it.
macro_rules! world {
    ($sim:ident) => {
        $crate::platform::proxy::World {
            sc: $sim.sc,
            machines: $sim.fleet.as_slice(),
            hosts: &$sim.hosts,
        }
    };
}
pub(crate) use world;

/// One run of a scenario.
pub struct Sim<'s> {
    sc: &'s Scenario,
    engine: Engine<Event>,
    end: SimTime,
    /// The run's stream factory (autostop phases of regions that get their first Machine).
    streams: RngStreams,
    hosts: Hosts,
    fleet: Fleet,
    proxy: Proxy,
    sources: Vec<Source>,
    billing: Billing,
    census: Census,
    faults: faults::Faults,
    passes: autostop::Passes,
    actions: Vec<actions::ActionRun>,
    deploys: deploys::Deploys,
    /// Scrapes and fly-autoscaler's reconcilers.
    autoscale: autoscaler::Store,
    /// Whether any request may wait in a proxy queue (else a request done skips the queues).
    queues: bool,
    /// Each deploy's stream (`deploy/<k>`), made at its first draw.
    deploy_rngs: Vec<Option<crate::engine::StreamRng>>,
    /// What the run measured.
    pub rec: Recorder,
    bucket_start: SimTime,
    /// Per region, the CPU accounts' totals at the last bucket's end (used, throttled,
    /// running, vCPU time) [ns], when the scenario models CPU.
    cpu_marks: Vec<[f64; 4]>,
    /// Events handled.
    pub events: u64,
}

use billing::Billing;
use census::Census;

impl<'s> Sim<'s> {
    /// Builds the world of `sc` for replication `replication`: hosts, Machines placed on them,
    /// traffic sources and the first events.
    pub fn new(sc: &'s Scenario, replication: u64) -> Self {
        let streams = RngStreams::new(sc.seed, replication);
        let mut hosts = Hosts::new(sc);
        let fleet = Fleet::build(sc, &mut hosts, streams);
        let end = SimTime(sc.duration.0);
        let sources = sc
            .apps
            .iter()
            .enumerate()
            .flat_map(|(ai, app)| app.traffic.iter().map(move |t| (ai, t)))
            .map(|(ai, t)| {
                let stop = t.end.map_or(end, |e| SimTime(e.0).min(end));
                let mut src = Source::new(
                    ai as u16,
                    &t.from,
                    t.shape.clone(),
                    SimTime(t.start.0),
                    stop,
                    streams.stream(&format!("traffic/{}", t.stream)),
                    streams.stream(&format!("service/{}", t.stream)),
                );
                src.service = t.service as u8;
                src.route = sc.route(ai, t.service) as u16;
                src.shared = sc.apps[ai].services.len() > 1;
                src.work = workload::Work::of(&sc.apps[ai], t.service_time);
                src
            })
            .collect();
        let mut sim = Sim {
            sc,
            engine: Engine::with_capacity(1024),
            end,
            proxy: Proxy::new(sc, &fleet, streams.stream("proxy")),
            faults: faults::Faults::new(sc, &hosts, &fleet, &streams),
            census: Census::new(sc, fleet.as_slice()),
            billing: Billing::new(sc),
            passes: autostop::Passes::new(sc),
            actions: sc
                .actions
                .iter()
                .map(|_| actions::ActionRun::default())
                .collect(),
            deploys: deploys::Deploys::new(sc, &faults::crash_mtbf_of(sc)),
            deploy_rngs: vec![None; sc.deploys.len()],
            autoscale: autoscaler::Store::new(sc),
            queues: false,
            rec: Recorder::new(
                sc.apps.len(),
                sc.route_count(),
                sc.regions.len(),
                sc.slo.latency_p99,
            ),
            bucket_start: SimTime::ZERO,
            cpu_marks: vec![[0.0; 4]; sc.regions.len()],
            events: 0,
            streams,
            hosts,
            fleet,
            sources,
        };
        sim.queues = sim.proxy.any_queue();
        sim.proxy.place_in_indexes(world!(sim));
        sim.seed_events();
        sim
    }

    /// Checks every routing decision against a scan of every Machine (slow; for tests): a
    /// difference panics, naming the simulated time.
    pub fn check_routing(&mut self, on: bool) {
        if on {
            self.proxy.check_routing(world!(self));
        }
    }

    /// Brings the proxy's view of Machine `id` up to date.
    #[inline]
    fn reband(&mut self, id: MachineId) {
        if self.proxy.keeps_bands_of(id) {
            let m = &self.fleet[id];
            let detected = self.hosts[m.host].detected;
            self.proxy.reband_indexed(self.sc, id, m, detected);
        }
    }

    fn seed_events(&mut self) {
        for s in 0..self.sources.len() {
            if let Some(t) = self.sources[s].next(None) {
                self.engine
                    .schedule_at(t, Event::Arrival { source: s as u32 });
            }
        }
        for ai in 0..self.sc.apps.len() {
            let routes = self.sc.route(ai, 0)..self.sc.route(ai, self.sc.apps[ai].services.len());
            for r in 0..self.sc.regions.len() {
                if routes
                    .clone()
                    .any(|route| !self.proxy.machines_in(route, r).is_empty())
                {
                    self.arm_autostop(ai, r);
                }
            }
        }
        for id in self.fleet.ids() {
            if self.fleet[id].state == MState::Started {
                self.became_idle(id);
                self.schedule_crash(id);
            }
        }
        self.seed_faults();
        for (i, a) in self.sc.actions.iter().enumerate() {
            self.engine
                .schedule_at(SimTime(a.at.0), Event::Action { index: i as u32 });
        }
        for (i, d) in self.sc.deploys.iter().enumerate() {
            self.engine.schedule_at(
                SimTime(d.at.0),
                Event::Deploy {
                    index: i as u32,
                    step: deploys::step::BEGIN,
                    arg: 0,
                },
            );
        }
        self.seed_autoscalers();
        self.engine
            .schedule_at(SimTime(self.sc.bucket.0.min(self.end.0)), Event::BucketEnd);
    }

    /// Keeps every lifecycle transition in [`Sim::trace`].
    pub fn with_trace(mut self) -> Self {
        self.census.trace = Some(Vec::new());
        self
    }

    /// The scenario being run.
    pub fn scenario(&self) -> &'s Scenario {
        self.sc
    }

    /// Current simulated time.
    pub fn now(&self) -> SimTime {
        self.engine.now()
    }

    /// Runs to the end of the scenario.
    pub fn run(&mut self) {
        self.run_until(self.end);
        self.finish();
    }

    /// Handles every event due no later than `until` (≤ the end of the run).
    pub fn run_until(&mut self, until: SimTime) {
        let until = until.min(self.end);
        while let Some(ev) = self.engine.next_until(until) {
            self.events += 1;
            self.handle(ev);
        }
        self.engine.advance_to(until);
    }

    fn finish(&mut self) {
        let now = self.end;
        self.census.finish(now);
        self.close_incidents();
        self.close_deploys();
        if self.bucket_start < now {
            self.close_bucket(now);
        }
        self.rec.finish(now);
    }

    /// The events of a request's path, inlined into the event loop.
    #[inline]
    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Arrival { source } => self.on_arrival(source as usize),
            Event::RequestDone {
                machine,
                epoch,
                slot,
            } => self.on_request_done(machine, epoch, slot),
            Event::PsDone { machine, token } => self.on_ps_done(machine, token),
            Event::BootDone { machine, token } => {
                if self.fleet[machine].lifecycle.fires(token) {
                    self.on_boot_done(machine);
                }
            }
            Event::DrainDeadline { machine, token } => {
                if self.fleet[machine].lifecycle.fires(token) {
                    self.on_drain_deadline(machine);
                }
            }
            Event::StopDone { machine, token } => {
                if self.fleet[machine].lifecycle.fires(token) {
                    self.on_stop_done(machine);
                }
            }
            Event::ConnectCheck { machine, token } => {
                if self.fleet[machine].connect.fires(token) {
                    self.on_connect_check(machine);
                }
            }
            Event::IdleCheck { machine, token } => {
                if self.fleet[machine].idle.fires(token) {
                    self.on_idle_check(machine);
                }
            }
            Event::QueueExpire { route, token } => self.on_queue_expire(route as usize, token),
            Event::AutostopPass { app, region } => {
                self.on_autostop_pass(app.index(), region as usize)
            }
            // Everything else changes the world rarely: faults, actions, buckets.
            ev => self.handle_rare(ev),
        }
    }

    /// The events that are not part of a request's path, kept out of the hot dispatch so that
    /// it stays small enough to inline into the event loop.
    #[cold]
    #[inline(never)]
    fn handle_rare(&mut self, ev: Event) {
        match ev {
            Event::RandomFailure { process } => self.on_random_failure(process as usize),
            Event::RandomRepair { process } => self.on_random_repair(process as usize),
            Event::OutageStart { fault } => self.on_outage(fault as usize, true),
            Event::OutageEnd { fault } => self.on_outage(fault as usize, false),
            Event::FailureDetected { host, token } => {
                if self.hosts[host].detection.fires(token) {
                    self.on_failure_detected(host);
                }
            }
            Event::Crash { machine, token } => {
                if self.fleet[machine].lifecycle.fires(token) {
                    self.on_crash(machine);
                }
            }
            Event::Retry { request } => self.on_retry(request),
            Event::Action { index } => self.on_action(index as usize),
            Event::Created { action, step } => self.on_created(action as usize, step as usize),
            Event::UpdateNext { action } => self.update_next(action as usize),
            Event::Deploy { index, step, arg } => self.on_deploy(index as usize, step, arg),
            Event::Health { machine, token } => {
                if self.fleet[machine].health.fires(token) {
                    self.on_health(machine);
                }
            }
            Event::Scrape => self.on_scrape(),
            Event::Autoscale { app, step } => self.on_autoscale(app as usize, step),
            Event::BucketEnd => {
                let now = self.now();
                self.close_bucket(now);
                let next = (now + self.sc.bucket).min(self.end);
                if next > now {
                    self.engine.schedule_at(next, Event::BucketEnd);
                }
            }
            Event::Arrival { .. }
            | Event::RequestDone { .. }
            | Event::PsDone { .. }
            | Event::BootDone { .. }
            | Event::DrainDeadline { .. }
            | Event::StopDone { .. }
            | Event::ConnectCheck { .. }
            | Event::IdleCheck { .. }
            | Event::QueueExpire { .. }
            | Event::AutostopPass { .. } => unreachable!("handled by `handle`"),
        }
    }

    fn close_bucket(&mut self, now: SimTime) {
        let machines = self.census.close_bucket(self.bucket_start, now);
        let cost = self.cost_until(now).total();
        self.rec
            .close_bucket(self.bucket_start, now, machines, cost);
        if self.sc.models_cpu() {
            let cpu = self.cpu_bucket(now);
            if let Some(row) = self.rec.rows.last_mut() {
                row.cpu = cpu;
            }
        }
        self.bucket_start = now;
    }

    /// The CPU columns of the bucket ending at `now` (see [`crate::metrics::BucketRow::cpu`]).
    fn cpu_bucket(&mut self, now: SimTime) -> Vec<f64> {
        let n = self.sc.regions.len();
        let mut totals = vec![[0.0f64; 4]; n];
        let mut balance = vec![(0.0f64, 0u32); n];
        for id in self.fleet.ids() {
            let Some(q) = self.quota_at(id, now) else {
                continue;
            };
            let r = self.fleet[id].region as usize;
            let t = &mut totals[r];
            t[0] += q.used;
            t[1] += q.throttled_ns;
            t[2] += q.running_ns;
            t[3] += q.vcpu_ns;
            if q.running {
                balance[r].0 += q.balance;
                balance[r].1 += 1;
            }
        }
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        let mut out = Vec::with_capacity(3 * n);
        for r in 0..n {
            let (t, m) = (totals[r], self.cpu_marks[r]);
            out.push(ratio(t[0] - m[0], t[3] - m[3]));
            out.push(ratio(balance[r].0, f64::from(balance[r].1)) / 1e9);
            out.push(ratio(t[1] - m[1], t[2] - m[2]));
        }
        self.cpu_marks = totals;
        out
    }

    /// Cost accrued from the start to `now`, split by component.
    pub fn cost_until(&self, now: SimTime) -> CostSplit {
        let mut c = CostSplit::default();
        for m in self.fleet.as_slice() {
            c.add(&self.billing.machine_cost(m, now));
        }
        // Release command Machines, billed when their deploy began.
        c.compute += self
            .deploys
            .runs
            .iter()
            .filter(|r| r.started.is_some_and(|t| t <= now))
            .map(|r| r.release_cost)
            .sum::<f64>();
        c
    }

    /// One Machine's cost up to `now`: exact state times × per-second prices, at each size it
    /// had; its volume is billed over its life.
    pub fn machine_cost(&self, m: &Machine, now: SimTime) -> CostSplit {
        self.billing.machine_cost(m, now)
    }

    /// End of the run.
    pub fn end(&self) -> SimTime {
        self.end
    }

    /// Share of the run during which group `group` of app `app` had a Machine started.
    pub fn group_availability(&self, app: usize, group: usize) -> f64 {
        self.census.group_up_ns(app, group) as f64 / self.end.0.max(1) as f64
    }

    /// Every Machine that existed during the run, by id (destroyed ones included).
    pub fn machines(&self) -> &[Machine] {
        self.fleet.as_slice()
    }

    /// Machine `id`.
    pub fn machine(&self, id: MachineId) -> &Machine {
        &self.fleet[id]
    }

    /// Every host, by id.
    pub fn hosts(&self) -> &[hosts::Host] {
        self.hosts.as_slice()
    }

    /// The Machines on host `host`; destroyed ones are not.
    pub fn machines_on(&self, host: HostId) -> &[MachineId] {
        self.hosts.machines_on(host)
    }

    /// Requests waiting in app `app`'s proxy queue.
    pub fn queue_len(&self, app: usize) -> usize {
        let a = &self.sc.apps[app];
        (0..a.services.len())
            .map(|s| self.proxy.queue_len(a.first_route + s))
            .sum::<usize>()
    }

    /// What each `[[action]]` did, in the scenario's order.
    pub fn actions(&self) -> &[actions::ActionRun] {
        &self.actions
    }

    /// Host failures so far.
    pub fn incidents(&self) -> &[faults::Incident] {
        self.faults.incidents()
    }

    /// Requests waiting to fail over from a failed host.
    pub fn retrying(&self) -> u64 {
        self.faults.retrying()
    }

    /// Lifecycle transitions, when tracing ([`Sim::with_trace`]).
    pub fn trace(&self) -> Option<&[Transition]> {
        self.census.trace.as_deref()
    }
}
