//! Autostop: which Machine, if any, one pass stops in one region.
//!
//! Fly's documented rule (fly-platform.md §2.6): per region, at most one Machine per pass;
//! with more than one running, stop one when `running − (over_soft + 1) ≥ 1`; a lone Machine
//! only at zero load; never below `min_machines_running` in the primary region. Observed
//! timing (fly-calibration.md): a Machine is not stopped before it has run for
//! `autostop_min_runtime` (330 s), and a lone Machine is stopped only after
//! `autostop_idle_window` without load (observed: 2:08–3:13 after the last request).
//!
//! An app with several services: each service that autostops applies the rule, with its own
//! soft limit and `min_machines_running`, to the Machines it reaches in the region, in service
//! order, and the first victim found is the pass's one. A Machine whose group another service
//! keeps running (the group's most restrictive setting is `off`) is never the victim, and a
//! victim suspends only when every service reaching its group says `suspend`.
//!
//! Owns the passes (which app and region has them running, on a fixed grid per app and
//! region) and the pure rule [`choose_victim`]; handles `AutostopPass` and the app's own idle
//! exit (`IdleCheck`).

use rand::RngExt;

use super::machine::{DrainTo, MState};
use super::{AppId, Event, MachineId, Sim};
use crate::engine::{SimDuration, SimTime};
use crate::scenario::{Autostop, AutostopVictim, Scenario};

/// A running Machine as the autostop pass of one service sees it.
#[derive(Clone, Copy, Debug)]
pub struct Running {
    /// The Machine.
    pub id: MachineId,
    /// The service's requests in flight (what its soft limit counts).
    pub load: u32,
    /// Requests in flight of every service (zero: idle).
    pub total: u32,
    /// Whether its group's autostop lets it stop (a group reached by several services takes
    /// the most restrictive setting).
    pub may_stop: bool,
    /// When it became started.
    pub started_at: SimTime,
    /// When its load last dropped to zero.
    pub idle_since: SimTime,
}

/// The rule's inputs besides the Machines.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// The service's soft limit.
    pub soft_limit: u32,
    /// Machines to keep running here (`min_machines_running` in the primary region, else 0).
    pub keep: u32,
    /// Minimum run time before a Machine may be stopped.
    pub min_runtime: SimDuration,
    /// Which eligible Machine goes.
    pub victim: AutostopVictim,
    /// A lone Machine must have had zero load for this long.
    pub idle_window: SimDuration,
}

/// The Machine this pass stops, if any.
pub fn choose_victim(running: &[Running], rule: Rule, now: SimTime) -> Option<MachineId> {
    let n = running.len() as u32;
    if n == 0 || n <= rule.keep {
        return None;
    }
    let over_soft = running.iter().filter(|m| m.load >= rule.soft_limit).count() as u32;
    let eligible = |m: &&Running| m.may_stop && now.since(m.started_at) >= rule.min_runtime;
    if n == 1 {
        return running
            .iter()
            .find(|m| m.total == 0 && now.since(m.idle_since) >= rule.idle_window && eligible(m))
            .map(|m| m.id);
    }
    if n < over_soft + 2 {
        return None;
    }
    let candidates = running.iter().filter(eligible);
    let chosen = match rule.victim {
        // Fewest in flight; ties → most recently started; then highest id.
        AutostopVictim::LeastLoaded => {
            candidates.min_by_key(|m| (m.total, std::cmp::Reverse((m.started_at, m.id))))
        }
        AutostopVictim::Newest => candidates.max_by_key(|m| (m.started_at, m.id)),
        AutostopVictim::Oldest => candidates.min_by_key(|m| (m.started_at, m.id)),
    };
    chosen.map(|m| m.id)
}

/// Which apps and regions have their autostop passes running.
#[derive(Debug)]
pub struct Passes {
    /// Per app and region.
    armed: Vec<Vec<bool>>,
}

impl Passes {
    /// None running yet.
    pub fn new(sc: &Scenario) -> Self {
        Passes {
            armed: vec![vec![false; sc.regions.len()]; sc.apps.len()],
        }
    }
}

