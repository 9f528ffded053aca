//! The proxy's view of one route's Machines (a service of an app) in one region, kept up to
//! date as Machines change, so that choosing a Machine costs O(log N) in the region's N
//! Machines instead of a scan.
//!
//! Each Machine the proxy routes to has a position in its region's list (creation order, so
//! ascending ids) and a band: under soft and started, under soft and starting, over soft but
//! under hard (started or starting), a candidate to wake (stopped or suspended), stopping, or
//! none. Each routing band keeps a bitmap of positions with a Fenwick tree over its words'
//! counts, so the k-th Machine of a band in list order — what a scan of the list would have
//! found — is found in O(log N): every tie-break picks exactly the Machine the scan picked,
//! with the same random draws. The recency tie-breaks keep an ordered set per band keyed by
//! their time. `Proxy::reband` moves a Machine between bands whenever its state, load or recency
//! changes. Regions of at most [`SCAN_UP_TO`] Machines keep no bands (`indexed` is false, their
//! Machines have no position) and the proxy scans them, which is cheaper there; with
//! [`super::Sim::check_routing`] on, every region keeps bands and every decision is also made
//! by the plain scan and compared.

use std::collections::BTreeSet;

use super::ids::MachineId;
use crate::engine::SimTime;

/// Where a Machine stands for the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Band {
    /// Not a candidate (standby, down, at its hard limit while starting or started, ...).
    None,
    /// Started, load under the soft limit.
    SoftStarted,
    /// Starting, load under the soft limit.
    SoftStarting,
    /// Started, load at or over soft but under hard.
    HardStarted,
    /// Starting, load at or over soft but under hard.
    HardStarting,
}

impl Band {
    /// Index of a routing band's tree (the four bands the proxy picks from).
    fn tree(self) -> Option<usize> {
        match self {
            Band::None => None,
            Band::SoftStarted => Some(0),
            Band::SoftStarting => Some(1),
            Band::HardStarted => Some(2),
            Band::HardStarting => Some(3),
        }
    }
}

/// A Machine's standing, as the index last recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Standing {
    /// Its routing band.
    pub band: Band,
    /// Started or starting as the proxy sees it (counts as running, at its limit or not).
    pub running: bool,
    /// Running, but failing its health checks or not passed yet (then in no band).
    pub unhealthy: bool,
    /// Stopped or suspended and wakeable by autostart (host room is checked when picked).
    pub wake: Option<bool>,
    /// Stopping or suspending (may be woken again).
    pub stopping: bool,
    /// The time its recency tie-break orders by (`started_at` or `last_used`).
    pub key: SimTime,
}

impl Standing {
    /// Outside every band.
    pub(super) const NONE: Standing = Standing {
        band: Band::None,
        running: false,
        unhealthy: false,
        wake: None,
        stopping: false,
        key: SimTime::ZERO,
    };
}

/// A set of positions as a bitmap, with a Fenwick tree over the counts of its 64-bit words:
/// count, rank and selection of the k-th position in O(log(n / 64)) plus a word's popcounts,
/// touching little memory (a band of 5,000 Machines is 79 words and a 79-entry tree).
#[derive(Clone, Debug, Default)]
struct Fenwick {
    words: Vec<u64>,
    /// 1-based Fenwick tree over `words[i].count_ones()`.
    tree: Vec<u32>,
    count: u32,
}

impl Fenwick {
    fn new(n: usize) -> Fenwick {
        let nwords = n.div_ceil(64);
        Fenwick {
            words: vec![0; nwords],
            tree: vec![0; nwords + 1],
            count: 0,
        }
    }

    /// Makes room for positions up to `n` (new positions are clear).
    fn grow(&mut self, n: usize) {
        let nwords = n.div_ceil(64);
        if nwords <= self.words.len() {
            return;
        }
        self.words.resize(nwords, 0);
        // Rebuild the tree over the words' counts: O(words), once per 64 new positions.
        self.tree = vec![0; nwords + 1];
        for w in 0..nwords {
            let i = w + 1;
            self.tree[i] += self.words[w].count_ones();
            let parent = i + (i & i.wrapping_neg());
            if parent <= nwords {
                self.tree[parent] += self.tree[i];
            }
        }
    }

    /// Sets (`delta` = 1) or clears (−1) position `pos`; it must be clear or set before.
    fn add(&mut self, pos: usize, delta: i32) {
        self.count = self.count.wrapping_add_signed(delta);
        self.words[pos / 64] ^= 1 << (pos % 64);
        let mut i = pos / 64 + 1;
        while i < self.tree.len() {
            self.tree[i] = self.tree[i].wrapping_add_signed(delta);
            i += i & i.wrapping_neg();
        }
    }

