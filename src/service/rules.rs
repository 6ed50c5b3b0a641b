//! The rules of SPEC §4 and §14 as a pure function from the pair's state to the rows and follow
//! requests to write, so that they are tested without a database and run identically on every
//! backend.
//!
//! The legacy app beside the service writes `user_relation` without knowing of requests, so a
//! pending request may meet a follow or a block it did not make; the rules end such a request
//! when they see it rather than act on it.

use crate::domain::relation::{FollowState, PairState, Relation, RequestStep};

use super::ServiceError;

/// What a user asks to do to another user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Follow,
    Unfollow,
    Block,
    Unblock,
    /// The target stops following the actor (SPEC §14), with no block: the backward row only.
    RemoveFollower,
    /// The actor (a locked account) lets the target's request become a follow.
    AcceptRequest,
    /// The actor turns the target's request down; the target may ask again.
    RejectRequest,
    /// The actor withdraws its own request to follow the target.
    CancelRequest,
}

/// One change to write: the forward row is `actor → target`, the backward one `target → actor`;
/// a request is the actor's to the target (forward) or the target's to the actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    Forward {
        from: Relation,
        to: Relation,
    },
    Backward {
        from: Relation,
        to: Relation,
    },
    /// The actor asks to follow the (locked) target.
    OpenRequest,
    /// A pending request ends, as `step` says.
    EndRequest {
        forward: bool,
        step: RequestStep,
    },
}

/// What an action writes, and where the follow it acted on stands afterwards: the actor's
/// follow of the target, or for the actions on the actor's followers (remove, accept, reject)
/// the target's follow of the actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) writes: Vec<Write>,
    pub(crate) state: FollowState,
}

/// The writes that `action` needs from `state`; none when the action is already in effect, which
/// is what makes every action idempotent.
pub(crate) fn plan(action: Action, state: PairState) -> Result<Plan, ServiceError> {
    let forward = |to| Write::Forward { from: state.forward, to };
    let backward = |to| Write::Backward { from: state.backward, to };
    let end =
        |forward, requested: bool, step| requested.then_some(Write::EndRequest { forward, step });
    let (writes, after) = match action {
        Action::Follow => return follow(state),
        Action::Unfollow => {
            let unfollow = (state.forward == Relation::Follow).then(|| forward(Relation::None));
            let cancel = end(true, state.forward_requested, RequestStep::Closed);
            (unfollow.into_iter().chain(cancel).collect(), FollowState::None)
        }
        Action::Block => {
            let block =
                (state.forward != Relation::Blacklist).then(|| forward(Relation::Blacklist));
            let unfollowed = (state.backward == Relation::Follow).then(|| backward(Relation::None));
            let requests = [
                end(true, state.forward_requested, RequestStep::Closed),
                end(false, state.backward_requested, RequestStep::Closed),
            ];
            let writes = block.into_iter().chain(unfollowed).chain(requests.into_iter().flatten());
            (writes.collect(), FollowState::None)
        }
        Action::Unblock => {
            let unblock = (state.forward == Relation::Blacklist).then(|| forward(Relation::None));
            let after = if unblock.is_some() { Relation::None } else { state.forward };
            (unblock.into_iter().collect(), follow_state(after, state.forward_requested))
        }
        Action::RemoveFollower => {
            let removed = (state.backward == Relation::Follow).then(|| backward(Relation::None));
            (removed.into_iter().collect(), follow_state(Relation::None, state.backward_requested))
        }
        Action::AcceptRequest => {
            let stale = end(false, state.backward_requested, RequestStep::Closed);
            let blocked = [state.forward, state.backward].contains(&Relation::Blacklist);
            match (state.backward, state.backward_requested) {
                (Relation::Follow, _) => (stale.into_iter().collect(), FollowState::Following),
                // A block (the legacy app's) came after the request: it ends, unanswered.
                (_, true) if blocked => (stale.into_iter().collect(), FollowState::None),
                (_, true) => (
                    vec![
                        backward(Relation::Follow),
                        Write::EndRequest { forward: false, step: RequestStep::Accepted },
                    ],
                    FollowState::Following,
                ),
                (_, false) => return Err(ServiceError::NoFollowRequest),
            }
        }
        Action::RejectRequest => {
            let rejected = end(false, state.backward_requested, RequestStep::Closed);
            (rejected.into_iter().collect(), follow_state(state.backward, false))
        }
        Action::CancelRequest => {
            let cancelled = end(true, state.forward_requested, RequestStep::Closed);
            (cancelled.into_iter().collect(), follow_state(state.forward, false))
        }
    };
    Ok(Plan { writes, state: after })
}

