//! [`StateUrl`]: the one setting that says where state is kept.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use placer_core::secret::Secret;

/// Where state is kept, parsed from `state.url` / `PLACER_STATE_URL`:
///
/// - `file:DIR` — files in `DIR` (the default, with the data directory);
/// - `etcd://HOST:PORT[,HOST:PORT…]/PREFIX` — an etcd cluster, every key
///   under `PREFIX`; `etcds://` for TLS. `user:password@` before the first
///   host is accepted (prefer `state.username` and `PLACER_STATE_PASSWORD`).
///
/// `Display` and `Debug` never show the password.
///
/// ```
/// use placer_cli::StateUrl;
///
/// let url: StateUrl = "etcd://placer:s3cret@10.0.0.1:2379,10.0.0.2:2379/placer/prod".parse().unwrap();
/// assert_eq!(url.to_string(), "etcd://10.0.0.1:2379,10.0.0.2:2379/placer/prod");
/// assert!(!format!("{url:?}").contains("s3cret"));
/// assert_eq!("file:data".parse::<StateUrl>().unwrap().to_string(), "file:data");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum StateUrl {
    /// Files in a directory.
    File(PathBuf),
    /// An etcd cluster.
    Etcd(EtcdUrl),
}

/// The parts of an `etcd://` URL.
#[derive(Debug, Clone, PartialEq)]
pub struct EtcdUrl {
    /// `host:port` of each member.
    pub endpoints: Vec<String>,
    /// Every key starts with this, e.g. `/fly-placer/prod` (a leading `/`,
    /// no trailing one).
    pub prefix: String,
    /// Whether the scheme asks for TLS (`etcds://`).
    pub tls: bool,
    /// User from the URL.
    pub username: Option<String>,
    /// Password from the URL.
    pub password: Option<Secret>,
}

/// A state URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem} (expected `file:DIR` or `etcd://HOST:PORT[,HOST:PORT…]/PREFIX`)")]
pub struct StateUrlError {
    problem: String,
}

fn invalid(problem: impl Into<String>) -> StateUrlError {
    StateUrlError {
        problem: problem.into(),
    }
}

impl StateUrl {
    /// The URL's scheme: `file`, `etcd` or `etcds` (the key of
    /// the store registry).
    pub fn scheme(&self) -> &'static str {
        match self {
            StateUrl::File(_) => "file",
            StateUrl::Etcd(url) if url.tls => "etcds",
            StateUrl::Etcd(_) => "etcd",
        }
    }
}

impl FromStr for StateUrl {
    type Err = StateUrlError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if let Some(path) = text.strip_prefix("file:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(invalid("`file:` needs a directory, e.g. `file:data`"));
            }
            return Ok(StateUrl::File(PathBuf::from(path)));
        }
        let (rest, tls) = if let Some(rest) = text.strip_prefix("etcd://") {
            (rest, false)
        } else if let Some(rest) = text.strip_prefix("etcds://") {
            (rest, true)
        } else {
            let scheme = text.split(':').next().unwrap_or_default();
            return Err(invalid(format!("unknown state store `{scheme}`")));
        };
        let (authority, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let (credentials, hosts) = match authority.rsplit_once('@') {
            Some((credentials, hosts)) => (Some(credentials), hosts),
            None => (None, authority),
        };
        let (username, password) = match credentials {
            None => (None, None),
            Some(credentials) => match credentials.split_once(':') {
                Some((user, password)) => (Some(user.to_owned()), Secret::non_empty(password)),
                None => (Some(credentials.to_owned()), None),
            },
        };
        let mut endpoints = Vec::new();
        for host in hosts.split(',') {
            let host = host.trim();
            let port = host.rsplit_once(':').map(|(_, port)| port);
            match port.map(str::parse::<u16>) {
                Some(Ok(_)) if !host.starts_with(':') => endpoints.push(host.to_owned()),
                _ => return Err(invalid(format!("etcd member `{host}` is not HOST:PORT"))),
            }
        }
        let prefix = prefix.trim_end_matches('/');
        if prefix.is_empty() {
            return Err(invalid(
                "an etcd URL needs a key prefix after the hosts, e.g. `/fly-placer`",
            ));
        }
        Ok(StateUrl::Etcd(EtcdUrl {
            endpoints,
            prefix: format!("/{prefix}"),
            tls,
            username: username.filter(|user| !user.is_empty()),
            password,
        }))
    }
}

impl fmt::Display for StateUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateUrl::File(path) => write!(f, "file:{}", path.display()),
            StateUrl::Etcd(url) => write!(
                f,
                "{}://{}{}",
                self.scheme(),
                url.endpoints.join(","),
                url.prefix
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_members_prefix_and_credentials() {
        let url: StateUrl = "etcds://me:pw@a:2379, b:2380/fly-placer/prod/"
            .parse()
            .unwrap();
        let StateUrl::Etcd(etcd) = &url else { panic!() };
        assert_eq!(etcd.endpoints, ["a:2379", "b:2380"]);
        assert_eq!(etcd.prefix, "/fly-placer/prod");
        assert!(etcd.tls);
        assert_eq!(etcd.username.as_deref(), Some("me"));
        assert_eq!(etcd.password.as_ref().map(Secret::expose), Some("pw"));
        assert_eq!(url.to_string(), "etcds://a:2379,b:2380/fly-placer/prod");
        assert_eq!(url.scheme(), "etcds");
    }

    #[test]
    fn file_urls_name_a_directory() {
        assert_eq!(
            "file:///var/lib/placer".parse::<StateUrl>().unwrap(),
            StateUrl::File("/var/lib/placer".into())
        );
        assert!("file:".parse::<StateUrl>().is_err());
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        let cases = [
            ("consul://x:1/p", "unknown state store `consul`"),
            ("etcd://localhost/p", "`localhost` is not HOST:PORT"),
            ("etcd://a:2379", "needs a key prefix"),
            ("etcd://a:notaport/p", "`a:notaport` is not HOST:PORT"),
        ];
        for (text, expected) in cases {
            let err = text.parse::<StateUrl>().unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn the_password_never_shows() {
        let url: StateUrl = "etcd://u:hunter2@a:1/p".parse().unwrap();
        assert!(!url.to_string().contains("hunter2"));
        assert!(!format!("{url:?}").contains("hunter2"));
    }
}
