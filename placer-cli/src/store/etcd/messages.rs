//! The gateway's messages: protobuf's JSON, where keys and values are
//! base64, 64-bit integers are strings, and a field that is zero, false or
//! empty is left out (so every field here has a default).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

/// Bytes as the gateway takes them.
pub(crate) fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// One comparison of a transaction.
#[derive(Debug, Clone)]
pub(crate) enum Compare {
    /// The key was last modified at this revision (`0`: it does not exist).
    ModRevision(String, i64),
    /// The key was created at this revision (`0`: it does not exist).
    CreateRevision(String, i64),
}

/// One operation of a transaction.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// Reads a key.
    Get(String),
    /// Writes a key, attached to a lease when given.
    Put {
        /// The key.
        key: String,
        /// Its new value.
        value: Vec<u8>,
        /// The lease the key lives with.
        lease: Option<i64>,
    },
    /// Deletes a key.
    Delete(String),
}

/// A transaction: `success` when every comparison holds, else `failure`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Txn {
    /// The comparisons.
    pub compare: Vec<Compare>,
    /// Done when they all hold.
    pub success: Vec<Op>,
    /// Done otherwise.
    pub failure: Vec<Op>,
}

impl Txn {
    /// The transaction as the gateway takes it.
    pub(crate) fn to_json(&self) -> Value {
        let compare: Vec<Value> = self
            .compare
            .iter()
            .map(|compare| match compare {
                Compare::ModRevision(key, revision) => json!({
                    "key": encode(key.as_bytes()),
                    "target": "MOD",
                    "result": "EQUAL",
                    "mod_revision": revision.to_string(),
                }),
                Compare::CreateRevision(key, revision) => json!({
                    "key": encode(key.as_bytes()),
                    "target": "CREATE",
                    "result": "EQUAL",
                    "create_revision": revision.to_string(),
                }),
            })
            .collect();
        let ops = |ops: &[Op]| -> Vec<Value> {
            ops.iter()
                .map(|op| match op {
                    Op::Get(key) => json!({ "request_range": { "key": encode(key.as_bytes()) } }),
                    Op::Put { key, value, lease } => {
                        let mut put = json!({
                            "key": encode(key.as_bytes()),
                            "value": encode(value),
                        });
                        if let Some(lease) = lease {
                            put["lease"] = Value::String(lease.to_string());
                        }
                        json!({ "request_put": put })
                    }
                    Op::Delete(key) => {
                        json!({ "request_delete_range": { "key": encode(key.as_bytes()) } })
                    }
                })
                .collect()
        };
        json!({
            "compare": compare,
            "success": ops(&self.success),
            "failure": ops(&self.failure),
        })
    }
}

/// A protobuf int64 in JSON: a string, or (leniently) a number.
fn int64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int64 {
        Text(String),
        Number(i64),
    }
    match Int64::deserialize(deserializer)? {
        Int64::Number(number) => Ok(number),
        Int64::Text(text) => text.parse().map_err(serde::de::Error::custom),
    }
}

/// Protobuf bytes in JSON: base64.
fn bytes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(deserializer)?;
    STANDARD.decode(text).map_err(serde::de::Error::custom)
}

/// The header of every answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Header {
    /// The store's revision when the request was served.
    #[serde(default, deserialize_with = "int64")]
    pub revision: i64,
}

/// A key and its value, as etcd keeps them.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct KeyValue {
    /// The revision that created it.
    #[serde(default, deserialize_with = "int64")]
    pub create_revision: i64,
    /// The revision that last changed it.
    #[serde(default, deserialize_with = "int64")]
    pub mod_revision: i64,
    /// Its value.
    #[serde(default, deserialize_with = "bytes")]
    pub value: Vec<u8>,
    /// The lease it lives with (`0`: none).
    #[serde(default, deserialize_with = "int64")]
    pub lease: i64,
}

/// The answer to a read.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct RangeResponse {
    /// The keys found (absent when none).
    #[serde(default)]
    pub kvs: Vec<KeyValue>,
}

/// The answer to one operation of a transaction.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ResponseOp {
    /// A read's answer.
    #[serde(default)]
    pub response_range: Option<RangeResponse>,
}

/// The answer to a transaction.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct TxnResponse {
    /// The header, with the revision the transaction made (when it wrote).
    #[serde(default)]
    pub header: Header,
    /// Whether every comparison held (absent when not).
    #[serde(default)]
    pub succeeded: bool,
    /// One answer per operation done.
    #[serde(default)]
    pub responses: Vec<ResponseOp>,
}

