//! Autostop: which Machine, if any, one pass stops in one region.
//!
//! Fly's documented rule (fly-platform.md §2.6): per region, at most one Machine per pass;
//! with more than one running, stop one when `running − (over_soft + 1) ≥ 1`; a lone Machine
//! only at zero load; never below `min_machines_running` in the primary region. Observed
//! timing (fly-calibration.md): a Machine is not stopped before it has run for
//! `autostop_min_runtime` (330 s), and a lone Machine is stopped only after
//! `autostop_idle_window` without load (observed: 2:08–3:13 after the last request).

use crate::engine::{SimDuration, SimTime};
use crate::scenario::AutostopVictim;

/// A running Machine as the autostop pass sees it.
#[derive(Clone, Copy, Debug)]
pub struct Running {
    /// Machine id.
    pub id: u32,
    /// Requests in flight.
    pub load: u32,
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
pub fn choose_victim(running: &[Running], rule: Rule, now: SimTime) -> Option<u32> {
    let n = running.len() as u32;
    if n == 0 || n <= rule.keep {
        return None;
    }
    let over_soft = running.iter().filter(|m| m.load >= rule.soft_limit).count() as u32;
    let eligible = |m: &&Running| now.since(m.started_at) >= rule.min_runtime;
    if n == 1 {
        return running
            .iter()
            .find(|m| m.load == 0 && now.since(m.idle_since) >= rule.idle_window && eligible(m))
            .map(|m| m.id);
    }
    if n < over_soft + 2 {
        return None;
    }
    let candidates = running.iter().filter(eligible);
    let chosen = match rule.victim {
        // Fewest in flight; ties → most recently started; then highest id.
        AutostopVictim::LeastLoaded => {
            candidates.min_by_key(|m| (m.load, std::cmp::Reverse((m.started_at, m.id))))
        }
        AutostopVictim::Newest => candidates.max_by_key(|m| (m.started_at, m.id)),
        AutostopVictim::Oldest => candidates.min_by_key(|m| (m.started_at, m.id)),
    };
    chosen.map(|m| m.id)
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
            id,
            load,
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
            Some(1)
        );
        // Two running, one over soft: excess = 2 − (1 + 1) = 0 → keep both.
        assert_eq!(
            choose_victim(&[m(0, 12, 0), m(1, 1, 0)], rule(0), NOW),
            None
        );
        // Three running, one over soft: excess 1.
        assert_eq!(
            choose_victim(&[m(0, 12, 0), m(1, 1, 0), m(2, 0, 0)], rule(0), NOW),
            Some(2)
        );
    }

    #[test]
    fn lone_machine_only_at_zero_load() {
        assert_eq!(choose_victim(&[m(0, 1, 0)], rule(0), NOW), None);
        assert_eq!(choose_victim(&[m(0, 0, 0)], rule(0), NOW), Some(0));
        // Idle for only 60 s: kept.
        let recent = Running {
            idle_since: SimTime(940 * 1_000_000_000),
            ..m(0, 0, 0)
        };
        assert_eq!(choose_victim(&[recent], rule(0), NOW), None);
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
            Some(1)
        );
    }
}
