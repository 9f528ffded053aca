//! Stale timers: the one way flysim ignores an event that should no longer happen.
//!
//! A scheduled event is never taken out of the queue. Instead, every timer event carries the
//! [`Token`] of what it is about, and its handler acts only if that token is still current;
//! bumping the token cancels every event that carries the old one. A [`Timer`] is a token for
//! a timer of which at most one event is pending at a time (a Machine's lifecycle timer, its
//! connect check, an idle check, a queue's expiry): arming it again or cancelling it bumps the
//! token, and the event that fires with the current token disarms it.

use super::SimTime;

/// What a timer event carries; equal to its owner's token while the event is meant to happen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Token(u32);

impl Token {
    /// Makes every event carrying the current token stale.
    #[inline]
    pub fn bump(&mut self) {
        self.0 = self.0.wrapping_add(1);
    }
}

/// A timer with at most one live event: its token and when that event is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timer {
    token: Token,
    due: SimTime,
}

impl Default for Timer {
    fn default() -> Self {
        Timer {
            token: Token::default(),
            due: SimTime::NEVER,
        }
    }
}

impl Timer {
    /// Arms the timer for `at`, cancelling any event armed before; the returned token goes
    /// into the event.
    #[inline]
    pub fn arm(&mut self, at: SimTime) -> Token {
        self.token.bump();
        self.due = at;
        self.token
    }

    /// Cancels the pending event, if any.
    #[inline]
    pub fn cancel(&mut self) {
        if self.due != SimTime::NEVER {
            self.token.bump();
            self.due = SimTime::NEVER;
        }
    }

    /// Whether an event carrying `token` is the live one; if so the timer is disarmed (the
    /// event is handled now).
    #[inline]
    pub fn fires(&mut self, token: Token) -> bool {
        let live = token == self.token && self.due != SimTime::NEVER;
        if live {
            self.due = SimTime::NEVER;
        }
        live
    }

    /// When the live event is due, if one is pending.
    #[inline]
    pub fn due(&self) -> Option<SimTime> {
        (self.due != SimTime::NEVER).then_some(self.due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_armed_event_fires_and_only_once() {
        let mut t = Timer::default();
        assert_eq!(t.due(), None);
        let first = t.arm(SimTime(5));
        let second = t.arm(SimTime(9));
        assert_eq!(t.due(), Some(SimTime(9)));
        assert!(!t.fires(first), "re-arming cancels the earlier event");
        assert!(t.fires(second));
        assert!(!t.fires(second), "a timer fires once per arming");
        assert_eq!(t.due(), None);
    }

    #[test]
    fn cancel_makes_the_pending_event_stale() {
        let mut t = Timer::default();
        let tok = t.arm(SimTime(3));
        t.cancel();
        assert!(!t.fires(tok));
        assert_eq!(t.due(), None);
        // Cancelling an idle timer changes nothing an armed one could carry.
        let tok = t.arm(SimTime(4));
        let mut idle = Timer::default();
        idle.cancel();
        assert!(t.fires(tok));
    }

    #[test]
    fn a_bumped_token_differs_from_the_one_before() {
        let mut a = Token::default();
        let before = a;
        a.bump();
        assert_ne!(a, before);
    }
}
