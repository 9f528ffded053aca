//! Fly Proxy: which Machine gets a request.
//!
//! From the client's region, regions holding the app's Machines are tried closest first
//! (fly-platform.md §2.2, §2.5):
//! 1. in the closest region, a Machine under `soft_limit` — started ones before ones still
//!    booting (a booting Machine counts the requests already sent to it as its load);
//! 2. else, with autostart on, start a stopped or suspended Machine there (suspended first:
//!    a resume is faster) and send the request to it;
//! 3. else a Machine over soft but under `hard_limit` there;
//! 4. only then other regions, each tried the same way (with `cross_region_spill = "soft"`,
//!    the rule Fly's docs described until 2025, other regions' Machines under soft come before
//!    step 3);
//! 5. a Machine that is stopping is woken again when nothing else can take the request, and a
//!    suspending one is started at once, interrupting its suspend;
//! 6. a Machine on a failed host that the platform has not noticed yet still looks as it was:
//!    a request sent there fails over after `dead_retry_delay` (see `faults`);
//! 7. a started Machine whose health checks have not passed (yet), or one that a deploy has
//!    cordoned or is updating, takes no new request (`machine::gate`);
//! 8. else the request waits in the proxy queue (`max_queue_wait` > 0) or fails: 503 when
//!    Machines are at their hard limit, "no machine" when none can run.
//!
//! Among equally good Machines the choice is the `tiebreak` parameter.
//!
//! Routes are an app's services (`Scenario::route`): each has its own limits, and counts
//! only its own requests on a Machine (`Machine::load_for`). A Machine of a group several
//! services reach is in each of their indexes.
//!
//! Owns each route's routing state (the per-region `route_index` of the Machines it routes
//! to, the order in which client regions try regions, the proxy queue and its expiry timer,
//! round-robin cursors) and the routing stream. It reads Machines and hosts through a
//! [`World`] view and changes neither: the handlers act on its [`Route`].

use std::collections::VecDeque;

use rand::RngExt;

use super::fleet::Fleet;
use super::hosts::{Host, Hosts};
use super::ids::{HostId, MachineId};
use super::machine::{MState, Machine, gate};
use super::route_index::{self, Band, RegionIndex, Standing};
use crate::engine::timer::Timer;
use crate::engine::{SimDuration, SimTime, StreamRng};
use crate::metrics::FailReason;
use crate::scenario::{Scenario, Spill, TieBreak};

/// What the proxy reads of the world: the scenario, the Machines (a slice: one load less per
/// Machine on the request path) and the hosts.
#[derive(Clone, Copy)]
pub struct World<'a> {
    /// The scenario.
    pub sc: &'a Scenario,
    /// Every Machine, by id.
    pub machines: &'a [Machine],
    /// Every host.
    pub hosts: &'a Hosts,
}

impl World<'_> {
    /// Machine `id`.
    #[inline]
    pub fn machine(&self, id: MachineId) -> &Machine {
        &self.machines[id.index()]
    }

    /// Host `id`.
    #[inline]
    pub fn host(&self, id: HostId) -> &Host {
        &self.hosts[id]
    }

    /// Whether a start of stopped or suspended `m` would find room: it holds its place, its
    /// host has room, or a start would move it to a host of its region that has
    /// ([`super::placement::may_migrate`]).
    #[inline]
    pub fn can_start(&self, m: &Machine) -> bool {
        m.holds_host || self.host(m.host).fits(&m.vm) || self.can_migrate(m)
    }

    /// Whether a stopped `m` whose host is full would be moved to a host of its region with
    /// room (rare: kept out of the scan's inlined path).
    #[cold]
    #[inline(never)]
    fn can_migrate(&self, m: &Machine) -> bool {
        super::placement::may_migrate(self.sc, m)
            && self
                .hosts
                .in_region(m.region as usize)
                .iter()
                .any(|&h| h != m.host && self.host(h).can_take(&m.vm))
    }
}

/// A request waiting in an app's proxy queue.
#[derive(Clone, Copy, Debug)]
pub struct Queued {
    /// When it arrived at the proxy.
    pub arrived: SimTime,
    /// When it joined the queue.
    pub enqueued: SimTime,
    /// Its service time [ns].
    pub service_ns: u64,
    /// Its waiting after the CPU time [ns].
    pub wait_ns: u64,
    /// The clients' region.
    pub client: u16,
}

/// One route's routing state: an app's service and the Machines of the groups it reaches.
struct Routing {
    /// The app.
    app: usize,
    /// Its service (index into the app's services).
    svc: u8,
    /// The service's limits and autostart, copied here for the request path.
    limits: Limits,
    /// The Machines the proxy routes to, per region index, with their bands.
    regions: Vec<RegionIndex>,
    /// Whether any region keeps bands (else the proxy scans every region).
    any_indexed: bool,
    /// For each client region: the regions holding this app's Machines, closest first.
    order: Vec<Vec<u16>>,
    /// The proxy queue.
    queue: VecDeque<Queued>,
    /// The expiry of the queue's oldest request.
    expiry: Timer,
    /// Round-robin cursor per region (the id after the last one picked).
    rr: Vec<u32>,
    /// How long a request may wait in the queue (`Scenario::queue_wait`; 0: never).
    queue_wait: SimDuration,
    /// Whether the app's requests are jobs that wait even when no Machine runs.
    jobs: bool,
}

/// What the request path reads of a service's settings.
#[derive(Clone, Copy)]
struct Limits {
    soft_limit: u32,
    hard_limit: u32,
    autostart: bool,
    /// Whether the app has several services (a Machine's load for this one is then its
    /// share, `Machine::load_for`, else all of it).
    shared: bool,
}

