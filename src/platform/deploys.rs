//! `fly deploy` during a run (`[[deploy]]`), and the health checks that gate traffic.
//!
//! **Health checks.** A Machine of a group with service checks starts each boot with its
//! checks not yet passing. flyd runs them from `grace_period` after the VM starts, at a short
//! interval (`platform.checks_startup_interval`) until they pass or two intervals have gone by,
//! then every `interval` (community.fly.io, "Autostart for machines with health checks just
//! got better"). They pass at the first check once the app has booted and, for a new version,
//! `healthy_after` more; a version that fails its checks is failing from its first check after
//! the boot. Until they pass, the Machine takes no new request (`machine::gate`); requests
//! sent to it while it booted (the autostart path) are served.
//!
//! A Machine a deploy updates is leased from its drain until its boot ends: no new request
//! goes to it and the proxy cannot start it.
//!
//! **Deploys** follow flyctl (`internal/command/deploy`):
//! - the release command first (`machines_releasecommand.go`): a temporary Machine in the
//!   primary region boots and runs it; a failure or `release_command_timeout` aborts the
//!   deploy before any Machine changes;
//! - standbys of groups with services lose their standby role (`machines_launchinput.go`);
//! - **rolling** (`updateUsingRollingStrategy`): per process group, at the same time; a group's
//!   Machines that are not started are updated at once and not started (`SkipLaunch`; a
//!   suspended one loses its snapshot); its started ones one first (the spearhead), then a
//!   pool of `max_unavailable` (a count when at least 1, else a fraction of the group's started
//!   Machines rounded up). Each is updated in place (drained, stopped, started at the new
//!   version) and awaited: started within `wait_timeout`, then its checks passing within
//!   `wait_timeout`. A Machine that misses a wait fails the deploy: no further Machine is
//!   updated (the pool is cancelled), those in flight finish, nothing is rolled back;
//! - **canary**: first one new Machine per group in the primary region, awaited like an
//!   update; when all are healthy they are destroyed and the rollout goes on rolling. A canary
//!   that fails is left as it is, and the deploy fails;
//! - **immediate**: every Machine updated at once, nothing awaited; flyctl reports success
//!   whatever the checks say;
//! - **bluegreen** (`strategy_bluegreen.go`): needs health checks; creates a green Machine
//!   beside each blue one, cordoned, `ceil(n/3)` at a time, started unless its blue one was
//!   stopped; waits for all to start, then for all to pass their checks (one `wait_timeout`
//!   each); uncordons them; after 10 s cordons the blue ones, after 10 s more stops them,
//!   waits for them to stop and destroys them. A failure before the green Machines take
//!   traffic destroys them all (the rollback); the blue ones never stopped serving.
//!
//! A deploy of an app whose previous deploy still runs fails at once (flyctl cannot take the
//! Machines' leases).

use rand::RngExt;

use super::machine::{DrainTo, MState, SnapshotLoss, gate};
use super::{Event, MachineId, Sim};
use crate::engine::{SimDuration, SimTime};
use crate::scenario::{Checks, Dist, NewMachine, Strategy};
use crate::workload::sample_ns;

/// How long bluegreen waits before it cordons the blue Machines, and again before it stops
/// them (`waitBeforeCordon`, `waitBeforeStop` in `strategy_bluegreen.go`).
pub const BLUEGREEN_PAUSE: SimDuration = SimDuration::from_secs(10);
/// How often a deploy looks again at a Machine in a transition before it updates it.
const POLL: SimDuration = SimDuration::from_secs(1);

/// How a deploy ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not over at the end of the run.
    Running,
    /// Every Machine runs the new version (for `immediate`: every update was made).
    Complete,
    /// A Machine missed a wait; the Machines updated so far keep the new version.
    Failed,
    /// Bluegreen failed before the switch: its green Machines were destroyed.
    RolledBack,
    /// The release command failed or timed out: nothing changed.
    ReleaseFailed,
    /// Bluegreen without health checks: flyctl refuses it before it changes anything.
    NoChecks,
    /// Another deploy of the app was still running.
    Busy,
}

impl Outcome {
    /// The name in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Running => "running",
            Outcome::Complete => "complete",
            Outcome::Failed => "failed",
            Outcome::RolledBack => "rolled_back",
            Outcome::ReleaseFailed => "release_failed",
            Outcome::NoChecks => "no_checks",
            Outcome::Busy => "busy",
        }
    }
}

/// A version of an app's code as the run uses it (resolved: what a deploy leaves out is the
/// previous version's).
#[derive(Clone, Debug)]
pub struct Version {
    /// Its app start-up.
    pub app_boot: Dist,
    /// Its requests' service time, as a multiple of the app's.
    pub service_factor: f64,
    /// Time after the app boots before its checks can pass.
    pub healthy_after: SimDuration,
    /// Whether it never passes its checks (drawn when its deploy begins).
    pub fails: bool,
    /// Mean running time between crashes of one of its Machines.
    pub crash_mtbf: Option<SimDuration>,
}

/// What a deploy waits for on one Machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// To be started again (or, for `immediate`, only to know when it is back).
    Start,
    /// Its checks to pass.
    Checks,
    /// To be in a state it can be updated from.
    Settle,
}

#[derive(Clone, Copy, Debug)]
struct Wait {
    machine: MachineId,
    stage: Stage,
    /// When flyctl gives up (`SimTime::NEVER`: it does not wait).
    deadline: SimTime,
    /// Index into the run's groups (rolling), or `u32::MAX`.
    roll: u32,
}

/// A process group's rolling update.
#[derive(Clone, Debug, Default)]
struct Roll {
    /// Its started Machines, in update order.
    warm: Vec<MachineId>,
    /// The next one to update.
    next: usize,
    /// Updates in flight.
    in_flight: u32,
    /// The pool's size.
    pool: u32,
    /// Whether the spearhead (its first Machine) is done.
    spearhead_done: bool,
}

