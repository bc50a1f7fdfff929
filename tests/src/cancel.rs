//! Cancelling a future at a chosen point, for abort-safety tests.

use std::future::Future;
use std::task::Poll;

/// How far [`poll_at_most`] lets a future run before dropping it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollBudget {
    /// Poll this many times (yielding to the runtime in between, so I/O
    /// progresses), then drop the future if it is still pending.
    Polls(usize),
    /// Poll until the future completes: the "not cancelled" twin that every
    /// cancellation test needs, guaranteed whatever the machine's speed.
    ToCompletion,
}

impl PollBudget {
    /// A schedule over iteration `i`: every `every`-th iteration runs to
    /// completion, the others are dropped after `1..=max_polls` polls, a
    /// different point of the future's state machine each time.
    ///
    /// Tests that only count polls cannot promise that any future completes
    /// (on a loaded machine a reply can take longer than any fixed number of
    /// polls), so the completing iterations are explicit.
    #[must_use]
    pub fn cycle(i: usize, every: usize, max_polls: usize) -> Self {
        if every > 0 && i % every == every - 1 {
            Self::ToCompletion
        } else {
            Self::Polls(i % max_polls.max(1) + 1)
        }
    }
}

/// Polls `future` within `budget`; returns its output if it completed,
/// `None` if it was dropped while pending.
///
/// The future is dropped before this returns, so whatever it held (a pooled
/// connection, a transaction) has been released when the caller checks.
/// Between polls it yields to the tokio runtime.
pub async fn poll_at_most<F: Future>(future: F, budget: PollBudget) -> Option<F::Output> {
    let PollBudget::Polls(max) = budget else {
        return Some(future.await);
    };
    let mut future = std::pin::pin!(future);
    for poll in 1..=max {
        if let Poll::Ready(out) =
            std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await
        {
            return Some(out);
        }
        if poll < max {
            tokio::task::yield_now().await;
        }
    }
    None
}