impl Limits {
    /// The load of Machine `m` this service counts.
    #[inline]
    fn load_of(self, m: &Machine, lane: u8) -> u32 {
        if self.shared {
            m.load_for(lane)
        } else {
            m.load()
        }
    }
}

/// No position in a region's index: not routed to, or its region is scanned.
const NO_POSITION: u32 = u32::MAX;

/// Fly Proxy's state for every route (each app's services, numbered by
/// [`Scenario::route`]).
pub struct Proxy {
    routes: Vec<Routing>,
    /// Position of each Machine in its region's index of each of its app's services, at
    /// `id × stride + service`.
    route_pos: Vec<u32>,
    /// The most services of any app.
    stride: usize,
    /// Whether any region of any app keeps bands (else no Machine has a position, and
    /// keeping the index up to date costs one test).
    indexed_anywhere: bool,
    rng: StreamRng,
    scratch: [Vec<MachineId>; 5],
    /// The client region of the request being routed (for the `closest` tie-break).
    client: u16,
    /// Whether every decision is checked against a scan (tests).
    check: bool,
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

/// What the proxy does with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Serve it on this started Machine now.
    Serve(MachineId),
    /// Send it to this booting Machine; it waits for the boot.
    Wait(MachineId),
    /// Start this stopped or suspended Machine and send the request to it.
    Wake(MachineId),
    /// Send it to this stopping Machine, which starts again once stopped.
    WakeAfterStop(MachineId),
    /// Start this suspending Machine at once, interrupting its suspend, and send the request
    /// to it (Fly's interruptible suspend).
    Interrupt(MachineId),
    /// Hold it in the proxy queue.
    Queue,
    /// Fail it.
    Fail(FailReason),
}

/// Among equally good Machines `candidates` (ascending ids), the one the tie-break `rule`
/// picks: a uniform draw from `rng` (`random`, the only rule that draws, and only with two or
/// more candidates), the latest `started_at` (`most_recently_started`; ties: lowest id), the
/// earliest `last_used` (`least_recently_used`; ties: lowest id), or the first id at or after
/// the region's `cursor`, wrapping, which then moves past it (`round_robin`).
pub fn tie_break(
    rule: TieBreak,
    candidates: &[MachineId],
    started_at: impl Fn(MachineId) -> SimTime,
    last_used: impl Fn(MachineId) -> SimTime,
    cursor: &mut u32,
    rng: &mut impl rand::Rng,
) -> Option<MachineId> {
    let n = candidates.len();
    let chosen = match rule {
        _ if n == 0 => return None,
        _ if n == 1 => candidates[0],
        TieBreak::Random => candidates[rng.random_range(0..n)],
        TieBreak::MostRecentlyStarted => *candidates
            .iter()
            .max_by_key(|&&id| (started_at(id), std::cmp::Reverse(id)))
            .expect("non-empty"),
        TieBreak::LeastRecentlyUsed => *candidates
            .iter()
            .min_by_key(|&&id| (last_used(id), id))
            .expect("non-empty"),
        // The edge's preferred Machine is the first at or after its fixed cursor.
        TieBreak::Closest => candidates
            .iter()
            .copied()
            .find(|&id| id.0 >= *cursor)
            .unwrap_or(candidates[0]),
        TieBreak::RoundRobin => {
            let id = candidates
                .iter()
                .copied()
                .find(|&id| id.0 >= *cursor)
                .unwrap_or(candidates[0]);
            *cursor = id.0 + 1;
            id
        }
    };
    Some(chosen)
}

impl Proxy {
    /// The routing state of the scenario's Machines at time 0 (see [`Proxy::add`] for those
    /// created later).
    pub fn new(sc: &Scenario, fleet: &Fleet, rng: StreamRng) -> Self {
        let recency_sign = match sc.platform.tiebreak {
            TieBreak::MostRecentlyStarted => -1,
            TieBreak::LeastRecentlyUsed => 1,
            TieBreak::Random | TieBreak::RoundRobin | TieBreak::Closest => 0,
        };
        let nregions = sc.regions.len();
        let mut by_route = vec![vec![Vec::new(); nregions]; sc.route_count()];
        for (id, m) in fleet.iter() {
            let app = m.app.index();
            for &svc in &sc.apps[app].groups[m.group as usize].services {
                by_route[sc.route(app, svc as usize)][m.region as usize].push(id);
            }
        }
        let owners = sc
            .apps
            .iter()
            .enumerate()
            .flat_map(|(ai, a)| (0..a.services.len()).map(move |s| (ai, s as u8)));
        let routes = by_route
            .into_iter()
            .zip(owners)
            .map(|(by_region, (app, svc))| {
                let has: Vec<bool> = by_region.iter().map(|ids| !ids.is_empty()).collect();
                let s = &sc.apps[app].services[svc as usize];
                Routing {
                    app,
                    svc,
                    queue_wait: sc.queue_wait(app),
                    jobs: sc.apps[app].jobs_wait.is_some(),
                    limits: Limits {
                        soft_limit: s.soft_limit,
                        hard_limit: s.hard_limit,
                        autostart: s.autostart,
                        shared: sc.apps[app].services.len() > 1,
                    },
                    any_indexed: by_region
                        .iter()
                        .any(|ids| ids.len() > route_index::SCAN_UP_TO),
                    regions: by_region
                        .into_iter()
                        .map(|ids| RegionIndex::new(ids, recency_sign))
                        .collect(),
                    order: route_order(sc, &has),
                    queue: VecDeque::new(),
                    expiry: Timer::default(),
                    rr: vec![0; nregions],
                }
            })
            .collect::<Vec<Routing>>();
        let stride = sc.max_services();
        Proxy {
            indexed_anywhere: routes.iter().any(|a| a.any_indexed),
            routes,
            route_pos: vec![NO_POSITION; fleet.len() * stride],
            stride,
            rng,
            scratch: Default::default(),
            client: 0,
            check: false,
        }
    }

