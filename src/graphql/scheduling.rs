//! Keeping DataLoader batches whole on a multi-threaded runtime, so that the round trips of a
//! query depend on its shape and never on the number of users in it.
//!
//! Left alone, a DataLoader loads its keys after a short timer. On a multi-threaded runtime the
//! timer can run out on another worker while the request's task is still walking a long list of
//! resolvers, and a batch is cut in two; and resolvers woken by different batches at different
//! moments ask for the next level's keys in different passes. Both make round trips grow with
//! the list. So here a batch starts loading only when the request is quiet:
//!
//! - its task is neither being polled nor woken (every resolver that could run has asked for
//!   its keys), and
//! - no other batch is loading (the resolvers that batch will wake get to ask first).
//!
//! Batches then go in waves, one per level of the query, each holding every key of its level.
//!
//! Every mark is undone by a guard, so that no batch can wait forever: a pass that panics ends
//! its pass, a batch that panics ends its load, and a request that is dropped (finished, cut by
//! a timeout, or its client gone) lets whatever still waits go.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Waker};

use futures_util::future::{poll_fn, BoxFuture};
use futures_util::task::{waker, ArcWake};
use tokio::sync::Notify;

/// The turn-taking state of one request.
#[derive(Clone, Default)]
pub(crate) struct PassTracker(Arc<Turns>);

#[derive(Default)]
struct Turns {
    in_pass: AtomicBool,
    woken: AtomicBool,
    loading: AtomicUsize,
    /// The request's future is gone: nothing is left to wait for.
    finished: AtomicBool,
    changed: Notify,
}

impl Turns {
    fn quiet(&self) -> bool {
        self.finished.load(Ordering::Acquire)
            || (!self.in_pass.load(Ordering::Acquire)
                && !self.woken.load(Ordering::Acquire)
                && self.loading.load(Ordering::Acquire) == 0)
    }
}

/// Holds one mark of [`Turns`] and undoes it when dropped, on unwinding too, then tells the
/// waiting batches.
struct Mark<'a> {
    turns: &'a Turns,
    undo: fn(&Turns),
}

impl<'a> Mark<'a> {
    fn set(turns: &'a Turns, set: fn(&Turns), undo: fn(&Turns)) -> Self {
        set(turns);
        Mark { turns, undo }
    }
}

impl Drop for Mark<'_> {
    fn drop(&mut self) {
        (self.undo)(self.turns);
        self.turns.changed.notify_waiters();
    }
}

fn finish(turns: &Turns) {
    turns.finished.store(true, Ordering::Release);
}

fn begin_pass(turns: &Turns) {
    turns.woken.store(false, Ordering::Release);
    turns.in_pass.store(true, Ordering::Release);
}

fn end_pass(turns: &Turns) {
    turns.in_pass.store(false, Ordering::Release);
}

fn begin_load(turns: &Turns) {
    turns.loading.fetch_add(1, Ordering::AcqRel);
}

fn end_load(turns: &Turns) {
    turns.loading.fetch_sub(1, Ordering::AcqRel);
}

/// The request's waker, noting that the request is about to run again.
struct NotingWaker {
    turns: Arc<Turns>,
    inner: Waker,
}

impl ArcWake for NotingWaker {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.turns.woken.store(true, Ordering::Release);
        arc_self.inner.wake_by_ref();
    }
}

impl PassTracker {
    /// Runs the request, recording its passes and wake-ups.
    pub(crate) async fn run<F: Future>(&self, future: F) -> F::Output {
        let turns = &self.0;
        let _finished = Mark::set(turns, |_| {}, finish);
        let mut future = std::pin::pin!(future);
        poll_fn(|cx| {
            let _pass = Mark::set(turns, begin_pass, end_pass);
            let noting =
                waker(Arc::new(NotingWaker { turns: turns.clone(), inner: cx.waker().clone() }));
            future.as_mut().poll(&mut Context::from_waker(&noting))
        })
        .await
    }

    /// The spawner for the request's DataLoader: each batch waits for a quiet moment.
    pub(crate) fn spawner(&self) -> impl Fn(BoxFuture<'static, ()>) + Send + Sync + 'static {
        let turns = self.0.clone();
        move |batch| {
            let turns = turns.clone();
            tokio::spawn(async move {
                loop {
                    let changed = turns.changed.notified();
                    let mut changed = std::pin::pin!(changed);
                    changed.as_mut().enable();
                    if turns.quiet() {
                        break;
                    }
                    changed.await;
                }
                let _loading = Mark::set(&turns, begin_load, end_load);
                batch.await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::pending;
    use std::task::Poll;
    use std::time::Duration;

    use futures_util::FutureExt;
    use tokio::sync::oneshot;

    use super::*;

    /// Spawns a batch through the tracker and says whether it loaded within a second.
    async fn loads(tracker: &PassTracker) -> bool {
        let (done, loaded) = oneshot::channel();
        tracker.spawner()(
            async move {
                let _ = done.send(());
            }
            .boxed(),
        );
        tokio::time::timeout(Duration::from_secs(1), loaded).await.is_ok()
    }

    /// A request that woke itself and will run again: nothing may load before it does.
    fn woken_forever() -> impl Future<Output = ()> {
        poll_fn(|cx| {
            cx.waker().wake_by_ref();
            Poll::Pending
        })
    }

    #[tokio::test]
    async fn a_batch_waits_while_its_request_is_woken_and_loads_once_it_is_dropped() {
        let tracker = PassTracker::default();
        let mut request = tracker.run(woken_forever()).boxed();
        assert!((&mut request).now_or_never().is_none(), "polled once, woken");
        assert!(!loads(&tracker).await, "the request is about to run: the batch waits");
        drop(request);
        assert!(loads(&tracker).await, "the request is gone: nothing to wait for");
    }

    #[tokio::test]
    async fn a_batch_that_panics_does_not_hold_the_next() {
        let tracker = PassTracker::default();
        let mut request = tracker.run(pending::<()>()).boxed();
        assert!((&mut request).now_or_never().is_none(), "the request is alive and quiet");
        tracker.spawner()(async { panic!("a loader bug") }.boxed());
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(loads(&tracker).await, "the panicked load was ended by its guard");
    }

    #[tokio::test]
    async fn a_pass_that_panics_ends_its_pass() {
        let tracker = PassTracker::default();
        let panicking = tracker.run(async { panic!("a resolver bug") });
        let caught = std::panic::AssertUnwindSafe(panicking).catch_unwind().await;
        assert!(caught.is_err());
        assert!(loads(&tracker).await, "no pass is left open");
    }

    #[tokio::test]
    async fn a_quiet_request_lets_its_batch_load() {
        let tracker = PassTracker::default();
        let mut request = tracker.run(pending::<()>()).boxed();
        assert!((&mut request).now_or_never().is_none());
        assert!(loads(&tracker).await, "not polled, not woken, nothing loading");
    }
}
