//! Users made whole in one step: their profiles and everything the selection asks of them
//! (counts, viewer flags, pages of their lists), loaded for the whole list at once.
//!
//! Each list field (`users`, and any user field at the root) looks ahead at what its selection
//! asks of a user and asks the request's DataLoader once per kind for every user of the list;
//! when the selection pages through the users' lists and asks for the pages' users, those are
//! loaded the same way, once for every page of the list, and so on down. The users' fields then
//! answer from memory. Asking per field instead (one `load_one` per user and field) cost a
//! DataLoader call, a channel and a wake-up for every field, and asking per page a call per
//! connection: most of the fan-out's CPU (BENCHMARKS.md). Keys still go through the DataLoader,
//! so sibling root fields are still loaded in one batch per kind.
//!
//! A field the look-ahead did not foresee (its arguments come from a fragment on another type,
//! say) still loads through the DataLoader: [`Known`] says which kinds it holds.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::{Context, ErrorExtensions, Result, SelectionField, Value};
use futures_util::future::{try_join_all, BoxFuture, FutureExt};
use futures_util::try_join;

use super::context;
use super::loaders::{CountsOf, FlagsOf, PageOf};
use super::paging;
use super::user::User;
use super::viewer::Viewer;
use crate::domain::ids::UserId;
use crate::domain::page::{Page, PageRequest, Side};
use crate::domain::user::{Directions, FollowCounts, UserProfile, ViewerFlags};
use crate::service::Service;

/// What was loaded for one list of users: each kind only if the selection asked for it.
#[derive(Default)]
pub(crate) struct Known {
    counts: Option<HashMap<CountsOf, FollowCounts>>,
    flags: Option<(Directions, HashMap<FlagsOf, ViewerFlags>)>,
    pages: HashMap<PageOf, Page>,
    /// The users on every loaded page of one list and page request, with what the connection's
    /// selection asks of them.
    page_users: HashMap<(Side, PageRequest), Arc<Loaded>>,
}

/// Users, with what was loaded for them.
pub(crate) struct Loaded {
    profiles: HashMap<UserId, UserProfile>,
    known: Arc<Known>,
}

impl Loaded {
    /// The user `id`, if it exists.
    pub(crate) fn user(&self, id: UserId) -> Option<User> {
        Some(User::new(self.profiles.get(&id)?.clone(), self.known.clone()))
    }
}

impl Known {
    /// A user's counts, if counts were loaded (zero for a user without rows).
    pub(crate) fn counts(&self, id: UserId) -> Option<FollowCounts> {
        Some(self.counts.as_ref()?.get(&CountsOf(id)).copied().unwrap_or_default())
    }

    /// How the viewer and a user stand, if flags were loaded in at least `needed`.
    pub(crate) fn flags(&self, id: UserId, needed: Directions) -> Option<ViewerFlags> {
        let (loaded, flags) = self.flags.as_ref().filter(|(d, _)| needed.within(*d))?;
        Some(flags.get(&FlagsOf(id, *loaded)).copied().unwrap_or_default())
    }

    /// A page, if that page of that list was loaded.
    pub(crate) fn page(&self, key: &PageOf) -> Option<&Page> {
        self.pages.get(key)
    }

    /// The users of the pages of `side` asked with `request`, if they were loaded.
    pub(crate) fn page_users(&self, side: Side, request: PageRequest) -> Option<Arc<Loaded>> {
        self.page_users.get(&(side, request)).cloned()
    }
}

/// What a selection on `User` asks for beyond the profile.
#[derive(Default)]
struct Wants {
    counts: bool,
    flags: Option<Directions>,
    /// Each page asked for, with what is asked of its users when the connection selects them.
    pages: Vec<(Side, PageRequest, Option<Wants>)>,
}

/// `User` fields that read counts, and the connection field that does.
const COUNT_FIELDS: [&str; 2] = ["followingCount", "followersCount"];
const TOTAL_COUNT: &str = "totalCount";
/// `User` fields that read the viewer's flags, and the directions each reads.
const FLAG_FIELDS: [(&str, Directions); 4] = [
    ("viewerIsFollowing", Directions::OUTGOING),
    ("viewerHasBlocked", Directions::OUTGOING),
    ("viewerHasRequestedFollow", Directions::OUTGOING),
    ("isFollowingViewer", Directions::INCOMING),
];
/// `User` fields that are connections, and their sides.
const PAGE_FIELDS: [(&str, Side); 2] =
    [("following", Side::Following), ("followers", Side::Followers)];

