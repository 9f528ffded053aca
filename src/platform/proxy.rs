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
//! 5. a Machine that is stopping is woken again when nothing else can take the request;
//! 6. a Machine on a failed host that the platform has not noticed yet still looks as it was:
//!    a request sent there fails over after `dead_retry_delay` (see `faults`);
//! 7. else the request waits in the proxy queue (`max_queue_wait` > 0) or fails: 503 when
//!    Machines are at their hard limit, "no machine" when none can run.
//!
//! Among equally good Machines the choice is the `tiebreak` parameter.

use rand::RngExt;

use super::Sim;
use super::machine::MState;
use super::route_index::Band;
use crate::engine::SimTime;
use crate::metrics::FailReason;
use crate::scenario::{Spill, TieBreak};

/// What the proxy does with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Serve it on this started Machine now.
    Serve(u32),
    /// Send it to this booting Machine; it waits for the boot.
    Wait(u32),
    /// Start this stopped or suspended Machine and send the request to it.
    Wake(u32),
    /// Send it to this stopping Machine, which starts again once stopped.
    WakeAfterStop(u32),
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
    candidates: &[u32],
    started_at: impl Fn(u32) -> SimTime,
    last_used: impl Fn(u32) -> SimTime,
    cursor: &mut u32,
    rng: &mut impl rand::Rng,
) -> Option<u32> {
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
        TieBreak::RoundRobin => {
            let id = candidates
                .iter()
                .copied()
                .find(|&id| id >= *cursor)
                .unwrap_or(candidates[0]);
            *cursor = id + 1;
            id
        }
    };
    Some(chosen)
}

/// Scratch lists of the scan, one per band (reused across requests).
const UNDER_SOFT_STARTED: usize = 0;
const UNDER_SOFT_STARTING: usize = 1;
const UNDER_HARD_STARTED: usize = 2;
const UNDER_HARD_STARTING: usize = 3;
const WAKEABLE: usize = 4;

