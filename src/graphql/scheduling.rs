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
    changed: Notify,
}

impl Turns {
    fn quiet(&self) -> bool {
        !self.in_pass.load(Ordering::Acquire)
            && !self.woken.load(Ordering::Acquire)
            && self.loading.load(Ordering::Acquire) == 0
    }
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
        let mut future = std::pin::pin!(future);
        poll_fn(|cx| {
            turns.woken.store(false, Ordering::Release);
            turns.in_pass.store(true, Ordering::Release);
            let noting =
                waker(Arc::new(NotingWaker { turns: turns.clone(), inner: cx.waker().clone() }));
            let poll = future.as_mut().poll(&mut Context::from_waker(&noting));
            turns.in_pass.store(false, Ordering::Release);
            turns.changed.notify_waiters();
            poll
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
                turns.loading.fetch_add(1, Ordering::AcqRel);
                batch.await;
                turns.loading.fetch_sub(1, Ordering::AcqRel);
                turns.changed.notify_waiters();
            });
        }
    }
}
