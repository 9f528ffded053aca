//! How many Machines are in each state, over time: the per-region state areas behind
//! `timeseries.csv`, the time each process group had a Machine started, and the lifecycle
//! trace tests check against the graph.
//!
//! Owns those counters; the lifecycle handler tells it of every transition
//! ([`Census::moved`]) and of every Machine created ([`Census::added`]).

use super::ids::MachineId;
use super::machine::{MState, Machine, STATES};
use crate::engine::SimTime;
use crate::scenario::Scenario;

/// States shown per region in `timeseries.csv`.
pub const STATE_COLUMNS: [MState; 5] = [
    MState::Started,
    MState::Starting,
    MState::Stopped,
    MState::Suspended,
    MState::Down,
];

/// One lifecycle transition, kept when tracing is on (tests check them against the graph).
#[derive(Clone, Copy, Debug)]
pub struct Transition {
    /// When.
    pub at: SimTime,
    /// Which Machine.
    pub machine: MachineId,
    /// From.
    pub from: MState,
    /// To.
    pub to: MState,
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

impl GroupUp {
    fn settle(&mut self, now: SimTime) {
        if self.running > 0 {
            self.up_ns += now.0 - self.since.0;
        }
        self.since = now;
    }
}

/// Machines per state over time.
#[derive(Debug)]
pub struct Census {
    /// Machines per region and state now.
    region_states: Vec<[u32; STATES]>,
    /// ∫ of `region_states` over the current bucket [ns].
    region_area: Vec<[u128; STATES]>,
    /// Until when `region_area` is settled.
    region_since: SimTime,
    /// Per app and group.
    group_up: Vec<Vec<GroupUp>>,
    /// Lifecycle transitions, when tracing.
    pub trace: Option<Vec<Transition>>,
}

impl Census {
    /// The census of the scenario's Machines at time 0.
    pub fn new(sc: &Scenario, machines: &[Machine]) -> Self {
        let mut region_states = vec![[0u32; STATES]; sc.regions.len()];
        let mut group_up: Vec<Vec<GroupUp>> = sc
            .apps
            .iter()
            .map(|a| {
                vec![
                    GroupUp {
                        running: 0,
                        up_ns: 0,
                        since: SimTime::ZERO,
                    };
                    a.groups.len()
                ]
            })
            .collect();
        for m in machines {
            region_states[m.region as usize][m.state as usize] += 1;
            if m.state == MState::Started {
                group_up[m.app.index()][m.group as usize].running += 1;
            }
        }
        Census {
            region_area: vec![[0; STATES]; region_states.len()],
            region_states,
            region_since: SimTime::ZERO,
            group_up,
            trace: None,
        }
    }

    fn settle(&mut self, now: SimTime) {
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

    /// A Machine was created at `now` in `region`, in state `state`.
    pub fn added(&mut self, now: SimTime, region: usize, state: MState) {
        self.settle(now);
        self.region_states[region][state as usize] += 1;
    }

    /// Machine `id` (now `m`) went from `from` to `m.state` at `now`.
    pub fn moved(&mut self, now: SimTime, id: MachineId, m: &Machine, from: MState) {
        let to = m.state;
        let region = m.region as usize;
        self.settle(now);
        self.region_states[region][from as usize] -= 1;
        self.region_states[region][to as usize] += 1;
        if (from == MState::Started) != (to == MState::Started) {
            let g = &mut self.group_up[m.app.index()][m.group as usize];
            g.settle(now);
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
    }

    /// The mean number of Machines in each region and state of [`STATE_COLUMNS`] since
    /// `start`, region by region; starts the next bucket.
    pub fn close_bucket(&mut self, start: SimTime, now: SimTime) -> Vec<f64> {
        self.settle(now);
        let width = (now.0 - start.0).max(1) as f64;
        let mut means = Vec::with_capacity(self.region_area.len() * STATE_COLUMNS.len());
        for area in &mut self.region_area {
            for s in STATE_COLUMNS {
                means.push(area[s as usize] as f64 / width);
            }
            *area = [0; STATES];
        }
        means
    }

    /// Closes the group spans at the end of the run.
    pub fn finish(&mut self, now: SimTime) {
        for g in self.group_up.iter_mut().flatten() {
            g.settle(now);
        }
    }

    /// Time during which group `group` of app `app` had a Machine started [ns] (settled by
    /// [`Census::finish`]).
    pub fn group_up_ns(&self, app: usize, group: usize) -> u64 {
        self.group_up[app][group].up_ns
    }
}