/// A follow: refused across a block either way; a request when the target is locked and the
/// actor does not follow it yet; otherwise the row, ending any request left from before the
/// target unlocked (or from before the legacy app wrote the follow).
fn follow(state: PairState) -> Result<Plan, ServiceError> {
    if state.backward == Relation::Blacklist {
        return Err(ServiceError::BlockedByTarget);
    }
    let stale = Write::EndRequest { forward: true, step: RequestStep::Closed };
    let stale = state.forward_requested.then_some(stale);
    let (writes, after) = match state.forward {
        Relation::Follow => (stale.into_iter().collect(), FollowState::Following),
        Relation::Blacklist => return Err(ServiceError::TargetBlocked),
        Relation::None if state.target_locked => {
            let open = (!state.forward_requested).then_some(Write::OpenRequest);
            (open.into_iter().collect(), FollowState::Requested)
        }
        Relation::None => {
            let row = Write::Forward { from: Relation::None, to: Relation::Follow };
            (std::iter::once(row).chain(stale).collect(), FollowState::Following)
        }
    };
    Ok(Plan { writes, state: after })
}

/// The state of a follow whose row is `relation`, with or without a pending request.
fn follow_state(relation: Relation, requested: bool) -> FollowState {
    match (relation, requested) {
        (Relation::Follow, _) => FollowState::Following,
        (_, true) => FollowState::Requested,
        _ => FollowState::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Relation::{Blacklist, Follow, None as Nothing};

    fn state(forward: Relation, backward: Relation) -> PairState {
        PairState { forward, backward, ..PairState::default() }
    }

    #[test]
    fn removing_a_follower_ends_their_follow_only_and_only_once() {
        let writes = plan(Action::RemoveFollower, state(Follow, Follow)).unwrap().writes;
        assert_eq!(writes, vec![Write::Backward { from: Follow, to: Nothing }]);
        for backward in [Nothing, Blacklist] {
            assert!(plan(Action::RemoveFollower, state(Follow, backward))
                .unwrap()
                .writes
                .is_empty());
        }
    }

    #[test]
    fn follow_writes_once_and_then_nothing() {
        let first = plan(Action::Follow, state(Nothing, Follow)).unwrap().writes;
        assert_eq!(first, vec![Write::Forward { from: Nothing, to: Follow }]);
        assert!(plan(Action::Follow, state(Follow, Nothing)).unwrap().writes.is_empty());
    }

    #[test]
    fn follow_is_refused_across_a_block_either_way() {
        let by_target = plan(Action::Follow, state(Nothing, Blacklist));
        assert!(matches!(by_target, Err(ServiceError::BlockedByTarget)));
        let by_actor = plan(Action::Follow, state(Blacklist, Nothing));
        assert!(matches!(by_actor, Err(ServiceError::TargetBlocked)));
    }

    #[test]
    fn unfollow_only_clears_a_follow() {
        let once = plan(Action::Unfollow, state(Follow, Follow)).unwrap().writes;
        assert_eq!(once, vec![Write::Forward { from: Follow, to: Nothing }]);
        assert!(plan(Action::Unfollow, state(Nothing, Follow)).unwrap().writes.is_empty());
        assert!(plan(Action::Unfollow, state(Blacklist, Nothing)).unwrap().writes.is_empty());
    }

    #[test]
    fn block_removes_follows_both_ways() {
        let writes = plan(Action::Block, state(Follow, Follow)).unwrap().writes;
        assert_eq!(
            writes,
            vec![
                Write::Forward { from: Follow, to: Blacklist },
                Write::Backward { from: Follow, to: Nothing },
            ]
        );
        assert!(plan(Action::Block, state(Blacklist, Nothing)).unwrap().writes.is_empty());
    }

    fn locked(forward: Relation, forward_requested: bool) -> PairState {
        PairState { forward, forward_requested, target_locked: true, ..PairState::default() }
    }

    fn requested_by_target() -> PairState {
        PairState { backward_requested: true, ..PairState::default() }
    }

    #[test]
    fn a_follow_of_a_locked_account_is_a_request_made_once() {
        let first = plan(Action::Follow, locked(Nothing, false)).unwrap();
        assert_eq!(first, Plan { writes: vec![Write::OpenRequest], state: FollowState::Requested });
        let again = plan(Action::Follow, locked(Nothing, true)).unwrap();
        assert_eq!(again, Plan { writes: vec![], state: FollowState::Requested });
        let follower = plan(Action::Follow, locked(Follow, false)).unwrap();
        assert_eq!(follower, Plan { writes: vec![], state: FollowState::Following });
    }

    #[test]
    fn a_follow_after_the_target_unlocked_ends_the_old_request() {
        let state = PairState { forward_requested: true, ..PairState::default() };
        let plan = plan(Action::Follow, state).unwrap();
        let closed = Write::EndRequest { forward: true, step: RequestStep::Closed };
        assert_eq!(plan.writes, vec![Write::Forward { from: Nothing, to: Follow }, closed]);
        assert_eq!(plan.state, FollowState::Following);
    }

    #[test]
    fn accepting_turns_the_request_into_the_targets_follow() {
        let accepted = plan(Action::AcceptRequest, requested_by_target()).unwrap();
        let end = Write::EndRequest { forward: false, step: RequestStep::Accepted };
        assert_eq!(accepted.writes, vec![Write::Backward { from: Nothing, to: Follow }, end]);
        assert_eq!(accepted.state, FollowState::Following);
        let done = state(Nothing, Follow);
        assert!(plan(Action::AcceptRequest, done).unwrap().writes.is_empty(), "idempotent");
        let none = plan(Action::AcceptRequest, state(Nothing, Nothing));
        assert!(matches!(none, Err(ServiceError::NoFollowRequest)));
    }

    #[test]
    fn a_request_that_met_a_legacy_follow_or_block_ends_unanswered() {
        let closed = |forward| Write::EndRequest { forward, step: RequestStep::Closed };
        let followed = PairState { backward: Follow, ..requested_by_target() };
        let accepted = plan(Action::AcceptRequest, followed).unwrap();
        assert_eq!(accepted, Plan { writes: vec![closed(false)], state: FollowState::Following });
        for (forward, backward) in [(Blacklist, Nothing), (Nothing, Blacklist)] {
            let blocked = PairState { forward, backward, ..requested_by_target() };
            let plan = plan(Action::AcceptRequest, blocked).unwrap();
            assert_eq!(plan, Plan { writes: vec![closed(false)], state: FollowState::None });
        }
        let following = plan(Action::Follow, locked(Follow, true)).unwrap();
        let ended = Plan { writes: vec![closed(true)], state: FollowState::Following };
        assert_eq!(following, ended);
    }

    #[test]
    fn reject_and_cancel_end_a_request_of_their_direction_only() {
        let rejected = plan(Action::RejectRequest, requested_by_target()).unwrap();
        let end = |forward| Write::EndRequest { forward, step: RequestStep::Closed };
        assert_eq!(rejected, Plan { writes: vec![end(false)], state: FollowState::None });
        assert!(plan(Action::CancelRequest, requested_by_target()).unwrap().writes.is_empty());
        let cancelled = plan(Action::CancelRequest, locked(Nothing, true)).unwrap();
        assert_eq!(cancelled, Plan { writes: vec![end(true)], state: FollowState::None });
        assert!(plan(Action::RejectRequest, locked(Nothing, true)).unwrap().writes.is_empty());
        let unfollowed = plan(Action::Unfollow, locked(Nothing, true)).unwrap();
        assert_eq!(unfollowed.writes, vec![end(true)], "unfollowing withdraws the request");
    }

    #[test]
    fn a_block_ends_requests_both_ways() {
        let both = PairState { forward_requested: true, ..requested_by_target() };
        let writes = plan(Action::Block, both).unwrap().writes;
        let end = |forward| Write::EndRequest { forward, step: RequestStep::Closed };
        assert_eq!(
            writes,
            vec![Write::Forward { from: Nothing, to: Blacklist }, end(true), end(false)]
        );
    }

    #[test]
    fn unblock_only_clears_a_block() {
        let once = plan(Action::Unblock, state(Blacklist, Nothing)).unwrap().writes;
        assert_eq!(once, vec![Write::Forward { from: Blacklist, to: Nothing }]);
        assert!(plan(Action::Unblock, state(Follow, Nothing)).unwrap().writes.is_empty());
    }
}
