//! [`OrgApps`]: the apps of a Fly organization, listed through the Machines
//! API, so a placer can match app name patterns against them.

use std::fmt;

use crate::client::MachinesClient;
use crate::{FlyError, FlyOptions, RequestGate};

/// Lists the apps of the organization `fly.org` names
/// (`GET /v1/apps?org_slug=`), with the same token, timeouts, `Retry-After`
/// pause and cap on requests in flight as the actuators sharing its
/// [`RequestGate`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # #[cfg(feature = "fake-api")] {
/// use placer_fly::fake::FakeMachinesApi;
/// use placer_fly::{ApiToken, FlyOptions, OrgApps, RequestGate};
///
/// let api = FakeMachinesApi::start("shop-web", "test-token").await.unwrap();
/// api.add_app("shop-eu");
/// let mut options = FlyOptions::default();
/// options.token = Some(ApiToken::new("test-token"));
/// options.api_url = api.base_url();
/// options.org = Some("personal".to_owned());
/// let org = OrgApps::new(&options, RequestGate::new()).unwrap();
/// assert_eq!(org.names().await.unwrap(), ["shop-eu", "shop-web"]);
/// # }
/// # }
/// ```
pub struct OrgApps {
    client: MachinesClient,
    org: String,
}

impl fmt::Debug for OrgApps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrgApps")
            .field("org", &self.org)
            .finish_non_exhaustive()
    }
}

impl OrgApps {
    /// Checks `settings` (a token and `org` set; `app` is not needed) and
    /// builds the client. Sends nothing.
    ///
    /// # Errors
    /// [`FlyError::InvalidSettings`] naming the field at fault.
    pub fn new(settings: &FlyOptions, gate: RequestGate) -> Result<Self, FlyError> {
        let org = settings
            .org
            .clone()
            .ok_or_else(|| FlyError::invalid_setting("org", "is not set"))?;
        if settings
            .token
            .as_ref()
            .is_none_or(crate::ApiToken::is_empty)
        {
            return Err(FlyError::invalid_setting("token", "is empty"));
        }
        settings.validate_section()?;
        Ok(OrgApps {
            client: MachinesClient::new(settings, gate)?,
            org,
        })
    }

    /// The organization's slug.
    pub fn org(&self) -> &str {
        &self.org
    }

    /// The names of the organization's apps, sorted.
    ///
    /// # Errors
    /// [`FlyError`] when the request fails or the answer is not a
    /// `ListAppsResponse`.
    pub async fn names(&self) -> Result<Vec<String>, FlyError> {
        let mut names = self.client.list_apps(&self.org).await?;
        names.sort();
        names.dedup();
        Ok(names)
    }
}
