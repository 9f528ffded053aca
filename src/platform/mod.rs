//! The world during a run: hosts, Machines, the proxy, autostart/autostop, faults, actions.
//!
//! One [`Sim`] owns all state of one run: arenas of hosts and Machines indexed by integer ids
//! (Machines are appended when created during the run, never removed), the traffic sources,
//! the event queue and the recorder. Handlers are methods that match the closed [`Event`] enum
//! exhaustively; policies are small decision functions in their own modules ([`proxy`],
//! [`autostop`], [`placement`]). Stale timers are recognised when they fire, as
//! `docs/architecture.md` describes.
//!
//! Depends on `engine`, `scenario` (validated inputs), `metrics` and `workload`.

pub mod actions;
pub mod autostop;
pub mod faults;
pub mod machine;
pub mod placement;
pub mod proxy;
mod route_index;

use std::collections::VecDeque;

use rand::RngExt;

use crate::engine::{Engine, RngStreams, SimDuration, SimTime, StreamRng};
use crate::metrics::{FailReason, Recorder};
use crate::scenario::{Autostop, Scenario, ServiceModel, TieBreak};
use crate::workload::{Source, sample_ns};
use machine::{DrainTo, InService, MState, Machine, Pending, PsJob, Request, STATES, flags};

/// Everything that can happen. Payloads are ids and small values, so events are `Copy`.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    /// Traffic source `source` produces a request.
    Arrival {
        /// Source index.
        source: u32,
    },
    /// A request finishes on `machine` (independent service model).
    RequestDone {
        /// Machine id.
        machine: u32,
        /// The Machine's in-service epoch when the request started.
        epoch: u32,
        /// Slot of the request in the Machine's in-service table (arrival, client, flags).
        slot: u32,
    },
    /// The earliest processor-sharing job on `machine` may be done.
    PsDone {
        /// Machine id.
        machine: u32,
        /// Must equal the Machine's `ps_generation`.
        generation: u32,
    },
    /// A boot or resume finishes.
    BootDone {
        /// Machine id.
        machine: u32,
        /// Must equal the Machine's `generation`.
        generation: u32,
    },
    /// A drain reached `kill_timeout`: kill what is left.
    DrainDeadline {
        /// Machine id.
        machine: u32,
        /// Must equal the Machine's `generation`.
        generation: u32,
    },
    /// A stop or suspend finishes.
    StopDone {
        /// Machine id.
        machine: u32,
        /// Must equal the Machine's `generation`.
        generation: u32,
    },
    /// Requests waiting on a booting Machine may have reached the proxy's connect timeout.
    ConnectCheck {
        /// Machine id.
        machine: u32,
    },
    /// The app's idle-exit timer for `machine` may have expired.
    IdleCheck {
        /// Machine id.
        machine: u32,
    },
    /// The head of an app's proxy queue may have waited `max_queue_wait`.
    QueueExpire {
        /// App index.
        app: u16,
    },
    /// An autostop pass for one app in one region.
    AutostopPass {
        /// App index.
        app: u16,
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
    /// The platform notices that a host failed.
    FailureDetected {
        /// Host.
        host: u32,
        /// Must equal the host's generation.
        generation: u32,
    },
    /// A running Machine crashes.
    Crash {
        /// Machine id.
        machine: u32,
        /// Must equal the Machine's generation.
        generation: u32,
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
}

/// A host's capacity and what its Machines hold.
#[derive(Clone, Debug)]
pub struct Host {
    /// Region index.
    pub region: u16,
    /// vCPUs.
    pub cpus: u32,
    /// Memory [MB].
    pub memory_mb: u64,
    /// vCPUs held by started or suspended Machines.
    pub used_cpus: u32,
    /// Memory held [MB].
    pub used_mb: u64,
    /// Outages in progress (the host is down while any lasts).
    pub outages: u32,
    /// Whether the platform has noticed the running outage.
    pub detected: bool,
    /// Bumped when the host fails or returns; stale detection events are ignored.
    pub generation: u32,
    /// The open incident, while down.
    pub incident: Option<u32>,
}

impl Host {
    /// Takes the CPU and memory of a Machine of size `vm` (it must fit).
    pub fn hold(&mut self, vm: &crate::scenario::VmSize) {
        self.used_cpus += vm.cpus;
        self.used_mb += vm.memory_mb;
    }

    /// Gives back what [`Host::hold`] took.
    pub fn release(&mut self, vm: &crate::scenario::VmSize) {
        self.used_cpus -= vm.cpus;
        self.used_mb -= vm.memory_mb;
    }
}

/// A request waiting in an app's proxy queue.
#[derive(Clone, Copy, Debug)]
struct Queued {
    arrived: SimTime,
    enqueued: SimTime,
    service_ns: u64,
    client: u16,
}

/// Per-app routing state.
struct AppRt {
    /// The Machines the proxy routes to, per region index, with their bands.
    regions: Vec<route_index::RegionIndex>,
    /// Whether any region keeps bands (else the proxy scans every region).
    any_indexed: bool,
    /// For each client region: the regions holding this app's Machines, closest first.
    order: Vec<Vec<u16>>,
    /// The proxy queue.
    queue: VecDeque<Queued>,
    /// Whether a `QueueExpire` event is pending for this queue.
    expiry_armed: bool,
    /// Round-robin cursor per region.
    rr: Vec<u32>,
    /// Whether autostop passes run in each region (from the region's first Machine on).
    pass_armed: Vec<bool>,
    /// Price of one stopped or suspended Machine's rootfs [USD/s].
    rootfs_rate: f64,
    /// Price of one Machine's volume [USD/s] per group (0 without a volume), in any state.
    volume_rate: Vec<f64>,
}

/// One lifecycle transition, kept when tracing is on (tests check them against the graph).
#[derive(Clone, Copy, Debug)]
pub struct Transition {
    /// When.
    pub at: SimTime,
    /// Which Machine.
    pub machine: u32,
    /// From.
    pub from: MState,
    /// To.
    pub to: MState,
}

/// One run of a scenario.
pub struct Sim<'s> {
    sc: &'s Scenario,
    engine: Engine<Event>,
    end: SimTime,
    /// Hosts, by region then declaration order.
    pub hosts: Vec<Host>,
    /// Machines: those of the scenario by app, then those created during the run, in the
    /// order they were created (the index is the Machine's id).
    pub machines: Vec<Machine>,
    apps: Vec<AppRt>,
    sources: Vec<Source>,
    rng_route: StreamRng,
    /// The run's stream factory, for the streams of Machines created during the run.
    streams: RngStreams,
    /// Host ids of each region.
    region_hosts: Vec<Vec<u32>>,
    /// Per app: its Machines on each host (for spreading new ones).
    app_on_host: Vec<Vec<u32>>,
    /// Per app: Machine id by ordinal (`u32::MAX`: its create failed or is still running).
    by_ordinal: Vec<Vec<u32>>,
    /// What each `[[action]]` did.
    pub actions: Vec<actions::ActionRun>,
    /// What the run measured.
    pub rec: Recorder,
    bucket_start: SimTime,
    /// Machines per region and state, and ∫ of it over the current bucket.
    region_states: Vec<[u32; STATES]>,
    region_area: Vec<[u128; STATES]>,
    region_since: SimTime,
    scratch: [Vec<u32>; 5],
    /// Whether every routing decision is checked against a scan (tests).
    check_routing: bool,
    /// Lifecycle transitions, when tracing.
    pub trace: Option<Vec<Transition>>,
    /// Machine ids on each host.
    machines_on_host: Vec<Vec<u32>>,
    /// Standbys watching each Machine.
    standbys_of: Vec<Vec<u32>>,
    /// Random host-failure processes.
    failure_processes: Vec<faults::FailureProcess>,
    /// Hosts each scheduled outage takes down (by fault index; empty for other faults).
    outage_hosts: Vec<Vec<u32>>,
    /// Mean time between crashes per app, when crashes are modelled.
    crash_mtbf: Vec<Option<SimDuration>>,
    /// Crash stream per Machine (empty when no app crashes).
    crash_rngs: Vec<StreamRng>,
    /// Stream for fault side effects (volume loss).
    rng_faults: StreamRng,
    /// Host failures so far.
    pub incidents: Vec<faults::Incident>,
    /// Requests waiting to fail over from a failed host.
    pub retrying: u64,
    /// Those requests, by the index their `Retry` event carries, and the free indices.
    failovers: Vec<Failover>,
    free_failovers: Vec<u32>,
    /// Per app and group: Machines started, time with at least one [ns], since when.
    group_up: Vec<Vec<GroupUp>>,
    /// Events handled.
    pub events: u64,
}

