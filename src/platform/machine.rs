//! A Machine: lifecycle state, load, and the time it spends in each state.
//!
//! ```text
//!            start (boot + app_boot)                 autostop / idle_exit
//!  stopped ───────────────────────────► starting ◄──┐        │
//!     ▲                                    │ boot done      │ resume
//!     │ stop done                          ▼                │
//!  stopping ◄──── drain ────────────── started ──── drain ──► suspending ──► suspended
//! ```
//! `stopping` drains in-flight requests up to `kill_timeout`, then takes the platform's stop
//! overhead; `suspending` drains the same way, then writes the snapshot. Stopped Machines
//! release their host's CPU and memory; suspended ones keep them (Fly docs, suspend-resume).
//!
//! A start while suspending interrupts the suspend (`suspending → starting`, Fly's interruptible
//! suspend). An update (`fly scale vm`) drops a suspended Machine's snapshot:
//! `suspended → stopped`.
//! Any state but `destroyed` goes to `destroyed` when the operator destroys the Machine; it
//! is terminal.
//!
//! Any state goes to `down` when the Machine's host fails; when the host returns, a Machine
//! that was running boots again (`down → stopped → starting`), a suspended one stays
//! suspended, a stopped one stopped; one whose volume was destroyed stays down.
//!
//! Timers follow the one scheme of [`crate::engine::timer`]: the lifecycle timer (boot done,
//! drain deadline, stop done, crash) is cancelled by every transition; the connect check,
//! the idle check and the processor-sharing completion are each one [`Timer`]; requests in
//! service carry the Machine's `service_epoch`, bumped when they are killed.

use std::collections::VecDeque;

use super::CostSplit;
use super::ids::{AppId, HostId};
use crate::engine::timer::{Timer, Token};
use crate::engine::{SimTime, StreamRng};
use crate::scenario::VmSize;

/// Lifecycle state (the subset of Fly's states that the model visits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MState {
    /// Not running; holds no host resources; billed for rootfs.
    Stopped = 0,
    /// Booting or resuming.
    Starting = 1,
    /// Running and reachable.
    Started = 2,
    /// Draining, then stopping.
    Stopping = 3,
    /// Draining, then writing its snapshot.
    Suspending = 4,
    /// Snapshot saved; holds host resources; billed for rootfs.
    Suspended = 5,
    /// Its host is down: unreachable, not billed (but for its volume).
    Down = 6,
    /// Gone for good (`fly machine destroy`, `fly scale count` down): billed for nothing from
    /// then on, never reported as a share of time.
    Destroyed = 7,
}

/// Number of states.
pub const STATES: usize = 8;

impl MState {
    /// Every state a Machine spends time in, in report order (all but `destroyed`).
    pub const ALL: [MState; 7] = [
        MState::Stopped,
        MState::Starting,
        MState::Started,
        MState::Stopping,
        MState::Suspending,
        MState::Suspended,
        MState::Down,
    ];

    /// Name used in outputs.
    pub fn name(self) -> &'static str {
        match self {
            MState::Stopped => "stopped",
            MState::Starting => "starting",
            MState::Started => "started",
            MState::Stopping => "stopping",
            MState::Suspending => "suspending",
            MState::Suspended => "suspended",
            MState::Down => "down",
            MState::Destroyed => "destroyed",
        }
    }

    /// Every state, `destroyed` last: the lifecycle graph's nodes.
    pub const LIFECYCLE: [MState; STATES] = [
        MState::Stopped,
        MState::Starting,
        MState::Started,
        MState::Stopping,
        MState::Suspending,
        MState::Suspended,
        MState::Down,
        MState::Destroyed,
    ];

    /// Whether the lifecycle allows going from `self` to `to` (Fly's state diagram).
    pub fn can_go_to(self, to: MState) -> bool {
        use MState::*;
        matches!(
            (self, to),
            (Stopped, Starting)
                | (Starting, Started)
                | (Started, Stopping)
                | (Started, Suspending)
                | (Stopping, Stopped)
                | (Suspending, Suspended)
                | (Suspending, Starting)
                | (Suspended, Starting)
                | (Suspended, Stopped)
                | (Down, Stopped)
                | (Down, Suspended)
        ) || (to == Down && !matches!(self, Down | Destroyed))
            || (to == Destroyed && self != Destroyed)
    }
}

