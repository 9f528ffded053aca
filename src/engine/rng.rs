//! Named random streams derived from one master seed.
//!
//! Every source of randomness (each traffic source, service times, routing ties, boot times,
//! autostop phases, ...) draws from its own ChaCha8 stream. A stream's seed is a portable hash of
//! `(master seed, replication, stream name)`, so adding a stream never changes another one:
//! adding a traffic source leaves the other sources' arrivals untouched, and replication `r` sees
//! the same traffic at every sweep point (common random numbers).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The generator behind every stream.
pub type StreamRng = ChaCha8Rng;

/// Derives independent, reproducible random streams.
#[derive(Clone, Copy, Debug)]
pub struct RngStreams {
    master: u64,
    replication: u64,
}

/// SplitMix64 finaliser: a fixed, well-mixed 64-bit permutation.
fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl RngStreams {
    /// Streams for one replication of a run with `master` seed.
    pub fn new(master: u64, replication: u64) -> Self {
        RngStreams {
            master,
            replication,
        }
    }

    /// The 256-bit seed of stream `name` (FNV-1a over the name, mixed with master and replication).
    fn seed_of(&self, name: &str) -> [u8; 32] {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        let mut state = mix64(self.master) ^ mix64(h ^ mix64(self.replication.wrapping_add(1)));
        let mut seed = [0u8; 32];
        for chunk in seed.chunks_exact_mut(8) {
            state = mix64(state);
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        seed
    }

    /// The stream called `name`; the same name always gives the same sequence.
    pub fn stream(&self, name: &str) -> StreamRng {
        ChaCha8Rng::from_seed(self.seed_of(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    fn first(rng: &mut StreamRng) -> Vec<u64> {
        (0..4).map(|_| rng.random::<u64>()).collect()
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let s = RngStreams::new(7, 0);
        assert_eq!(first(&mut s.stream("a")), first(&mut s.stream("a")));
        assert_ne!(first(&mut s.stream("a")), first(&mut s.stream("b")));
        assert_ne!(
            first(&mut s.stream("a")),
            first(&mut RngStreams::new(8, 0).stream("a"))
        );
        assert_ne!(
            first(&mut s.stream("a")),
            first(&mut RngStreams::new(7, 1).stream("a"))
        );
    }

    const PINNED_TRAFFIC: [u64; 4] = [
        1974070605511793707,
        11766046922641179660,
        6516261027269545914,
        15121579916136923600,
    ];
    const PINNED_BOOT: u64 = 2809259668367485166;

    #[test]
    fn stream_values_are_pinned() {
        // Pins the derivation and the generator: a change here changes every published result.
        let mut traffic = RngStreams::new(1, 0).stream("traffic");
        assert_eq!(first(&mut traffic), PINNED_TRAFFIC);
        let mut other = RngStreams::new(42, 3).stream("boot/web:7");
        assert_eq!(other.random::<u64>(), PINNED_BOOT);
    }
}