    /// Turns on checking every decision against a scan of every Machine (slow; for tests).
    /// Every region then keeps its bands, however few its Machines, so that the index itself
    /// is what is checked.
    pub fn check_routing(&mut self, w: World<'_>) {
        self.check = true;
        self.indexed_anywhere = true;
        for route in &mut self.routes {
            route.any_indexed = true;
            for r in &mut route.regions {
                r.indexed = true;
            }
        }
        self.place_in_indexes(w);
    }

    /// Gives every Machine of a region that keeps bands its position there, and its standing.
    pub fn place_in_indexes(&mut self, w: World<'_>) {
        for route in 0..self.routes.len() {
            for r in 0..self.routes[route].regions.len() {
                if self.routes[route].regions[r].indexed {
                    self.index_region(w, route, r);
                }
            }
        }
    }

    fn index_region(&mut self, w: World<'_>, route: usize, region: usize) {
        let svc = self.routes[route].svc as usize;
        for pos in 0..self.routes[route].regions[region].ids.len() {
            let id = self.routes[route].regions[region].ids[pos];
            self.route_pos[id.index() * self.stride + svc] = pos as u32;
            self.reband(w, id);
        }
    }

    /// Adds Machine `id`, just created, to route `route` in `region`; returns whether it is
    /// the region's first (the caller then starts its autostop passes).
    pub fn add(&mut self, w: World<'_>, route: usize, region: usize, id: MachineId) -> bool {
        if self.route_pos.len() < (id.index() + 1) * self.stride {
            self.route_pos
                .resize((id.index() + 1) * self.stride, NO_POSITION);
        }
        let svc = self.routes[route].svc as usize;
        let ix = &mut self.routes[route].regions[region];
        let first = ix.ids.is_empty();
        let pos = ix.push(id);
        if ix.indexed {
            self.route_pos[id.index() * self.stride + svc] = pos as u32;
            self.reband(w, id);
        } else if ix.ids.len() > route_index::SCAN_UP_TO {
            // Large enough now that keeping bands beats scanning.
            ix.indexed = true;
            self.routes[route].any_indexed = true;
            self.indexed_anywhere = true;
            self.index_region(w, route, region);
        }
        if first {
            let has: Vec<bool> = self.routes[route]
                .regions
                .iter()
                .map(|r| !r.ids.is_empty())
                .collect();
            self.routes[route].order = route_order(w.sc, &has);
        }
        first
    }

    /// The Machines route `route` reaches in `region`, in id order.
    pub fn machines_in(&self, route: usize, region: usize) -> &[MachineId] {
        &self.routes[route].regions[region].ids
    }

    /// The hard limit of route `route`'s service when it is its app's only one.
    #[inline]
    pub fn sole_service_hard_limit(&self, route: usize) -> Option<u32> {
        let l = &self.routes[route].limits;
        (!l.shared).then_some(l.hard_limit)
    }

    /// The app route `route` belongs to.
    pub fn app_of(&self, route: usize) -> usize {
        self.routes[route].app
    }

    /// How long a request of route `route` may wait in its queue (0: requests never queue).
    #[inline]
    pub fn queue_wait(&self, route: usize) -> SimDuration {
        self.routes[route].queue_wait
    }

    /// Whether any route's requests may wait in a queue.
    pub fn any_queue(&self) -> bool {
        self.routes.iter().any(|r| r.queue_wait.0 > 0)
    }

    /// Route `route`'s proxy queue.
    pub fn queue(&mut self, route: usize) -> &mut VecDeque<Queued> {
        &mut self.routes[route].queue
    }

    /// Requests waiting in route `route`'s proxy queue.
    pub fn queue_len(&self, route: usize) -> usize {
        self.routes[route].queue.len()
    }

    /// The expiry timer of route `route`'s queue, with the queue.
    pub fn queue_and_expiry(&mut self, route: usize) -> (&mut VecDeque<Queued>, &mut Timer) {
        let a = &mut self.routes[route];
        (&mut a.queue, &mut a.expiry)
    }

