//! The rules of SPEC §4 as a pure function from the pair's state to the rows to write, so that
//! they are tested without a database and run identically on every backend.

use crate::domain::relation::{PairState, Relation};

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
}

/// One row to write: the forward row is `actor → target`, the backward one `target → actor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    Forward { from: Relation, to: Relation },
    Backward { from: Relation, to: Relation },
}

/// The writes that `action` needs from `state`; none when the action is already in effect, which
/// is what makes every action idempotent.
pub(crate) fn plan(action: Action, state: PairState) -> Result<Vec<Write>, ServiceError> {
    let forward = |to| Write::Forward { from: state.forward, to };
    let writes = match action {
        Action::Follow => {
            if state.backward == Relation::Blacklist {
                return Err(ServiceError::BlockedByTarget);
            }
            match state.forward {
                Relation::Follow => vec![],
                Relation::Blacklist => return Err(ServiceError::TargetBlocked),
                Relation::None => vec![forward(Relation::Follow)],
            }
        }
        Action::Unfollow => match state.forward {
            Relation::Follow => vec![forward(Relation::None)],
            Relation::None | Relation::Blacklist => vec![],
        },
        Action::Block => {
            let mut writes = Vec::with_capacity(2);
            if state.forward != Relation::Blacklist {
                writes.push(forward(Relation::Blacklist));
            }
            if state.backward == Relation::Follow {
                writes.push(Write::Backward { from: Relation::Follow, to: Relation::None });
            }
            writes
        }
        Action::Unblock => match state.forward {
            Relation::Blacklist => vec![forward(Relation::None)],
            Relation::None | Relation::Follow => vec![],
        },
        Action::RemoveFollower => match state.backward {
            Relation::Follow => {
                vec![Write::Backward { from: Relation::Follow, to: Relation::None }]
            }
            Relation::None | Relation::Blacklist => vec![],
        },
    };
    Ok(writes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Relation::{Blacklist, Follow, None as Nothing};

    fn state(forward: Relation, backward: Relation) -> PairState {
        PairState { forward, backward }
    }

    #[test]
    fn removing_a_follower_ends_their_follow_only_and_only_once() {
        let writes = plan(Action::RemoveFollower, state(Follow, Follow)).unwrap();
        assert_eq!(writes, vec![Write::Backward { from: Follow, to: Nothing }]);
        for backward in [Nothing, Blacklist] {
            assert!(plan(Action::RemoveFollower, state(Follow, backward)).unwrap().is_empty());
        }
    }

    #[test]
    fn follow_writes_once_and_then_nothing() {
        let first = plan(Action::Follow, state(Nothing, Follow)).unwrap();
        assert_eq!(first, vec![Write::Forward { from: Nothing, to: Follow }]);
        assert!(plan(Action::Follow, state(Follow, Nothing)).unwrap().is_empty());
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
        let once = plan(Action::Unfollow, state(Follow, Follow)).unwrap();
        assert_eq!(once, vec![Write::Forward { from: Follow, to: Nothing }]);
        assert!(plan(Action::Unfollow, state(Nothing, Follow)).unwrap().is_empty());
        assert!(plan(Action::Unfollow, state(Blacklist, Nothing)).unwrap().is_empty());
    }

    #[test]
    fn block_removes_follows_both_ways() {
        let writes = plan(Action::Block, state(Follow, Follow)).unwrap();
        assert_eq!(
            writes,
            vec![
                Write::Forward { from: Follow, to: Blacklist },
                Write::Backward { from: Follow, to: Nothing },
            ]
        );
        assert!(plan(Action::Block, state(Blacklist, Nothing)).unwrap().is_empty());
    }

    #[test]
    fn unblock_only_clears_a_block() {
        let once = plan(Action::Unblock, state(Blacklist, Nothing)).unwrap();
        assert_eq!(once, vec![Write::Forward { from: Blacklist, to: Nothing }]);
        assert!(plan(Action::Unblock, state(Follow, Nothing)).unwrap().is_empty());
    }
}
