//! JSON answers about every app, written one app at a time as the response
//! is sent: with many apps, the whole text (or a JSON tree of it) would
//! take many times one app's size.

use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A piece of a JSON text.
pub(crate) type Chunk = Result<Bytes, serde_json::Error>;

/// `text` as it is.
pub(crate) fn raw(text: &'static str) -> impl Iterator<Item = Chunk> + Send + 'static {
    std::iter::once(Ok(Bytes::from_static(text.as_bytes())))
}

/// `value` as JSON, written when the body reaches it.
pub(crate) fn value<V: Serialize + Send + 'static>(
    value: impl FnOnce() -> V + Send + 'static,
) -> impl Iterator<Item = Chunk> + Send + 'static {
    std::iter::once_with(move || serde_json::to_vec(&value()).map(Bytes::from))
}

/// The JSON object of `members`, one chunk per member; each member is made
/// and written only when the body reaches it.
pub(crate) fn object<K, V>(
    members: impl Iterator<Item = (K, V)> + Send + 'static,
) -> impl Iterator<Item = Chunk> + Send + 'static
where
    K: Serialize,
    V: Serialize,
{
    let mut first = true;
    let members = members.map(move |(key, value)| {
        let mut chunk = Vec::with_capacity(1024);
        if !std::mem::take(&mut first) {
            chunk.push(b',');
        }
        serde_json::to_writer(&mut chunk, &key)?;
        chunk.push(b':');
        serde_json::to_writer(&mut chunk, &value)?;
        Ok(Bytes::from(chunk))
    });
    raw("{").chain(members).chain(raw("}"))
}

/// A `Content-Type: application/json` response of `chunks`.
pub(crate) fn response(
    status: StatusCode,
    chunks: impl Iterator<Item = Chunk> + Send + 'static,
) -> Response {
    let body = Body::from_stream(futures::stream::iter(chunks));
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(chunks: impl Iterator<Item = Chunk>) -> String {
        let bytes: Vec<u8> = chunks.flat_map(|chunk| chunk.unwrap().to_vec()).collect();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn objects_are_written_as_serde_json_writes_them() {
        let members = vec![("a b", vec![1, 2]), ("\"q\"", vec![]), ("c", vec![3])];
        let expected = serde_json::to_string(
            &members
                .iter()
                .cloned()
                .collect::<std::collections::BTreeMap<_, _>>(),
        )
        .unwrap();
        let mut sorted = members;
        sorted.sort();
        assert_eq!(text(object(sorted.into_iter())), expected);
        assert_eq!(text(object(std::iter::empty::<(String, u8)>())), "{}");
    }

    #[test]
    fn members_are_made_only_when_the_body_reaches_them() {
        let made = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = std::sync::Arc::clone(&made);
        let mut chunks = raw("[")
            .chain(object((0..3).map(move |i| {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                (i.to_string(), i)
            })))
            .chain(value(|| "end"))
            .chain(raw("]"));
        assert_eq!(made.load(std::sync::atomic::Ordering::SeqCst), 0);
        chunks.next(); // [
        chunks.next(); // {
        chunks.next(); // "0":0
        assert_eq!(made.load(std::sync::atomic::Ordering::SeqCst), 1);
        let rest = text(chunks);
        assert_eq!(rest, r#","1":1,"2":2}"end"]"#);
    }
}