    /// Where Machine `m` stands for the proxy now (see `route_index`); `host_detected`:
    /// whether the platform has noticed its host's failure.
    fn standing_of(
        tiebreak: TieBreak,
        svc: Limits,
        lane: u8,
        m: &Machine,
        host_detected: bool,
    ) -> Standing {
        // Until the platform notices a failed host, the proxy still sees its Machines as
        // they were.
        let seen = match m.state {
            MState::Down if !host_detected => m.before_down,
            s => s,
        };
        let key = match tiebreak {
            TieBreak::MostRecentlyStarted => m.started_at,
            TieBreak::LeastRecentlyUsed => m.last_used,
            TieBreak::Random | TieBreak::RoundRobin | TieBreak::Closest => SimTime::ZERO,
        };
        let mut st = Standing {
            key,
            stopping: matches!(m.state, MState::Stopping | MState::Suspending)
                && m.gate & gate::NO_WAKE == 0,
            ..Standing::NONE
        };
        match seen {
            // Its checks have not passed: it runs (a request may wait for it), in no band.
            MState::Started | MState::Starting
                if m.gate & gate::OUT != 0 && m.gate & gate::NO_WAKE == 0 =>
            {
                st.running = true;
                st.unhealthy = true;
            }
            MState::Started | MState::Starting if m.gate & gate::OUT == 0 => {
                st.running = true;
                let load = svc.load_of(m, lane);
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
                if svc.autostart
                    && !m.is_standby
                    && m.state != MState::Down
                    && m.gate & gate::NO_WAKE == 0 =>
            {
                st.wake = Some(m.state != MState::Suspended);
            }
            _ => {}
        }
        st
    }

    /// Brings the index up to date with Machine `id` (after any change of its state, load,
    /// host or recency). Inline, and free in regions the proxy scans.
    #[inline]
    pub fn reband(&mut self, w: World<'_>, id: MachineId) {
        if self.keeps_bands_of(id) {
            let m = w.machine(id);
            self.reband_indexed(w.sc, id, m, w.host(m.host).detected);
        }
    }

    /// Whether Machine `id` has a place in a region's bands (only Machines of regions that
    /// keep bands have one): the request path tests it before it looks up what
    /// [`Proxy::reband_indexed`] needs.
    #[inline]
    pub fn keeps_bands_of(&self, id: MachineId) -> bool {
        if !self.indexed_anywhere {
            return false;
        }
        if self.stride == 1 {
            return self.route_pos[id.index()] != NO_POSITION;
        }
        self.keeps_bands_of_any(id)
    }

    /// [`Proxy::keeps_bands_of`] when apps have several services.
    #[cold]
    #[inline(never)]
    fn keeps_bands_of_any(&self, id: MachineId) -> bool {
        let at = id.index() * self.stride;
        self.route_pos[at..at + self.stride]
            .iter()
            .any(|&p| p != NO_POSITION)
    }

    /// [`Proxy::reband`] for a Machine that [`Proxy::keeps_bands_of`].
    #[inline(never)]
    pub fn reband_indexed(
        &mut self,
        sc: &Scenario,
        id: MachineId,
        m: &Machine,
        host_detected: bool,
    ) {
        let tiebreak = sc.platform.tiebreak;
        if self.stride == 1 {
            let pos = self.route_pos[id.index()] as usize;
            let r = &mut self.routes[m.first_route as usize];
            let st = Self::standing_of(tiebreak, r.limits, 0, m, host_detected);
            r.regions[m.region as usize].set(pos, st);
        } else {
            self.reband_lanes(tiebreak, id, m, host_detected);
        }
    }

    /// [`Proxy::reband_indexed`] when apps have several services: the Machine's place in
    /// each of its services' indexes.
    #[cold]
    #[inline(never)]
    fn reband_lanes(&mut self, tiebreak: TieBreak, id: MachineId, m: &Machine, detected: bool) {
        let at = id.index() * self.stride;
        for lane in 0..self.stride {
            let pos = self.route_pos[at + lane];
            if pos == NO_POSITION {
                continue;
            }
            let r = &mut self.routes[m.first_route as usize + lane];
            let st = Self::standing_of(tiebreak, r.limits, lane as u8, m, detected);
            r.regions[m.region as usize].set(pos as usize, st);
        }
    }

    /// The `closest` tie-break's fixed cursor for the current client region in `region`: a
    /// Machine of the region picked by a hash of (client region, region), so that each edge
    /// has its own stable first choice and order (ids from there on, wrapping).
    fn edge_cursor(&self, route: usize, region: usize) -> u32 {
        let ids = &self.routes[route].regions[region].ids;
        if ids.is_empty() {
            return 0;
        }
        let h = (u64::from(self.client) + 1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(17)
            ^ (region as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        ids[(h % ids.len() as u64) as usize].0
    }

    /// Step 5's decision for a Machine that is stopping (wait for the stop, then start) or
    /// suspending (interrupt the suspend: community.fly.io "Machines can now start from the
    /// suspending state", 2025).
    fn wake_winding_down(w: &World<'_>, id: MachineId) -> Route {
        if w.machine(id).state == MState::Suspending {
            Route::Interrupt(id)
        } else {
            Route::WakeAfterStop(id)
        }
    }

    /// [`Proxy::reband`] for every Machine `on_host` (its host's failure was noticed, or it
    /// is back).
    pub fn reband_host(&mut self, w: World<'_>, on_host: &[MachineId]) {
        for &id in on_host {
            self.reband(w, id);
        }
    }
}

/// Scratch lists of the scan, one per band (reused across requests).
const UNDER_SOFT_STARTED: usize = 0;
const UNDER_SOFT_STARTING: usize = 1;
const UNDER_HARD_STARTED: usize = 2;
const UNDER_HARD_STARTING: usize = 3;
const WAKEABLE: usize = 4;

impl Proxy {
    /// Sorts the route's Machines in `region` into bands; returns whether any is started or
    /// starting (at its hard limit or not).
    #[inline]
    fn scan_classify(
        &mut self,
        w: &World<'_>,
        route: usize,
        region: usize,
        avoid: Option<MachineId>,
    ) -> bool {
        let lane = self.routes[route].svc;
        // One loop per way of counting load, so that an app of one service pays nothing for
        // apps of several.
        if self.routes[route].limits.shared {
            self.scan_classify_by(w, route, region, avoid, |m| m.load_for(lane))
        } else {
            self.scan_classify_by(w, route, region, avoid, Machine::load)
        }
    }

    /// [`Proxy::scan_classify`] with the load the route counts, `load`.
    fn scan_classify_by(
        &mut self,
        w: &World<'_>,
        route: usize,
        region: usize,
        avoid: Option<MachineId>,
        load: impl Fn(&Machine) -> u32,
    ) -> bool {
        let mut running = false;
        let svc = self.routes[route].limits;
        for s in &mut self.scratch {
            s.clear();
        }
        for &id in &self.routes[route].regions[region].ids {
            if Some(id) == avoid {
                continue;
            }
            let m = &w.machine(id);
            let load = load(m);
            // Until the platform notices a failed host, the proxy still sees its Machines as
            // they were.
            let seen = match m.state {
                MState::Down if !w.host(m.host).detected => m.before_down,
                s => s,
            };
            match seen {
                MState::Started | MState::Starting
                    if m.gate & gate::OUT != 0 && m.gate & gate::NO_WAKE == 0 =>
                {
                    running = true;
                }
                MState::Started | MState::Starting if m.gate & gate::OUT == 0 => {
                    running = true;
                    let starting = (seen == MState::Starting) as usize;
                    if load < svc.soft_limit {
                        self.scratch[UNDER_SOFT_STARTED + starting].push(id);
                    } else if load < svc.hard_limit {
                        self.scratch[UNDER_HARD_STARTED + starting].push(id);
                    }
                }
                // Standbys wait for a host failure; Machines on a failed host cannot start.
                MState::Stopped | MState::Suspended
                    if svc.autostart
                        && !m.is_standby
                        && m.state != MState::Down
                        && m.gate & gate::NO_WAKE == 0
                        && w.can_start(m) =>
                {
                    self.scratch[WAKEABLE].push(id);
                }
                _ => {}
            }
        }
        running
    }

    /// Picks one Machine of a band by the tie-break rule.
    fn scan_pick(
        &mut self,
        w: &World<'_>,
        band: usize,
        route: usize,
        region: usize,
    ) -> Option<MachineId> {
        let closest = w.sc.platform.tiebreak == TieBreak::Closest;
        let mut edge = if closest {
            self.edge_cursor(route, region)
        } else {
            0
        };
        let cursor = if closest {
            &mut edge
        } else {
            &mut self.routes[route].rr[region]
        };
        tie_break(
            w.sc.platform.tiebreak,
            &self.scratch[band],
            |id| w.machine(id).started_at,
            |id| w.machine(id).last_used,
            cursor,
            &mut self.rng,
        )
    }

    /// The Machine to wake in a region: suspended first (faster), then the lowest id.
    fn scan_pick_wakeable(&self, w: &World<'_>) -> Option<MachineId> {
        self.scratch[WAKEABLE]
            .iter()
            .copied()
            .min_by_key(|&id| (w.machine(id).state != MState::Suspended, id))
    }

    /// Decides where a request from `client` goes: from the bands the index keeps, and, when
    /// [`Proxy::check_routing`] is on, also by scanning every Machine, failing on a difference.
    pub(super) fn route(
        &mut self,
        w: World<'_>,
        route: usize,
        client: u16,
        avoid: Option<MachineId>,
        now: SimTime,
    ) -> Route {
        self.client = client;
        // Passed by reference below: the view is eight words.
        let w = &w;
        if !self.check {
            // Small fleets keep no index: the scan is the cheaper way to the same answer.
            return if self.routes[route].any_indexed {
                self.route_indexed(w, route, client, avoid)
            } else {
                self.route_by_scan(w, route, client, avoid)
            };
        }
        let rng = self.rng.clone();
        let rr = self.routes[route].rr.clone();
        let scanned = self.route_by_scan(w, route, client, avoid);
        let (rng_after, rr_after) = (self.rng.clone(), self.routes[route].rr.clone());
        self.rng = rng;
        self.routes[route].rr = rr;
        let indexed = self.route_indexed(w, route, client, avoid);
        assert_eq!(
            (indexed, &self.rng, &self.routes[route].rr),
            (scanned, &rng_after, &rr_after),
            "the routing index and a scan of every Machine disagree at {now} (route {route}, client region {client})"
        );
        indexed
    }

    /// Where Machine `id` stands in the index of its app and region, if it is in one.
    fn position_in(
        &self,
        w: &World<'_>,
        route: usize,
        region: usize,
        id: Option<MachineId>,
    ) -> Option<usize> {
        let m = &w.machine(id?);
        let r = &self.routes[route];
        let pos = self.route_pos[id?.index() * self.stride + r.svc as usize];
        (m.app.index() == r.app && m.region as usize == region && pos != NO_POSITION)
            .then_some(pos as usize)
    }

    /// Picks one Machine of a band by the tie-break rule, from the index.
    fn pick(
        &mut self,
        w: &World<'_>,
        band: Band,
        route: usize,
        region: usize,
        avoid: Option<MachineId>,
    ) -> Option<MachineId> {
        let avoid_pos = self.position_in(w, route, region, avoid);
        let ix = &self.routes[route].regions[region];
        let n = ix.count(band, avoid_pos);
        if n == 0 {
            return None;
        }
        let chosen = match w.sc.platform.tiebreak {
            _ if n == 1 => ix.kth(band, 0, avoid_pos),
            TieBreak::Random => {
                // The same draw a scan makes over the band's list: an index into it.
                let k = self.rng.random_range(0..n as usize) as u32;
                ix.kth(band, k, avoid_pos)
            }
            TieBreak::MostRecentlyStarted => ix
                .by_recency(band)
                .rev()
                .find(|&id| Some(id) != avoid)
                .expect("n > 0"),
            TieBreak::LeastRecentlyUsed => ix
                .by_recency(band)
                .find(|&id| Some(id) != avoid)
                .expect("n > 0"),
            TieBreak::RoundRobin | TieBreak::Closest => {
                let closest = w.sc.platform.tiebreak == TieBreak::Closest;
                let cursor = if closest {
                    self.edge_cursor(route, region)
                } else {
                    self.routes[route].rr[region]
                };
                let first_at_cursor = ix.ids.partition_point(|&id| id.0 < cursor);
                let mut before = ix.rank(band, first_at_cursor);
                if avoid_pos.is_some_and(|p| p < first_at_cursor && ix.standing(p).band == band) {
                    before -= 1;
                }
                let k = if before < n { before } else { 0 };
                let id = ix.kth(band, k, avoid_pos);
                if !closest {
                    self.routes[route].rr[region] = id.0 + 1;
                }
                id
            }
        };
        Some(chosen)
    }

    /// The Machine to wake in a region: suspended first (faster), then the lowest id, among
    /// those whose host has room (or that hold their place on it).
    fn pick_wakeable(
        &self,
        w: &World<'_>,
        route: usize,
        region: usize,
        avoid: Option<MachineId>,
    ) -> Option<MachineId> {
        self.routes[route].regions[region]
            .wake
            .iter()
            .map(|&(_, id)| id)
            .filter(|&id| Some(id) != avoid)
            .find(|&id| w.can_start(w.machine(id)))
    }

    /// Whether any Machine of the app in `region` other than `avoid` is started or starting.
    fn any_running_in(
        &self,
        w: &World<'_>,
        route: usize,
        region: usize,
        avoid: Option<MachineId>,
    ) -> bool {
        let ix = &self.routes[route].regions[region];
        let avoided = self
            .position_in(w, route, region, avoid)
            .is_some_and(|p| ix.standing(p).running);
        ix.running > u32::from(avoided)
    }

    /// Whether every Machine running in the client's regions fails its health checks or has
    /// not passed them yet (the reason a request that no Machine took fails; cold: only failed
    /// requests ask, and bounded: bands keep the counts, small regions are scanned).
    #[cold]
    fn none_healthy(&self, w: &World<'_>, route: usize, client: u16) -> bool {
        let r = &self.routes[route];
        r.order[client as usize].iter().all(|&region| {
            let ix = &r.regions[region as usize];
            if ix.indexed {
                ix.running == ix.unhealthy
            } else {
                ix.ids.iter().all(|&id| {
                    let m = w.machine(id);
                    let seen = match m.state {
                        MState::Down if !w.host(m.host).detected => m.before_down,
                        s => s,
                    };
                    !matches!(seen, MState::Started | MState::Starting) || m.gate & gate::OUT != 0
                })
            }
        })
    }

    /// Steps 1 and 2 in `region`: a Machine under soft (started, then booting), else one to
    /// wake. A scanned region must have been classified just before.
    fn pick_under_soft(
        &mut self,
        w: &World<'_>,
        route: usize,
        region: usize,
        avoid: Option<MachineId>,
    ) -> Option<Route> {
        if !self.routes[route].regions[region].indexed {
            return (self
                .scan_pick(w, UNDER_SOFT_STARTED, route, region)
                .map(Route::Serve))
            .or_else(|| {
                self.scan_pick(w, UNDER_SOFT_STARTING, route, region)
                    .map(Route::Wait)
            })
            .or_else(|| self.scan_pick_wakeable(w).map(Route::Wake));
        }
        // Only Machines autostart may wake are in the wake set.
        (self
            .pick(w, Band::SoftStarted, route, region, avoid)
            .map(Route::Serve))
        .or_else(|| {
            self.pick(w, Band::SoftStarting, route, region, avoid)
                .map(Route::Wait)
        })
        .or_else(|| self.pick_wakeable(w, route, region, avoid).map(Route::Wake))
    }

    /// Step 3 in `region`: a Machine over soft but under hard (started, then booting). A
    /// scanned region must have been classified just before.
    fn pick_over_soft(
        &mut self,
        w: &World<'_>,
        route: usize,
        region: usize,
        avoid: Option<MachineId>,
    ) -> Option<Route> {
        if !self.routes[route].regions[region].indexed {
            return (self
                .scan_pick(w, UNDER_HARD_STARTED, route, region)
                .map(Route::Serve))
            .or_else(|| {
                self.scan_pick(w, UNDER_HARD_STARTING, route, region)
                    .map(Route::Wait)
            });
        }
        (self
            .pick(w, Band::HardStarted, route, region, avoid)
            .map(Route::Serve))
        .or_else(|| {
            self.pick(w, Band::HardStarting, route, region, avoid)
                .map(Route::Wait)
        })
    }

    /// [`Sim::route`] from the index in regions that keep one, by a scan in the others: the
    /// same decisions as [`Sim::route_by_scan`].
    fn route_indexed(
        &mut self,
        w: &World<'_>,
        route: usize,
        client: u16,
        avoid: Option<MachineId>,
    ) -> Route {
        let nregions = self.routes[route].order[client as usize].len();
        let spill = w.sc.platform.cross_region_spill;
        for i in 0..nregions {
            let region = self.routes[route].order[client as usize][i] as usize;
            if !self.routes[route].regions[region].indexed {
                self.scan_classify(w, route, region, avoid);
            }
            if let Some(r) = self.pick_under_soft(w, route, region, avoid) {
                return r;
            }
            if (spill == Spill::Hard || i + 1 == nregions)
                && let Some(r) = self.pick_over_soft(w, route, region, avoid)
            {
                return r;
            }
        }
        if spill == Spill::Soft {
            for i in 0..nregions {
                let region = self.routes[route].order[client as usize][i] as usize;
                if !self.routes[route].regions[region].indexed {
                    self.scan_classify(w, route, region, avoid);
                }
                if let Some(r) = self.pick_over_soft(w, route, region, avoid) {
                    return r;
                }
            }
        }
        let svc = self.routes[route].limits;
        let hard = svc.hard_limit;
        if svc.autostart {
            for i in 0..nregions {
                let region = self.routes[route].order[client as usize][i] as usize;
                let ix = &self.routes[route].regions[region];
                let wakeable = |id: &MachineId| {
                    let m = w.machine(*id);
                    Some(*id) != avoid
                        && matches!(m.state, MState::Stopping | MState::Suspending)
                        && m.gate & gate::NO_WAKE == 0
                        && (m.pending.len() as u32) < hard
                };
                let stopping = if ix.indexed {
                    ix.stopping.iter().copied().find(wakeable)
                } else {
                    ix.ids.iter().copied().find(wakeable)
                };
                if let Some(id) = stopping {
                    return Self::wake_winding_down(w, id);
                }
            }
        }
        let any_running = (0..nregions).any(|i| {
            let region = self.routes[route].order[client as usize][i] as usize;
            if self.routes[route].regions[region].indexed {
                self.any_running_in(w, route, region, avoid)
            } else {
                self.scan_classify(w, route, region, avoid)
            }
        });
        if !any_running {
            // A worker's jobs wait in their queue for a Machine to run again.
            return if self.routes[route].jobs {
                Route::Queue
            } else {
                Route::Fail(FailReason::NoMachine)
            };
        }
        if self.routes[route].queue_wait.0 > 0 {
            Route::Queue
        } else if self.none_healthy(w, route, client) {
            Route::Fail(FailReason::Unhealthy)
        } else {
            Route::Fail(FailReason::AtHardLimit)
        }
    }

    /// The proxy's decision by scanning every Machine of the app in each region: the plain
    /// statement of the rules, kept as the reference the index is checked against, and the
    /// path of apps whose regions are all small. (`route_indexed` with every region scanned
    /// decides the same, but a single function for both cost M/M/4 7 % of its speed.)
    fn route_by_scan(
        &mut self,
        w: &World<'_>,
        route: usize,
        client: u16,
        avoid: Option<MachineId>,
    ) -> Route {
        let nregions = self.routes[route].order[client as usize].len();
        let spill = w.sc.platform.cross_region_spill;
        let mut any_running = false;
        // Under soft, or a start, in each region closest first; with the "hard" rule the next
        // region is tried only after this one's over-soft band.
        for i in 0..nregions {
            let region = self.routes[route].order[client as usize][i] as usize;
            any_running |= self.scan_classify(w, route, region, avoid);
            if let Some(id) = self.scan_pick(w, UNDER_SOFT_STARTED, route, region) {
                return Route::Serve(id);
            }
            if let Some(id) = self.scan_pick(w, UNDER_SOFT_STARTING, route, region) {
                return Route::Wait(id);
            }
            if let Some(id) = self.scan_pick_wakeable(w) {
                return Route::Wake(id);
            }
            if spill == Spill::Hard || i + 1 == nregions {
                if let Some(id) = self.scan_pick(w, UNDER_HARD_STARTED, route, region) {
                    return Route::Serve(id);
                }
                if let Some(id) = self.scan_pick(w, UNDER_HARD_STARTING, route, region) {
                    return Route::Wait(id);
                }
            }
        }
        // The older rule: over-soft Machines anywhere, closest region first.
        if spill == Spill::Soft {
            for i in 0..nregions {
                let region = self.routes[route].order[client as usize][i] as usize;
                self.scan_classify(w, route, region, avoid);
                if let Some(id) = self.scan_pick(w, UNDER_HARD_STARTED, route, region) {
                    return Route::Serve(id);
                }
                if let Some(id) = self.scan_pick(w, UNDER_HARD_STARTING, route, region) {
                    return Route::Wait(id);
                }
            }
        }
        // A Machine in the middle of stopping is woken again (Fly's PM11 path).
        let svc = self.routes[route].limits;
        if svc.autostart {
            for i in 0..nregions {
                let region = self.routes[route].order[client as usize][i] as usize;
                let hard = svc.hard_limit;
                let stopping = self.routes[route].regions[region]
                    .ids
                    .iter()
                    .copied()
                    .find(|&id| {
                        let m = &w.machine(id);
                        Some(id) != avoid
                            && matches!(m.state, MState::Stopping | MState::Suspending)
                            && m.gate & gate::NO_WAKE == 0
                            && (m.pending.len() as u32) < hard
                    });
                if let Some(id) = stopping {
                    return Self::wake_winding_down(w, id);
                }
            }
        }
        if !any_running {
            // A worker's jobs wait in their queue for a Machine to run again.
            return if self.routes[route].jobs {
                Route::Queue
            } else {
                Route::Fail(FailReason::NoMachine)
            };
        }
        if self.routes[route].queue_wait.0 > 0 {
            Route::Queue
        } else if self.none_healthy(w, route, client) {
            Route::Fail(FailReason::Unhealthy)
        } else {
            Route::Fail(FailReason::AtHardLimit)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// The proxy built alone over the world of a tiny scenario: web:0 and web:1 started,
    /// web:2 stopped, soft limit 2, hard limit 3, in one region with two hosts.
    mod component {
        use super::super::*;
        use crate::engine::RngStreams;
        use crate::platform::fleet::Fleet;
        use crate::platform::hosts::Hosts;

        const TEXT: &str = r#"
name = "proxy"
duration = "1h"
[platform]
tiebreak = "round_robin"
[[region]]
code = "iad"
hosts = 2
[[app]]
name = "web"
request = { service_time = "40ms" }
machines = [{ count = 2, regions = ["iad"] }, { count = 1, regions = ["iad"], state = "stopped" }]
[app.fly]
primary_region = "iad"
[app.fly.http_service.concurrency]
soft_limit = 2
hard_limit = 3
"#;

        fn route(sc: &Scenario, fleet: &Fleet, hosts: &Hosts, proxy: &mut Proxy) -> Route {
            let w = World {
                sc,
                machines: fleet.as_slice(),
                hosts,
            };
            proxy.route(w, 0, 0, None, SimTime::ZERO)
        }

        #[test]
        fn routes_by_band_then_wakes_then_fails_at_the_hard_limit() {
            let sc = crate::scenario::from_str(TEXT, "proxy.toml", &[])
                .unwrap()
                .scenario;
            let streams = RngStreams::new(sc.seed, 0);
            let mut hosts = Hosts::new(&sc);
            let mut fleet = Fleet::build(&sc, &mut hosts, streams);
            let mut proxy = Proxy::new(&sc, &fleet, streams.stream("proxy"));
            let (m0, m1, m2) = (MachineId(0), MachineId(1), MachineId(2));
            assert_eq!(fleet[m2].state, MState::Stopped);
            // Under soft: round robin over the started ones.
            assert_eq!(route(&sc, &fleet, &hosts, &mut proxy), Route::Serve(m0));
            assert_eq!(route(&sc, &fleet, &hosts, &mut proxy), Route::Serve(m1));
            // Both at soft: waking the stopped one comes before going over soft.
            fleet[m0].in_service = 2;
            fleet[m1].in_service = 2;
            assert_eq!(route(&sc, &fleet, &hosts, &mut proxy), Route::Wake(m2));
            // Without autostart's candidate, over soft but under hard.
            fleet[m2].is_standby = true;
            assert_eq!(route(&sc, &fleet, &hosts, &mut proxy), Route::Serve(m0));
            // Everything at hard: 503 (no proxy queue by default).
            fleet[m0].in_service = 3;
            fleet[m1].in_service = 3;
            assert_eq!(
                route(&sc, &fleet, &hosts, &mut proxy),
                Route::Fail(FailReason::AtHardLimit)
            );
        }
    }

    fn ids(ids: &[u32]) -> Vec<MachineId> {
        ids.iter().copied().map(MachineId).collect()
    }

    fn pick(rule: TieBreak, ids: &[u32], cursor: &mut u32) -> Option<u32> {
        // Started at 10 − id s (higher ids started earlier); last used at id % 3 s.
        let started = |id: MachineId| SimTime((10 - u64::from(id.0)) * 1_000_000_000);
        let used = |id: MachineId| SimTime(u64::from(id.0 % 3) * 1_000_000_000);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        tie_break(rule, &self::ids(ids), started, used, cursor, &mut rng).map(|id| id.0)
    }

    #[test]
    fn each_rule_picks_as_documented() {
        let ids = [2, 3, 5, 7];
        let mut c = 0;
        assert_eq!(pick(TieBreak::MostRecentlyStarted, &ids, &mut c), Some(2));
        // Last used: 2 → 2 s, 3 → 0 s, 5 → 2 s, 7 → 1 s.
        assert_eq!(pick(TieBreak::LeastRecentlyUsed, &ids, &mut c), Some(3));
        assert_eq!(pick(TieBreak::Random, &[], &mut c), None);
        assert_eq!(pick(TieBreak::Random, &[9], &mut c), Some(9));
        let r = pick(TieBreak::Random, &ids, &mut c).unwrap();
        assert!(ids.contains(&r));
        // Ties: the lowest id.
        let same = |_: MachineId| SimTime::ZERO;
        let four = self::ids(&ids);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mrs = tie_break(
            TieBreak::MostRecentlyStarted,
            &four,
            same,
            same,
            &mut c,
            &mut rng,
        );
        let lru = tie_break(
            TieBreak::LeastRecentlyUsed,
            &four,
            same,
            same,
            &mut c,
            &mut rng,
        );
        assert_eq!((mrs, lru), (Some(MachineId(2)), Some(MachineId(2))));
    }

    #[test]
    fn round_robin_moves_its_cursor_and_wraps() {
        let ids = [2, 3, 5, 7];
        let mut cursor = 0;
        let seq: Vec<u32> = (0..6)
            .map(|_| pick(TieBreak::RoundRobin, &ids, &mut cursor).unwrap())
            .collect();
        assert_eq!(seq, vec![2, 3, 5, 7, 2, 3]);
        // A cursor past a Machine that left the band goes on to the next one.
        let mut cursor = 4;
        assert_eq!(pick(TieBreak::RoundRobin, &[2, 5], &mut cursor), Some(5));
        assert_eq!(cursor, 6);
    }

    #[test]
    fn only_random_draws_and_only_with_a_choice() {
        let started = |_: MachineId| SimTime::ZERO;
        for (rule, ids, draws) in [
            (TieBreak::Random, &[1u32, 2][..], true),
            (TieBreak::Random, &[1][..], false),
            (TieBreak::MostRecentlyStarted, &[1, 2][..], false),
            (TieBreak::RoundRobin, &[1, 2][..], false),
        ] {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
            let mut c = 0;
            tie_break(rule, &self::ids(ids), started, started, &mut c, &mut rng);
            let mut fresh = rand_chacha::ChaCha8Rng::seed_from_u64(7);
            let moved = rng.random::<u64>() != fresh.random::<u64>();
            assert_eq!(moved, draws, "{rule:?} with {ids:?}");
        }
    }
}
