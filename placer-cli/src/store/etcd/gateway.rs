//! The few calls the etcd store makes, over etcd's v3 JSON gateway: each
//! gRPC method of the KV, Lease and Auth services answers `POST /v3/…` on
//! the client port with the same message as JSON (etcd 3.4 and later).
//!
//! Plain HTTP is enough for what the store does (reads, transactions, lease
//! grants and renewals), and it builds with cargo alone: a gRPC client needs
//! code generated from etcd's `.proto` files, and with it `protoc`.
//!
//! The gateway's JSON is protobuf's: keys and values are base64, 64-bit
//! integers (revisions, lease IDs, TTLs) are strings, and a field that is
//! zero, false or empty is left out.
//!
//! Requests go to one member; when it cannot be reached the next one is
//! tried, and the one that answered is asked first next time. With a user,
//! the token from `/v3/auth/authenticate` goes in the `Authorization`
//! header; when etcd says it is no longer valid (expired, or the users
//! changed), the client authenticates again and repeats the request once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::messages::{
    encode, AuthenticateResponse, KeepAliveStream, KeyValue, LeaseGrantResponse, RangeResponse,
    Txn, TxnResponse,
};
use crate::Secret;

/// gRPC's `UNAUTHENTICATED`: the token is missing, expired or unknown.
const UNAUTHENTICATED: i64 = 16;
/// gRPC's `UNAVAILABLE`: this member cannot serve now (no leader, stopping).
const UNAVAILABLE: i64 = 14;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum GatewayError {
    /// No member answered within the time allowed.
    #[error("no answer within the timeout")]
    Timeout,
    /// No member could be reached.
    #[error("{0}")]
    Unreachable(String),
    /// etcd answered with an error.
    #[error("etcd refused the request: {message}")]
    Refused {
        /// gRPC status code.
        code: i64,
        /// etcd's message, e.g. `etcdserver: user name is empty`.
        message: String,
    },
    /// The answer was not what the gateway sends.
    #[error("unexpected answer from etcd: {0}")]
    Invalid(String),
}

/// A user and password to authenticate with.
pub(crate) struct Credentials {
    /// The user.
    pub user: String,
    /// Its password.
    pub password: Secret,
}

/// Where and how to connect.
pub(crate) struct Connection {
    /// `http://host:port` or `https://host:port` of each member.
    pub endpoints: Vec<String>,
    /// CA certificate (PEM) to trust besides the public roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Client certificate chain and its key (PEM).
    pub identity_pem: Option<(Vec<u8>, Vec<u8>)>,
    /// The user, when the cluster has authentication on.
    pub credentials: Option<Credentials>,
    /// Time allowed to connect to one member.
    pub connect_timeout: Duration,
}

/// A client of one etcd cluster's JSON gateway.
pub(crate) struct Gateway {
    http: reqwest::Client,
    endpoints: Vec<String>,
    /// The member asked first: the last one that answered.
    preferred: AtomicUsize,
    credentials: Option<Credentials>,
    token: Mutex<Option<Secret>>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("endpoints", &self.endpoints)
            .field("user", &self.credentials.as_ref().map(|c| &c.user))
            .finish_non_exhaustive()
    }
}

/// Whether a request may be sent again to another member after it may
/// have reached the first one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Reads and renewals: sending twice does no harm.
    Safe,
    /// Writes checked against a revision: another member is tried only
    /// when the first could not be connected to, so a write that timed out
    /// (and may be applied yet) is not sent twice, which would fail its
    /// own revision check. The next request starts with the next member.
    OnlyUnsent,
}

