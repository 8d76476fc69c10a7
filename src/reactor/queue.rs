//! Bounded event queues: what a component has to tell its owner, waiting to be taken with
//! `next_event`.
//!
//! An owner that never takes its events must not make the component grow. So repeats coalesce
//! (a queued `BytesWritten` absorbs the next one as a sum; one queued `ReadyRead` or
//! `NewConnection` stands for any number), and past a bound ([`EVENT_QUEUE_BOUND`] for a
//! socket or server) the oldest event is dropped and counted. The current state is always readable from the component itself;
//! the queue only says what changed.

use std::collections::VecDeque;

/// At most this many events wait in one socket's or server's queue.
pub const EVENT_QUEUE_BOUND: usize = 64;

/// How a later event folds into one already queued.
pub(crate) trait Coalesce {
    /// Fold `later` into `self` if it adds nothing a consumer of `self` would miss; true if
    /// it was absorbed.
    fn absorb(&mut self, later: &Self) -> bool;
}

/// A FIFO of at most `bound` events that coalesces repeats.
#[derive(Debug)]
pub(crate) struct EventQueue<E> {
    events: VecDeque<E>,
    bound: usize,
    dropped: u64,
}

impl<E> Default for EventQueue<E> {
    /// A queue of [`EVENT_QUEUE_BOUND`] events.
    fn default() -> Self {
        EventQueue::with_bound(EVENT_QUEUE_BOUND)
    }
}

impl<E> EventQueue<E> {
    pub fn with_bound(bound: usize) -> Self {
        EventQueue {
            events: VecDeque::new(),
            bound: bound.max(1),
            dropped: 0,
        }
    }
}

impl<E: Coalesce> EventQueue<E> {
    pub fn push(&mut self, event: E) {
        if self.events.iter_mut().any(|queued| queued.absorb(&event)) {
            return;
        }
        if self.events.len() >= self.bound {
            self.events.pop_front();
            self.dropped += 1;
        }
        self.events.push_back(event);
    }

    pub fn pop(&mut self) -> Option<E> {
        self.events.pop_front()
    }

    /// Events dropped because the queue was full (the owner did not take them).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.events.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum Ev {
        Sum(usize),
        Once,
        Plain(u32),
    }

    impl Coalesce for Ev {
        fn absorb(&mut self, later: &Ev) -> bool {
            match (self, later) {
                (Ev::Sum(a), Ev::Sum(b)) => {
                    *a += b;
                    true
                }
                (Ev::Once, Ev::Once) => true,
                _ => false,
            }
        }
    }

    #[test]
    fn repeats_coalesce_into_one_event() {
        let mut q = EventQueue::default();
        for _ in 0..100_000 {
            q.push(Ev::Sum(2));
            q.push(Ev::Once);
        }
        assert_eq!((q.len(), q.dropped()), (2, 0));
        assert_eq!(q.pop(), Some(Ev::Sum(200_000)));
        assert_eq!(q.pop(), Some(Ev::Once));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn past_the_bound_the_oldest_events_are_dropped_and_counted() {
        let mut q = EventQueue::default();
        for i in 0..100_000 {
            q.push(Ev::Plain(i));
        }
        assert_eq!(q.len(), EVENT_QUEUE_BOUND);
        assert_eq!(q.dropped(), 100_000 - EVENT_QUEUE_BOUND as u64);
        assert_eq!(q.pop(), Some(Ev::Plain(100_000 - EVENT_QUEUE_BOUND as u32)));
    }
}