/// A request on its way through the proxy.
#[derive(Clone, Copy, Debug)]
pub struct Request {
    /// When it arrived at the proxy.
    pub arrived: SimTime,
    /// Its service time [ns] (its CPU time, when the app models CPU).
    pub service_ns: u64,
    /// Its waiting after the CPU time [ns] (0 unless the app models CPU).
    pub wait_ns: u64,
    /// The clients' region.
    pub client: u16,
    /// Routing attempts already spent (connect give-ups and failovers).
    pub retries: u8,
    /// Request flags (`flags::*`).
    pub flags: u8,
    /// The app's service it was sent to (index into its services).
    pub svc: u8,
    /// That service's route (`Scenario::route`), decided at the source.
    pub route: u16,
}

/// A request waiting for its Machine to finish booting.
#[derive(Clone, Copy, Debug)]
pub struct Pending {
    /// When the request arrived at the proxy.
    pub arrived: SimTime,
    /// When it was sent to this Machine.
    pub assigned: SimTime,
    /// Its service time [ns].
    pub service_ns: u64,
    /// Its waiting after the CPU time [ns].
    pub wait_ns: u64,
    /// The clients' region.
    pub client: u16,
    /// How many times it already gave up on a booting Machine.
    pub retries: u8,
    /// Request flags (`flags::*`).
    pub flags: u8,
    /// The app's service it was sent to.
    pub svc: u8,
    /// That service's route.
    pub route: u16,
}

/// A request in service under the independent model (its completion event names its slot).
#[derive(Clone, Copy, Debug)]
pub struct InService {
    /// Arrival at the proxy [ns].
    pub arrived: u64,
    /// The clients' region.
    pub client: u16,
    /// Request flags.
    pub flags: u8,
    /// The app's service it was sent to.
    pub svc: u8,
}

/// Flags carried by a request.
pub mod flags {
    /// Waited for a Machine to boot or resume.
    pub const COLD: u8 = 1;
    /// Waited in the proxy queue.
    pub const QUEUED: u8 = 2;
    /// Its CPU time ran while its Machine was throttled (out of CPU balance).
    pub const THROTTLED: u8 = 4;
}

impl Pending {
    /// The request itself.
    pub fn request(&self) -> Request {
        Request {
            arrived: self.arrived,
            service_ns: self.service_ns,
            wait_ns: self.wait_ns,
            client: self.client,
            retries: self.retries,
            flags: self.flags,
            svc: self.svc,
            route: self.route,
        }
    }
}

/// A job under processor sharing: finishes when the Machine's virtual time reaches `finish`.
#[derive(Clone, Copy, Debug)]
pub struct PsJob {
    /// Virtual finish time [ns of work].
    pub finish: f64,
    /// Arrival at the proxy [ns].
    pub arrived: u64,
    /// The clients' region.
    pub client: u16,
    /// Request flags.
    pub flags: u8,
    /// The app's service it was sent to.
    pub svc: u8,
    /// Its waiting once its CPU time is done [ns] (0: it is done then).
    pub wait_ns: u64,
    /// The Machine's throttle spells when it began (`Quota::throttle_spells`).
    pub spells: u32,
}

impl PartialEq for PsJob {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == std::cmp::Ordering::Equal
    }
}
impl Eq for PsJob {}
impl PartialOrd for PsJob {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for PsJob {
    /// Reversed on finish time (then arrival) so a max-heap pops the earliest finish.
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        o.finish
            .total_cmp(&self.finish)
            .then(o.arrived.cmp(&self.arrived))
    }
}

/// What keeps a Machine from the proxy's candidates, besides its state (`Machine::gate`).
pub mod gate {
    /// Started, but its health checks have not passed yet: "none of the edge proxies are
    /// allowed to send new requests to it until the health checks pass" (community.fly.io,
    /// "Autostart for machines with health checks just got better").
    pub const CHECKS_PENDING: u8 = 1;
    /// Its health checks fail: no new request goes to it.
    pub const CHECKS_FAILING: u8 = 2;
    /// Cordoned by a deploy (a bluegreen's green Machines until they are ready, its blue
    /// ones once traffic has switched): no new request goes to it, and it is never woken.
    pub const CORDONED: u8 = 4;
    /// Being updated by a deploy (leased by flyctl from its drain to its boot's end): no new
    /// request goes to it, and the proxy cannot start it.
    pub const UPDATING: u8 = 8;
    /// What takes a Machine out of the candidates.
    pub const OUT: u8 = CHECKS_PENDING | CHECKS_FAILING | CORDONED | UPDATING;
    /// What keeps the proxy from waking a Machine.
    pub const NO_WAKE: u8 = CORDONED | UPDATING;
}