/// For each client region: the regions holding the app's routed Machines, closest first.
fn route_order(sc: &Scenario, has_machines: &[bool]) -> Vec<Vec<u16>> {
    let nregions = sc.regions.len();
    (0..nregions)
        .map(|client| {
            let mut rs: Vec<u16> = (0..nregions)
                .filter(|&r| has_machines[r])
                .map(|r| r as u16)
                .collect();
            rs.sort_by_key(|&r| (sc.rtt[client][r as usize], r));
            rs
        })
        .collect()
}

impl<'s> Sim<'s> {
    /// Builds the world of `sc` for replication `replication`: hosts, Machines placed on them,
    /// traffic sources and the first events.
    pub fn new(sc: &'s Scenario, replication: u64) -> Self {
        let streams = RngStreams::new(sc.seed, replication);
        let mut hosts = Vec::new();
        let mut region_hosts: Vec<Vec<u32>> = Vec::new();
        for (ri, r) in sc.regions.iter().enumerate() {
            let mut ids = Vec::new();
            for h in &r.hosts {
                ids.push(hosts.len() as u32);
                hosts.push(Host {
                    region: ri as u16,
                    cpus: h.cpus,
                    memory_mb: h.memory_mb,
                    used_cpus: 0,
                    used_mb: 0,
                    outages: 0,
                    detected: false,
                    generation: 0,
                    incident: None,
                });
            }
            region_hosts.push(ids);
        }
        let nregions = sc.regions.len();
        let recency_sign = match sc.platform.tiebreak {
            TieBreak::MostRecentlyStarted => -1,
            TieBreak::LeastRecentlyUsed => 1,
            TieBreak::Random | TieBreak::RoundRobin => 0,
        };
        let mut machines_on_host: Vec<Vec<u32>> = vec![Vec::new(); hosts.len()];
        let mut standbys_of: Vec<Vec<u32>> = Vec::new();
        let mut machines = Vec::new();
        let mut apps = Vec::new();
        let mut app_on_host = Vec::new();
        let mut by_ordinal = Vec::new();
        let mut region_states = vec![[0u32; STATES]; nregions];
        for (ai, app) in sc.apps.iter().enumerate() {
            // Machines of the served groups, by region: the ones the proxy routes to.
            let mut by_region = vec![Vec::new(); nregions];
            // This app's Machines on each host, for spreading over hosts: placing a Machine
            // costs O(hosts in its region), not O(Machines × hosts).
            let mut on_host: Vec<u32> = vec![0; hosts.len()];
            // Create every Machine (ordinal = creation order), then place them: first those
            // that are not standbys, then standbys away from the hosts they watch.
            let first = machines.len();
            let mut plan: Vec<(usize, usize, bool, Vec<u32>)> = Vec::new(); // group, region, started, watches
            for g in &app.machines {
                for &(r, count) in &g.per_region {
                    for _ in 0..count {
                        plan.push((g.group, r, g.started, g.standby_for.clone()));
                    }
                }
            }
            let mut placement_order: Vec<usize> =
                (0..plan.len()).filter(|&i| plan[i].3.is_empty()).collect();
            placement_order.extend((0..plan.len()).filter(|&i| !plan[i].3.is_empty()));
            let mut placed: Vec<Option<Machine>> = (0..plan.len()).map(|_| None).collect();
            let mut host_of: Vec<u32> = vec![u32::MAX; plan.len()];
            for &i in &placement_order {
                let (group, r, started, watches) = &plan[i];
                let (group, r) = (*group, *r);
                let vm = app.groups[group].vm;
                let avoid: Vec<u32> = watches
                    .iter()
                    .filter_map(|&w| host_of.get(w as usize).copied())
                    .collect();
                let host = placement::choose_host(&hosts, &region_hosts[r], &on_host, &avoid, None)
                    .expect("validated: every region has hosts");
                host_of[i] = host;
                let mut state = if *started {
                    MState::Started
                } else {
                    MState::Stopped
                };
                let hs = &mut hosts[host as usize];
                if state == MState::Started {
                    if placement::fits(hs, &vm) {
                        hs.hold(&vm);
                    } else {
                        state = MState::Stopped;
                    }
                }
                let mut m = Machine::new(
                    ai as u16,
                    r as u16,
                    host,
                    i as u32,
                    state,
                    vm,
                    sc.started_price(ai, group, r, &vm),
                    SimTime::ZERO,
                );
                m.group = group as u16;
                m.serves = app.served_groups.contains(&group);
                m.holds_host = state == MState::Started;
                m.is_standby = !watches.is_empty();
                on_host[host as usize] += 1;
                placed[i] = Some(m);
            }
            let mut ids = Vec::with_capacity(placed.len());
            for m in placed {
                let m = m.expect("every Machine is placed");
                let id = machines.len() as u32;
                ids.push(id);
                let r = m.region as usize;
                if m.serves {
                    by_region[r].push(id);
                }
                region_states[r][m.state as usize] += 1;
                machines_on_host[m.host as usize].push(id);
                machines.push(m);
            }
            by_ordinal.push(ids);
            app_on_host.push(on_host);
            standbys_of.resize(machines.len(), Vec::new());
            for (i, (_, _, _, watches)) in plan.iter().enumerate() {
                for &w in watches {
                    standbys_of[first + w as usize].push((first + i) as u32);
                }
            }
            let has: Vec<bool> = by_region.iter().map(|ids| !ids.is_empty()).collect();
            let order = route_order(sc, &has);
            apps.push(AppRt {
                any_indexed: by_region
                    .iter()
                    .any(|ids| ids.len() > route_index::SCAN_UP_TO),
                regions: by_region
                    .into_iter()
                    .map(|ids| route_index::RegionIndex::new(ids, recency_sign))
                    .collect(),
                order,
                queue: VecDeque::new(),
                expiry_armed: false,
                rr: vec![0; nregions],
                pass_armed: vec![false; nregions],
                rootfs_rate: sc.prices.rootfs_per_sec(app.rootfs_gb),
                volume_rate: app
                    .groups
                    .iter()
                    .map(|g| sc.prices.volume_per_sec(g.volume_gb.unwrap_or(0.0)))
                    .collect(),
            });
        }
        let end = SimTime(sc.duration.0);
        let mut sources = Vec::new();
        for (ai, app) in sc.apps.iter().enumerate() {
            for t in &app.traffic {
                let stop = t.end.map_or(end, |e| SimTime(e.0).min(end));
                sources.push(Source::new(
                    ai as u16,
                    &t.from,
                    t.shape.clone(),
                    SimTime(t.start.0),
                    stop,
                    streams.stream(&format!("traffic/{}", t.stream)),
                    streams.stream(&format!("service/{}", t.stream)),
                ));
            }
        }
        // Faults: random failure processes per host in scope, hosts of scheduled outages,
        // crash streams per Machine.
        let mut failure_processes = Vec::new();
        let mut outage_hosts = Vec::new();
        let mut crash_mtbf: Vec<Option<SimDuration>> = vec![None; sc.apps.len()];
        for (fi, f) in sc.faults.iter().enumerate() {
            let mut hs = Vec::new();
            match f {
                crate::scenario::Fault::HostFailures {
                    regions,
                    ttf,
                    repair,
                } => {
                    for (h, host) in hosts.iter().enumerate() {
                        if regions.is_empty() || regions.contains(&(host.region as usize)) {
                            failure_processes.push(faults::FailureProcess {
                                host: h as u32,
                                ttf: *ttf,
                                repair: *repair,
                                rng: streams.stream(&format!("faults/{fi}/{h}")),
                            });
                        }
                    }
                }
                crate::scenario::Fault::Outage { target, .. } => match target {
                    crate::scenario::OutageTarget::Host(r, i) => hs.push(region_hosts[*r][*i]),
                    crate::scenario::OutageTarget::Region(r) => hs.extend(&region_hosts[*r]),
                    crate::scenario::OutageTarget::MachineHost(a, ordinal) => {
                        if let Some(&id) = by_ordinal[*a].get(*ordinal as usize) {
                            hs.push(machines[id as usize].host);
                        }
                    }
                },
                crate::scenario::Fault::MachineCrashes { app, mtbf } => {
                    for (ai, slot) in crash_mtbf.iter_mut().enumerate() {
                        if app.is_none_or(|a| a == ai) {
                            *slot = Some(*mtbf);
                        }
                    }
                }
            }
            outage_hosts.push(hs);
        }
        let crash_rngs = if crash_mtbf.iter().any(|c| c.is_some()) {
            machines
                .iter()
                .map(|m| {
                    streams.stream(&format!(
                        "crash/{}/{}",
                        sc.apps[m.app as usize].name, m.ordinal
                    ))
                })
                .collect()
        } else {
            Vec::new()
        };
        let group_up = sc
            .apps
            .iter()
            .enumerate()
            .map(|(ai, a)| {
                (0..a.groups.len())
                    .map(|g| GroupUp {
                        running: machines
                            .iter()
                            .filter(|m| {
                                m.app as usize == ai
                                    && m.group as usize == g
                                    && m.state == MState::Started
                            })
                            .count() as u32,
                        up_ns: 0,
                        since: SimTime::ZERO,
                    })
                    .collect()
            })
            .collect();
        let mut sim = Sim {
            sc,
            engine: Engine::with_capacity(1024),
            end,
            hosts,
            machines,
            apps,
            sources,
            rng_route: streams.stream("proxy"),
            streams,
            region_hosts,
            app_on_host,
            by_ordinal,
            actions: sc
                .actions
                .iter()
                .map(|_| actions::ActionRun::default())
                .collect(),
            rec: Recorder::new(sc.apps.len(), sc.regions.len(), sc.slo.latency_p99),
            bucket_start: SimTime::ZERO,
            region_states,
            region_area: vec![[0; STATES]; nregions],
            region_since: SimTime::ZERO,
            scratch: Default::default(),
            trace: None,
            events: 0,
            failure_processes,
            outage_hosts,
            crash_mtbf,
            crash_rngs,
            rng_faults: streams.stream("faults/effects"),
            incidents: Vec::new(),
            retrying: 0,
            failovers: Vec::new(),
            free_failovers: Vec::new(),
            group_up,
            machines_on_host,
            standbys_of,
            check_routing: false,
        };
        sim.place_in_indexes();
        sim.seed_events();
        sim
    }

