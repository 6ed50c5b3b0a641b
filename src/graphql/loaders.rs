//! One request's DataLoader: every lookup that a list of users fans out into (profiles, counts,
//! viewer flags, settings and which lists the viewer may see) is gathered into one service call
//! per kind, whatever the number of users.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;

use crate::domain::account::{AccountSettings, ListAccess};
use crate::domain::ids::UserId;
use crate::domain::page::{CountedPage, Page, PageRequest, Side};
use crate::domain::user::{Directions, FollowCounts, UserProfile, ViewerFlags};
use crate::service::{Service, ServiceError};

/// Key for a user's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CountsOf(pub UserId);

/// Key for a user's settings (SPEC §14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct SettingsOf(pub UserId);

/// Key for which of a user's lists the request's viewer may see (SPEC §14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct AccessOf(pub UserId);

/// Key for how the request's viewer and a user stand, read in `Directions`; the viewer is fixed
/// per loader, so the key cannot be answered for the wrong viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FlagsOf(pub UserId, pub Directions);

/// Key for one page of a user's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PageOf {
    pub(crate) owner: UserId,
    pub(crate) side: Side,
    pub(crate) request: PageRequest,
}

/// Key for one page of a user's followers whom the request's viewer follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct KnownOf {
    pub(crate) owner: UserId,
    pub(crate) request: PageRequest,
}

/// Loads through the service layer; created per request, so it caches nothing across requests.
pub(crate) struct GraphLoader {
    service: Service,
    viewer: Option<UserId>,
}

impl GraphLoader {
    pub(crate) fn new(service: Service, viewer: Option<UserId>) -> Self {
        Self { service, viewer }
    }
}

impl Loader<UserId> for GraphLoader {
    type Value = UserProfile;
    type Error = Arc<ServiceError>;

    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, UserProfile>, Self::Error> {
        Ok(self.service.users(keys).await?)
    }
}

impl Loader<CountsOf> for GraphLoader {
    type Value = FollowCounts;
    type Error = Arc<ServiceError>;

    async fn load(
        &self,
        keys: &[CountsOf],
    ) -> Result<HashMap<CountsOf, FollowCounts>, Self::Error> {
        let ids: Vec<UserId> = keys.iter().map(|k| k.0).collect();
        let counts = self.service.counts(&ids).await?;
        Ok(counts.into_iter().map(|(id, c)| (CountsOf(id), c)).collect())
    }
}

impl Loader<SettingsOf> for GraphLoader {
    type Value = AccountSettings;
    type Error = Arc<ServiceError>;

    async fn load(
        &self,
        keys: &[SettingsOf],
    ) -> Result<HashMap<SettingsOf, AccountSettings>, Self::Error> {
        let ids: Vec<UserId> = keys.iter().map(|k| k.0).collect();
        let settings = self.service.settings(&ids).await?;
        Ok(settings.into_iter().map(|(id, s)| (SettingsOf(id), s)).collect())
    }
}

impl Loader<AccessOf> for GraphLoader {
    type Value = ListAccess;
    type Error = Arc<ServiceError>;

    async fn load(&self, keys: &[AccessOf]) -> Result<HashMap<AccessOf, ListAccess>, Self::Error> {
        let ids: Vec<UserId> = keys.iter().map(|k| k.0).collect();
        let access = self.service.list_access(self.viewer, &ids).await?;
        Ok(access.into_iter().map(|(id, a)| (AccessOf(id), a)).collect())
    }
}

impl Loader<FlagsOf> for GraphLoader {
    type Value = ViewerFlags;
    type Error = Arc<ServiceError>;

    async fn load(&self, keys: &[FlagsOf]) -> Result<HashMap<FlagsOf, ViewerFlags>, Self::Error> {
        let Some(viewer) = self.viewer else {
            return Ok(HashMap::new());
        };
        let mut groups: HashMap<Directions, Vec<UserId>> = HashMap::new();
        for &FlagsOf(id, directions) in keys {
            groups.entry(directions).or_default().push(id);
        }
        let mut found = HashMap::with_capacity(keys.len());
        for (directions, ids) in groups {
            let flags = self.service.viewer_flags(viewer, &ids, directions).await?;
            found.extend(flags.into_iter().map(|(id, f)| (FlagsOf(id, directions), f)));
        }
        Ok(found)
    }
}

impl Loader<KnownOf> for GraphLoader {
    type Value = CountedPage;
    type Error = Arc<ServiceError>;

    /// Keys that share page arguments go to the service together; without a viewer nobody is
    /// known (the field refuses before it loads).
    async fn load(&self, keys: &[KnownOf]) -> Result<HashMap<KnownOf, CountedPage>, Self::Error> {
        let Some(viewer) = self.viewer else {
            return Ok(HashMap::new());
        };
        let mut groups: HashMap<PageRequest, Vec<UserId>> = HashMap::new();
        for key in keys {
            groups.entry(key.request).or_default().push(key.owner);
        }
        let mut pages = HashMap::with_capacity(keys.len());
        for (request, owners) in groups {
            for (owner, page) in self.service.known_followers(viewer, &owners, &request).await? {
                pages.insert(KnownOf { owner, request }, page);
            }
        }
        Ok(pages)
    }
}

impl Loader<PageOf> for GraphLoader {
    type Value = Page;
    type Error = Arc<ServiceError>;

    /// Keys that share a side and page arguments (the usual fan-out) go to the service together.
    async fn load(&self, keys: &[PageOf]) -> Result<HashMap<PageOf, Page>, Self::Error> {
        let mut groups: HashMap<(Side, PageRequest), Vec<UserId>> = HashMap::new();
        for key in keys {
            groups.entry((key.side, key.request)).or_default().push(key.owner);
        }
        let mut pages = HashMap::with_capacity(keys.len());
        for ((side, request), owners) in groups {
            for (owner, page) in self.service.pages(side, &owners, &request).await? {
                pages.insert(PageOf { owner, side, request }, page);
            }
        }
        Ok(pages)
    }
}