/// Why a suspended Machine's snapshot is dropped before its next start (which then boots
/// cold). Fly discards snapshots on updates and deploys and when it moves a Machine (Fly docs,
/// suspend-resume). A snapshot found lost at a resume ("capacity pressure";
/// `platform.snapshot_loss_probability`) is drawn by the start itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotLoss {
    /// An update (`fly scale vm`).
    Update,
    /// A deploy of new code.
    Deploy,
}

/// Where a Machine's drain leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrainTo {
    /// Stop (autostop `stop`, idle exit, or suspend fallback).
    Stop,
    /// Suspend.
    Suspend,
}

/// One Machine's state.
#[derive(Debug)]
pub struct Machine {
    /// Owning app.
    pub app: AppId,
    /// Region index.
    pub region: u16,
    /// Its host.
    pub host: HostId,
    /// Number within its app (`web:0`, `web:1`, ...).
    pub ordinal: u32,
    /// Process group (index into the app's groups).
    pub group: u16,
    /// The route of its app's first service (`Scenario::route`); its service `s` is route
    /// `first_route + s`.
    pub first_route: u16,
    /// Whether its group takes the app's requests (false: a worker).
    pub serves: bool,
    /// Lifecycle state.
    pub state: MState,
    /// When the current state began.
    pub since: SimTime,
    /// The timer of its current state (boot done, drain deadline, stop done, crash);
    /// cancelled by every transition.
    pub lifecycle: Timer,
    /// Carried by its requests in service; bumped when they are killed.
    pub service_epoch: Token,
    /// Requests being served.
    pub in_service: u32,
    /// Of its load, the requests of each of its app's services (in service or waiting for the
    /// boot), when the app has several: Fly's limits count per service. Empty when the app
    /// has one service, whose load is the Machine's.
    pub svc_load: Box<[u32]>,
    /// Requests waiting for the boot to finish.
    pub pending: VecDeque<Pending>,
    /// When the running boot finishes (valid while starting).
    pub ready_at: SimTime,
    /// The connect-timeout check of the oldest request waiting for its boot.
    pub connect: Timer,
    /// When that check is due (while it is armed).
    pub connect_at: SimTime,
    /// When the Machine last became started.
    pub started_at: SimTime,
    /// When it was last sent a request.
    pub last_used: SimTime,
    /// When its load last dropped to zero.
    pub idle_since: SimTime,
    /// The idle-exit check.
    pub idle: Timer,
    /// Where the running drain leads.
    pub drain_to: DrainTo,
    /// Whether the running drain is over (its stop or suspend is scheduled).
    pub drained: bool,
    /// Independent-model requests in service, by slot.
    pub slots: Vec<InService>,
    /// Free slots in `slots`.
    pub free_slots: Vec<u32>,
    /// Processor-sharing jobs (empty under the independent model).
    pub ps_jobs: std::collections::BinaryHeap<PsJob>,
    /// Processor-sharing virtual time [ns of work] and when it was last advanced.
    pub ps_vtime: f64,
    /// When `ps_vtime` was last advanced.
    pub ps_last: SimTime,
    /// The processor-sharing completion of its earliest job.
    pub ps: Timer,
    /// Time spent in each state [ns].
    pub time_in: [u64; STATES],
    /// Starts (boots and resumes).
    pub starts: u32,
    /// Starts triggered by the proxy.
    pub autostarts: u32,
    /// Resumes from suspended.
    pub resumes: u32,
    /// Stops completed.
    pub stops: u32,
    /// Suspends completed.
    pub suspends: u32,
    /// Starts that failed (host full).
    pub failed_starts: u32,
    /// Requests served.
    pub served: u64,
    /// Whether it holds CPU and memory on its host.
    pub holds_host: bool,
    /// Its state when its host failed.
    pub before_down: MState,
    /// Its volume was destroyed with its host: it never runs again.
    pub volume_lost: bool,
    /// A standby: stopped until a watched Machine's host fails; never autostarted.
    pub is_standby: bool,
    /// The incident it is recovering from (it runs again when it next becomes started).
    pub recovering: Option<u32>,
    /// The incident whose takeover it is (a standby starting for a failed host).
    pub taking_over: Option<u32>,
    /// Crashes.
    pub crashes: u32,
    /// Restarts after crashes in the current 5-minute restart window.
    pub restarts_in_window: u32,
    /// Start of the restart window.
    pub restart_window_start: SimTime,
    /// Restart once the running stop completes (a crash under a restart policy).
    pub restart_after_stop: bool,
    /// Its size now.
    pub vm: VmSize,
    /// Its life, billing and rare counters, read when it is resized, moved or crashes and when
    /// results are reported (boxed: the request path never touches it, and a small Machine
    /// keeps large fleets in cache).
    pub book: Box<Book>,
    /// The `fly scale vm` action updating it, by index, while it restarts.
    pub updating: Option<u32>,
    /// The deploy updating it, by index, from its update until flyctl stops waiting for it.
    pub deploying: Option<u32>,
    /// The version of the app it runs: 0 before any deploy, `k + 1` after deploy `k`.
    pub version: u16,
    /// What keeps it from the proxy besides its state (`gate::*`).
    pub gate: u8,
    /// Its health-check result (passing or failing) after a boot.
    pub health: Timer,
    /// Its CPU quota account, when its app models CPU (boxed: most Machines have none).
    pub quota: Option<Box<super::cpu::Quota>>,
    /// Its own stream for boot, resume and suspend times (`machine/<app>:<n>`), so that a
    /// Machine created during the run moves no other Machine's draws; made at its first draw
    /// (a Machine that never boots never pays for it).
    pub rng: Option<Box<StreamRng>>,
}

