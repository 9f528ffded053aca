//! The Machines of a run: the arena, the names operators use for them, and their streams.
//!
//! Owns every Machine that ever existed in the run (destroyed ones stay, in state
//! `destroyed`), the id of each app's Machine by ordinal (`web:7`), how many of each app's
//! Machines sit on each host (for spreading new ones), which standbys watch each Machine, and
//! each Machine's own random streams. Builds the scenario's Machines at time 0, placed by
//! [`super::placement`]. Lifecycle changes are the handlers' (`lifecycle.rs`); the fleet
//! keeps its lists true when a Machine is added or destroyed.

use super::hosts::Hosts;
use super::ids::{AppId, Arena, MachineId};
use super::machine::{MState, Machine};
use super::placement;
use crate::engine::{RngStreams, SimTime, StreamRng};
use crate::scenario::Scenario;

/// Every Machine of the run.
#[derive(Debug)]
pub struct Fleet {
    all: Arena<MachineId, Machine>,
    /// Per app: Machine id by ordinal (`None`: its create failed or has not finished).
    by_ordinal: Vec<Vec<Option<MachineId>>>,
    /// Per app: its Machines on each host.
    app_on_host: Vec<Vec<u32>>,
    /// Standbys watching each Machine.
    standbys_of: Vec<Vec<MachineId>>,
    /// Per app: the next ordinal for a Machine the scenario did not plan (clones of
    /// fly-autoscaler, green Machines beside them), after every planned one.
    next_unplanned: Vec<u32>,
    streams: RngStreams,
}