    /// How many positions below `pos` are set.
    fn rank(&self, pos: usize) -> u32 {
        let (w, bit) = (pos / 64, pos % 64);
        let mut i = w;
        let mut s = 0;
        while i > 0 {
            s += self.tree[i];
            i &= i - 1;
        }
        let below = if bit == 0 {
            0
        } else {
            self.words[w] << (64 - bit)
        };
        s + below.count_ones()
    }

    /// The `k`-th set position (0-based); `k < count`.
    fn select(&self, mut k: u32) -> usize {
        // The word holding it: the largest w whose words before it hold at most k positions.
        let mut w = 0;
        let mut step = self.tree.len().next_power_of_two();
        while step > 0 {
            let next = w + step;
            if next < self.tree.len() && self.tree[next] <= k {
                w = next;
                k -= self.tree[next];
            }
            step >>= 1;
        }
        // Within the word: halve by popcount.
        let mut word = self.words[w];
        let mut base = 0;
        for half in [32u32, 16, 8, 4, 2, 1] {
            let low = (word & ((1u64 << half) - 1)).count_ones();
            if k >= low {
                k -= low;
                word >>= half;
                base += half as usize;
            }
        }
        w * 64 + base
    }
}

/// One app's Machines in one region, as the proxy sees them.
#[derive(Debug, Default)]
pub(super) struct RegionIndex {
    /// Machine ids in creation order (ascending).
    pub ids: Vec<MachineId>,
    /// The standing of each, by position.
    standing: Vec<Standing>,
    trees: [Fenwick; 4],
    /// Recency order per band: `(key, sign × id)` ascending, so that the last element is the
    /// most recently started (ties: lowest id) with sign −1, and the first the least recently
    /// used (ties: lowest id) with sign +1.
    recency: [BTreeSet<(SimTime, i64)>; 4],
    /// Whether the recency sets are kept (only the recency tie-breaks need them).
    keep_recency: bool,
    /// The sign of ids in the recency keys.
    sign: i64,
    /// Wake candidates: `(not suspended, id)`, so suspended ones come first, then lower ids.
    pub wake: BTreeSet<(bool, MachineId)>,
    /// Stopping Machines, by id.
    pub stopping: BTreeSet<MachineId>,
    /// Machines started or starting as the proxy sees them.
    pub running: u32,
    /// Of them, those whose health checks fail or have not passed yet.
    pub unhealthy: u32,
    /// Whether the bands are kept: in regions with few Machines a scan is cheaper than
    /// keeping them, and the proxy scans instead.
    pub indexed: bool,
}

/// Regions with more Machines than this keep bands; smaller ones are scanned.
pub(super) const SCAN_UP_TO: usize = 32;

impl RegionIndex {
    /// An index over `ids`, every Machine outside every band until first recorded.
    /// `recency_sign`: 0 keeps no recency order, −1 orders for "most recently started", +1 for
    /// "least recently used".
    pub(super) fn new(ids: Vec<MachineId>, recency_sign: i64) -> RegionIndex {
        let n = ids.len();
        RegionIndex {
            standing: vec![Standing::NONE; n],
            trees: std::array::from_fn(|_| Fenwick::new(n)),
            recency: Default::default(),
            keep_recency: recency_sign != 0,
            sign: recency_sign,
            wake: BTreeSet::new(),
            stopping: BTreeSet::new(),
            running: 0,
            unhealthy: 0,
            indexed: n > SCAN_UP_TO,
            ids,
        }
    }

    /// Appends Machine `id` (created during the run, so its id is the largest), outside every
    /// band until first recorded; returns its position.
    pub(super) fn push(&mut self, id: MachineId) -> usize {
        debug_assert!(self.ids.last().is_none_or(|&last| last < id));
        self.ids.push(id);
        self.standing.push(Standing::NONE);
        let n = self.ids.len();
        for t in &mut self.trees {
            t.grow(n);
        }
        n - 1
    }

    /// The standing last recorded at `pos`.
    pub(super) fn standing(&self, pos: usize) -> Standing {
        self.standing[pos]
    }

    /// Records a new standing for the Machine at `pos` (inlined into the one hot caller,
    /// `Proxy::reband_indexed`).
    #[inline(always)]
    pub(super) fn set(&mut self, pos: usize, new: Standing) {
        let old = self.standing[pos];
        if old == new {
            return;
        }
        let id = self.ids[pos];
        if old.band != new.band || (self.keep_recency && old.key != new.key) {
            if let Some(t) = old.band.tree() {
                if old.band != new.band {
                    self.trees[t].add(pos, -1);
                }
                if self.keep_recency {
                    self.recency[t].remove(&(old.key, self.sign * i64::from(id.0)));
                }
            }
            if let Some(t) = new.band.tree() {
                if old.band != new.band {
                    self.trees[t].add(pos, 1);
                }
                if self.keep_recency {
                    self.recency[t].insert((new.key, self.sign * i64::from(id.0)));
                }
            }
        }
        if old.running != new.running {
            if new.running {
                self.running += 1;
            } else {
                self.running -= 1;
            }
        }
        if old.unhealthy != new.unhealthy {
            if new.unhealthy {
                self.unhealthy += 1;
            } else {
                self.unhealthy -= 1;
            }
        }
        if old.wake != new.wake {
            if let Some(not_suspended) = old.wake {
                self.wake.remove(&(not_suspended, id));
            }
            if let Some(not_suspended) = new.wake {
                self.wake.insert((not_suspended, id));
            }
        }
        if old.stopping != new.stopping {
            if new.stopping {
                self.stopping.insert(id);
            } else {
                self.stopping.remove(&id);
            }
        }
        self.standing[pos] = new;
    }

