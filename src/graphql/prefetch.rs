//! Users made whole in one step: their profiles and everything the selection asks of them
//! (counts, viewer flags, pages of their lists), loaded for the whole list at once.
//!
//! Each list field (`users`, a connection's `nodes` and `edges`) looks ahead at what its
//! selection asks of a user and asks the request's DataLoader once per kind for every user of the
//! list. The users' fields then answer from memory. Asking per field instead (one `load_one` per
//! user and field) cost a DataLoader call, a channel and a wake-up for every field: most of the
//! fan-out's CPU (BENCHMARKS.md). Keys still go through the DataLoader, so sibling lists of one
//! query (50 connections' `nodes`) are still loaded in one batch per kind.
//!
//! A field the look-ahead did not foresee (its arguments come from a fragment on another type,
//! say) still loads through the DataLoader: [`Known`] says which kinds it holds.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::{Context, ErrorExtensions, Result, SelectionField, Value};
use futures_util::future::try_join_all;
use futures_util::try_join;

use super::context;
use super::loaders::{CountsOf, FlagsOf, PageOf};
use super::paging;
use super::user::User;
use super::viewer::Viewer;
use crate::domain::ids::UserId;
use crate::domain::page::{Page, PageRequest, Side};
use crate::domain::user::{Directions, FollowCounts, ViewerFlags};
use crate::service::Service;

/// What was loaded for one list of users: each kind only if the selection asked for it.
#[derive(Default)]
pub(crate) struct Known {
    counts: Option<HashMap<CountsOf, FollowCounts>>,
    flags: Option<(Directions, HashMap<FlagsOf, ViewerFlags>)>,
    pages: HashMap<PageOf, Page>,
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
}

/// What a selection on `User` asks for beyond the profile.
#[derive(Default)]
struct Wants {
    counts: bool,
    flags: Option<Directions>,
    pages: Vec<(Side, PageRequest)>,
}

/// `User` fields that read counts, and the connection field that does.
const COUNT_FIELDS: [&str; 2] = ["followingCount", "followersCount"];
const TOTAL_COUNT: &str = "totalCount";
/// `User` fields that read the viewer's flags, and the directions each reads.
const FLAG_FIELDS: [(&str, Directions); 3] = [
    ("viewerIsFollowing", Directions::OUTGOING),
    ("viewerHasBlocked", Directions::OUTGOING),
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
        if let Some(request) = page_request(field) {
            if !self.pages.contains(&(side, request)) {
                self.pages.push((side, request));
            }
        }
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
/// asks of it, in one DataLoader call per kind (profiles only for those not in memory).
pub(crate) async fn users<'a>(
    ctx: &Context<'_>,
    ids: &[UserId],
    fields: impl Iterator<Item = SelectionField<'a>>,
) -> Result<Vec<Option<User>>> {
    let loader = context::loader(ctx)?;
    let (mut profiles, missing) = context::state::<Service>(ctx)?.remembered_users(ids);
    let wants = Wants::of(fields);
    let flags_in =
        wants.flags.filter(|_| context::state::<Viewer>(ctx).is_ok_and(|v| v.0.is_some()));
    let owners = || ids.iter().copied();
    let counts = async {
        match wants.counts {
            true => loader.load_many(owners().map(CountsOf)).await.map(Some),
            false => Ok(None),
        }
    };
    let flags = async {
        match flags_in {
            Some(d) => {
                loader.load_many(owners().map(|id| FlagsOf(id, d))).await.map(|f| Some((d, f)))
            }
            None => Ok(None),
        }
    };
    let pages = try_join_all(wants.pages.iter().map(|&(side, request)| {
        loader.load_many(owners().map(move |owner| PageOf { owner, side, request }))
    }));
    // Boxed: inline, this future would size every field future of `UserConnection`.
    let read = async {
        match missing.is_empty() {
            true => Ok(HashMap::new()),
            false => loader.load_many(missing.iter().copied()).await,
        }
    };
    let loads = Box::pin(async { try_join!(read, counts, flags, pages) });
    let (read, counts, flags, pages) = loads.await.map_err(|e| e.extend())?;
    profiles.extend(read);
    let known = Arc::new(Known { counts, flags, pages: pages.into_iter().flatten().collect() });
    Ok(ids.iter().map(|id| Some(User::new(profiles.get(id)?.clone(), known.clone()))).collect())
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
