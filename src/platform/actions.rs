//! The operator's actions during a run (`[[action]]`): Machines created, destroyed, stopped,
//! started and resized while traffic flows.
//!
//! An action arrives resolved (see [`crate::scenario::actions`]): the Machines it creates
//! carry their ids, regions and sizes; the ones it acts on are named by ordinal. Here it meets
//! the running world:
//! - **create** (`scale_count` up, `machine_clone`): flyctl runs at most 5 creates at once
//!   (`maxConcurrentActions` in `count_machines.go`); each takes `platform.create_time`, then
//!   the Machine is placed like at time 0 (a host of its region that is up and has room, see
//!   [`super::placement`]) and started: it serves from create + VM boot + app boot. A create
//!   that finds no room fails and the action says so; the Machine never exists.
//! - **destroy** (`scale_count` down, `machine_destroy`): forced, as `fly scale count` does
//!   (`Kill: true`): requests in flight or waiting for its boot fail as `killed`, it releases
//!   its host at once and leaves the proxy's view.
//! - **update** (`scale_vm`): one Machine at a time, as flyctl's loop over `mach.Update` does.
//!   A started Machine drains like a stop (up to `kill_timeout`), takes the new size and boots
//!   again; the next Machine's update begins once it is started. A stopped Machine takes the
//!   size at once and stays stopped; a suspended one loses its snapshot and becomes stopped;
//!   one in a transition is waited for (checked every second).
//! - **stop** / **start**: like `fly machine stop` (drain, then stop) and `fly machine start`.
//!
//! Every Machine's random streams are named by its id (`machine/web:7`), so a Machine
//! created at 11h moves no other Machine's draws.

use super::machine::{DrainTo, MState, Machine, SnapshotLoss};
use super::{AppId, Event, HostId, MachineId, Sim, placement, world};
use crate::engine::{SimDuration, SimTime};
use crate::metrics::FailReason;
use crate::scenario::{ActionKind, NewMachine};

/// Creates flyctl runs at once (`maxConcurrentActions` in `scale/count_machines.go`).
pub const CONCURRENT_CREATES: usize = 5;

/// How often an update waits for a Machine in a transition to settle.
const UPDATE_POLL: SimDuration = SimDuration::from_secs(1);

/// What one action did.
#[derive(Clone, Debug, Default)]
pub struct ActionRun {
    /// Machines created.
    pub created: u32,
    /// Machines destroyed.
    pub destroyed: u32,
    /// Machines stopped, started or resized.
    pub changed: u32,
    /// Machines it could not create, start or resize (no room).
    pub failed: u32,
    /// When the command would have returned: creates done, or the last update started.
    pub done_at: Option<SimTime>,
    /// What happened to single Machines, for `actions.csv`.
    pub notes: Vec<String>,
    /// Creates still running.
    creating: u32,
    /// The next Machine a `scale_vm` updates (index into its list).
    cursor: usize,
}

