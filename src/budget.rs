//! The per-host time budget (`scan --host-timeout`). One host must not hold
//! up a fleet's report: the lookups every analysis is made of check a
//! deadline kept per thread, and past it unwind to `verdict::host`'s guard,
//! which already turns a failure into that host's `error` row. Unwinding
//! (not a result threaded through every layer) keeps the model and verdict
//! code free of a concern that is the scan's; `resume_unwind` runs no panic
//! hook, so nothing is printed.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// The payload of the unwind: the limit that was exceeded.
#[derive(Debug, Clone, Copy)]
pub struct Exceeded(pub Duration);

thread_local! {
    static DEADLINE: Cell<Option<(Instant, Duration)>> = const { Cell::new(None) };
    static TICKS: Cell<u32> = const { Cell::new(0) };
}

/// Clears the thread's deadline when dropped.
pub struct Budget(());

impl Drop for Budget {
    fn drop(&mut self) {
        DEADLINE.with(|d| d.set(None));
    }
}

/// Starts a budget of `limit` (none: no limit) for the work this thread
/// does until the returned guard is dropped.
pub fn start(limit: Option<Duration>) -> Budget {
    DEADLINE.with(|d| d.set(limit.map(|l| (Instant::now() + l, l))));
    TICKS.with(|t| t.set(0));
    Budget(())
}

/// Unwinds with `Exceeded` once the thread's deadline has passed. Cheap:
/// the clock is read once per 1024 calls.
#[inline]
pub fn check() {
    let t = TICKS.with(|t| {
        let n = t.get().wrapping_add(1);
        t.set(n);
        n
    });
    if !t.is_multiple_of(1024) {
        return;
    }
    if let Some((at, limit)) = DEADLINE.with(Cell::get)
        && Instant::now() >= at
    {
        DEADLINE.with(|d| d.set(None));
        std::panic::resume_unwind(Box::new(Exceeded(limit)));
    }
}

/// The checks made on this thread since `start`: the lookups made (a test
/// counts them).
#[cfg(test)]
pub fn ticks() -> u32 {
    TICKS.with(Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_budget_unwinds_with_its_limit() {
        let r = std::panic::catch_unwind(|| {
            let _b = start(Some(Duration::ZERO));
            loop {
                check();
            }
        });
        let p = r.expect_err("unwound");
        let e = p.downcast_ref::<Exceeded>().expect("an Exceeded payload");
        assert_eq!(e.0, Duration::ZERO);
        // The guard cleared the deadline on the way out.
        for _ in 0..5000 {
            check();
        }
    }

    #[test]
    fn no_limit_never_unwinds() {
        let _b = start(None);
        for _ in 0..10_000 {
            check();
        }
    }
}