/// A Machine's life and the prices it was billed at.
#[derive(Debug)]
pub struct Book {
    /// When it was created.
    pub created_at: SimTime,
    /// Its size when it was created.
    pub first_vm: VmSize,
    /// Its size changes: when, and the new size.
    pub resized: Vec<(SimTime, VmSize)>,
    /// Price while started at its size now [USD/s].
    pub compute_rate: f64,
    /// Cost accrued at earlier sizes.
    pub banked: CostSplit,
    /// `time_in` when its size last changed (time since then is billed at `compute_rate`).
    pub rate_mark: [u64; STATES],
    /// Moves to another host at a start (its host was full).
    pub migrations: u32,
    /// Suspend snapshots lost (updates, or at a resume).
    pub snapshots_lost: u32,
    /// When its VM last finished booting (its app then boots; health checks count from
    /// here).
    pub vm_up_at: SimTime,
    /// Its crash stream (`crash/<app>/<n>`), made at its first draw.
    pub crash_rng: Option<StreamRng>,
}

impl Machine {
    /// A new Machine in `state`, created at `now`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        app: AppId,
        region: u16,
        host: HostId,
        ordinal: u32,
        state: MState,
        vm: VmSize,
        compute_rate: f64,
        now: SimTime,
    ) -> Self {
        Machine {
            app,
            region,
            host,
            ordinal,
            group: 0,
            first_route: 0,
            serves: true,
            state,
            since: now,
            lifecycle: Timer::default(),
            service_epoch: Token::default(),
            in_service: 0,
            svc_load: Box::default(),
            pending: VecDeque::new(),
            ready_at: SimTime::ZERO,
            connect: Timer::default(),
            connect_at: SimTime::NEVER,
            started_at: now,
            last_used: now,
            idle_since: now,
            idle: Timer::default(),
            drain_to: DrainTo::Stop,
            drained: false,
            slots: Vec::new(),
            free_slots: Vec::new(),
            ps_jobs: std::collections::BinaryHeap::new(),
            ps_vtime: 0.0,
            ps_last: now,
            ps: Timer::default(),
            time_in: [0; STATES],
            starts: 0,
            autostarts: 0,
            resumes: 0,
            stops: 0,
            suspends: 0,
            failed_starts: 0,
            served: 0,
            holds_host: state != MState::Stopped,
            before_down: state,
            volume_lost: false,
            is_standby: false,
            recovering: None,
            taking_over: None,
            crashes: 0,
            restarts_in_window: 0,
            restart_window_start: now,
            restart_after_stop: false,
            vm,
            book: Box::new(Book {
                created_at: now,
                first_vm: vm,
                resized: Vec::new(),
                compute_rate,
                banked: CostSplit::default(),
                rate_mark: [0; STATES],
                migrations: 0,
                snapshots_lost: 0,
                vm_up_at: SimTime::ZERO,
                crash_rng: None,
            }),
            updating: None,
            deploying: None,
            version: 0,
            gate: 0,
            health: Timer::default(),
            quota: None,
            rng: None,
        }
    }

    /// Requests on this Machine: in service plus waiting for the boot.
    #[inline]
    pub fn load(&self) -> u32 {
        self.in_service + self.pending.len() as u32
    }

    /// The load service `svc` counts against its limits: that service's requests.
    #[inline]
    pub fn load_for(&self, svc: u8) -> u32 {
        match self.svc_load.get(svc as usize) {
            Some(&n) => n,
            None => self.load(),
        }
    }

    /// Puts the Machine in process group `group` of `app`: whether it serves, and one load
    /// counter per service when the app has several.
    pub fn join_group(&mut self, app: &crate::scenario::App, group: usize) {
        self.group = group as u16;
        self.first_route = app.first_route as u16;
        self.serves = app.served_groups.contains(&group);
        if app.services.len() > 1 {
            self.svc_load = vec![0; app.services.len()].into_boxed_slice();
        }
    }

    /// A request of service `svc` joins the Machine's load (sent to it, or begun).
    #[inline]
    pub fn count_in(&mut self, svc: u8) {
        if let Some(n) = self.svc_load.get_mut(svc as usize) {
            *n += 1;
        }
    }

    /// Takes the oldest request waiting for the boot off the Machine (its load drops).
    #[inline]
    pub fn take_pending(&mut self) -> Option<Pending> {
        let p = self.pending.pop_front()?;
        self.count_out(p.svc);
        Some(p)
    }

    /// After every request in service was dropped: each service's load is its requests
    /// still waiting for the boot.
    pub fn recount_after_kill(&mut self) {
        self.svc_load.fill(0);
        for i in 0..self.pending.len() {
            let svc = self.pending[i].svc;
            self.count_in(svc);
        }
    }

    /// A request of service `svc` leaves the Machine's load (done, or taken off it).
    #[inline]
    pub fn count_out(&mut self, svc: u8) {
        if let Some(n) = self.svc_load.get_mut(svc as usize) {
            *n -= 1;
        }
    }

    /// Moves to `to` at `now`, accounting the time spent in the state it leaves.
    ///
    /// # Panics
    /// In debug builds, on a transition the lifecycle does not allow (a bug in the model).
    pub fn go(&mut self, to: MState, now: SimTime) -> MState {
        debug_assert!(
            self.state.can_go_to(to),
            "illegal transition {:?} -> {:?} at {now}",
            self.state,
            to
        );
        let from = self.state;
        self.time_in[from as usize] += now.0 - self.since.0;
        self.state = to;
        self.since = now;
        self.lifecycle.cancel();
        from
    }

    /// Time in each state up to `now` (the current state's open span included).
    pub fn time_in_until(&self, now: SimTime) -> [u64; STATES] {
        let mut t = self.time_in;
        if self.state != MState::Destroyed {
            t[self.state as usize] += now.0.saturating_sub(self.since.0);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::MState::{self, *};

    /// The graph the model enforces, edge by edge, against Fly's state diagram (the overall
    /// Machine state diagram of the Machines docs, `spec/fly-platform.md` §2), restricted to
    /// the states flysim visits: `destroying`, `updating` and `restarting` are instants here,
    /// `failed` is `down` (a host failure), and a boot does not fail (`starting --error-->`
    /// is not modelled).
    #[test]
    fn the_lifecycle_graph_is_flys_diagram() {
        let edges = [
            (Stopped, Starting),   // stopped --start--> starting
            (Starting, Started),   // starting --success--> started
            (Started, Stopping),   // started --stop--> stopping
            (Started, Suspending), // started --suspend--> suspended, via suspending
            (Stopping, Stopped),   // stopping --success--> stopped
            (Suspending, Suspended),
            (Suspending, Starting), // interruptible suspend: a start cancels the snapshot
            (Suspended, Starting),  // suspended --resume--> starting
            (Suspended, Stopped),   // suspended --update--> updating --preserve state--> stopped
            (Down, Stopped),        // the host returns
            (Down, Suspended),
        ];
        for from in MState::LIFECYCLE {
            for to in MState::LIFECYCLE {
                let expected = edges.contains(&(from, to))
                    // any live state: the host fails, or the operator destroys the Machine
                    || (to == Down && !matches!(from, Down | Destroyed))
                    || (to == Destroyed && from != Destroyed);
                assert_eq!(from.can_go_to(to), expected, "{from:?} -> {to:?}");
            }
        }
        // Nothing leaves `destroyed`.
        assert!(MState::LIFECYCLE.iter().all(|&to| !Destroyed.can_go_to(to)));
    }
}