impl Sim<'_> {
    fn name_of(&self, app: usize, ordinal: u32) -> String {
        format!("{}:{ordinal}", self.sc.apps[app].name)
    }

    fn note(&mut self, action: usize, text: String) {
        self.actions[action].notes.push(text);
    }

    /// An action's time has come.
    pub(super) fn on_action(&mut self, index: usize) {
        let now = self.now();
        let a = &self.sc.actions[index];
        let app = a.app;
        match &a.kind {
            ActionKind::Scale {
                create, destroy, ..
            } => {
                for &o in destroy {
                    self.destroy_ordinal(index, app, o);
                }
                self.schedule_creates(index, create.len());
            }
            ActionKind::Clone { .. } => self.schedule_creates(index, 1),
            ActionKind::Destroy(o) => {
                self.destroy_ordinal(index, app, *o);
                self.actions[index].done_at = Some(now);
            }
            ActionKind::Stop(o) => {
                match self.fleet.live(app, *o) {
                    Some(id) if self.fleet[id].state == MState::Started => {
                        self.begin_drain(id, DrainTo::Stop);
                        self.actions[index].changed += 1;
                    }
                    Some(id) => self.nothing_to(index, id, "stop"),
                    None => self.missing(index, app, *o),
                }
                self.actions[index].done_at = Some(now);
            }
            ActionKind::Start(o) => {
                match self.fleet.live(app, *o) {
                    Some(id)
                        if matches!(self.fleet[id].state, MState::Stopped | MState::Suspended) =>
                    {
                        if self.begin_start(id, false) {
                            self.actions[index].changed += 1;
                        } else {
                            self.actions[index].failed += 1;
                            let n = self.name_of(app, *o);
                            self.note(index, format!("{n}: its host has no room to start it"));
                        }
                    }
                    Some(id) => self.nothing_to(index, id, "start"),
                    None => self.missing(index, app, *o),
                }
                self.actions[index].done_at = Some(now);
            }
            ActionKind::ScaleVm { .. } => self.update_next(index),
        }
    }

    /// Notes that Machine `id` was in no state to `verb`.
    fn nothing_to(&mut self, index: usize, id: MachineId, verb: &str) {
        let m = &self.fleet[id];
        let (n, s) = (self.name_of(m.app.index(), m.ordinal), m.state.name());
        self.note(index, format!("{n} was {s}: nothing to {verb}"));
    }

    fn missing(&mut self, index: usize, app: usize, ordinal: u32) {
        let n = self.name_of(app, ordinal);
        self.note(index, format!("{n} does not exist: its create failed"));
    }

    /// Runs `n` creates, [`CONCURRENT_CREATES`] at a time.
    fn schedule_creates(&mut self, action: usize, n: usize) {
        let now = self.now();
        self.actions[action].creating = n as u32;
        if n == 0 {
            self.actions[action].done_at = Some(now);
        }
        let create = self.sc.platform.create_time;
        for step in 0..n {
            let wave = (step / CONCURRENT_CREATES + 1) as u64;
            self.engine.schedule_at(
                now + SimDuration(create.0 * wave),
                Event::Created {
                    action: action as u32,
                    step: step as u32,
                },
            );
        }
    }

    /// A create finished: the Machine is placed and started, or the create fails.
    pub(super) fn on_created(&mut self, action: usize, step: usize) {
        let now = self.now();
        let sc = self.sc;
        let a = &sc.actions[action];
        let app = a.app;
        let new = match &a.kind {
            ActionKind::Scale { create, .. } => &create[step],
            ActionKind::Clone { new, .. } => new,
            _ => unreachable!("only scale_count and machine_clone create Machines"),
        };
        match self.host_for_new(app, new) {
            Some(h) => {
                let id = self.spawn(app, new, h);
                let started = self.begin_start(id, false);
                debug_assert!(started, "the host was chosen for its room");
                self.actions[action].created += 1;
            }
            None => {
                self.actions[action].failed += 1;
                let n = self.name_of(app, new.ordinal);
                let vm = new.vm;
                let region = &sc.regions[new.region].code;
                self.note(
                    action,
                    format!(
                        "{n}: no host in {region} is up with room for {} {} vCPU {} MB",
                        vm.cpus, vm.cpu_kind, vm.memory_mb
                    ),
                );
            }
        }
        let run = &mut self.actions[action];
        run.creating -= 1;
        if run.creating == 0 {
            run.done_at = Some(now);
        }
    }

    /// A host of its region that is up and has room for new Machine `new` of `app`, placed
    /// like at time 0 ([`placement::choose_host`]).
    pub(super) fn host_for_new(&self, app: usize, new: &NewMachine) -> Option<HostId> {
        placement::choose_host(
            self.hosts.as_slice(),
            self.hosts.in_region(new.region),
            self.fleet.app_on_host(app),
            &[],
            Some(&new.vm),
        )
    }

    /// Creates Machine `new` of `app`, stopped, on `host`, and gives it to the proxy.
    pub(super) fn spawn(&mut self, app: usize, new: &NewMachine, host: HostId) -> MachineId {
        let now = self.now();
        let sc = self.sc;
        let a = &sc.apps[app];
        let rate = sc.started_price(app, new.group, new.region, &new.vm);
        let mut m = Machine::new(
            AppId::at(app),
            new.region as u16,
            host,
            new.ordinal,
            MState::Stopped,
            new.vm,
            rate,
            now,
        );
        m.join_group(a, new.group);
        m.quota = super::cpu::account_for(&sc.platform.cpu, a, &new.vm, now);
        m.holds_host = false;
        self.census.added(now, new.region, MState::Stopped);
        let id = self.fleet.add(m);
        self.hosts.add_machine(host, id);
        for &svc in &a.groups[new.group].services {
            let route = sc.route(app, svc as usize);
            if self.proxy.add(world!(self), route, new.region, id) {
                // The region's first Machine of the service: the app's passes begin there.
                self.arm_autostop(app, new.region);
            }
        }
        id
    }

    fn destroy_ordinal(&mut self, action: usize, app: usize, ordinal: u32) {
        match self.fleet.live(app, ordinal) {
            Some(id) => {
                self.destroy(id);
                self.actions[action].destroyed += 1;
            }
            None => self.missing(action, app, ordinal),
        }
    }

    /// Destroys Machine `id` at once (forced, like `fly scale count`'s `Kill: true`).
    pub(super) fn destroy(&mut self, id: MachineId) {
        self.deploy_machine_gone(id);
        self.kill_in_service(id, FailReason::Killed);
        self.fail_pending(id, FailReason::Killed);
        self.release_host(id);
        self.fleet.left_host(id);
        let m = &mut self.fleet[id];
        let host = m.host;
        m.connect.cancel();
        m.idle.cancel();
        m.restart_after_stop = false;
        m.updating = None;
        m.taking_over = None;
        let recovering = m.recovering.take();
        self.hosts.remove_machine(host, id);
        self.transition(id, MState::Destroyed);
        // An incident waiting for this Machine to run again has nothing left to wait for.
        if let Some(i) = recovering {
            self.recovery_settled(i);
        }
    }

    /// Goes on with a `scale_vm`: updates Machines until one must restart (or all are done).
    pub(super) fn update_next(&mut self, action: usize) {
        let sc = self.sc;
        let a = &sc.actions[action];
        let ActionKind::ScaleVm { vm, machines, .. } = &a.kind else {
            unreachable!("only scale_vm updates Machines one by one")
        };
        let app = a.app;
        while let Some(&o) = machines.get(self.actions[action].cursor) {
            let Some(id) = self.fleet.live(app, o) else {
                self.missing(action, app, o);
                self.actions[action].cursor += 1;
                continue;
            };
            match self.fleet[id].state {
                MState::Stopped | MState::Down => {
                    self.resize(id, *vm);
                    self.actions[action].changed += 1;
                }
                MState::Suspended => {
                    // A new size cannot resume the old snapshot: it is dropped.
                    self.drop_snapshot(id, SnapshotLoss::Update);
                    self.resize(id, *vm);
                    self.actions[action].changed += 1;
                }
                MState::Started => {
                    let m = &mut self.fleet[id];
                    m.updating = Some(action as u32);
                    m.restart_after_stop = true;
                    self.begin_drain(id, DrainTo::Stop);
                    return;
                }
                MState::Starting | MState::Stopping | MState::Suspending => {
                    self.engine.schedule_in(
                        UPDATE_POLL,
                        Event::UpdateNext {
                            action: action as u32,
                        },
                    );
                    return;
                }
                MState::Destroyed => unreachable!("live Machines only"),
            }
            self.actions[action].cursor += 1;
        }
        self.actions[action].done_at = Some(self.now());
    }

    /// The size an updating Machine takes when its stop completes.
    pub(super) fn update_size(&self, action: u32) -> crate::scenario::VmSize {
        match &self.sc.actions[action as usize].kind {
            ActionKind::ScaleVm { vm, .. } => *vm,
            _ => unreachable!("only scale_vm updates Machines"),
        }
    }

    /// An updating Machine stopped: it takes its new size before it boots again.
    pub(super) fn update_stopped(&mut self, id: MachineId) {
        if let Some(a) = self.fleet[id].updating {
            let vm = self.update_size(a);
            self.resize(id, vm);
        }
    }

    /// An updating Machine is started again (or could not be): the next one's turn.
    pub(super) fn update_finished(&mut self, id: MachineId, ok: bool) {
        let Some(a) = self.fleet[id].updating.take() else {
            return;
        };
        let run = &mut self.actions[a as usize];
        run.cursor += 1;
        if ok {
            run.changed += 1;
        } else {
            run.failed += 1;
            let m = &self.fleet[id];
            let n = self.name_of(m.app.index(), m.ordinal);
            let why = if m.state == MState::Down {
                "its host failed during the update"
            } else {
                "its host has no room for the new size; it stays stopped"
            };
            self.note(a as usize, format!("{n}: {why}"));
        }
        self.update_next(a as usize);
    }
}