impl Sim<'_> {
    /// Sorts the app's Machines in `region` into bands; returns whether any is started or
    /// starting (at its hard limit or not).
    fn scan_classify(&mut self, app: usize, region: usize, avoid: Option<u32>) -> bool {
        let mut running = false;
        let svc = &self.sc.apps[app].service;
        for s in &mut self.scratch {
            s.clear();
        }
        for &id in &self.apps[app].regions[region].ids {
            if Some(id) == avoid {
                continue;
            }
            let m = &self.machines[id as usize];
            let load = m.load();
            // Until the platform notices a failed host, the proxy still sees its Machines as
            // they were.
            let seen = match m.state {
                MState::Down if !self.hosts[m.host as usize].detected => m.before_down,
                s => s,
            };
            match seen {
                MState::Started | MState::Starting => {
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
                        && (m.holds_host
                            || super::placement::fits(&self.hosts[m.host as usize], &m.vm)) =>
                {
                    self.scratch[WAKEABLE].push(id);
                }
                _ => {}
            }
        }
        running
    }

    /// Picks one Machine of a band by the tie-break rule.
    fn scan_pick(&mut self, band: usize, app: usize, region: usize) -> Option<u32> {
        let machines = &self.machines;
        let cursor = &mut self.apps[app].rr[region];
        tie_break(
            self.sc.platform.tiebreak,
            &self.scratch[band],
            |id| machines[id as usize].started_at,
            |id| machines[id as usize].last_used,
            cursor,
            &mut self.rng_route,
        )
    }

    /// The Machine to wake in a region: suspended first (faster), then the lowest id.
    fn scan_pick_wakeable(&self) -> Option<u32> {
        self.scratch[WAKEABLE]
            .iter()
            .copied()
            .min_by_key(|&id| (self.machines[id as usize].state != MState::Suspended, id))
    }

    /// Decides where a request from `client` goes: from the bands the index keeps, and, when
    /// [`Sim::check_routing`] is on, also by scanning every Machine, failing on a difference.
    pub(super) fn route(&mut self, app: usize, client: u16, avoid: Option<u32>) -> Route {
        if !self.check_routing {
            // Small fleets keep no index: the scan is the cheaper way to the same answer.
            return if self.apps[app].any_indexed {
                self.route_indexed(app, client, avoid)
            } else {
                self.route_by_scan(app, client, avoid)
            };
        }
        let rng = self.rng_route.clone();
        let rr = self.apps[app].rr.clone();
        let scanned = self.route_by_scan(app, client, avoid);
        let (rng_after, rr_after) = (self.rng_route.clone(), self.apps[app].rr.clone());
        self.rng_route = rng;
        self.apps[app].rr = rr;
        let indexed = self.route_indexed(app, client, avoid);
        assert_eq!(
            (indexed, &self.rng_route, &self.apps[app].rr),
            (scanned, &rng_after, &rr_after),
            "the routing index and a scan of every Machine disagree at {}",
            self.now()
        );
        indexed
    }

    /// Where Machine `id` stands in the index of its app and region, if it is in one.
    fn position_in(&self, app: usize, region: usize, id: Option<u32>) -> Option<usize> {
        let m = &self.machines[id? as usize];
        (m.app as usize == app && m.region as usize == region && m.route_pos != u32::MAX)
            .then_some(m.route_pos as usize)
    }

    /// Picks one Machine of a band by the tie-break rule, from the index.
    fn pick(&mut self, band: Band, app: usize, region: usize, avoid: Option<u32>) -> Option<u32> {
        let avoid_pos = self.position_in(app, region, avoid);
        let ix = &self.apps[app].regions[region];
        let n = ix.count(band, avoid_pos);
        if n == 0 {
            return None;
        }
        let chosen = match self.tiebreak() {
            _ if n == 1 => ix.kth(band, 0, avoid_pos),
            TieBreak::Random => {
                // The same draw a scan makes over the band's list: an index into it.
                let k = self.rng_route.random_range(0..n as usize) as u32;
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
            TieBreak::RoundRobin => {
                let cursor = self.apps[app].rr[region];
                let first_at_cursor = ix.ids.partition_point(|&id| id < cursor);
                let mut before = ix.rank(band, first_at_cursor);
                if avoid_pos.is_some_and(|p| p < first_at_cursor && ix.standing(p).band == band) {
                    before -= 1;
                }
                let k = if before < n { before } else { 0 };
                let id = ix.kth(band, k, avoid_pos);
                self.apps[app].rr[region] = id + 1;
                id
            }
        };
        Some(chosen)
    }

    /// The Machine to wake in a region: suspended first (faster), then the lowest id, among
    /// those whose host has room (or that hold their place on it).
    fn pick_wakeable(&self, app: usize, region: usize, avoid: Option<u32>) -> Option<u32> {
        self.apps[app].regions[region]
            .wake
            .iter()
            .map(|&(_, id)| id)
            .filter(|&id| Some(id) != avoid)
            .find(|&id| {
                let m = &self.machines[id as usize];
                m.holds_host || super::placement::fits(&self.hosts[m.host as usize], &m.vm)
            })
    }

    /// Whether any Machine of the app in `region` other than `avoid` is started or starting.
    fn any_running_in(&self, app: usize, region: usize, avoid: Option<u32>) -> bool {
        let ix = &self.apps[app].regions[region];
        let avoided = self
            .position_in(app, region, avoid)
            .is_some_and(|p| ix.standing(p).running);
        ix.running > u32::from(avoided)
    }

    /// Steps 1 and 2 in `region`: a Machine under soft (started, then booting), else one to
    /// wake. A scanned region must have been classified just before.
    fn pick_under_soft(&mut self, app: usize, region: usize, avoid: Option<u32>) -> Option<Route> {
        if !self.apps[app].regions[region].indexed {
            return (self
                .scan_pick(UNDER_SOFT_STARTED, app, region)
                .map(Route::Serve))
            .or_else(|| {
                self.scan_pick(UNDER_SOFT_STARTING, app, region)
                    .map(Route::Wait)
            })
            .or_else(|| self.scan_pick_wakeable().map(Route::Wake));
        }
        // Only Machines autostart may wake are in the wake set.
        (self
            .pick(Band::SoftStarted, app, region, avoid)
            .map(Route::Serve))
        .or_else(|| {
            self.pick(Band::SoftStarting, app, region, avoid)
                .map(Route::Wait)
        })
        .or_else(|| self.pick_wakeable(app, region, avoid).map(Route::Wake))
    }

    /// Step 3 in `region`: a Machine over soft but under hard (started, then booting). A
    /// scanned region must have been classified just before.
    fn pick_over_soft(&mut self, app: usize, region: usize, avoid: Option<u32>) -> Option<Route> {
        if !self.apps[app].regions[region].indexed {
            return (self
                .scan_pick(UNDER_HARD_STARTED, app, region)
                .map(Route::Serve))
            .or_else(|| {
                self.scan_pick(UNDER_HARD_STARTING, app, region)
                    .map(Route::Wait)
            });
        }
        (self
            .pick(Band::HardStarted, app, region, avoid)
            .map(Route::Serve))
        .or_else(|| {
            self.pick(Band::HardStarting, app, region, avoid)
                .map(Route::Wait)
        })
    }

    /// [`Sim::route`] from the index in regions that keep one, by a scan in the others: the
    /// same decisions as [`Sim::route_by_scan`].
    fn route_indexed(&mut self, app: usize, client: u16, avoid: Option<u32>) -> Route {
        let nregions = self.apps[app].order[client as usize].len();
        let spill = self.sc.platform.cross_region_spill;
        for i in 0..nregions {
            let region = self.apps[app].order[client as usize][i] as usize;
            if !self.apps[app].regions[region].indexed {
                self.scan_classify(app, region, avoid);
            }
            if let Some(r) = self.pick_under_soft(app, region, avoid) {
                return r;
            }
            if (spill == Spill::Hard || i + 1 == nregions)
                && let Some(r) = self.pick_over_soft(app, region, avoid)
            {
                return r;
            }
        }
        if spill == Spill::Soft {
            for i in 0..nregions {
                let region = self.apps[app].order[client as usize][i] as usize;
                if !self.apps[app].regions[region].indexed {
                    self.scan_classify(app, region, avoid);
                }
                if let Some(r) = self.pick_over_soft(app, region, avoid) {
                    return r;
                }
            }
        }
        let hard = self.sc.apps[app].service.hard_limit;
        if self.sc.apps[app].service.autostart {
            for i in 0..nregions {
                let region = self.apps[app].order[client as usize][i] as usize;
                let ix = &self.apps[app].regions[region];
                let wakeable = |id: &u32| {
                    let m = &self.machines[*id as usize];
                    Some(*id) != avoid
                        && m.state == MState::Stopping
                        && (m.pending.len() as u32) < hard
                };
                let stopping = if ix.indexed {
                    ix.stopping.iter().copied().find(wakeable)
                } else {
                    ix.ids.iter().copied().find(wakeable)
                };
                if let Some(id) = stopping {
                    return Route::WakeAfterStop(id);
                }
            }
        }
        let any_running = (0..nregions).any(|i| {
            let region = self.apps[app].order[client as usize][i] as usize;
            if self.apps[app].regions[region].indexed {
                self.any_running_in(app, region, avoid)
            } else {
                self.scan_classify(app, region, avoid)
            }
        });
        if !any_running {
            return Route::Fail(FailReason::NoMachine);
        }
        if self.sc.platform.max_queue_wait.0 > 0 {
            Route::Queue
        } else {
            Route::Fail(FailReason::AtHardLimit)
        }
    }

    /// The proxy's decision by scanning every Machine of the app in each region: the plain
    /// statement of the rules, kept as the reference the index is checked against, and the
    /// path of apps whose regions are all small. (`route_indexed` with every region scanned
    /// decides the same, but a single function for both cost M/M/4 7 % of its speed.)
    fn route_by_scan(&mut self, app: usize, client: u16, avoid: Option<u32>) -> Route {
        let nregions = self.apps[app].order[client as usize].len();
        let spill = self.sc.platform.cross_region_spill;
        let mut any_running = false;
        // Under soft, or a start, in each region closest first; with the "hard" rule the next
        // region is tried only after this one's over-soft band.
        for i in 0..nregions {
            let region = self.apps[app].order[client as usize][i] as usize;
            any_running |= self.scan_classify(app, region, avoid);
            if let Some(id) = self.scan_pick(UNDER_SOFT_STARTED, app, region) {
                return Route::Serve(id);
            }
            if let Some(id) = self.scan_pick(UNDER_SOFT_STARTING, app, region) {
                return Route::Wait(id);
            }
            if let Some(id) = self.scan_pick_wakeable() {
                return Route::Wake(id);
            }
            if spill == Spill::Hard || i + 1 == nregions {
                if let Some(id) = self.scan_pick(UNDER_HARD_STARTED, app, region) {
                    return Route::Serve(id);
                }
                if let Some(id) = self.scan_pick(UNDER_HARD_STARTING, app, region) {
                    return Route::Wait(id);
                }
            }
        }
        // The older rule: over-soft Machines anywhere, closest region first.
        if spill == Spill::Soft {
            for i in 0..nregions {
                let region = self.apps[app].order[client as usize][i] as usize;
                self.scan_classify(app, region, avoid);
                if let Some(id) = self.scan_pick(UNDER_HARD_STARTED, app, region) {
                    return Route::Serve(id);
                }
                if let Some(id) = self.scan_pick(UNDER_HARD_STARTING, app, region) {
                    return Route::Wait(id);
                }
            }
        }
        // A Machine in the middle of stopping is woken again (Fly's PM11 path).
        if self.sc.apps[app].service.autostart {
            for i in 0..nregions {
                let region = self.apps[app].order[client as usize][i] as usize;
                let hard = self.sc.apps[app].service.hard_limit;
                let stopping = self.apps[app].regions[region]
                    .ids
                    .iter()
                    .copied()
                    .find(|&id| {
                        let m = &self.machines[id as usize];
                        Some(id) != avoid
                            && m.state == MState::Stopping
                            && (m.pending.len() as u32) < hard
                    });
                if let Some(id) = stopping {
                    return Route::WakeAfterStop(id);
                }
            }
        }
        if !any_running {
            return Route::Fail(FailReason::NoMachine);
        }
        if self.sc.platform.max_queue_wait.0 > 0 {
            Route::Queue
        } else {
            Route::Fail(FailReason::AtHardLimit)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn pick(rule: TieBreak, ids: &[u32], cursor: &mut u32) -> Option<u32> {
        // Started at 10 − id s (higher ids started earlier); last used at id % 3 s.
        let started = |id: u32| SimTime((10 - u64::from(id)) * 1_000_000_000);
        let used = |id: u32| SimTime(u64::from(id % 3) * 1_000_000_000);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        tie_break(rule, ids, started, used, cursor, &mut rng)
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
        let same = |_: u32| SimTime::ZERO;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mrs = tie_break(
            TieBreak::MostRecentlyStarted,
            &ids,
            same,
            same,
            &mut c,
            &mut rng,
        );
        let lru = tie_break(
            TieBreak::LeastRecentlyUsed,
            &ids,
            same,
            same,
            &mut c,
            &mut rng,
        );
        assert_eq!((mrs, lru), (Some(2), Some(2)));
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
        let started = |_: u32| SimTime::ZERO;
        for (rule, ids, draws) in [
            (TieBreak::Random, &[1u32, 2][..], true),
            (TieBreak::Random, &[1][..], false),
            (TieBreak::MostRecentlyStarted, &[1, 2][..], false),
            (TieBreak::RoundRobin, &[1, 2][..], false),
        ] {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
            let mut c = 0;
            tie_break(rule, ids, started, started, &mut c, &mut rng);
            let mut fresh = rand_chacha::ChaCha8Rng::seed_from_u64(7);
            let moved = rng.random::<u64>() != fresh.random::<u64>();
            assert_eq!(moved, draws, "{rule:?} with {ids:?}");
        }
    }
}