impl Gateway {
    /// A client for `connection`, authenticated when it names a user.
    ///
    /// # Errors
    /// A message when a certificate is unusable, or [`GatewayError`] when
    /// authentication fails.
    pub(crate) async fn connect(
        connection: Connection,
        timeout: Duration,
    ) -> Result<Gateway, String> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            // etcd is reached directly, as the gRPC client did: proxy
            // variables meant for the outside do not apply.
            .no_proxy()
            .connect_timeout(connection.connect_timeout);
        if let Some(ca) = &connection.ca_pem {
            let ca = reqwest::Certificate::from_pem(ca)
                .map_err(|err| format!("state.ca_file is not a PEM certificate: {err}"))?;
            builder = builder.add_root_certificate(ca);
        }
        if let Some((cert, key)) = &connection.identity_pem {
            let mut pem = cert.clone();
            pem.push(b'\n');
            pem.extend_from_slice(key);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|err| {
                format!(
                    "state.cert_file and state.key_file are not a PEM certificate and key: {err}"
                )
            })?;
            builder = builder.identity(identity);
        }
        let http = builder.build().map_err(|err| error_chain(&err))?;
        let gateway = Gateway {
            http,
            endpoints: connection.endpoints,
            preferred: AtomicUsize::new(0),
            credentials: connection.credentials,
            token: Mutex::new(None),
        };
        if gateway.credentials.is_some() {
            gateway
                .authenticate(timeout)
                .await
                .map_err(|err| err.to_string())?;
        }
        Ok(gateway)
    }

    /// Gets a token for the user and keeps it for the next requests.
    async fn authenticate(&self, timeout: Duration) -> Result<(), GatewayError> {
        let Some(credentials) = &self.credentials else {
            return Ok(());
        };
        let body = json!({
            "name": credentials.user,
            "password": credentials.password.expose(),
        });
        let answer: AuthenticateResponse = self
            .send("/v3/auth/authenticate", &body, timeout, Repeat::Safe, None)
            .await?;
        if answer.token.is_empty() {
            return Err(GatewayError::Invalid(
                "authentication answered no token".to_owned(),
            ));
        }
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = Some(Secret::new(answer.token));
        Ok(())
    }

    fn token(&self) -> Option<Secret> {
        self.token.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Posts `body` to `path` and reads the answer, authenticating again
    /// once when the token is no longer valid.
    async fn call<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
        timeout: Duration,
        repeat: Repeat,
    ) -> Result<T, GatewayError> {
        let token = self.token();
        match self.send(path, body, timeout, repeat, token.as_ref()).await {
            Err(GatewayError::Refused { code, message })
                if self.credentials.is_some() && token_rejected(code, &message) =>
            {
                tracing::debug!("etcd token no longer valid ({message}); authenticating again");
                self.authenticate(timeout).await?;
                let token = self.token();
                self.send(path, body, timeout, repeat, token.as_ref()).await
            }
            other => other,
        }
    }

    /// One request, to the preferred member and then to the others while
    /// they cannot be reached.
    async fn send<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
        timeout: Duration,
        repeat: Repeat,
        token: Option<&Secret>,
    ) -> Result<T, GatewayError> {
        let count = self.endpoints.len();
        let first = self.preferred.load(Ordering::Relaxed) % count.max(1);
        let mut last = GatewayError::Unreachable("no etcd member to ask".to_owned());
        for index in (0..count).map(|step| (first + step) % count) {
            let endpoint = &self.endpoints[index];
            let mut request = self
                .http
                .post(format!("{endpoint}{path}"))
                .timeout(timeout)
                .json(body);
            if let Some(token) = token {
                request = request.header(reqwest::header::AUTHORIZATION, token.expose());
            }
            let answer = match request.send().await {
                Ok(response) => read(response).await,
                Err(err) => Err(Attempt::from_transport(&err, endpoint)),
            };
            match answer {
                Ok(bytes) => {
                    self.preferred.store(index, Ordering::Relaxed);
                    return parse(&bytes);
                }
                Err(Attempt::Final(err)) => return Err(err),
                Err(Attempt::NotConnected(err)) => last = err,
                Err(Attempt::Busy(err) | Attempt::MaybeSent(err)) => {
                    if repeat == Repeat::OnlyUnsent {
                        // Not sent again, but the next request starts
                        // with the next member.
                        self.preferred.store((index + 1) % count, Ordering::Relaxed);
                        return Err(err);
                    }
                    last = err;
                }
            }
        }
        Err(last)
    }

    /// The key's current value, if any.
    pub(crate) async fn get(
        &self,
        key: &str,
        timeout: Duration,
    ) -> Result<Option<KeyValue>, GatewayError> {
        let answer: RangeResponse = self
            .call(
                "/v3/kv/range",
                &json!({ "key": encode(key.as_bytes()) }),
                timeout,
                Repeat::Safe,
            )
            .await?;
        Ok(answer.kvs.into_iter().next())
    }

    /// Runs a transaction.
    pub(crate) async fn txn(
        &self,
        txn: &Txn,
        timeout: Duration,
    ) -> Result<TxnResponse, GatewayError> {
        self.call("/v3/kv/txn", &txn.to_json(), timeout, Repeat::OnlyUnsent)
            .await
    }

    /// Grants a lease of `ttl_secs` and returns its ID.
    pub(crate) async fn lease_grant(
        &self,
        ttl_secs: i64,
        timeout: Duration,
    ) -> Result<i64, GatewayError> {
        // Sent twice, a grant leaves an unused lease that runs out alone.
        let answer: LeaseGrantResponse = self
            .call(
                "/v3/lease/grant",
                &json!({ "TTL": ttl_secs.to_string() }),
                timeout,
                Repeat::Safe,
            )
            .await?;
        if !answer.error.is_empty() {
            return Err(GatewayError::Refused {
                code: 0,
                message: answer.error,
            });
        }
        if answer.id == 0 {
            return Err(GatewayError::Invalid("a lease grant without an ID".into()));
        }
        Ok(answer.id)
    }

    /// Renews the lease once and returns the TTL it has now: `0` when it
    /// has expired.
    pub(crate) async fn lease_keep_alive(
        &self,
        lease: i64,
        timeout: Duration,
    ) -> Result<i64, GatewayError> {
        // A stream of answers in gRPC; the gateway sends one per request
        // object, each wrapped in `result`.
        let answer: KeepAliveStream = self
            .call(
                "/v3/lease/keepalive",
                &json!({ "ID": lease.to_string() }),
                timeout,
                Repeat::Safe,
            )
            .await?;
        match (answer.result, answer.error) {
            (Some(result), _) => Ok(result.ttl),
            (None, Some(error)) => Err(stream_error(&error)),
            (None, None) => Err(GatewayError::Invalid(
                "a lease renewal without a result".into(),
            )),
        }
    }

    /// Revokes the lease (its keys go with it).
    pub(crate) async fn lease_revoke(
        &self,
        lease: i64,
        timeout: Duration,
    ) -> Result<(), GatewayError> {
        let _: Value = self
            .call(
                "/v3/lease/revoke",
                &json!({ "ID": lease.to_string() }),
                timeout,
                Repeat::Safe,
            )
            .await?;
        Ok(())
    }
}

