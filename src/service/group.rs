//! Grouping concurrent writes. Each request's write waits in one queue; the grouping task takes
//! whatever is waiting, at most one write per pair, and runs it as one group: one lock statement,
//! one read of each kind, one upsert, one commit and one Redis script for the lot. Under load a
//! commit (and its fsync) is shared by tens of requests; alone, a write is a group of one.
//!
//! Each request is answered only after its group has committed and the cache has caught up, so
//! grouping changes no promise a response makes. A write that finds its pair already in the
//! forming group waits for the next one, which keeps a group's rows distinct.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, Semaphore};

use super::meter::Meter;
use super::rules::Action;
use super::{Service, ServiceError};
use crate::db::DbError;
use crate::domain::ids::UserId;
use crate::domain::relation::FollowState;

/// The most writes in one group: bounds the statements' array sizes and the Redis script's run.
const MAX_GROUP: usize = 64;

/// How many groups may run at once. Two lets one group read and write while the other waits on
/// its commit; more would only split the waiting writes into smaller groups.
const GROUPS_IN_FLIGHT: usize = 2;

/// A write still waiting after this long is answered "unavailable" instead of run: the same
/// bound as a wait for a database connection, so an outage or overload answers 503 in seconds
/// and the queue stays bounded by the arrival rate times this.
const QUEUE_DEADLINE: Duration = Duration::from_secs(3);

/// One action requested by one user on another.
#[derive(Debug, Clone, Copy)]
pub(super) struct Request {
    pub(crate) action: Action,
    pub(crate) viewer: UserId,
    pub(crate) target: UserId,
}

impl Request {
    /// The unordered pair: the unit that the locks and the cache protocol order writes by.
    fn pair(&self) -> (UserId, UserId) {
        (self.viewer.min(self.target), self.viewer.max(self.target))
    }
}

/// A request waiting in the queue, with the service (and round-trip meter) of the request that
/// sent it and the way to answer it.
struct Job {
    service: Service,
    request: Request,
    queued: Instant,
    reply: oneshot::Sender<Result<FollowState, ServiceError>>,
}

/// The sending end of the write queue; cheap to clone. The grouping task ends when the last one
/// is dropped.
#[derive(Debug, Clone)]
pub(super) struct WriteQueue(mpsc::UnboundedSender<Job>);

impl WriteQueue {
    /// A queue whose grouping task runs on the current tokio runtime.
    pub(super) fn start() -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(form_groups(receiver));
        Self(sender)
    }

    /// Queues `request` and waits for its group. Once queued the write runs to its end, even if
    /// the caller stops waiting (a client that disconnects, a request timeout).
    pub(super) async fn submit(
        &self,
        service: &Service,
        request: Request,
    ) -> Result<FollowState, ServiceError> {
        let (reply, answer) = oneshot::channel();
        let job = Job { service: service.clone(), request, queued: Instant::now(), reply };
        self.0.send(job).map_err(|_| ServiceError::Aborted)?;
        answer.await.unwrap_or(Err(ServiceError::Aborted))
    }
}

/// Takes what is waiting whenever a group may start, and starts it.
async fn form_groups(mut receiver: mpsc::UnboundedReceiver<Job>) {
    let slots = Arc::new(Semaphore::new(GROUPS_IN_FLIGHT));
    let mut waiting = VecDeque::new();
    loop {
        if waiting.is_empty() {
            match receiver.recv().await {
                Some(job) => waiting.push_back(job),
                None => return,
            }
        }
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        while let Ok(job) = receiver.try_recv() {
            waiting.push_back(job);
        }
        answer_expired(&mut waiting);
        let group = take_group(&mut waiting, |job| job.request.pair());
        if group.is_empty() {
            continue;
        }
        tokio::spawn(async move {
            run_group(group).await;
            drop(slot);
        });
    }
}

/// Answers the writes that waited past [`QUEUE_DEADLINE`]; they are not run.
fn answer_expired(waiting: &mut VecDeque<Job>) {
    let now = Instant::now();
    let (expired, live) =
        waiting.drain(..).partition(|job| now.duration_since(job.queued) > QUEUE_DEADLINE);
    *waiting = live;
    for job in Vec::from(expired) {
        let timed_out = ServiceError::from(DbError::timed_out());
        let _ = job.reply.send(Err(timed_out)); // the caller may have stopped waiting
    }
}

/// The oldest waiting writes, at most [`MAX_GROUP`] and one per pair; the rest keep their order.
fn take_group<T>(waiting: &mut VecDeque<T>, pair: impl Fn(&T) -> (UserId, UserId)) -> Vec<T> {
    let mut pairs = HashSet::new();
    let mut group = Vec::new();
    let mut later = VecDeque::new();
    for job in waiting.drain(..) {
        if group.len() < MAX_GROUP && pairs.insert(pair(&job)) {
            group.push(job);
        } else {
            later.push_back(job);
        }
    }
    *waiting = later;
    group
}

/// Runs one group and answers each of its requests. A panic drops the replies, which answers
/// them with [`ServiceError::Aborted`].
async fn run_group(group: Vec<Job>) {
    let Some(first) = group.first() else { return };
    let meter = Meter::joined(group.iter().map(|job| &job.service.meter));
    let service = Service { meter, ..first.service.clone() };
    let requests: Vec<Request> = group.iter().map(|job| job.request).collect();
    metrics::histogram!("write_group_size").record(requests.len() as f64);
    let outcomes = service.write_group(&requests).await;
    for (job, outcome) in group.into_iter().zip(outcomes) {
        let _ = job.reply.send(outcome); // the caller may have stopped waiting
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: i64) -> UserId {
        UserId::new(n).unwrap()
    }

    fn take(waiting: &mut VecDeque<(i64, i64)>) -> Vec<(i64, i64)> {
        take_group(waiting, |&(a, b)| (id(a.min(b)), id(a.max(b))))
    }

    #[test]
    fn a_pair_waits_for_the_next_group_in_either_direction() {
        let mut waiting = VecDeque::from([(1, 2), (3, 4), (2, 1), (1, 3), (1, 2)]);
        assert_eq!(take(&mut waiting), [(1, 2), (3, 4), (1, 3)]);
        assert_eq!(waiting, [(2, 1), (1, 2)]);
        assert_eq!(take(&mut waiting), [(2, 1)]);
        assert_eq!(take(&mut waiting), [(1, 2)]);
        assert!(waiting.is_empty());
    }

    #[test]
    fn a_group_holds_at_most_max_group_writes_and_the_rest_keep_their_order() {
        let n = MAX_GROUP as i64 + 10;
        let mut waiting: VecDeque<(i64, i64)> = (1..=n).map(|k| (k, k + n)).collect();
        let group = take(&mut waiting);
        assert_eq!(group.len(), MAX_GROUP);
        assert_eq!(group[0], (1, n + 1));
        assert_eq!(waiting.front(), Some(&(MAX_GROUP as i64 + 1, MAX_GROUP as i64 + 1 + n)));
        assert_eq!(waiting.len(), 10);
    }
}