    /// Machine `id`'s own stream (`machine/<app>:<n>`), made at its first draw.
    fn machine_rng(&mut self, id: u32) -> &mut StreamRng {
        let m = &mut self.machines[id as usize];
        m.rng.get_or_insert_with(|| {
            let name = format!(
                "machine/{}:{}",
                self.sc.apps[m.app as usize].name, m.ordinal
            );
            Box::new(self.streams.stream(&name))
        })
    }

    /// Checks every routing decision against a scan of every Machine (slow; for tests): a
    /// difference panics, naming the simulated time.
    /// Every region then keeps its bands, however few its Machines, so that the index itself
    /// is what is checked.
    pub fn check_routing(&mut self, on: bool) {
        self.check_routing = on;
        if on {
            for app in &mut self.apps {
                app.any_indexed = true;
                for r in &mut app.regions {
                    r.indexed = true;
                }
            }
            self.place_in_indexes();
        }
    }

    /// Gives every Machine of a region that keeps bands its position there, and its standing.
    fn place_in_indexes(&mut self) {
        for a in 0..self.apps.len() {
            for r in 0..self.apps[a].regions.len() {
                if !self.apps[a].regions[r].indexed {
                    continue;
                }
                for pos in 0..self.apps[a].regions[r].ids.len() {
                    let id = self.apps[a].regions[r].ids[pos];
                    self.machines[id as usize].route_pos = pos as u32;
                    self.reband(id);
                }
            }
        }
    }

