//! The discrete-event core, free of any Fly-specific notion.
//!
//! It holds the clock, the pending-event queue and the random-stream factory. It depends on
//! nothing else in the crate, so it can move to its own crate unchanged.
//!
//! Invariants: time never goes backwards; events at equal times are handled in the order they
//! were scheduled (see [`queue`]).

pub mod queue;
pub mod rng;
pub mod time;
pub mod timer;

pub use queue::EventQueue;
pub use rng::{RngStreams, StreamRng};
pub use time::{SimDuration, SimTime};

/// A clock plus the queue of events still to happen.
pub struct Engine<E> {
    now: SimTime,
    queue: EventQueue<E>,
}

impl<E> Engine<E> {
    /// An engine at time zero with room for `capacity` pending events.
    pub fn with_capacity(capacity: usize) -> Self {
        Engine {
            now: SimTime::ZERO,
            queue: EventQueue::with_capacity(capacity),
        }
    }

    /// The current simulated time.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at `time`.
    ///
    /// # Panics
    /// In debug builds, if `time` is in the past: that is a bug in the caller.
    #[inline]
    pub fn schedule_at(&mut self, time: SimTime, event: E) {
        debug_assert!(time >= self.now, "event scheduled in the past at {time}");
        self.queue.push(time, event);
    }

    /// Schedules `event` after `delay`.
    #[inline]
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) {
        self.queue.push(self.now + delay, event);
    }

    /// Pops the next event due no later than `end`, advancing the clock to its time.
    #[inline]
    pub fn next_until(&mut self, end: SimTime) -> Option<E> {
        match self.queue.peek_time() {
            Some(t) if t <= end => {
                let (t, e) = self.queue.pop()?;
                self.now = t;
                Some(e)
            }
            _ => None,
        }
    }

    /// Moves the clock to `time` without handling anything (used to close a run at its end).
    pub fn advance_to(&mut self, time: SimTime) {
        if time > self.now {
            self.now = time;
        }
    }

    /// How many events are pending.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }
}