impl Wants {
    /// Reads the selection, fragments included (a field under `@skip` is loaded anyway).
    fn of<'a>(fields: impl Iterator<Item = SelectionField<'a>>) -> Self {
        let mut wants = Self::default();
        for field in fields {
            let name = field.name();
            if COUNT_FIELDS.contains(&name) {
                wants.counts = true;
            } else if let Some(&(_, directions)) = FLAG_FIELDS.iter().find(|(n, _)| *n == name) {
                wants.flags = Some(match wants.flags {
                    Some(wanted) if directions.within(wanted) => wanted,
                    Some(_) => Directions::BOTH,
                    None => directions,
                });
            } else if let Some(&(_, side)) = PAGE_FIELDS.iter().find(|(n, _)| *n == name) {
                wants.page(side, &field);
            }
        }
        wants
    }

    fn page(&mut self, side: Side, field: &SelectionField<'_>) {
        if field.selection_set().any(|f| f.name() == TOTAL_COUNT) {
            self.counts = true;
        }
        let Some(request) = page_request(field) else { return };
        let nodes = field.selection_set().filter(|f| f.name() == "nodes");
        let edges = field.selection_set().filter(|f| f.name() == "edges");
        let edge_nodes: Vec<SelectionField<'_>> = edges
            .flat_map(|edge| {
                edge.selection_set().filter(|f| f.name() == "node").collect::<Vec<_>>()
            })
            .collect();
        let listed: Vec<SelectionField<'_>> = nodes.chain(edge_nodes).collect();
        let users = match listed.is_empty() {
            true => None,
            false => Some(Wants::of(listed.iter().flat_map(|f| f.selection_set()))),
        };
        match self.pages.iter_mut().find(|(s, r, _)| (*s, *r) == (side, request)) {
            Some((_, _, wanted)) => *wanted = Wants::merged(wanted.take(), users),
            None => self.pages.push((side, request, users)),
        }
    }

    /// What either asks for.
    fn merged(one: Option<Wants>, other: Option<Wants>) -> Option<Wants> {
        let (mut one, other) = match (one, other) {
            (Some(one), Some(other)) => (one, other),
            (one, other) => return one.or(other),
        };
        one.counts |= other.counts;
        one.flags = match (one.flags, other.flags) {
            (Some(a), Some(b)) if a.within(b) => Some(b),
            (Some(a), Some(b)) if b.within(a) => Some(a),
            (Some(_), Some(_)) => Some(Directions::BOTH),
            (a, b) => a.or(b),
        };
        for (side, request, users) in other.pages {
            match one.pages.iter_mut().find(|(s, r, _)| (*s, *r) == (side, request)) {
                Some((_, _, wanted)) => *wanted = Wants::merged(wanted.take(), users),
                None => one.pages.push((side, request, users)),
            }
        }
        Some(one)
    }
}

/// The page a connection field asks for, when its arguments are valid (an invalid one is left
/// to the field, which reports it).
fn page_request(field: &SelectionField<'_>) -> Option<PageRequest> {
    let (mut first, mut after) = (None, None);
    for (name, value) in field.arguments().ok()? {
        match (name.as_str(), value) {
            ("first", Value::Number(n)) => first = Some(i32::try_from(n.as_i64()?).ok()?),
            ("after", Value::String(s)) => after = Some(s),
            (_, Value::Null) => {}
            _ => return None,
        }
    }
    paging::page_request(first, after).ok()
}

/// The users of `ids` in order (`None` for an id that names nobody), each with what `fields`
/// asks of it, in one DataLoader call per kind and level (profiles only for those not in memory).
pub(crate) async fn users<'a>(
    ctx: &Context<'_>,
    ids: &[UserId],
    fields: impl Iterator<Item = SelectionField<'a>>,
) -> Result<Vec<Option<User>>> {
    let loaded = load(ctx, ids, &Wants::of(fields)).await?;
    Ok(ids.iter().map(|&id| loaded.user(id)).collect())
}

