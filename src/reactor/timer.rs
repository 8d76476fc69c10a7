//! Deadlines for the reactor: kept sorted, so the next wake-up is the last element and a
//! cancelled timer simply disappears (no busy polling, no stale wake-ups). A sorted vector
//! rather than a tree: after warm-up, adding and cancelling timers allocates nothing, and
//! with the few hundred timers a board has in flight the shifting is cheaper than a tree's
//! node allocations.

use std::time::Instant;

use mio::Token;

/// A scheduled timer; cancel it with [`Timers::cancel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId {
    at: Instant,
    seq: u64,
}

impl TimerId {
    /// When it fires.
    pub fn deadline(&self) -> Instant {
        self.at
    }
}

/// Timers, each owned by the token of the source it belongs to.
#[derive(Debug, Default)]
pub struct Timers {
    /// Latest deadline first, so the earliest is popped from the end.
    queue: Vec<(TimerId, Token)>,
    seq: u64,
}

impl Timers {
    fn position(&self, id: TimerId) -> Result<usize, usize> {
        self.queue.binary_search_by(|(probe, _)| id.cmp(probe))
    }

    /// A timer for `owner` at `at`.
    pub fn add(&mut self, at: Instant, owner: Token) -> TimerId {
        self.seq += 1;
        let id = TimerId { at, seq: self.seq };
        let index = self.position(id).unwrap_or_else(|i| i);
        self.queue.insert(index, (id, owner));
        id
    }

    /// Cancel; cancelling a timer that already fired is harmless.
    pub fn cancel(&mut self, id: TimerId) {
        if let Ok(index) = self.position(id) {
            self.queue.remove(index);
        }
    }

    /// When the earliest timer fires.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.queue.last().map(|(id, _)| id.at)
    }

    /// Remove and return the next timer due at `now`, if any.
    pub fn pop_due(&mut self, now: Instant) -> Option<(TimerId, Token)> {
        if self.queue.last()?.0.at > now {
            return None;
        }
        self.queue.pop()
    }

    /// Timers pending.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fires_in_order_and_cancelled_ones_never() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        let late = t.add(t0 + Duration::from_secs(3), Token(3));
        let early = t.add(t0 + Duration::from_secs(1), Token(1));
        let same = t.add(t0 + Duration::from_secs(1), Token(2));
        let cancelled = t.add(t0 + Duration::from_secs(2), Token(9));
        t.cancel(cancelled);
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(t.pop_due(t0), None);
        assert_eq!(
            t.pop_due(t0 + Duration::from_secs(2)),
            Some((early, Token(1)))
        );
        assert_eq!(
            t.pop_due(t0 + Duration::from_secs(2)),
            Some((same, Token(2)))
        );
        assert_eq!(t.pop_due(t0 + Duration::from_secs(2)), None);
        assert_eq!(t.len(), 1);
        t.cancel(early); // already fired: no effect
        assert_eq!(
            t.pop_due(t0 + Duration::from_secs(9)),
            Some((late, Token(3)))
        );
        assert!(t.is_empty());
        assert_eq!(late.deadline(), t0 + Duration::from_secs(3));
    }
}