/// A failed attempt at one member, and whether to try the next.
enum Attempt {
    /// The member answered: the answer stands.
    Final(GatewayError),
    /// The member cannot serve now (gRPC `UNAVAILABLE`: no leader, or a
    /// request that timed out inside etcd and may be applied yet).
    Busy(GatewayError),
    /// No connection was made: the request was not sent.
    NotConnected(GatewayError),
    /// The connection failed or timed out after the request may have been
    /// sent.
    MaybeSent(GatewayError),
}

impl Attempt {
    fn from_transport(err: &reqwest::Error, endpoint: &str) -> Attempt {
        let host = endpoint
            .split_once("://")
            .map_or(endpoint, |(_, host)| host);
        if err.is_connect() {
            Attempt::NotConnected(GatewayError::Unreachable(format!(
                "cannot reach {host}: {}",
                error_chain(err)
            )))
        } else if err.is_timeout() {
            Attempt::MaybeSent(GatewayError::Timeout)
        } else {
            Attempt::MaybeSent(GatewayError::Unreachable(format!(
                "{host}: {}",
                error_chain(err)
            )))
        }
    }
}

/// The body of a successful answer, or why there is none.
async fn read(response: reqwest::Response) -> Result<Vec<u8>, Attempt> {
    let status = response.status();
    let body = response.bytes().await.map_err(|err| {
        Attempt::MaybeSent(if err.is_timeout() {
            GatewayError::Timeout
        } else {
            GatewayError::Unreachable(error_chain(&err))
        })
    })?;
    if status.is_success() {
        return Ok(body.to_vec());
    }
    let err = error_answer(status, &body);
    match &err {
        GatewayError::Refused { code, .. } if *code == UNAVAILABLE => Err(Attempt::Busy(err)),
        _ => Err(Attempt::Final(err)),
    }
}