/// Where a deploy is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Release,
    Canary,
    Rolling,
    Immediate,
    GreenCreate,
    GreenStart,
    GreenHealth,
    BeforeCordon,
    BeforeStop,
    BlueStop,
    Over,
}

/// What one deploy did.
#[derive(Clone, Debug)]
pub struct DeployRun {
    /// When it began (`None`: its time never came).
    pub started: Option<SimTime>,
    /// When flyctl would have returned.
    pub ended: Option<SimTime>,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it failed, for `deploys.csv`.
    pub why: String,
    /// Machines that now run the new version (updated in place, or green ones that took
    /// over).
    pub replaced: u32,
    /// Machines it created (canaries, green Machines).
    pub created: Vec<MachineId>,
    /// The release command's run, its temporary Machine's boot included [s].
    pub release_s: f64,
    /// The release command Machine's cost [USD].
    pub release_cost: f64,
    /// The app's counters when it began: failed, cold starts, served.
    pub at_start: [u64; 3],
    /// Requests failed, cold starts and requests served while it ran.
    pub during: [u64; 3],
    /// p99 latency of the requests served while it ran [ms].
    pub p99_ms: f64,
    /// Bluegreen that completed: its green Machines' started time [s] and cost [USD] until
    /// the blue ones were destroyed (after that they are the app's Machines, not extra).
    pub overlap: Option<(f64, f64)>,
    phase: Phase,
    /// Bumped at each phase change: a phase's deadline event carries it.
    phase_seq: u32,
    /// When the current phase began.
    phase_at: SimTime,
    rolls: Vec<Roll>,
    waits: Vec<Wait>,
    /// Bluegreen: the blue Machines, and how many creates or waits are left.
    blue: Vec<MachineId>,
    left: u32,
    aborted: bool,
    /// Inside the loop that starts a rollout: nothing ends it yet.
    setting_up: bool,
}

impl DeployRun {
    fn new() -> Self {
        DeployRun {
            started: None,
            ended: None,
            outcome: Outcome::Running,
            why: String::new(),
            replaced: 0,
            created: Vec::new(),
            release_s: 0.0,
            release_cost: 0.0,
            at_start: [0; 3],
            during: [0; 3],
            p99_ms: 0.0,
            overlap: None,
            phase: Phase::Release,
            phase_seq: 0,
            phase_at: SimTime::ZERO,
            rolls: Vec::new(),
            waits: Vec::new(),
            blue: Vec::new(),
            left: 0,
            aborted: false,
            setting_up: false,
        }
    }
}

/// The deploys of a run and the versions they ship.
#[derive(Clone, Debug)]
pub struct Deploys {
    /// One per `[[deploy]]`.
    pub runs: Vec<DeployRun>,
    /// Version `v` of any app is `versions[v - 1]` (deploy `v - 1` ships it).
    pub versions: Vec<Version>,
}

/// The steps of a deploy, carried by `Event::Deploy`.
pub mod step {
    /// Its time has come.
    pub const BEGIN: u8 = 0;
    /// The release command finished.
    pub const RELEASE_DONE: u8 = 1;
    /// A create finished (arg: index into the deploy's `creates`).
    pub const CREATED: u8 = 2;
    /// A wait on a Machine reached its deadline (arg: the Machine).
    pub const TIMEOUT: u8 = 3;
    /// A phase's deadline or pause is over (arg: the phase's sequence number).
    pub const PHASE: u8 = 4;
    /// Look again at a Machine in a transition (arg: the Machine).
    pub const POLL: u8 = 5;
}

impl Deploys {
    /// The deploys of `sc`, with each version resolved against the one before it.
    pub fn new(sc: &crate::scenario::Scenario, faults_crash: &[Option<SimDuration>]) -> Self {
        let mut latest: Vec<Option<usize>> = vec![None; sc.apps.len()];
        let mut versions: Vec<Version> = Vec::with_capacity(sc.deploys.len());
        for (k, d) in sc.deploys.iter().enumerate() {
            let before = latest[d.app].map(|v| versions[v].clone());
            let app = &sc.apps[d.app];
            let base = before.unwrap_or(Version {
                app_boot: app.app_boot,
                service_factor: 1.0,
                healthy_after: SimDuration::ZERO,
                fails: false,
                crash_mtbf: faults_crash[d.app],
            });
            versions.push(Version {
                app_boot: d.version.app_boot.unwrap_or(base.app_boot),
                service_factor: d.version.service_time_factor,
                healthy_after: d.version.healthy_after,
                fails: false,
                crash_mtbf: d.version.crash_mtbf.or(base.crash_mtbf),
            });
            latest[d.app] = Some(k);
        }
        Deploys {
            runs: sc.deploys.iter().map(|_| DeployRun::new()).collect(),
            versions,
        }
    }

    /// Version `v` (1 or more).
    #[inline]
    pub fn version(&self, v: u16) -> &Version {
        &self.versions[v as usize - 1]
    }
}

/// The first check at or after `t` of a Machine whose VM started at `vm_up` (see the module
/// header): from `vm_up + grace_period`, every `fast` until two intervals have gone by, then
/// every `interval`.
pub fn first_check_at_or_after(
    t: SimTime,
    vm_up: SimTime,
    checks: &Checks,
    fast: SimDuration,
) -> SimTime {
    let first = vm_up + checks.grace_period;
    if t <= first {
        return first;
    }
    let fast = fast.0.max(1).min(checks.interval.0.max(1));
    let fast_until = first.0 + 2 * checks.interval.0;
    let since = t.0 - first.0;
    if t.0 <= fast_until {
        let k = since.div_ceil(fast);
        let at = first.0 + k * fast;
        if at <= fast_until {
            return SimTime(at);
        }
    }
    // The slow checks run from the end of the fast ones.
    let base = fast_until - (fast_until - first.0) % fast;
    let slow_since = t.0.saturating_sub(base);
    SimTime(base + slow_since.div_ceil(checks.interval.0.max(1)) * checks.interval.0.max(1))
}