/// Loads `ids` with what `wants` asks of them, then the users of the pages asked, and so on.
/// Boxed: it recurses, and inline it would size every field future of `User`.
fn load<'a>(
    ctx: &'a Context<'_>,
    ids: &'a [UserId],
    wants: &'a Wants,
) -> BoxFuture<'a, Result<Loaded>> {
    async move {
        let (mut profiles, missing) = context::state::<Service>(ctx)?.remembered_users(ids);
        let loader = context::loader(ctx)?;
        let owners = || ids.iter().copied();
        let flags_in =
            wants.flags.filter(|_| context::state::<Viewer>(ctx).is_ok_and(|v| v.0.is_some()));
        let read = async {
            match missing.is_empty() {
                true => Ok(HashMap::new()),
                false => loader.load_many(missing.iter().copied()).await,
            }
        };
        let counts = async {
            match wants.counts {
                true => loader.load_many(owners().map(CountsOf)).await.map(Some),
                false => Ok(None),
            }
        };
        let flags = async {
            match flags_in {
                Some(d) => {
                    let flags = loader.load_many(owners().map(|id| FlagsOf(id, d))).await;
                    flags.map(|f| Some((d, f)))
                }
                None => Ok(None),
            }
        };
        let pages = try_join_all(wants.pages.iter().map(|&(side, request, _)| {
            loader.load_many(owners().map(move |owner| PageOf { owner, side, request }))
        }));
        let (read, counts, flags, pages) =
            try_join!(read, counts, flags, pages).map_err(|e| e.extend())?;
        profiles.extend(read);
        let pages: HashMap<PageOf, Page> = pages.into_iter().flatten().collect();
        let page_users = try_join_all(wants.pages.iter().filter_map(|(side, request, users)| {
            let users = users.as_ref()?;
            let mut listed: Vec<UserId> = pages
                .iter()
                .filter(|(key, _)| (key.side, key.request) == (*side, *request))
                .flat_map(|(_, page)| page.entries.iter().map(|e| e.user))
                .collect();
            listed.sort_unstable();
            listed.dedup();
            Some(async move {
                let loaded = load(ctx, &listed, users).await?;
                Ok::<_, async_graphql::Error>(((*side, *request), Arc::new(loaded)))
            })
        }))
        .await?;
        let page_users = page_users.into_iter().collect();
        let known = Arc::new(Known { counts, flags, pages, page_users });
        Ok(Loaded { profiles, known })
    }
    .boxed()
}

/// One user, with what the current field's selection asks of it.
pub(crate) async fn user(ctx: &Context<'_>, id: UserId) -> Result<Option<User>> {
    let field = ctx.field();
    let mut found = users(ctx, &[id], field.selection_set()).await?;
    Ok(found.pop().flatten())
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_schema;
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

    use super::*;

    /// The field names of `type_name` in the served schema.
    fn fields_of(type_name: &str) -> Vec<String> {
        let document = parse_schema(crate::graphql::sdl()).expect("the SDL parses");
        document
            .definitions
            .into_iter()
            .find_map(|definition| match definition {
                TypeSystemDefinition::Type(ty) if ty.node.name.node == type_name => {
                    match ty.node.kind {
                        TypeKind::Object(object) => Some(
                            object.fields.iter().map(|f| f.node.name.node.to_string()).collect(),
                        ),
                        _ => None,
                    }
                }
                _ => None,
            })
            .expect("an object type")
    }

    /// A renamed field would silently stop being looked ahead (and cost a DataLoader call per
    /// user again): the names must be the schema's.
    #[test]
    fn the_look_ahead_names_fields_the_schema_has() {
        let user = fields_of("User");
        let pages = PAGE_FIELDS.map(|(name, _)| name);
        let flags = FLAG_FIELDS.map(|(name, _)| name);
        for name in COUNT_FIELDS.iter().chain(&flags).chain(&pages) {
            assert!(user.iter().any(|f| f == name), "User.{name}");
        }
        assert!(fields_of("UserConnection").iter().any(|f| f == TOTAL_COUNT));
    }
}
