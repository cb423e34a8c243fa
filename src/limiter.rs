//! How many downloads a restore keeps in flight: up to `--jobs`, fewer while the server shows
//! it cannot keep up.
//!
//! A fixed number is wrong at one end or the other. Against a remote registry, where each
//! request waits out the network's latency, more requests in flight hide more of it. Against
//! a server that takes one request at a time behind a short listen queue (pypiserver's
//! default wsgiref server queues 5 connections), the kernel drops the connections beyond the
//! queue, and each drop costs the client a 1 s retransmit: there, 16 downloads in flight took
//! 1.3 s where 4 took 0.6 s, and 50 took 14 s.
//!
//! So the limit starts low and grows by one with every quick answer, up to `--jobs` (as
//! TCP's slow start does). An answer is quick while it comes within [`QUEUE_FACTOR`] times
//! (or [`QUEUE_MARGIN`] of) the fastest one seen: through a proxy adding 50 ms to every
//! request, answers stay near 50 ms however many are in flight, and the limit climbs; a
//! server that queues requests answers each later the more are queued, and the limit stops
//! climbing. The limit halves when an answer comes far slower than the fastest, once per
//! round of requests (those started after the previous cut), and after a cut grows by one
//! per `limit` quick answers. A slow answer is one taking more than [`SLOW_FACTOR`] times
//! the fastest and more than [`SLOW_MARGIN`] beyond it: a dropped connection's 1 s
//! retransmit, or a 429 or 503 retried after a pause.
//!
//! What this does not do is learn a listen queue shorter than the queueing that stops the
//! growth: against pypiserver's wsgiref server the limit still passes 6 before the first
//! dropped connection shows, a second later, and 50 allowed now takes about 2 s instead of
//! 14. `--jobs 4` is still what such a server wants.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{AcquireError, Semaphore, SemaphorePermit};

/// Requests in flight at the start, when `--jobs` allows that many.
pub const INITIAL: usize = 4;
/// The limit never goes below this (one request could wait behind another's stall).
pub const FLOOR: usize = 2;
/// An answer within this many times the fastest one...
pub const QUEUE_FACTOR: u32 = 4;
/// ...or within this of it, is quick: the server is not queueing much, and the limit may
/// grow.
pub const QUEUE_MARGIN: Duration = Duration::from_millis(5);
/// An answer slower than this many times the fastest one...
pub const SLOW_FACTOR: u32 = 8;
/// ...and more than this beyond it, is a sign of strain.
pub const SLOW_MARGIN: Duration = Duration::from_millis(500);

/// Shares at most `max` places among the downloads of one restore, adapting as above.
#[derive(Debug)]
pub struct Limiter {
    semaphore: Semaphore,
    state: Mutex<State>,
}

/// A place in flight. Call [`Slot::answered`] when the response headers arrive; the time
/// from taking the slot to then (or to dropping it, without that call) is what the limiter
/// learns from.
#[derive(Debug)]
pub struct Slot<'a> {
    limiter: &'a Limiter,
    permit: Option<SemaphorePermit<'a>>,
    started: Instant,
    answered: OnceLock<Instant>,
}

#[derive(Debug, PartialEq, Eq)]
enum Change {
    Grow,
    Shrink(usize),
    Keep,
}

#[derive(Debug)]
struct State {
    limit: usize,
    max: usize,
    /// Places to take out of circulation as they come back (after a cut).
    debt: usize,
    fastest: Option<Duration>,
    /// Quick answers since the limit last grew, after the first cut.
    quick: usize,
    last_cut: Option<Instant>,
}