    /// Machines in `band`, less `avoid` if it is one.
    pub(super) fn count(&self, band: Band, avoid: Option<usize>) -> u32 {
        let t = band.tree().expect("a routing band");
        let n = self.trees[t].count;
        match avoid {
            Some(p) if self.standing[p].band == band => n - 1,
            _ => n,
        }
    }

    /// The `k`-th Machine of `band` in list order, skipping `avoid`.
    pub(super) fn kth(&self, band: Band, k: u32, avoid: Option<usize>) -> MachineId {
        let t = band.tree().expect("a routing band");
        let k = match avoid {
            Some(p) if self.standing[p].band == band && self.trees[t].rank(p) <= k => k + 1,
            _ => k,
        };
        self.ids[self.trees[t].select(k)]
    }

    /// How many Machines of `band` come before position `pos` in list order.
    pub(super) fn rank(&self, band: Band, pos: usize) -> u32 {
        self.trees[band.tree().expect("a routing band")].rank(pos)
    }

    /// The Machines of `band` in recency order (see `recency`).
    pub(super) fn by_recency(&self, band: Band) -> impl DoubleEndedIterator<Item = MachineId> + '_ {
        let sign = self.sign;
        self.recency[band.tree().expect("a routing band")]
            .iter()
            .map(move |&(_, signed)| MachineId((signed * sign) as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Rank and select agree with a plain sorted list, for any set over any size.
        #[test]
        fn fenwick_agrees_with_a_sorted_list(n in 1usize..400, picks in proptest::collection::vec(0usize..400, 0..200)) {
            let mut f = Fenwick::new(n);
            let mut set = std::collections::BTreeSet::new();
            for p in picks.into_iter().map(|p| p % n) {
                if set.insert(p) { f.add(p, 1) } else { set.remove(&p); f.add(p, -1) }
            }
            let list: Vec<usize> = set.into_iter().collect();
            proptest::prop_assert_eq!(f.count as usize, list.len());
            for (k, &p) in list.iter().enumerate() {
                proptest::prop_assert_eq!(f.select(k as u32), p);
            }
            for pos in 0..n {
                proptest::prop_assert_eq!(f.rank(pos) as usize, list.partition_point(|&x| x < pos));
            }
        }
    }

    #[test]
    fn fenwick_ranks_and_selects_like_a_list() {
        let mut f = Fenwick::new(37);
        let set = [0usize, 3, 4, 10, 31, 36];
        for &p in &set {
            f.add(p, 1);
        }
        assert_eq!(f.count, 6);
        for (k, &p) in set.iter().enumerate() {
            assert_eq!(f.select(k as u32), p);
            assert_eq!(f.rank(p), k as u32);
        }
        f.add(4, -1);
        assert_eq!(f.select(2), 10);
        assert_eq!(f.rank(36), 4);
    }

    #[test]
    fn a_grown_tree_ranks_and_selects_like_a_list() {
        let mut f = Fenwick::new(10);
        f.add(3, 1);
        f.add(9, 1);
        for n in [64, 65, 200, 1000] {
            f.grow(n);
            f.add(n - 1, 1);
        }
        let set = [3usize, 9, 63, 64, 199, 999];
        assert_eq!(f.count, 6);
        for (k, &p) in set.iter().enumerate() {
            assert_eq!(f.select(k as u32), p);
            assert_eq!(f.rank(p), k as u32);
        }
    }

    #[test]
    fn kth_skips_the_avoided_machine() {
        let mut ix = RegionIndex::new((10..20).map(MachineId).collect(), 0);
        ix.indexed = true;
        let under = Standing {
            band: Band::SoftStarted,
            running: true,
            ..Standing::NONE
        };
        for p in [1, 4, 7] {
            ix.set(p, under);
        }
        assert_eq!(ix.count(Band::SoftStarted, Some(4)), 2);
        assert_eq!(ix.kth(Band::SoftStarted, 0, Some(4)), MachineId(11));
        assert_eq!(ix.kth(Band::SoftStarted, 1, Some(4)), MachineId(17));
        assert_eq!(ix.kth(Band::SoftStarted, 1, None), MachineId(14));
        assert_eq!(ix.running, 3);
        ix.set(4, Standing::NONE);
        assert_eq!((ix.count(Band::SoftStarted, None), ix.running), (2, 2));
    }
}