impl Fleet {
    /// The scenario's Machines, placed on `hosts` (which hold what the started ones use).
    /// Per app, the Machines of each app are contiguous and numbered by ordinal; a Machine
    /// that finds no room on its host is created stopped.
    pub fn build(sc: &Scenario, hosts: &mut Hosts, streams: RngStreams) -> Fleet {
        let mut fleet = Fleet {
            all: Arena::default(),
            by_ordinal: vec![Vec::new(); sc.apps.len()],
            app_on_host: vec![vec![0; hosts.len()]; sc.apps.len()],
            standbys_of: Vec::new(),
            next_unplanned: sc.apps.iter().map(|a| a.reserved).collect(),
            streams,
        };
        for (ai, app) in sc.apps.iter().enumerate() {
            // Create every Machine (ordinal = creation order), then place them: first those
            // that are not standbys, then standbys away from the hosts they watch.
            struct Plan<'a> {
                group: usize,
                region: usize,
                started: bool,
                watches: &'a [u32],
            }
            let mut plan = Vec::new();
            for g in &app.machines {
                for &(region, count) in &g.per_region {
                    for _ in 0..count {
                        plan.push(Plan {
                            group: g.group,
                            region,
                            started: g.started,
                            watches: &g.standby_for,
                        });
                    }
                }
            }
            let mut order: Vec<usize> = (0..plan.len())
                .filter(|&i| plan[i].watches.is_empty())
                .collect();
            order.extend((0..plan.len()).filter(|&i| !plan[i].watches.is_empty()));
            let mut placed: Vec<Option<Machine>> = (0..plan.len()).map(|_| None).collect();
            let mut host_of = vec![None; plan.len()];
            let on_host = &mut fleet.app_on_host[ai];
            for i in order {
                let p = &plan[i];
                let vm = app.groups[p.group].vm;
                let avoid: Vec<_> = p
                    .watches
                    .iter()
                    .filter_map(|&w| host_of.get(w as usize).copied().flatten())
                    .collect();
                // Placing a Machine costs O(hosts in its region), not O(Machines × hosts).
                let host = placement::choose_host(
                    hosts.as_slice(),
                    hosts.in_region(p.region),
                    on_host,
                    &avoid,
                    None,
                )
                .expect("validated: every region has hosts");
                host_of[i] = Some(host);
                let hs = &mut hosts[host];
                let state = if p.started && hs.fits(&vm) {
                    hs.hold(&vm);
                    MState::Started
                } else {
                    MState::Stopped
                };
                let mut m = Machine::new(
                    AppId::at(ai),
                    p.region as u16,
                    host,
                    i as u32,
                    state,
                    vm,
                    sc.started_price(ai, p.group, p.region, &vm),
                    SimTime::ZERO,
                );
                m.join_group(app, p.group);
                m.quota = super::cpu::account_for(&sc.platform.cpu, app, &vm, SimTime::ZERO);
                if let Some(q) = &mut m.quota {
                    q.running = state == MState::Started;
                }
                m.holds_host = state == MState::Started;
                m.is_standby = !p.watches.is_empty();
                on_host[host.index()] += 1;
                placed[i] = Some(m);
            }
            let first = fleet.all.len();
            for m in placed {
                let m = m.expect("every Machine is placed");
                let host = m.host;
                let id = fleet.insert(m);
                hosts.add_machine(host, id);
            }
            for (i, p) in plan.iter().enumerate() {
                for &w in p.watches {
                    fleet.standbys_of[first + w as usize].push(MachineId::at(first + i));
                }
            }
        }
        fleet
    }

    /// Appends Machine `m` and names it by its app and ordinal.
    fn insert(&mut self, m: Machine) -> MachineId {
        let (app, ordinal) = (m.app.index(), m.ordinal as usize);
        let id = self.all.push(m);
        let slots = &mut self.by_ordinal[app];
        if slots.len() <= ordinal {
            slots.resize(ordinal + 1, None);
        }
        slots[ordinal] = Some(id);
        self.standbys_of.push(Vec::new());
        id
    }

    /// Adds Machine `m`, created during the run, on its host.
    pub(super) fn add(&mut self, m: Machine) -> MachineId {
        self.app_on_host[m.app.index()][m.host.index()] += 1;
        self.insert(m)
    }

    /// An ordinal for a Machine of `app` that the scenario did not plan; never reused.
    pub(super) fn unplanned_ordinal(&mut self, app: usize) -> u32 {
        let o = self.next_unplanned[app];
        self.next_unplanned[app] += 1;
        o
    }

    /// Machine `id` moves to host `to` (its hosts' lists are the caller's).
    pub(super) fn moved(&mut self, id: MachineId, to: super::ids::HostId) {
        self.left_host(id);
        let m = &mut self.all[id];
        m.host = to;
        m.book.migrations += 1;
        self.app_on_host[m.app.index()][to.index()] += 1;
    }

    /// Machine `id` left its host for good (destroyed).
    pub(super) fn left_host(&mut self, id: MachineId) {
        let m = &self.all[id];
        self.app_on_host[m.app.index()][m.host.index()] -= 1;
    }

    /// Machine `<app>:<ordinal>`, if it was created (it may be destroyed since).
    pub fn by_ordinal(&self, app: usize, ordinal: u32) -> Option<MachineId> {
        self.by_ordinal[app]
            .get(ordinal as usize)
            .copied()
            .flatten()
    }

    /// The Machines of `app` ever created, in ordinal order (destroyed ones included).
    pub fn of_app(&self, app: usize) -> impl Iterator<Item = MachineId> + '_ {
        self.by_ordinal[app].iter().filter_map(|x| *x)
    }

    /// Machine `<app>:<ordinal>`, if it exists now.
    pub fn live(&self, app: usize, ordinal: u32) -> Option<MachineId> {
        self.by_ordinal(app, ordinal)
            .filter(|&id| self.all[id].state != MState::Destroyed)
    }

    /// How many of `app`'s Machines each host holds (by host id).
    pub fn app_on_host(&self, app: usize) -> &[u32] {
        &self.app_on_host[app]
    }

    /// The standbys watching Machine `id`.
    pub fn standbys_of(&self, id: MachineId) -> &[MachineId] {
        &self.standbys_of[id.index()]
    }

    /// Machine `id`'s stream for boot, resume and suspend times (`machine/<app>:<n>`), made at
    /// its first draw.
    pub(super) fn rng(&mut self, sc: &Scenario, id: MachineId) -> &mut StreamRng {
        let m = &mut self.all[id];
        let streams = &self.streams;
        m.rng.get_or_insert_with(|| {
            let name = format!("machine/{}:{}", sc.apps[m.app.index()].name, m.ordinal);
            Box::new(streams.stream(&name))
        })
    }

    /// Machine `id`'s crash stream (`crash/<app>/<n>`), made at its first draw.
    pub(super) fn crash_rng(&mut self, sc: &Scenario, id: MachineId) -> &mut StreamRng {
        let m = &mut self.all[id];
        let streams = &self.streams;
        let name = &sc.apps[m.app.index()].name;
        let ordinal = m.ordinal;
        m.book
            .crash_rng
            .get_or_insert_with(|| streams.stream(&format!("crash/{name}/{ordinal}")))
    }

    /// Every Machine, by id.
    pub fn as_slice(&self) -> &[Machine] {
        self.all.as_slice()
    }

    /// Every Machine with its id.
    pub fn iter(&self) -> impl Iterator<Item = (MachineId, &Machine)> {
        self.all.iter()
    }

    /// Every id.
    pub fn ids(&self) -> impl Iterator<Item = MachineId> + use<> {
        self.all.ids()
    }

    /// How many Machines ever existed in the run.
    pub fn len(&self) -> usize {
        self.all.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }
}

impl std::ops::Index<MachineId> for Fleet {
    type Output = Machine;
    #[inline]
    fn index(&self, id: MachineId) -> &Machine {
        &self.all[id]
    }
}

impl std::ops::IndexMut<MachineId> for Fleet {
    #[inline]
    fn index_mut(&mut self, id: MachineId) -> &mut Machine {
        &mut self.all[id]
    }
}