impl Sim<'_> {
    /// Starts the autostop passes of app `ai` in region `r` (once; from its first Machine),
    /// when any of its groups may be stopped. Passes fall on a fixed grid per app and region,
    /// `phase + k × interval`, whenever the region got its first Machine.
    pub(super) fn arm_autostop(&mut self, ai: usize, r: usize) {
        let sc = self.sc;
        let app = &sc.apps[ai];
        let stoppable = app.groups.iter().any(|g| g.autostop != Autostop::Off);
        if !stoppable || self.passes.armed[ai][r] {
            return;
        }
        self.passes.armed[ai][r] = true;
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
                app: AppId::at(ai),
                region: r as u16,
            },
        );
    }

    /// One pass of app `app` in `region`: each service that autostops, in order, applies the
    /// rule to the Machines it reaches there; the first victim found is stopped (at most one
    /// per region and pass, as Fly documents).
    pub(super) fn on_autostop_pass(&mut self, app: usize, region: usize) {
        let sc = self.sc;
        self.engine.schedule_in(
            sc.platform.autostop_interval,
            Event::AutostopPass {
                app: AppId::at(app),
                region: region as u16,
            },
        );
        let a = &sc.apps[app];
        let victim = (0..a.services.len())
            .filter(|&s| a.services[s].autostop != Autostop::Off)
            .find_map(|s| self.autostop_victim(app, s, region));
        if let Some(victim) = victim {
            let group = &a.groups[self.fleet[victim].group as usize];
            let suspendable = self.fleet[victim].vm.memory_mb <= sc.platform.suspend_max_memory_mb
                && a.swap_mb == 0
                && group.gpus.is_none();
            let to = if group.autostop == Autostop::Suspend && suspendable {
                DrainTo::Suspend
            } else {
                DrainTo::Stop
            };
            self.begin_drain(victim, to);
        }
    }

    /// The Machine service `svc` of app `app` would stop in `region` now, if any.
    fn autostop_victim(&self, app: usize, svc: usize, region: usize) -> Option<MachineId> {
        let now = self.now();
        let sc = self.sc;
        let a = &sc.apps[app];
        let settings = &a.services[svc];
        let lane = svc as u8;
        let running: Vec<Running> = self
            .proxy
            .machines_in(sc.route(app, svc), region)
            .iter()
            .map(|&id| (id, &self.fleet[id]))
            .filter(|(_, m)| m.state == MState::Started)
            .map(|(id, m)| Running {
                id,
                load: m.load_for(lane),
                total: m.load(),
                may_stop: a.groups[m.group as usize].autostop != Autostop::Off,
                started_at: m.started_at,
                idle_since: m.idle_since,
            })
            .collect();
        let rule = Rule {
            soft_limit: settings.soft_limit,
            keep: if region == a.primary_region {
                settings.min_machines_running
            } else {
                0
            },
            min_runtime: sc.platform.autostop_min_runtime,
            victim: sc.platform.autostop_victim,
            idle_window: sc.platform.autostop_idle_window,
        };
        choose_victim(&running, rule, now)
    }

    /// Machine `id`'s load dropped to zero: its app's idle exit starts counting.
    pub(super) fn became_idle(&mut self, id: MachineId) {
        let now = self.now();
        let m = &mut self.fleet[id];
        if !m.serves {
            return; // workers run their own loop; only proxied requests make a Machine busy
        }
        m.idle_since = now;
        if let Some(t) = self.sc.apps[m.app.index()].idle_exit
            && !m.idle.is_armed()
        {
            let token = m.idle.arm();
            self.engine
                .schedule_at(now + t, Event::IdleCheck { machine: id, token });
        }
    }

    /// The idle check fired: the app exits if it has been idle for `idle_exit`, else the
    /// check moves to the new deadline.
    pub(super) fn on_idle_check(&mut self, id: MachineId) {
        let now = self.now();
        let m = &mut self.fleet[id];
        let Some(t) = self.sc.apps[m.app.index()].idle_exit else {
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
            let group = &self.sc.apps[m.app.index()].groups[m.group as usize];
            let restarts = matches!(group.restart, Some(crate::scenario::fly::Restart::Always));
            self.begin_drain(id, DrainTo::Stop);
            if restarts {
                self.fleet[id].restart_after_stop = true;
            }
        } else {
            let token = m.idle.arm();
            self.engine
                .schedule_at(due, Event::IdleCheck { machine: id, token });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(keep: u32) -> Rule {
        Rule {
            soft_limit: 10,
            keep,
            min_runtime: SimDuration::from_secs(330),
            victim: AutostopVictim::LeastLoaded,
            idle_window: SimDuration::from_secs(120),
        }
    }

    fn m(id: u32, load: u32, started_s: u64) -> Running {
        Running {
            id: MachineId(id),
            load,
            total: load,
            may_stop: true,
            started_at: SimTime(started_s * 1_000_000_000),
            idle_since: SimTime(started_s * 1_000_000_000),
        }
    }

    const NOW: SimTime = SimTime(1000 * 1_000_000_000);

    #[test]
    fn excess_rule_keeps_one_spare() {
        // Two running, none over soft: excess = 2 − (0 + 1) = 1 → stop the least loaded.
        assert_eq!(
            choose_victim(&[m(0, 3, 0), m(1, 1, 0)], rule(0), NOW),
            Some(MachineId(1))
        );
        // Two running, one over soft: excess = 2 − (1 + 1) = 0 → keep both.
        assert_eq!(
            choose_victim(&[m(0, 12, 0), m(1, 1, 0)], rule(0), NOW),
            None
        );
        // Three running, one over soft: excess 1.
        assert_eq!(
            choose_victim(&[m(0, 12, 0), m(1, 1, 0), m(2, 0, 0)], rule(0), NOW),
            Some(MachineId(2))
        );
    }

    #[test]
    fn lone_machine_only_at_zero_load() {
        assert_eq!(choose_victim(&[m(0, 1, 0)], rule(0), NOW), None);
        assert_eq!(
            choose_victim(&[m(0, 0, 0)], rule(0), NOW),
            Some(MachineId(0))
        );
        // Idle for only 60 s: kept.
        let recent = Running {
            idle_since: SimTime(940 * 1_000_000_000),
            ..m(0, 0, 0)
        };
        assert_eq!(choose_victim(&[recent], rule(0), NOW), None);
    }

    #[test]
    fn another_services_load_and_a_restrictive_group_keep_a_machine() {
        // Idle for this service but serving another: a lone Machine is not idle.
        let busy_elsewhere = Running {
            total: 2,
            ..m(0, 0, 0)
        };
        assert_eq!(choose_victim(&[busy_elsewhere], rule(0), NOW), None);
        // Excess 1, but the idler is in a group another service keeps running: the other
        // Machine goes, least loaded overall.
        let kept = Running {
            may_stop: false,
            ..m(0, 0, 0)
        };
        let busy = Running {
            total: 4,
            ..m(1, 1, 0)
        };
        assert_eq!(
            choose_victim(&[kept, busy], rule(0), NOW),
            Some(MachineId(1))
        );
        assert_eq!(choose_victim(&[kept], rule(0), NOW), None);
    }

    #[test]
    fn min_machines_running_and_min_runtime() {
        assert_eq!(choose_victim(&[m(0, 0, 0), m(1, 0, 0)], rule(2), NOW), None);
        assert!(choose_victim(&[m(0, 0, 0), m(1, 0, 0)], rule(1), NOW).is_some());
        // Started 100 s ago: too young to stop.
        assert_eq!(choose_victim(&[m(0, 0, 900)], rule(0), NOW), None);
        // Ties on load: the most recently started goes.
        assert_eq!(
            choose_victim(&[m(0, 0, 10), m(1, 0, 20)], rule(0), NOW),
            Some(MachineId(1))
        );
    }
}