    /// Where Machine `id` stands for the proxy now (see [`route_index`]).
    fn standing_of(&self, id: u32) -> route_index::Standing {
        use route_index::{Band, Standing};
        let m = &self.machines[id as usize];
        let svc = &self.sc.apps[m.app as usize].service;
        // Until the platform notices a failed host, the proxy still sees its Machines as
        // they were.
        let seen = match m.state {
            MState::Down if !self.hosts[m.host as usize].detected => m.before_down,
            s => s,
        };
        let key = match self.tiebreak() {
            TieBreak::MostRecentlyStarted => m.started_at,
            TieBreak::LeastRecentlyUsed => m.last_used,
            TieBreak::Random | TieBreak::RoundRobin => SimTime::ZERO,
        };
        let mut st = Standing {
            key,
            stopping: m.state == MState::Stopping,
            ..Standing::NONE
        };
        match seen {
            MState::Started | MState::Starting => {
                st.running = true;
                let load = m.load();
                let starting = seen == MState::Starting;
                st.band = match (load < svc.soft_limit, load < svc.hard_limit, starting) {
                    (true, _, false) => Band::SoftStarted,
                    (true, _, true) => Band::SoftStarting,
                    (false, true, false) => Band::HardStarted,
                    (false, true, true) => Band::HardStarting,
                    (false, false, _) => Band::None,
                };
            }
            // Standbys wait for a host failure; Machines on a failed host cannot start.
            MState::Stopped | MState::Suspended
                if svc.autostart && !m.is_standby && m.state != MState::Down =>
            {
                st.wake = Some(m.state != MState::Suspended);
            }
            _ => {}
        }
        st
    }

    /// Brings the proxy's index up to date with Machine `id` (after any change of its state,
    /// load, host or recency). Inline, and free in regions the proxy scans.
    #[inline]
    fn reband(&mut self, id: u32) {
        // Only Machines of regions that keep bands have a position.
        if self.machines[id as usize].route_pos != u32::MAX {
            self.reband_indexed(id);
        }
    }

    #[inline(never)]
    fn reband_indexed(&mut self, id: u32) {
        let m = &self.machines[id as usize];
        let (app, region, pos) = (m.app as usize, m.region as usize, m.route_pos as usize);
        let st = self.standing_of(id);
        self.apps[app].regions[region].set(pos, st);
    }

    /// [`Sim::reband`] for every Machine on `host` (its failure was noticed, or it is back).
    fn reband_host(&mut self, host: u32) {
        for i in 0..self.machines_on_host[host as usize].len() {
            let id = self.machines_on_host[host as usize][i];
            self.reband(id);
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
            for r in 0..self.sc.regions.len() {
                if !self.apps[ai].regions[r].ids.is_empty() {
                    self.arm_autostop(ai, r);
                }
            }
        }
        for id in 0..self.machines.len() {
            if self.machines[id].state == MState::Started {
                self.became_idle(id as u32);
                self.schedule_crash(id as u32);
            }
        }
        for process in 0..self.failure_processes.len() {
            let first = self.failure_processes[process].next_failure();
            self.engine.schedule_at(
                SimTime::ZERO + first,
                Event::RandomFailure {
                    process: process as u32,
                },
            );
        }
        for (fi, f) in self.sc.faults.iter().enumerate() {
            if let crate::scenario::Fault::Outage { at, duration, .. } = f {
                let start = SimTime(at.0);
                self.engine
                    .schedule_at(start, Event::OutageStart { fault: fi as u32 });
                self.engine
                    .schedule_at(start + *duration, Event::OutageEnd { fault: fi as u32 });
            }
        }
        for (i, a) in self.sc.actions.iter().enumerate() {
            self.engine
                .schedule_at(SimTime(a.at.0), Event::Action { index: i as u32 });
        }
        self.engine
            .schedule_at(SimTime(self.sc.bucket.0.min(self.end.0)), Event::BucketEnd);
    }

    /// Starts the autostop passes of app `ai` in region `r` (once; from its first Machine).
    /// Passes fall on a fixed grid per app and region, `phase + k × interval`, whenever the
    /// region got its first Machine.
    fn arm_autostop(&mut self, ai: usize, r: usize) {
        let sc = self.sc;
        let app = &sc.apps[ai];
        if app.service.autostop == Autostop::Off || self.apps[ai].pass_armed[r] {
            return;
        }
        self.apps[ai].pass_armed[r] = true;
        let interval = sc.platform.autostop_interval.0;
        let phase = if sc.platform.autostop_random_phase {
            self.streams
                .stream(&format!("autostop/{}/{}", app.name, sc.regions[r].code))
                .random_range(0..interval)
        } else {
            interval
        };
        let now = self.now().0;
        let first = if now <= phase {
            phase
        } else {
            phase + (now - phase).div_ceil(interval) * interval
        };
        self.engine.schedule_at(
            SimTime(first),
            Event::AutostopPass {
                app: ai as u16,
                region: r as u16,
            },
        );
    }

    /// Keeps every lifecycle transition in [`Sim::trace`].
    pub fn with_trace(mut self) -> Self {
        self.trace = Some(Vec::new());
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
        for app in &mut self.group_up {
            for g in app {
                if g.running > 0 {
                    g.up_ns += now.0 - g.since.0;
                }
                g.since = now;
            }
        }
        self.close_incidents();
        if self.bucket_start < now {
            self.close_bucket(now);
        }
        self.rec.finish(now);
    }