impl State {
    fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            limit: max.min(INITIAL),
            max,
            debt: 0,
            fastest: None,
            quick: 0,
            last_cut: None,
        }
    }

    /// What one answer, to a request started at `started` that took `latency`, changes.
    fn observe(&mut self, started: Instant, latency: Duration) -> Change {
        let fastest = self.fastest.map_or(latency, |fastest| fastest.min(latency));
        self.fastest = Some(fastest);
        // An answer to a request sent before the last cut tells nothing about the limit
        // since: one cut per round, and growth counts only the new round's answers.
        if self.last_cut.is_some_and(|cut| started <= cut) {
            return Change::Keep;
        }
        let slow = latency > fastest * SLOW_FACTOR && latency > fastest + SLOW_MARGIN;
        if slow {
            if self.limit <= FLOOR {
                return Change::Keep;
            }
            let cut = self.limit - (self.limit / 2).max(FLOOR);
            self.limit -= cut;
            self.quick = 0;
            self.last_cut = Some(Instant::now());
            return Change::Shrink(cut);
        }
        // Grow only while answers come about as fast as the fastest: once they queue at the
        // server, more in flight only lengthen the queue (and a short listen queue
        // overflows, which costs a 1 s retransmit before it shows as a slow answer).
        let quick = latency <= fastest * QUEUE_FACTOR || latency <= fastest + QUEUE_MARGIN;
        if !quick || self.limit >= self.max {
            return Change::Keep;
        }
        if self.last_cut.is_some() {
            self.quick += 1;
            if self.quick < self.limit {
                return Change::Keep;
            }
            self.quick = 0;
        }
        self.limit += 1;
        Change::Grow
    }
}

impl Limiter {
    /// A limiter for at most `max` (at least 1) requests in flight.
    #[must_use]
    pub fn new(max: usize) -> Self {
        let state = State::new(max);
        Self {
            semaphore: Semaphore::new(state.limit),
            state: Mutex::new(state),
        }
    }