/// The error in a gateway's answer: `{"error": "…", "message": "…",
/// "code": N}` (etcd 3.4) or `{"code": N, "message": "…"}` (3.5).
fn error_answer(status: reqwest::StatusCode, body: &[u8]) -> GatewayError {
    match parse::<Value>(body) {
        Ok(value) if value.get("code").is_some() || value.get("message").is_some() => {
            stream_error(&value)
        }
        Ok(Value::Object(map)) if map.get("error").is_some_and(Value::is_object) => {
            stream_error(&map["error"])
        }
        _ => GatewayError::Refused {
            code: 0,
            message: format!("HTTP {status}: {}", String::from_utf8_lossy(body).trim()),
        },
    }
}

/// An error object: `code` (or `grpc_code`) and `message` (or `error`).
fn stream_error(value: &Value) -> GatewayError {
    let code = ["code", "grpc_code"]
        .iter()
        .find_map(|name| value.get(name).and_then(Value::as_i64))
        .unwrap_or(0);
    let message = ["message", "error"]
        .iter()
        .find_map(|name| value.get(name).and_then(Value::as_str))
        .unwrap_or("no message")
        .to_owned();
    GatewayError::Refused { code, message }
}

/// Whether etcd refused a request for its token: authenticating again
/// helps.
fn token_rejected(code: i64, message: &str) -> bool {
    code == UNAUTHENTICATED
        || message.contains("invalid auth token")
        || message.contains("revision of auth store is old")
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, GatewayError> {
    // A streamed answer may hold several objects; the first is the answer
    // to the one request sent.
    let mut values = serde_json::Deserializer::from_slice(body).into_iter::<T>();
    match values.next() {
        Some(Ok(value)) => Ok(value),
        Some(Err(err)) => Err(GatewayError::Invalid(err.to_string())),
        None => Err(GatewayError::Invalid("an empty answer".to_owned())),
    }
}

/// An error and its causes, one after the other (reqwest's own message
/// only says a request failed).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streamed_answer_is_read_up_to_its_first_object() {
        let alive: KeepAliveStream =
            parse(b"{\"result\":{\"ID\":\"42\",\"TTL\":\"5\"}}\n{\"result\":{}}\n").unwrap();
        assert_eq!(alive.result.unwrap().ttl, 5);
        assert!(matches!(
            parse::<KeepAliveStream>(b""),
            Err(GatewayError::Invalid(_))
        ));
    }

    #[test]
    fn errors_of_both_gateway_versions_are_read() {
        let status = reqwest::StatusCode::UNAUTHORIZED;
        let v34 = br#"{"error":"etcdserver: invalid auth token","message":"etcdserver: invalid auth token","code":16}"#;
        let v35 = br#"{"code":16,"message":"etcdserver: invalid auth token","details":[]}"#;
        for body in [&v34[..], &v35[..]] {
            let err = error_answer(status, body);
            let GatewayError::Refused { code, message } = &err else {
                panic!("{err:?}");
            };
            assert!(token_rejected(*code, message), "{err:?}");
            assert_eq!(
                err.to_string(),
                "etcd refused the request: etcdserver: invalid auth token"
            );
        }
        let stream = br#"{"error":{"grpc_code":5,"http_code":404,"message":"etcdserver: requested lease not found"}}"#;
        assert_eq!(
            error_answer(reqwest::StatusCode::NOT_FOUND, stream),
            GatewayError::Refused {
                code: 5,
                message: "etcdserver: requested lease not found".into()
            }
        );
        let wrong_password = error_answer(
            reqwest::StatusCode::BAD_REQUEST,
            br#"{"error":"etcdserver: authentication failed, invalid user ID or password","code":3}"#,
        );
        let GatewayError::Refused { code, message } = &wrong_password else {
            panic!();
        };
        assert!(!token_rejected(*code, message));
        assert!(matches!(
            error_answer(reqwest::StatusCode::BAD_GATEWAY, b"<html>"),
            GatewayError::Refused { code: 0, .. }
        ));
    }
}