    #[inline]
    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Arrival { source } => self.on_arrival(source as usize),
            Event::RequestDone {
                machine,
                epoch,
                slot,
            } => {
                let m = &mut self.machines[machine as usize];
                if m.epoch != epoch {
                    return; // killed with its Machine's drain
                }
                m.free_slots.push(slot);
                let r = m.slots[slot as usize];
                self.complete(machine, SimTime(r.arrived), r.client, r.flags);
            }
            Event::PsDone {
                machine,
                generation,
            } => self.on_ps_done(machine, generation),
            Event::BootDone {
                machine,
                generation,
            } => {
                if self.machines[machine as usize].generation == generation {
                    self.on_boot_done(machine);
                }
            }
            Event::DrainDeadline {
                machine,
                generation,
            } => {
                let m = &self.machines[machine as usize];
                if m.generation == generation && !m.drained {
                    self.kill_in_service(machine, FailReason::Killed);
                    self.drained(machine);
                }
            }
            Event::StopDone {
                machine,
                generation,
            } => {
                if self.machines[machine as usize].generation == generation {
                    self.on_stop_done(machine);
                }
            }
            Event::ConnectCheck { machine } => self.on_connect_check(machine),
            Event::IdleCheck { machine } => self.on_idle_check(machine),
            Event::QueueExpire { app } => self.on_queue_expire(app as usize),
            Event::AutostopPass { app, region } => {
                self.on_autostop_pass(app as usize, region as usize)
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
            Event::RandomFailure { process } => self.on_random_failure(process),
            Event::RandomRepair { process } => self.on_random_repair(process),
            Event::OutageStart { fault } => {
                for h in self.outage_hosts[fault as usize].clone() {
                    self.host_down(h);
                }
            }
            Event::OutageEnd { fault } => {
                for h in self.outage_hosts[fault as usize].clone() {
                    self.host_up(h);
                }
            }
            Event::FailureDetected { host, generation } => {
                self.on_failure_detected(host, generation)
            }
            Event::Crash {
                machine,
                generation,
            } => self.on_crash(machine, generation),
            Event::Retry { request } => {
                self.retrying -= 1;
                let f = self.failovers[request as usize];
                self.free_failovers.push(request);
                self.dispatch(f.app as usize, f.request, Some(f.avoid));
            }
            Event::Action { index } => self.on_action(index as usize),
            Event::Created { action, step } => self.on_created(action as usize, step as usize),
            Event::UpdateNext { action } => self.update_next(action as usize),
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

    // ----- requests -------------------------------------------------------------------

    fn on_arrival(&mut self, s: usize) {
        let now = self.now();
        let src = &mut self.sources[s];
        let app = src.app as usize;
        let client = src.client();
        let service_ns = sample_ns(&self.sc.apps[app].service_time, &mut src.service_rng);
        if let Some(t) = src.next(Some(now)) {
            self.engine
                .schedule_at(t, Event::Arrival { source: s as u32 });
        }
        self.rec.arrived(app, now, client);
        let req = Request {
            arrived: now,
            service_ns,
            client,
            retries: 0,
            flags: 0,
        };
        self.dispatch(app, req, None);
    }

    /// Routes a request (avoiding Machine `avoid`, which just failed it) and acts on the
    /// decision.
    fn dispatch(&mut self, app: usize, req: Request, avoid: Option<u32>) {
        let now = self.now();
        match self.route(app, req.client, avoid) {
            proxy::Route::Serve(m) | proxy::Route::Wait(m)
                if self.machines[m as usize].state == MState::Down =>
            {
                self.dead_route(m, app, req)
            }
            proxy::Route::Serve(m) => {
                self.begin_service(m, req.arrived, req.service_ns, req.client, req.flags)
            }
            proxy::Route::Wait(m) => self.wait_on(m, req),
            proxy::Route::Wake(m) => {
                if self.begin_start(m, true) {
                    self.wait_on(m, req);
                } else {
                    self.rec
                        .failed(app, now, req.arrived, FailReason::StartFailed);
                }
            }
            // The start is counted when the stop completes (see `on_stop_done`).
            proxy::Route::WakeAfterStop(m) => self.wait_on(m, req),
            proxy::Route::Queue => {
                let q = &mut self.apps[app].queue;
                q.push_back(Queued {
                    arrived: req.arrived,
                    enqueued: now,
                    service_ns: req.service_ns,
                    client: req.client,
                });
                self.rec.queued(app);
                self.arm_queue_expiry(app);
            }
            proxy::Route::Fail(reason) => self.rec.failed(app, now, req.arrived, reason),
        }
    }

    /// Sends a request to a Machine that is not started yet: it waits for the boot.
    fn wait_on(&mut self, id: u32, req: Request) {
        let now = self.now();
        let m = &mut self.machines[id as usize];
        if req.flags & flags::COLD == 0 {
            self.rec.cold_start(m.app as usize);
        }
        m.last_used = now;
        m.pending.push_back(Pending {
            arrived: req.arrived,
            assigned: now,
            service_ns: req.service_ns,
            client: req.client,
            retries: req.retries,
            flags: req.flags | flags::COLD,
        });
        self.reband(id);
        self.arm_connect_check(id);
    }

    /// Starts serving a request on a started Machine.
    fn begin_service(&mut self, id: u32, arrived: SimTime, service_ns: u64, client: u16, fl: u8) {
        let now = self.now();
        let model = self.sc.apps[self.machines[id as usize].app as usize].service_model;
        let m = &mut self.machines[id as usize];
        m.last_used = now;
        match model {
            ServiceModel::Independent => {
                m.in_service += 1;
                let entry = InService {
                    arrived: arrived.0,
                    client,
                    flags: fl,
                };
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
                    epoch: m.epoch,
                    slot,
                };
                self.engine.schedule_at(now + SimDuration(service_ns), ev);
            }
            ServiceModel::ProcessorSharing => {
                self.ps_advance(id);
                let m = &mut self.machines[id as usize];
                m.in_service += 1;
                let finish = m.ps_vtime + service_ns as f64;
                m.ps_jobs.push(PsJob {
                    finish,
                    arrived: arrived.0,
                    client,
                    flags: fl,
                });
                self.ps_reschedule(id);
            }
        }
        self.reband(id);
    }