impl Sim<'_> {
    /// The checks of Machine `id`'s group, if it has any.
    pub(super) fn checks_of(&self, id: MachineId) -> Option<Checks> {
        let m = &self.fleet[id];
        self.sc.apps[m.app.index()].groups[m.group as usize].checks
    }

    /// A Machine with checks became started: its checks pass or fail at their next run.
    #[cold]
    pub(super) fn begin_checks(&mut self, id: MachineId, checks: Checks) {
        let now = self.now();
        let m = &self.fleet[id];
        let (healthy_after, fails) = match m.version {
            0 => (SimDuration::ZERO, false),
            v => {
                let ver = self.deploys.version(v);
                (ver.healthy_after, ver.fails)
            }
        };
        let vm_up = m.book.vm_up_at;
        let fast = self.sc.platform.checks_startup_interval;
        // A passing version passes at the first check once it is healthy; a failing one
        // fails at the first check after its boot.
        let ready = if fails { now } else { now + healthy_after };
        let at = first_check_at_or_after(ready, vm_up, &checks, fast);
        let m = &mut self.fleet[id];
        m.gate |= gate::CHECKS_PENDING;
        let token = m.health.arm();
        self.engine
            .schedule_at(at, Event::Health { machine: id, token });
        self.reband(id);
    }

    /// Machine `id`'s checks ran: they pass, or (a failing version) they fail.
    pub(super) fn on_health(&mut self, id: MachineId) {
        if self.fleet[id].state != MState::Started {
            return;
        }
        let fails = match self.fleet[id].version {
            0 => false,
            v => self.deploys.version(v).fails,
        };
        let m = &mut self.fleet[id];
        m.gate &= !gate::CHECKS_PENDING;
        if fails {
            m.gate |= gate::CHECKS_FAILING;
        }
        self.reband(id);
        if !fails {
            if self.fleet[id].gate & gate::OUT == 0 {
                self.feed_from_queue(id);
            }
            self.deploy_waited(id, Stage::Checks, true);
        }
    }

    /// Machine `id` moves to `to`, not `started`: its checks start over, and an update that
    /// will not boot it again (its host failed, it was destroyed, or it stops for good) no
    /// longer holds it.
    #[cold]
    pub(super) fn gate_reset(&mut self, id: MachineId, to: MState) {
        let m = &mut self.fleet[id];
        if m.gate & (gate::CHECKS_PENDING | gate::CHECKS_FAILING) != 0 {
            m.gate &= !(gate::CHECKS_PENDING | gate::CHECKS_FAILING);
            m.health.cancel();
        }
        let over = match to {
            MState::Down | MState::Destroyed => true,
            MState::Stopped => !m.restart_after_stop,
            _ => false,
        };
        if over {
            m.gate &= !gate::UPDATING;
        }
    }

    /// Deploy `k`'s time has come.
    pub(super) fn on_deploy(&mut self, k: usize, what: u8, arg: u32) {
        match what {
            step::BEGIN => self.deploy_begin(k),
            step::RELEASE_DONE => self.release_done(k),
            step::CREATED => self.deploy_created(k, arg as usize),
            step::TIMEOUT => self.deploy_timeout(k, MachineId::at(arg as usize)),
            step::PHASE => {
                if self.deploys.runs[k].phase_seq == arg {
                    self.phase_over(k);
                }
            }
            step::POLL => self.update_machine(k, MachineId::at(arg as usize), u32::MAX),
            _ => unreachable!("unknown deploy step"),
        }
    }

    fn schedule_step(&mut self, at: SimTime, k: usize, what: u8, arg: u32) {
        self.engine.schedule_at(
            at,
            Event::Deploy {
                index: k as u32,
                step: what,
                arg,
            },
        );
    }

    fn deploy_begin(&mut self, k: usize) {
        let now = self.now();
        let sc = self.sc;
        let d = &sc.deploys[k];
        let app = d.app;
        let busy = self.deploys.runs[..k]
            .iter()
            .enumerate()
            .any(|(j, r)| sc.deploys[j].app == app && r.started.is_some() && r.ended.is_none());
        let c = &self.rec.apps[app];
        let at_start = [c.failed_total(), c.cold_starts, c.served];
        let run = &mut self.deploys.runs[k];
        run.started = Some(now);
        run.at_start = at_start;
        if busy {
            run.why = "another deploy of the app was still running".into();
            self.deploy_over(k, Outcome::Busy);
            return;
        }
        self.rec.open_window(app);
        // Standbys of groups with services stop being standbys (`machines_launchinput.go`).
        for id in self.app_machines(app) {
            let m = &self.fleet[id];
            if m.is_standby && m.serves {
                self.fleet[id].is_standby = false;
                self.reband(id);
            }
        }
        let rng = self.streams_deploy(k);
        let fails =
            d.version.fail_probability > 0.0 && rng.random::<f64>() < d.version.fail_probability;
        self.deploys.versions[k].fails = fails;
        let Some(release) = &d.release_time else {
            self.begin_rollout(k);
            return;
        };
        let rng = self.streams_deploy(k);
        let boot = sample_ns(&sc.platform.boot_time, rng);
        let run_ns = sample_ns(release, rng);
        let failed =
            d.release_fail_probability > 0.0 && rng.random::<f64>() < d.release_fail_probability;
        let limit = d.config.release_command_timeout.0;
        let took = (boot + run_ns).min(boot + limit);
        let vm = self.release_size(app);
        let price = sc.started_price(app, 0, sc.apps[app].primary_region, &vm);
        let run = &mut self.deploys.runs[k];
        run.release_s = took as f64 / 1e9;
        run.release_cost = price * run.release_s;
        if failed || run_ns > limit {
            run.why = if failed {
                "the release command failed".into()
            } else {
                "the release command ran past release_command_timeout".into()
            };
            run.aborted = true;
        }
        run.phase = Phase::Release;
        self.schedule_step(now + SimDuration(took), k, step::RELEASE_DONE, 0);
    }

    /// The release command's Machine size (`inferReleaseCommandGuest`): the largest-memory
    /// Machine of the first process group, else shared-cpu-2x.
    fn release_size(&self, app: usize) -> crate::scenario::VmSize {
        self.app_machines(app)
            .into_iter()
            .map(|id| &self.fleet[id])
            .filter(|m| m.group == 0)
            .max_by_key(|m| m.vm.memory_mb)
            .map_or_else(
                || crate::scenario::fly::preset("shared-cpu-2x").expect("built-in preset"),
                |m| m.vm,
            )
    }

    /// The stream of deploy `k` (`deploy/<k>`): its failure draw and its release command.
    fn streams_deploy(&mut self, k: usize) -> &mut crate::engine::StreamRng {
        if self.deploy_rngs[k].is_none() {
            self.deploy_rngs[k] = Some(self.streams.stream(&format!("deploy/{k}")));
        }
        self.deploy_rngs[k].as_mut().expect("made above")
    }

    fn release_done(&mut self, k: usize) {
        if self.deploys.runs[k].aborted {
            self.deploy_over(k, Outcome::ReleaseFailed);
        } else {
            self.begin_rollout(k);
        }
    }

    /// The app's Machines that are not destroyed, in creation order.
    /// Whether a deploy of `app` is under way (its release "running").
    pub(super) fn deploy_running(&self, app: usize) -> bool {
        self.sc
            .deploys
            .iter()
            .zip(&self.deploys.runs)
            .any(|(d, r)| d.app == app && r.started.is_some() && r.outcome == Outcome::Running)
    }

    fn app_machines(&self, app: usize) -> Vec<MachineId> {
        self.fleet
            .iter()
            .filter(|(_, m)| m.app.index() == app && m.state != MState::Destroyed)
            .map(|(id, _)| id)
            .collect()
    }

    fn set_phase(&mut self, k: usize, phase: Phase) {
        let now = self.now();
        let run = &mut self.deploys.runs[k];
        run.phase = phase;
        run.phase_at = now;
        run.phase_seq += 1;
    }

    fn begin_rollout(&mut self, k: usize) {
        let strategy = self.sc.deploys[k].config.strategy;
        match strategy {
            Strategy::Immediate => {
                self.set_phase(k, Phase::Immediate);
                self.deploys.runs[k].setting_up = true;
                for id in self.app_machines(self.sc.deploys[k].app) {
                    self.update_machine(k, id, u32::MAX);
                }
                self.deploys.runs[k].setting_up = false;
                self.check_over(k);
            }
            Strategy::Rolling => self.begin_rolling(k),
            Strategy::Canary if !self.sc.deploys[k].creates.is_empty() => {
                self.set_phase(k, Phase::Canary);
                self.schedule_deploy_creates(k, self.sc.deploys[k].creates.len());
            }
            Strategy::Canary => self.begin_rolling(k),
            Strategy::Bluegreen => self.begin_bluegreen(k),
        }
    }

    /// Schedules the deploy's `n` creates, `ceil(n/3)` at a time for bluegreen, all at once for
    /// canaries.
    fn schedule_deploy_creates(&mut self, k: usize, n: usize) {
        let now = self.now();
        let create = self.sc.platform.create_time;
        let at_once = match self.sc.deploys[k].config.strategy {
            Strategy::Bluegreen => n.div_ceil(3).max(1),
            _ => n.max(1),
        };
        self.deploys.runs[k].left = n as u32;
        for i in 0..n {
            let wave = (i / at_once + 1) as u64;
            self.schedule_step(
                now + SimDuration(create.0 * wave),
                k,
                step::CREATED,
                i as u32,
            );
        }
    }

    /// Rolling: the groups' updates begin.
    fn begin_rolling(&mut self, k: usize) {
        self.set_phase(k, Phase::Rolling);
        let sc = self.sc;
        let d = &sc.deploys[k];
        let mut rolls: Vec<(u16, Roll)> = Vec::new();
        self.deploys.runs[k].setting_up = true;
        for id in self.app_machines(d.app) {
            let group = self.fleet[id].group;
            let pos = match rolls.iter().position(|(g, _)| *g == group) {
                Some(p) => p,
                None => {
                    rolls.push((group, Roll::default()));
                    rolls.len() - 1
                }
            };
            if self.fleet[id].state == MState::Started
                || matches!(
                    self.fleet[id].state,
                    MState::Starting | MState::Stopping | MState::Suspending
                )
            {
                rolls[pos].1.warm.push(id);
            } else {
                self.update_machine(k, id, u32::MAX);
            }
        }
        let mu = d.config.max_unavailable;
        for (_, r) in &mut rolls {
            r.pool = if mu >= 1.0 {
                mu as u32
            } else {
                (r.warm.len() as f64 * mu).ceil() as u32
            }
            .max(1);
        }
        self.deploys.runs[k].rolls = rolls.into_iter().map(|(_, r)| r).collect();
        self.deploys.runs[k].setting_up = false;
        self.roll_next(k);
    }

    /// Starts every update the pools allow; ends the deploy when nothing is left in flight.
    fn roll_next(&mut self, k: usize) {
        let n = self.deploys.runs[k].rolls.len();
        for g in 0..n {
            loop {
                let run = &self.deploys.runs[k];
                let r = &run.rolls[g];
                let room = if r.spearhead_done { r.pool } else { 1 };
                if run.aborted || r.in_flight >= room || r.next >= r.warm.len() {
                    break;
                }
                // The spearhead goes alone; the pool begins once it is done.
                if !r.spearhead_done && r.next > 0 {
                    break;
                }
                let id = r.warm[r.next];
                let r = &mut self.deploys.runs[k].rolls[g];
                r.next += 1;
                r.in_flight += 1;
                self.update_machine(k, id, g as u32);
            }
        }
        self.check_over(k);
    }

    /// Updates Machine `id` to deploy `k`'s version (one of rolling group `roll`, or not).
    fn update_machine(&mut self, k: usize, id: MachineId, roll: u32) {
        let now = self.now();
        let v = (k + 1) as u16;
        let immediate = self.sc.deploys[k].config.strategy == Strategy::Immediate;
        let wait = self.sc.deploys[k].config.wait_timeout;
        // A poll comes back with `roll` lost: find the Machine's wait.
        let roll = match self.take_wait(k, id, Stage::Settle) {
            Some(w) => w.roll,
            None => roll,
        };
        match self.fleet[id].state {
            MState::Destroyed => {
                self.machine_done(k, roll, true);
            }
            MState::Stopped | MState::Down => {
                self.fleet[id].version = v;
                self.deploys.runs[k].replaced += 1;
                self.machine_done(k, roll, true);
            }
            MState::Suspended => {
                self.drop_snapshot(id, SnapshotLoss::Deploy);
                self.fleet[id].version = v;
                self.deploys.runs[k].replaced += 1;
                self.machine_done(k, roll, true);
            }
            MState::Started => {
                let m = &mut self.fleet[id];
                m.deploying = Some(k as u32);
                m.restart_after_stop = true;
                m.gate |= gate::UPDATING;
                self.begin_drain(id, DrainTo::Stop);
                let deadline = if immediate {
                    SimTime::NEVER
                } else {
                    now + wait
                };
                self.add_wait(k, id, Stage::Start, deadline, roll);
            }
            MState::Starting | MState::Stopping | MState::Suspending => {
                self.add_wait(k, id, Stage::Settle, SimTime::NEVER, roll);
                self.schedule_step(now + POLL, k, step::POLL, id.index() as u32);
            }
        }
    }

    fn add_wait(&mut self, k: usize, id: MachineId, stage: Stage, deadline: SimTime, roll: u32) {
        self.deploys.runs[k].waits.push(Wait {
            machine: id,
            stage,
            deadline,
            roll,
        });
        if deadline != SimTime::NEVER {
            self.schedule_step(deadline, k, step::TIMEOUT, id.index() as u32);
        }
    }

    fn take_wait(&mut self, k: usize, id: MachineId, stage: Stage) -> Option<Wait> {
        let waits = &mut self.deploys.runs[k].waits;
        let i = waits
            .iter()
            .position(|w| w.machine == id && w.stage == stage)?;
        Some(waits.swap_remove(i))
    }

    /// An update (or a canary) of rolling group `roll` is over, well or not.
    fn machine_done(&mut self, k: usize, roll: u32, ok: bool) {
        let run = &mut self.deploys.runs[k];
        if !ok {
            run.aborted = true;
        }
        if roll != u32::MAX {
            let r = &mut run.rolls[roll as usize];
            r.in_flight -= 1;
            r.spearhead_done = true;
            self.roll_next(k);
        } else {
            self.check_over(k);
        }
    }

    /// Machine `id`, which a deploy may wait on, reached `stage` (started, or checks passing),
    /// or could not (`ok` false: no room to start it).
    fn deploy_waited(&mut self, id: MachineId, stage: Stage, ok: bool) {
        let Some(k) = self.fleet[id].deploying else {
            return;
        };
        let k = k as usize;
        if matches!(
            self.deploys.runs[k].phase,
            Phase::GreenCreate | Phase::GreenStart | Phase::GreenHealth
        ) {
            if !ok {
                self.note_failure(k, id, "could not start: no host has room");
                self.deploys.runs[k].aborted = true;
                return self.rollback(k);
            }
            return self.green_progress(k);
        }
        let Some(w) = self.take_wait(k, id, stage) else {
            return;
        };
        if ok && stage == Stage::Start {
            let v = (k + 1) as u16;
            if self.fleet[id].version == v {
                self.deploys.runs[k].replaced += u32::from(!self.is_created(k, id));
            }
            let immediate = self.sc.deploys[k].config.strategy == Strategy::Immediate;
            if !immediate && self.checks_of(id).is_some() {
                let deadline = self.now() + self.sc.deploys[k].config.wait_timeout;
                self.add_wait(k, id, Stage::Checks, deadline, w.roll);
                return;
            }
        }
        if !ok {
            self.note_failure(k, id, "could not start: no host has room");
        }
        self.fleet[id].deploying = None;
        self.deploy_step_done(k, w.roll, ok);
    }

    /// Machine `id` became started: a deploy may be waiting for it.
    #[inline]
    pub(super) fn deploy_started(&mut self, id: MachineId) {
        if self.fleet[id].gate & gate::UPDATING != 0 {
            self.fleet[id].gate &= !gate::UPDATING;
            self.reband(id);
        }
        if self.fleet[id].deploying.is_some() {
            self.deploy_waited(id, Stage::Start, true);
        }
    }

    /// Machine `id` could not start again (no room): a deploy waiting for it fails.
    pub(super) fn deploy_start_failed(&mut self, id: MachineId) {
        if self.fleet[id].gate & gate::UPDATING != 0 {
            self.fleet[id].gate &= !gate::UPDATING;
            self.reband(id);
        }
        if self.fleet[id].deploying.is_some() {
            self.deploy_waited(id, Stage::Start, false);
        }
    }

    /// Machine `id` stopped: a deploy updating it gives it the new version before it boots.
    pub(super) fn deploy_stopped(&mut self, id: MachineId) {
        if let Some(k) = self.fleet[id].deploying {
            let phase = self.deploys.runs[k as usize].phase;
            if matches!(phase, Phase::Rolling | Phase::Immediate) {
                self.fleet[id].version = (k + 1) as u16;
            }
        }
    }

    /// Machine `id` is destroyed: a deploy waiting for it stops waiting (a failure).
    pub(super) fn deploy_machine_gone(&mut self, id: MachineId) {
        let Some(k) = self.fleet[id].deploying.map(|k| k as usize) else {
            return;
        };
        if matches!(
            self.deploys.runs[k].phase,
            Phase::GreenCreate | Phase::GreenStart | Phase::GreenHealth
        ) {
            self.fleet[id].deploying = None;
            return self.green_progress(k);
        }
        let waits = &mut self.deploys.runs[k].waits;
        if let Some(i) = waits.iter().position(|w| w.machine == id) {
            let w = waits.swap_remove(i);
            self.note_failure(k, id, "was destroyed during the deploy");
            self.fleet[id].deploying = None;
            self.deploy_step_done(k, w.roll, false);
        }
    }

    fn is_created(&self, k: usize, id: MachineId) -> bool {
        self.deploys.runs[k].created.contains(&id)
    }

    /// One awaited Machine is done: a rolling or immediate update, a canary, or a green one.
    fn deploy_step_done(&mut self, k: usize, roll: u32, ok: bool) {
        match self.deploys.runs[k].phase {
            Phase::Canary => {
                if !ok {
                    self.deploys.runs[k].aborted = true;
                }
                let run = &mut self.deploys.runs[k];
                run.left = run.left.saturating_sub(1);
                if run.aborted || run.left == 0 {
                    self.phase_over(k);
                }
            }
            _ => self.machine_done(k, roll, ok),
        }
    }

    fn note_failure(&mut self, k: usize, id: MachineId, what: &str) {
        let run = &mut self.deploys.runs[k];
        if run.why.is_empty() {
            let m = &self.fleet[id];
            run.why = format!("{}:{} {what}", self.sc.apps[m.app.index()].name, m.ordinal);
        }
    }

    /// A wait reached its deadline.
    fn deploy_timeout(&mut self, k: usize, id: MachineId) {
        let now = self.now();
        let waits = &self.deploys.runs[k].waits;
        let Some(i) = waits
            .iter()
            .position(|w| w.machine == id && w.deadline == now)
        else {
            return;
        };
        let w = self.deploys.runs[k].waits.swap_remove(i);
        let what = match w.stage {
            Stage::Start => "did not start within wait_timeout",
            Stage::Checks => "did not pass its health checks within wait_timeout",
            Stage::Settle => "did not settle",
        };
        self.note_failure(k, id, what);
        self.fleet[id].deploying = None;
        self.deploy_step_done(k, w.roll, false);
    }

    /// Ends the deploy when nothing is left to do.
    fn check_over(&mut self, k: usize) {
        let run = &self.deploys.runs[k];
        if run.setting_up {
            return;
        }
        match run.phase {
            Phase::Rolling => {
                let idle = run.rolls.iter().all(|r| r.in_flight == 0);
                let all = run.rolls.iter().all(|r| r.next >= r.warm.len());
                if idle && (run.aborted || all) {
                    let outcome = if run.aborted {
                        Outcome::Failed
                    } else {
                        Outcome::Complete
                    };
                    self.deploy_over(k, outcome);
                }
            }
            Phase::Immediate if run.waits.is_empty() => self.deploy_over(k, Outcome::Complete),
            _ => {}
        }
    }

    /// A create of the deploy finished: a canary or a green Machine is placed (and started).
    fn deploy_created(&mut self, k: usize, i: usize) {
        let sc = self.sc;
        let d = &sc.deploys[k];
        let run = &self.deploys.runs[k];
        if run.aborted || !matches!(run.phase, Phase::Canary | Phase::GreenCreate) {
            return;
        }
        // The scenario reserved an id for each Machine it expected; a green Machine beside a
        // blue one it did not (a clone of fly-autoscaler) takes the next unplanned id, and its
        // group, region and size from its blue Machine below.
        let (green, mut new) = match d.creates.get(i) {
            Some((blue, planned)) => (blue.is_some(), planned.clone()),
            None => {
                let new = NewMachine {
                    ordinal: self.fleet.unplanned_ordinal(d.app),
                    group: 0,
                    region: 0,
                    vm: sc.apps[d.app].groups[0].vm,
                };
                (true, new)
            }
        };
        let run = &self.deploys.runs[k];
        // A canary always starts; a green Machine starts if its blue one runs.
        let launch = !green
            || match run.blue.get(i).copied() {
                Some(b) if self.fleet[b].state != MState::Destroyed => {
                    // Beside its blue Machine: its group, region and size.
                    let m = &self.fleet[b];
                    new.group = m.group as usize;
                    new.region = m.region as usize;
                    new.vm = m.vm;
                    matches!(
                        m.state,
                        MState::Started | MState::Starting | MState::Stopping | MState::Suspending
                    )
                }
                _ => {
                    // Its blue Machine is gone: nothing to stand beside.
                    self.create_settled(k);
                    return;
                }
            };
        let new = &new;
        let Some(id) = self.place_new(d.app, new) else {
            let region = &sc.regions[new.region].code;
            let run = &mut self.deploys.runs[k];
            run.why = format!("no host in {region} has room for a new Machine");
            run.aborted = true;
            self.phase_over(k);
            return;
        };
        let m = &mut self.fleet[id];
        m.version = (k + 1) as u16;
        m.deploying = Some(k as u32);
        if green {
            m.gate |= gate::CORDONED;
            self.reband(id);
        }
        self.deploys.runs[k].created.push(id);
        if launch {
            let started = self.begin_start(id, false);
            debug_assert!(started, "the host was chosen for its room");
            // Canaries are awaited one by one; green Machines together, by phase.
            if !green {
                let deadline = self.now() + d.config.wait_timeout;
                self.add_wait(k, id, Stage::Start, deadline, u32::MAX);
            }
        } else {
            // Its blue Machine was stopped: it is created, not started (`SkipLaunch`).
            self.fleet[id].deploying = None;
        }
        if green {
            self.create_settled(k);
        }
    }

    /// A green Machine's create is over.
    fn create_settled(&mut self, k: usize) {
        let run = &mut self.deploys.runs[k];
        run.left -= 1;
        if run.left == 0 {
            self.phase_over(k);
        }
    }

    /// A new Machine of `app` on a host of its region with room, or `None`.
    fn place_new(&mut self, app: usize, new: &NewMachine) -> Option<MachineId> {
        let host = self.host_for_new(app, new)?;
        Some(self.spawn(app, new, host))
    }

    fn begin_bluegreen(&mut self, k: usize) {
        let sc = self.sc;
        let d = &sc.deploys[k];
        let app = d.app;
        let blue = self.app_machines(app);
        if !sc.apps[app].groups.iter().any(|g| g.checks.is_some()) && !blue.is_empty() {
            self.deploys.runs[k].why =
                "bluegreen needs at least one health check; flyctl refuses the deploy".into();
            self.deploy_over(k, Outcome::NoChecks);
            return;
        }
        // The blue Machines are the app's Machines now: a green one beside each (the scenario
        // reserved ids for those it expected; others take unplanned ones).
        let n = blue.len();
        self.deploys.runs[k].blue = blue;
        if n == 0 {
            self.deploy_over(k, Outcome::Complete);
            return;
        }
        self.set_phase(k, Phase::GreenCreate);
        self.schedule_deploy_creates(k, n);
    }

    /// The current phase is over (its work done, its deadline reached, or its pause over).
    fn phase_over(&mut self, k: usize) {
        let now = self.now();
        let wait = self.sc.deploys[k].config.wait_timeout;
        let phase = self.deploys.runs[k].phase;
        if self.deploys.runs[k].aborted {
            match phase {
                Phase::Canary => {
                    self.deploys.runs[k].waits.clear();
                    self.clear_deploying(k);
                    self.deploy_over(k, Outcome::Failed);
                }
                Phase::GreenCreate | Phase::GreenStart | Phase::GreenHealth => self.rollback(k),
                _ => {}
            }
            return;
        }
        match phase {
            Phase::Canary => {
                // Every canary is healthy: destroy them, then roll.
                for id in self.deploys.runs[k].created.clone() {
                    if self.fleet[id].state != MState::Destroyed {
                        self.destroy(id);
                    }
                }
                self.begin_rolling(k);
            }
            Phase::GreenCreate => {
                self.set_phase(k, Phase::GreenStart);
                let seq = self.deploys.runs[k].phase_seq;
                self.schedule_step(now + wait, k, step::PHASE, seq);
                self.green_progress(k);
            }
            Phase::GreenStart | Phase::GreenHealth => {
                // The phase's deadline: not every green Machine made it.
                self.deploys.runs[k].why = if phase == Phase::GreenStart {
                    "not every green Machine started within wait_timeout".into()
                } else {
                    "not every green Machine passed its checks within wait_timeout".into()
                };
                self.deploys.runs[k].aborted = true;
                self.rollback(k);
            }
            Phase::BeforeCordon => {
                for id in self.deploys.runs[k].blue.clone() {
                    self.fleet[id].gate |= gate::CORDONED;
                    self.reband(id);
                }
                self.set_phase(k, Phase::BeforeStop);
                let seq = self.deploys.runs[k].phase_seq;
                self.schedule_step(now + BLUEGREEN_PAUSE, k, step::PHASE, seq);
            }
            Phase::BeforeStop => {
                self.set_phase(k, Phase::BlueStop);
                for id in self.deploys.runs[k].blue.clone() {
                    if self.fleet[id].state == MState::Started {
                        self.fleet[id].restart_after_stop = false;
                        self.begin_drain(id, DrainTo::Stop);
                    }
                }
                // flyctl waits for the blue Machines to stop, then destroys them.
                self.poll_blue(k);
            }
            Phase::BlueStop => self.poll_blue(k),
            _ => {}
        }
    }

    /// Bluegreen: whether the green Machines it launched are all started (then all passing
    /// their checks), and if so the next phase.
    fn green_progress(&mut self, k: usize) {
        let now = self.now();
        let launched = || {
            self.deploys.runs[k]
                .created
                .iter()
                .map(|&id| &self.fleet[id])
                .filter(|m| m.deploying == Some(k as u32))
        };
        match self.deploys.runs[k].phase {
            Phase::GreenStart if launched().all(|m| m.state == MState::Started) => {
                self.set_phase(k, Phase::GreenHealth);
                let seq = self.deploys.runs[k].phase_seq;
                let wait = self.sc.deploys[k].config.wait_timeout;
                self.schedule_step(now + wait, k, step::PHASE, seq);
                self.green_progress(k);
            }
            Phase::GreenHealth => {
                let healthy = |m: &super::Machine| {
                    m.state == MState::Started
                        && m.gate & (gate::CHECKS_PENDING | gate::CHECKS_FAILING) == 0
                };
                if launched().all(healthy) {
                    // Green takes traffic.
                    for id in self.deploys.runs[k].created.clone() {
                        self.fleet[id].gate &= !gate::CORDONED;
                        self.reband(id);
                    }
                    self.set_phase(k, Phase::BeforeCordon);
                    let seq = self.deploys.runs[k].phase_seq;
                    self.schedule_step(now + BLUEGREEN_PAUSE, k, step::PHASE, seq);
                }
            }
            _ => {}
        }
    }

    /// Bluegreen: destroys the blue Machines once none is stopping any more (or at
    /// `wait_timeout`, when flyctl destroys them anyway).
    fn poll_blue(&mut self, k: usize) {
        let now = self.now();
        let began = self.deploys.runs[k].phase_at;
        let give_up = now.since(began) >= self.sc.deploys[k].config.wait_timeout;
        let stopping = self.deploys.runs[k]
            .blue
            .iter()
            .any(|&id| matches!(self.fleet[id].state, MState::Stopping | MState::Suspending));
        if stopping && !give_up {
            let seq = self.deploys.runs[k].phase_seq;
            self.schedule_step(now + POLL, k, step::PHASE, seq);
            return;
        }
        for id in self.deploys.runs[k].blue.clone() {
            if self.fleet[id].state != MState::Destroyed {
                self.destroy(id);
            }
        }
        let (mut secs, mut cost) = (0.0, 0.0);
        for &id in &self.deploys.runs[k].created {
            let m = &self.fleet[id];
            secs += self.started_s(m, now);
            cost += self.billing.machine_cost(m, now).total();
        }
        let run = &mut self.deploys.runs[k];
        run.replaced = run.created.len() as u32;
        run.overlap = Some((secs, cost));
        for id in run.created.clone() {
            self.fleet[id].deploying = None;
        }
        self.deploy_over(k, Outcome::Complete);
    }

    /// Bluegreen failed before the switch: its green Machines are destroyed.
    fn rollback(&mut self, k: usize) {
        self.deploys.runs[k].waits.clear();
        for id in self.deploys.runs[k].created.clone() {
            if self.fleet[id].state != MState::Destroyed {
                self.destroy(id);
            }
        }
        self.set_phase(k, Phase::Over);
        self.deploy_over(k, Outcome::RolledBack);
    }

    fn clear_deploying(&mut self, k: usize) {
        for id in self.app_machines(self.sc.deploys[k].app) {
            if self.fleet[id].deploying == Some(k as u32) {
                self.fleet[id].deploying = None;
            }
        }
    }

    /// Deploy `k` is over: flyctl returns.
    fn deploy_over(&mut self, k: usize, outcome: Outcome) {
        let now = self.now();
        let app = self.sc.deploys[k].app;
        let run = &mut self.deploys.runs[k];
        run.phase = Phase::Over;
        run.phase_seq += 1;
        run.outcome = outcome;
        run.ended = Some(now);
        run.waits.clear();
        if outcome != Outcome::Busy {
            self.close_deploy_window(k);
            self.rec.close_window(app);
        }
        self.clear_deploying(k);
    }

    /// The app's counters over the deploy's window, from its start to now.
    fn close_deploy_window(&mut self, k: usize) {
        let app = self.sc.deploys[k].app;
        let c = &self.rec.apps[app];
        let now = [c.failed_total(), c.cold_starts, c.served];
        let p99 = self.rec.window_p99_ms(app);
        let run = &mut self.deploys.runs[k];
        for (d, (n, s)) in run.during.iter_mut().zip(now.iter().zip(run.at_start)) {
            *d = n - s;
        }
        run.p99_ms = p99;
    }

    /// Closes the windows of deploys still running at the end of the run.
    pub(super) fn close_deploys(&mut self) {
        for k in 0..self.deploys.runs.len() {
            let r = &self.deploys.runs[k];
            if r.started.is_some() && r.ended.is_none() {
                self.close_deploy_window(k);
            }
        }
    }

    /// Deploys that a run made.
    pub fn deploys(&self) -> &[DeployRun] {
        &self.deploys.runs
    }

    /// Time Machine `m` was started up to `now` [s].
    fn started_s(&self, m: &super::Machine, now: SimTime) -> f64 {
        let mut ns = m.time_in[MState::Started as usize];
        if m.state == MState::Started {
            ns += now.since(m.since).0;
        }
        ns as f64 / 1e9
    }

    /// What deploy `k` added to the run: its created Machines' started time [s] and its extra
    /// cost [USD] (the release command's Machine, and the created Machines: until the switch
    /// for a bluegreen that completed, else to the end of the run).
    pub fn deploy_extra(&self, k: usize) -> (f64, f64) {
        let run = &self.deploys.runs[k];
        let (secs, cost) = run.overlap.unwrap_or_else(|| {
            run.created.iter().fold((0.0, 0.0), |(s, c), &id| {
                let m = &self.fleet[id];
                (
                    s + self.started_s(m, self.end),
                    c + self.billing.machine_cost(m, self.end).total(),
                )
            })
        });
        (secs, cost + run.release_cost)
    }

    /// The release command Machines' cost, by app and the region they ran in (the app's
    /// primary region) [USD].
    pub fn release_costs(&self) -> impl Iterator<Item = (usize, usize, f64)> + '_ {
        self.sc
            .deploys
            .iter()
            .zip(&self.deploys.runs)
            .filter(|(_, r)| r.release_cost > 0.0)
            .map(|(d, r)| (d.app, self.sc.apps[d.app].primary_region, r.release_cost))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(grace: u64, interval: u64) -> Checks {
        Checks {
            grace_period: SimDuration::from_secs(grace),
            interval: SimDuration::from_secs(interval),
            timeout: SimDuration::from_secs(2),
        }
    }

    #[test]
    fn checks_run_fast_after_the_grace_period_then_every_interval() {
        let c = checks(5, 10);
        let s = |x: u64| SimTime(x * 1_000_000_000);
        let fast = SimDuration::from_secs(1);
        // Before the grace period ends: the first check.
        assert_eq!(first_check_at_or_after(s(0), s(0), &c, fast), s(5));
        assert_eq!(first_check_at_or_after(s(5), s(0), &c, fast), s(5));
        // Fast checks every second for two intervals (5 s to 25 s).
        assert_eq!(
            first_check_at_or_after(SimTime(5_500_000_000), s(0), &c, fast),
            s(6)
        );
        assert_eq!(first_check_at_or_after(s(25), s(0), &c, fast), s(25));
        // Then every 10 s from 25 s.
        assert_eq!(
            first_check_at_or_after(SimTime(25_000_000_001), s(0), &c, fast),
            s(35)
        );
        assert_eq!(first_check_at_or_after(s(40), s(0), &c, fast), s(45));
        // Relative to the VM's start.
        assert_eq!(first_check_at_or_after(s(107), s(100), &c, fast), s(107));
    }
}