    /// Waits for a place.
    ///
    /// # Errors
    /// Only if the semaphore was closed, which this type never does.
    pub async fn acquire(&self) -> Result<Slot<'_>, AcquireError> {
        let permit = self.semaphore.acquire().await?;
        Ok(Slot {
            limiter: self,
            permit: Some(permit),
            started: Instant::now(),
            answered: OnceLock::new(),
        })
    }

    /// The current limit.
    #[cfg(test)]
    fn limit(&self) -> usize {
        self.lock().limit
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere cannot leave `State` inconsistent: every update is a few
        // assignments without a call that could panic in between.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Slot<'_> {
    /// The server has answered (the response headers are in); the first call counts.
    pub fn answered(&self) {
        self.answered.get_or_init(Instant::now);
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let latency = self
            .answered
            .get()
            .copied()
            .unwrap_or_else(Instant::now)
            .saturating_duration_since(self.started);
        let mut state = self.limiter.lock();
        let change = state.observe(self.started, latency);
        tracing::trace!(?latency, limit = state.limit, ?change, "download answered");
        match change {
            Change::Grow if state.debt > 0 => state.debt -= 1,
            Change::Grow => self.limiter.semaphore.add_permits(1),
            Change::Shrink(cut) => {
                state.debt += cut;
                tracing::debug!(
                    limit = state.limit,
                    ?latency,
                    fastest = ?state.fastest,
                    "an answer came slowly: fewer downloads in flight"
                );
            }
            Change::Keep => {}
        }
        if let Some(permit) = self.permit.take() {
            if state.debt > 0 {
                state.debt -= 1;
                permit.forget();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUICK: Duration = Duration::from_millis(4);
    const STALL: Duration = Duration::from_millis(1004);

    #[test]
    fn quick_answers_grow_the_limit_one_each_up_to_the_maximum() {
        let mut state = State::new(16);
        assert_eq!(state.limit, INITIAL);
        for expected in INITIAL + 1..=16 {
            assert_eq!(state.observe(Instant::now(), QUICK), Change::Grow);
            assert_eq!(state.limit, expected);
        }
        assert_eq!(state.observe(Instant::now(), QUICK), Change::Keep);
        assert_eq!(state.limit, 16);
    }

    #[test]
    fn a_maximum_below_the_start_is_the_limit() {
        let mut state = State::new(1);
        assert_eq!(state.limit, 1);
        assert_eq!(state.observe(Instant::now(), QUICK), Change::Keep);
        assert_eq!(State::new(0).limit, 1);
    }

    #[test]
    fn a_stall_halves_the_limit_once_per_round_then_growth_is_additive() {
        let mut state = State::new(16);
        for _ in 0..12 {
            state.observe(Instant::now(), QUICK);
        }
        assert_eq!(state.limit, 16);
        let before_cut = Instant::now();
        assert_eq!(state.observe(before_cut, STALL), Change::Shrink(8));
        assert_eq!(state.limit, 8);
        // Requests sent before the cut stall too: they do not cut again.
        assert_eq!(state.observe(before_cut, STALL), Change::Keep);
        assert_eq!(state.limit, 8);
        // After the cut, the limit grows by one per `limit` quick answers.
        for _ in 0..7 {
            assert_eq!(state.observe(Instant::now(), QUICK), Change::Keep);
        }
        assert_eq!(state.observe(Instant::now(), QUICK), Change::Grow);
        assert_eq!(state.limit, 9);
        // A request sent after the cut that stalls cuts again, down to the floor at most.
        std::thread::sleep(Duration::from_millis(2));
        for expected in [4, FLOOR, FLOOR] {
            std::thread::sleep(Duration::from_millis(2));
            state.observe(Instant::now(), STALL);
            assert_eq!(state.limit, expected);
        }
    }

    #[test]
    fn latency_near_the_fastest_grows_the_limit_and_short_of_a_stall_never_cuts_it() {
        // Through a proxy adding 50 ms to every request.
        let mut state = State::new(50);
        for latency in [50, 60, 55, 190, 51] {
            let change = state.observe(Instant::now(), Duration::from_millis(latency));
            assert_eq!(change, Change::Grow, "{latency} ms");
        }
        for latency in [210, 300, 390] {
            let change = state.observe(Instant::now(), Duration::from_millis(latency));
            assert_eq!(change, Change::Keep, "{latency} ms");
        }
        assert_eq!(state.limit, INITIAL + 5);
        // On loopback, a few milliseconds either way are not queueing.
        let mut state = State::new(50);
        for latency in [1, 6, 3, 1] {
            let change = state.observe(Instant::now(), Duration::from_millis(latency));
            assert_eq!(change, Change::Grow, "{latency} ms");
        }
    }

    #[test]
    fn answers_that_queue_at_the_server_hold_the_limit() {
        // A single-threaded server taking 4 ms a request: with four in flight, each answer
        // waits behind the others.
        let mut state = State::new(50);
        assert_eq!(state.observe(Instant::now(), QUICK), Change::Grow);
        for _ in 0..20 {
            let queued = state.observe(Instant::now(), QUICK * 5);
            assert_eq!(queued, Change::Keep);
        }
        assert_eq!(state.limit, INITIAL + 1);
    }

    #[tokio::test]
    async fn the_semaphore_follows_the_limit() {
        let limiter = Limiter::new(8);
        assert_eq!(limiter.semaphore.available_permits(), INITIAL);
        for _ in 0..4 {
            let slot = limiter.acquire().await.unwrap();
            slot.answered();
        }
        assert_eq!(limiter.limit(), 8);
        assert_eq!(limiter.semaphore.available_permits(), 8);
        // Eight in flight; one stalls: the limit halves, and four places leave circulation
        // as they come back.
        let mut slots = Vec::new();
        for _ in 0..8 {
            slots.push(limiter.acquire().await.unwrap());
        }
        assert_eq!(limiter.semaphore.available_permits(), 0);
        let mut slots = slots.into_iter();
        let mut stalled = slots.next().unwrap();
        // Taken 1 s earlier than it was, as far as the limiter can tell.
        stalled.started -= STALL;
        drop(stalled);
        assert_eq!(limiter.limit(), 4);
        // The other seven were sent before the cut: they teach nothing, and the first three
        // back leave circulation.
        drop(slots);
        assert_eq!(limiter.semaphore.available_permits(), 4);
    }
}