    /// A request finished on Machine `id`.
    fn complete(&mut self, id: u32, arrived: SimTime, client: u16, fl: u8) {
        let now = self.now();
        let m = &mut self.machines[id as usize];
        m.in_service -= 1;
        m.served += 1;
        let (app, region) = (m.app as usize, m.region as usize);
        self.reband(id);
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

    fn after_load_drop(&mut self, id: u32) {
        let m = &self.machines[id as usize];
        match m.state {
            MState::Started => {
                self.feed_from_queue(id);
                if self.machines[id as usize].load() == 0 {
                    self.became_idle(id);
                }
            }
            MState::Stopping | MState::Suspending if m.in_service == 0 && !m.drained => {
                self.drained(id);
            }
            _ => {}
        }
    }

    /// Gives queued requests to Machine `id` while it is under its hard limit.
    fn feed_from_queue(&mut self, id: u32) {
        let app = self.machines[id as usize].app as usize;
        let hard = self.sc.apps[app].service.hard_limit;
        while self.machines[id as usize].load() < hard {
            let Some(q) = self.apps[app].queue.pop_front() else {
                break;
            };
            let now = self.now();
            self.rec.dequeued(app, now - q.enqueued);
            self.begin_service(id, q.arrived, q.service_ns, q.client, flags::QUEUED);
        }
    }

    /// Keeps one expiry timer per app queue, at the oldest request's deadline (deadlines are
    /// in queue order, as every request may wait the same `max_queue_wait`). A timer whose
    /// head was served meanwhile is moved on when it fires.
    fn arm_queue_expiry(&mut self, app: usize) {
        let wait = self.sc.platform.max_queue_wait;
        let rt = &mut self.apps[app];
        let Some(head) = rt.queue.front() else { return };
        if rt.expiry_armed {
            return;
        }
        rt.expiry_armed = true;
        self.engine
            .schedule_at(head.enqueued + wait, Event::QueueExpire { app: app as u16 });
    }

    fn on_queue_expire(&mut self, app: usize) {
        self.apps[app].expiry_armed = false;
        self.expire_queue(app);
        self.arm_queue_expiry(app);
    }

    fn expire_queue(&mut self, app: usize) {
        let now = self.now();
        let wait = self.sc.platform.max_queue_wait;
        while let Some(q) = self.apps[app].queue.front() {
            if q.enqueued + wait > now {
                break;
            }
            let q = self.apps[app].queue.pop_front().expect("front exists");
            self.rec.dequeued(app, now - q.enqueued);
            self.rec
                .failed(app, now, q.arrived, FailReason::QueueTimeout);
        }
    }

    // ----- processor sharing ----------------------------------------------------------

    fn ps_rate(&self, id: u32) -> f64 {
        let m = &self.machines[id as usize];
        let cpus = self.vm_of(id).cpus as f64;
        if m.in_service == 0 {
            0.0
        } else {
            (cpus / m.in_service as f64).min(1.0)
        }
    }

    fn ps_advance(&mut self, id: u32) {
        let now = self.now();
        let rate = self.ps_rate(id);
        let m = &mut self.machines[id as usize];
        m.ps_vtime += (now.0 - m.ps_last.0) as f64 * rate;
        m.ps_last = now;
    }

    fn ps_reschedule(&mut self, id: u32) {
        let rate = self.ps_rate(id);
        let now = self.now();
        let m = &mut self.machines[id as usize];
        m.ps_generation = m.ps_generation.wrapping_add(1);
        if let Some(top) = m.ps_jobs.peek() {
            let dt = ((top.finish - m.ps_vtime) / rate).max(0.0).ceil() as u64;
            let generation = m.ps_generation;
            self.engine.schedule_at(
                now + SimDuration(dt),
                Event::PsDone {
                    machine: id,
                    generation,
                },
            );
        }
    }

    fn on_ps_done(&mut self, id: u32, generation: u32) {
        if self.machines[id as usize].ps_generation != generation {
            return;
        }
        self.ps_advance(id);
        loop {
            let m = &mut self.machines[id as usize];
            match m.ps_jobs.peek() {
                Some(top) if top.finish <= m.ps_vtime + 0.5 => {
                    let job = m.ps_jobs.pop().expect("peeked");
                    self.complete(id, SimTime(job.arrived), job.client, job.flags);
                }
                _ => break,
            }
        }
        self.ps_reschedule(id);
    }

    // ----- lifecycle ------------------------------------------------------------------

    fn transition(&mut self, id: u32, to: MState) {
        let now = self.now();
        let m = &mut self.machines[id as usize];
        let region = m.region as usize;
        let from = m.go(to, now);
        self.settle_regions(now);
        self.region_states[region][from as usize] -= 1;
        self.region_states[region][to as usize] += 1;
        if (from == MState::Started) != (to == MState::Started) {
            let m = &self.machines[id as usize];
            let g = &mut self.group_up[m.app as usize][m.group as usize];
            if g.running > 0 {
                g.up_ns += now.0 - g.since.0;
            }
            g.since = now;
            if to == MState::Started {
                g.running += 1;
            } else {
                g.running -= 1;
            }
        }
        if let Some(t) = &mut self.trace {
            t.push(Transition {
                at: now,
                machine: id,
                from,
                to,
            });
        }
        self.reband(id);
    }

    fn settle_regions(&mut self, now: SimTime) {
        let dt = (now.0 - self.region_since.0) as u128;
        if dt > 0 {
            for (area, counts) in self.region_area.iter_mut().zip(&self.region_states) {
                for s in 0..STATES {
                    area[s] += counts[s] as u128 * dt;
                }
            }
        }
        self.region_since = now;
    }

    /// Starts a stopped or suspended Machine. Returns false when its host has no room.
    fn begin_start(&mut self, id: u32, by_proxy: bool) -> bool {
        let now = self.now();
        let app = &self.sc.apps[self.machines[id as usize].app as usize];
        let vm = self.vm_of(id);
        let m = &self.machines[id as usize];
        let resume = m.state == MState::Suspended;
        if !m.holds_host {
            let h = &mut self.hosts[m.host as usize];
            if !placement::fits(h, &vm) {
                self.machines[id as usize].failed_starts += 1;
                return false;
            }
            h.hold(&vm);
        }
        let p = &self.sc.platform;
        let rng = self.machine_rng(id);
        let lost_snapshot = resume
            && p.snapshot_loss_probability > 0.0
            && rng.random::<f64>() < p.snapshot_loss_probability;
        let duration = if resume && !lost_snapshot {
            sample_ns(&p.resume_time, rng)
        } else {
            sample_ns(&p.boot_time, rng) + sample_ns(&app.app_boot, rng)
        };
        self.transition(id, MState::Starting);
        let m = &mut self.machines[id as usize];
        m.holds_host = true;
        m.ready_at = now + SimDuration(duration);
        m.starts += 1;
        if by_proxy {
            m.autostarts += 1;
        }
        if resume {
            m.resumes += 1;
        }
        let generation = m.generation;
        let ready = m.ready_at;
        self.engine.schedule_at(
            ready,
            Event::BootDone {
                machine: id,
                generation,
            },
        );
        self.arm_connect_check(id);
        true
    }

    fn on_boot_done(&mut self, id: u32) {
        let now = self.now();
        self.transition(id, MState::Started);
        let m = &mut self.machines[id as usize];
        m.started_at = now;
        m.connect_check_at = SimTime::NEVER;
        let app = m.app as usize;
        self.reband(id);
        while let Some(p) = self.machines[id as usize].pending.pop_front() {
            self.rec.cold_wait(app, now - p.assigned);
            self.begin_service(id, p.arrived, p.service_ns, p.client, p.flags);
        }
        self.feed_from_queue(id);
        if self.machines[id as usize].load() == 0 {
            self.became_idle(id);
        }
        self.on_started(id);
        self.update_finished(id, true);
    }

    /// Begins stopping or suspending a started Machine: drain, then stop.
    fn begin_drain(&mut self, id: u32, to: DrainTo) {
        let target = if to == DrainTo::Suspend {
            MState::Suspending
        } else {
            MState::Stopping
        };
        self.transition(id, target);
        let kill_timeout = self.sc.apps[self.machines[id as usize].app as usize].kill_timeout;
        let m = &mut self.machines[id as usize];
        m.drain_to = to;
        m.drained = false;
        if m.in_service == 0 {
            self.drained(id);
        } else {
            let generation = m.generation;
            self.engine.schedule_in(
                kill_timeout,
                Event::DrainDeadline {
                    machine: id,
                    generation,
                },
            );
        }
    }

    /// The drain is over: schedule the stop (platform overhead) or the suspend (snapshot).
    fn drained(&mut self, id: u32) {
        let p = &self.sc.platform;
        let delay = match self.machines[id as usize].drain_to {
            DrainTo::Stop => p.stop_overhead,
            DrainTo::Suspend => SimDuration(sample_ns(&p.suspend_time, self.machine_rng(id))),
        };
        let m = &mut self.machines[id as usize];
        m.drained = true;
        let generation = m.generation;
        self.engine.schedule_in(
            delay,
            Event::StopDone {
                machine: id,
                generation,
            },
        );
    }

    /// Fails every request still in service on `id`; returns how many.
    fn kill_in_service(&mut self, id: u32, reason: FailReason) -> u64 {
        let now = self.now();
        let m = &mut self.machines[id as usize];
        let app = m.app as usize;
        m.epoch = m.epoch.wrapping_add(1);
        m.ps_generation = m.ps_generation.wrapping_add(1);
        let mut arrivals: Vec<u64> = m.ps_jobs.drain().map(|j| j.arrived).collect();
        let mut free = vec![false; m.slots.len()];
        for &s in &m.free_slots {
            free[s as usize] = true;
        }
        arrivals.extend(
            m.slots
                .iter()
                .zip(&free)
                .filter(|(_, f)| !**f)
                .map(|(a, _)| a.arrived),
        );
        m.slots.clear();
        m.free_slots.clear();
        m.in_service = 0;
        self.reband(id);
        let n = arrivals.len() as u64;
        for a in arrivals {
            self.rec.failed(app, now, SimTime(a), reason);
        }
        n
    }

    fn on_stop_done(&mut self, id: u32) {
        let m = &self.machines[id as usize];
        match m.drain_to {
            DrainTo::Suspend => {
                self.transition(id, MState::Suspended);
                self.machines[id as usize].suspends += 1;
            }
            DrainTo::Stop => {
                self.transition(id, MState::Stopped);
                self.machines[id as usize].stops += 1;
                self.release_host(id);
            }
        }
        // An update takes its new size while stopped; a crash under a restart policy boots it
        // again; requests sent to it while it stopped wake it (the proxy's "recently stopped"
        // path).
        self.update_stopped(id);
        let restart = std::mem::take(&mut self.machines[id as usize].restart_after_stop);
        let wanted = !self.machines[id as usize].pending.is_empty();
        if (restart || wanted) && !self.begin_start(id, wanted) {
            self.fail_pending(id, FailReason::StartFailed);
            self.update_finished(id, false);
        }
    }

    /// Fails every request waiting for Machine `id` to boot; returns how many.
    fn fail_pending(&mut self, id: u32, reason: FailReason) -> u64 {
        let app = self.machines[id as usize].app as usize;
        let now = self.now();
        let mut n = 0;
        while let Some(p) = self.machines[id as usize].pending.pop_front() {
            self.rec.failed(app, now, p.arrived, reason);
            n += 1;
        }
        self.reband(id);
        n
    }

    /// Arms the connect-timeout check for the oldest request waiting on `id`, when it could
    /// expire before the Machine is ready.
    fn arm_connect_check(&mut self, id: u32) {
        let timeout = self.sc.platform.connect_timeout;
        let m = &mut self.machines[id as usize];
        let Some(head) = m.pending.front() else {
            return;
        };
        let deadline = head.assigned + timeout;
        if m.state == MState::Starting && m.ready_at <= deadline {
            return;
        }
        if m.connect_check_at != deadline {
            m.connect_check_at = deadline;
            self.engine
                .schedule_at(deadline, Event::ConnectCheck { machine: id });
        }
    }

    fn on_connect_check(&mut self, id: u32) {
        let now = self.now();
        let m = &mut self.machines[id as usize];
        if m.connect_check_at != now || m.state == MState::Started {
            return;
        }
        m.connect_check_at = SimTime::NEVER;
        let timeout = self.sc.platform.connect_timeout;
        let retries_allowed = self.sc.platform.connect_retries;
        let app = m.app as usize;
        while let Some(head) = self.machines[id as usize].pending.front().copied() {
            if head.assigned + timeout > now {
                break;
            }
            self.machines[id as usize].pending.pop_front();
            self.reband(id);
            if (head.retries as u32) < retries_allowed {
                self.rec.retried(app);
                let req = Request {
                    retries: head.retries + 1,
                    ..head.request()
                };
                self.dispatch(app, req, Some(id));
            } else {
                self.rec
                    .failed(app, now, head.arrived, FailReason::StartTimeout);
            }
        }
        self.arm_connect_check(id);
    }

    // ----- idle exit and autostop -----------------------------------------------------

    fn became_idle(&mut self, id: u32) {
        let now = self.now();
        let m = &mut self.machines[id as usize];
        if !m.serves {
            return; // workers run their own loop; only proxied requests make a Machine busy
        }
        m.idle_since = now;
        if let Some(t) = self.sc.apps[m.app as usize].idle_exit
            && !m.idle_check_armed
        {
            m.idle_check_armed = true;
            self.engine.schedule_in(t, Event::IdleCheck { machine: id });
        }
    }

    fn on_idle_check(&mut self, id: u32) {
        let now = self.now();
        let m = &mut self.machines[id as usize];
        m.idle_check_armed = false;
        let Some(t) = self.sc.apps[m.app as usize].idle_exit else {
            return;
        };
        if m.state != MState::Started || m.load() > 0 {
            return; // re-armed when the load next drops to zero
        }
        let due = m.idle_since + t;
        if due <= now {
            // The app exits cleanly; under `[[restart]] policy = "always"` Fly starts it again at
            // once (an exit is an exit, whatever its code), so it never stays stopped. Under
            // "on-failure" (the default) and "never" a clean exit stays stopped.
            let group = &self.sc.apps[m.app as usize].groups[m.group as usize];
            let restarts = matches!(group.restart, Some(crate::scenario::fly::Restart::Always));
            self.begin_drain(id, DrainTo::Stop);
            if restarts {
                self.machines[id as usize].restart_after_stop = true;
            }
        } else {
            m.idle_check_armed = true;
            self.engine
                .schedule_at(due, Event::IdleCheck { machine: id });
        }
    }

    fn on_autostop_pass(&mut self, app: usize, region: usize) {
        let now = self.now();
        let sc = self.sc;
        self.engine.schedule_in(
            sc.platform.autostop_interval,
            Event::AutostopPass {
                app: app as u16,
                region: region as u16,
            },
        );
        let a = &sc.apps[app];
        let running: Vec<autostop::Running> = self.apps[app].regions[region]
            .ids
            .iter()
            .map(|&id| (id, &self.machines[id as usize]))
            .filter(|(_, m)| m.state == MState::Started)
            .map(|(id, m)| autostop::Running {
                id,
                load: m.load(),
                started_at: m.started_at,
                idle_since: m.idle_since,
            })
            .collect();
        let rule = autostop::Rule {
            soft_limit: a.service.soft_limit,
            keep: if region == a.primary_region {
                a.service.min_machines_running
            } else {
                0
            },
            min_runtime: sc.platform.autostop_min_runtime,
            victim: sc.platform.autostop_victim,
            idle_window: sc.platform.autostop_idle_window,
        };
        if let Some(victim) = autostop::choose_victim(&running, rule, now) {
            let suspendable =
                self.vm_of(victim).memory_mb <= sc.platform.suspend_max_memory_mb && a.swap_mb == 0;
            let to = if a.service.autostop == Autostop::Suspend && suspendable {
                DrainTo::Suspend
            } else {
                DrainTo::Stop
            };
            self.begin_drain(victim, to);
        }
    }

    // ----- time series ----------------------------------------------------------------

    fn close_bucket(&mut self, now: SimTime) {
        self.settle_regions(now);
        let width = (now.0 - self.bucket_start.0).max(1) as f64;
        let mut machines = Vec::with_capacity(self.region_area.len() * STATE_COLUMNS.len());
        for area in &mut self.region_area {
            for s in STATE_COLUMNS {
                machines.push(area[s as usize] as f64 / width);
            }
            *area = [0; STATES];
        }
        let cost = self.cost_until(now).total();
        self.rec
            .close_bucket(self.bucket_start, now, machines, cost);
        self.bucket_start = now;
    }

    /// Cost accrued from the start to `now`, split by component.
    pub fn cost_until(&self, now: SimTime) -> CostSplit {
        let mut c = CostSplit::default();
        for m in &self.machines {
            let c1 = self.machine_cost(m, now);
            c.add(&c1);
        }
        c
    }

    /// The size of Machine `id`.
    #[inline]
    pub fn vm_of(&self, id: u32) -> crate::scenario::VmSize {
        self.machines[id as usize].vm
    }

    /// One Machine's cost up to `now`: exact state times × per-second prices, at each size it
    /// had; its volume is billed over its life.
    pub fn machine_cost(&self, m: &Machine, now: SimTime) -> CostSplit {
        let mut c = m.book.banked;
        c.add(&self.cost_since_mark(m, now));
        let rt = &self.apps[m.app as usize];
        let end = if m.state == MState::Destroyed {
            m.since.min(now)
        } else {
            now
        };
        c.volumes = end.since(m.book.created_at).as_secs_f64() * rt.volume_rate[m.group as usize];
        c
    }

    /// Compute and rootfs cost since the Machine's size last changed.
    fn cost_since_mark(&self, m: &Machine, now: SimTime) -> CostSplit {
        let t = m.time_in_until(now);
        let rt = &self.apps[m.app as usize];
        let secs = |s: MState| (t[s as usize] - m.book.rate_mark[s as usize]) as f64 / 1e9;
        let mut compute_secs = secs(MState::Started);
        if self.sc.platform.bill_transient_states {
            compute_secs +=
                secs(MState::Starting) + secs(MState::Stopping) + secs(MState::Suspending);
        }
        CostSplit {
            compute: compute_secs * m.book.compute_rate,
            rootfs: (secs(MState::Stopped) + secs(MState::Suspended)) * rt.rootfs_rate,
            volumes: 0.0,
        }
    }

    /// Machine `id` gives its host's CPU and memory back (stopped, destroyed, or a snapshot
    /// dropped).
    fn release_host(&mut self, id: u32) {
        let m = &mut self.machines[id as usize];
        if std::mem::take(&mut m.holds_host) {
            self.hosts[m.host as usize].release(&m.vm);
        }
    }

    /// Changes Machine `id`'s size from now on (it holds no host resources).
    fn resize(&mut self, id: u32, vm: crate::scenario::VmSize) {
        let now = self.now();
        let m = &self.machines[id as usize];
        debug_assert!(!m.holds_host);
        let c = self.cost_since_mark(m, now);
        let mark = m.time_in_until(now);
        let rate = self
            .sc
            .started_price(m.app as usize, m.group as usize, m.region as usize, &vm);
        let m = &mut self.machines[id as usize];
        m.book.banked.add(&c);
        m.book.rate_mark = mark;
        m.book.compute_rate = rate;
        m.vm = vm;
        m.book.resized.push((now, vm));
    }

    /// End of the run.
    pub fn end(&self) -> SimTime {
        self.end
    }

    /// Share of the run during which group `group` of app `app` had a Machine started.
    pub fn group_availability(&self, app: usize, group: usize) -> f64 {
        self.group_up[app][group].up_ns as f64 / self.end.0.max(1) as f64
    }

    /// The Machines (ids) on host `host`; destroyed ones are not.
    pub fn machines_on(&self, host: usize) -> &[u32] {
        &self.machines_on_host[host]
    }

    /// Requests waiting in app `app`'s proxy queue.
    pub fn queue_len(&self, app: usize) -> usize {
        self.apps[app].queue.len()
    }

    /// The tie-break rule in force.
    fn tiebreak(&self) -> TieBreak {
        self.sc.platform.tiebreak
    }
}

/// States shown per region in `timeseries.csv`.
pub const STATE_COLUMNS: [MState; 5] = [
    MState::Started,
    MState::Starting,
    MState::Stopped,
    MState::Suspended,
    MState::Down,
];

/// A request waiting to fail over from a Machine on a failed host.
#[derive(Clone, Copy, Debug)]
struct Failover {
    app: u16,
    avoid: u32,
    request: Request,
}

/// A process group's running Machines and the time it had at least one.
#[derive(Clone, Copy, Debug)]
pub struct GroupUp {
    /// Machines started now.
    pub running: u32,
    /// Time with at least one started [ns].
    pub up_ns: u64,
    /// When `running` last changed.
    pub since: SimTime,
}

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
