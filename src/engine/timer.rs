//! Stale timers: the one way flysim ignores an event that should no longer happen.
//!
//! A scheduled event is never taken out of the queue. Instead, every timer event carries the
//! [`Token`] of what it is about, and its handler acts only if that token is still current;
//! bumping the token cancels every event that carries the old one. A [`Timer`] is a token for
//! a timer of which at most one event is pending at a time (a Machine's lifecycle timer, its
//! connect check, an idle check, a queue's expiry): arming it again or cancelling it bumps the
//! token, and the event that fires with the current token disarms it.

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

/// A timer with at most one live event: its token, and whether that event is pending. Four
/// bytes (the top bit of the token word is the pending flag), as every Machine has several.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timer(u32);

const ARMED: u32 = 1 << 31;

impl Timer {
    /// Arms the timer, cancelling any event armed before; the returned token goes into the
    /// event.
    #[inline]
    pub fn arm(&mut self) -> Token {
        let token = (self.0 & !ARMED).wrapping_add(1) & !ARMED;
        self.0 = token | ARMED;
        Token(token)
    }

    /// Cancels the pending event, if any.
    #[inline]
    pub fn cancel(&mut self) {
        if self.is_armed() {
            self.0 = (self.0 & !ARMED).wrapping_add(1) & !ARMED;
        }
    }

    /// Whether an event carrying `token` is the live one; if so the timer is disarmed (the
    /// event is handled now).
    #[inline]
    pub fn fires(&mut self, token: Token) -> bool {
        let live = self.0 == token.0 | ARMED;
        if live {
            self.0 &= !ARMED;
        }
        live
    }

    /// Whether an event is pending.
    #[inline]
    pub fn is_armed(&self) -> bool {
        self.0 & ARMED != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_armed_event_fires_and_only_once() {
        let mut t = Timer::default();
        assert!(!t.is_armed());
        let first = t.arm();
        let second = t.arm();
        assert!(t.is_armed());
        assert!(!t.fires(first), "re-arming cancels the earlier event");
        assert!(t.fires(second));
        assert!(!t.fires(second), "a timer fires once per arming");
        assert!(!t.is_armed());
    }

    #[test]
    fn cancel_makes_the_pending_event_stale() {
        let mut t = Timer::default();
        let tok = t.arm();
        t.cancel();
        assert!(!t.fires(tok));
        assert!(!t.is_armed());
        let tok = t.arm();
        assert!(t.fires(tok));
    }

    #[test]
    fn tokens_wrap_without_touching_the_pending_flag() {
        let mut t = Timer(ARMED - 1);
        let tok = t.arm();
        assert_eq!(tok, Token(0));
        assert!(t.is_armed() && t.fires(tok));
        assert_eq!(std::mem::size_of::<Timer>(), 4);
    }

    #[test]
    fn a_bumped_token_differs_from_the_one_before() {
        let mut a = Token::default();
        let before = a;
        a.bump();
        assert_ne!(a, before);
    }
}