impl TxnResponse {
    /// The first key read by operation `index`.
    pub(crate) fn range(&self, index: usize) -> Option<&KeyValue> {
        self.responses
            .get(index)?
            .response_range
            .as_ref()?
            .kvs
            .first()
    }

    /// The revision after the transaction.
    pub(crate) fn revision(&self) -> i64 {
        self.header.revision
    }
}

/// The answer to `/v3/auth/authenticate`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AuthenticateResponse {
    /// The token to send with each request.
    #[serde(default)]
    pub token: String,
}

/// The answer to `/v3/lease/grant`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct LeaseGrantResponse {
    /// The lease.
    #[serde(default, rename = "ID", deserialize_with = "int64")]
    pub id: i64,
    /// Why no lease was granted.
    #[serde(default)]
    pub error: String,
}

/// One answer of `/v3/lease/keepalive`'s stream.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct KeepAliveStream {
    /// The renewal.
    #[serde(default)]
    pub result: Option<KeepAliveResponse>,
    /// Why there is none.
    #[serde(default)]
    pub error: Option<Value>,
}

/// A renewal.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct KeepAliveResponse {
    /// Seconds the lease has left; `0` when it has expired.
    #[serde(default, rename = "TTL", deserialize_with = "int64")]
    pub ttl: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: serde::de::DeserializeOwned>(json: &[u8]) -> T {
        serde_json::from_slice(json).unwrap()
    }

    #[test]
    fn answers_with_omitted_fields_read_as_zero_false_and_empty() {
        let miss: RangeResponse =
            parse(br#"{"header":{"cluster_id":"1","revision":"7","raft_term":"2"}}"#);
        assert!(miss.kvs.is_empty());
        let failed: TxnResponse = parse(
            br#"{"header":{"revision":"9"},"responses":[
                {"response_range":{"header":{"revision":"9"},"kvs":[{"key":"L3gvYQ==",
                 "create_revision":"2","mod_revision":"3","version":"2","value":"aGVsbG8=",
                 "lease":"4111120502825096714"}],"count":"1"}},
                {"response_range":{"header":{"revision":"9"}}}]}"#,
        );
        assert!(!failed.succeeded);
        assert_eq!(failed.revision(), 9);
        let kv = failed.range(0).unwrap();
        assert_eq!(kv.value, b"hello");
        assert_eq!((kv.create_revision, kv.mod_revision), (2, 3));
        assert_eq!(kv.lease, 4_111_120_502_825_096_714);
        assert!(failed.range(1).is_none());
        assert!(failed.range(2).is_none());

        let put: TxnResponse =
            parse(br#"{"header":{"revision":"3"},"succeeded":true,"responses":[{"response_put":{"header":{"revision":"3"}}}]}"#);
        assert!(put.succeeded);
        assert!(put.range(0).is_none());
    }

    #[test]
    fn an_expired_lease_renews_to_no_ttl() {
        let expired: KeepAliveStream =
            parse(b"{\"result\":{\"header\":{\"revision\":\"3\"},\"ID\":\"42\"}}\n");
        assert_eq!(expired.result.unwrap().ttl, 0);
        let alive: KeepAliveStream = parse(br#"{"result":{"ID":"42","TTL":"5"}}"#);
        assert_eq!(alive.result.unwrap().ttl, 5);
    }

    #[test]
    fn transactions_send_int64s_as_strings_and_bytes_as_base64() {
        let txn = Txn {
            compare: vec![
                Compare::ModRevision("/p/a".into(), 0),
                Compare::CreateRevision("/p/leader".into(), 12),
            ],
            success: vec![Op::Put {
                key: "/p/a".into(),
                value: b"{}".to_vec(),
                lease: Some(99),
            }],
            failure: vec![Op::Get("/p/a".into()), Op::Delete("/p/b".into())],
        };
        assert_eq!(
            txn.to_json(),
            json!({
                "compare": [
                    {"key": "L3AvYQ==", "target": "MOD", "result": "EQUAL", "mod_revision": "0"},
                    {"key": "L3AvbGVhZGVy", "target": "CREATE", "result": "EQUAL", "create_revision": "12"},
                ],
                "success": [{"request_put": {"key": "L3AvYQ==", "value": "e30=", "lease": "99"}}],
                "failure": [
                    {"request_range": {"key": "L3AvYQ=="}},
                    {"request_delete_range": {"key": "L3AvYg=="}},
                ],
            })
        );
    }
}
