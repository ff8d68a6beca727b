//! Grants and the reserved system streams on every route: a token limited
//! to `order-*` appends and reads only those, sees nothing else in the
//! global log, look-ups, correlations, listings, SSE and `/ws`; a `$`
//! stream is written only by an admin and read only through a grant that
//! names it; a refused request stores nothing, answers 403 naming the
//! action and the stream, and is in the audit log with both.

mod common;

use chronicle_server::{
    ServerSettings,
    audit::AuditRecord,
    auth::{Role, TokenEntry},
};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::{sync::Arc, time::Duration};

struct Tokens {
    orders: String,
    payments: String,
    system: String,
    writer: String,
    admin: String,
}

async fn server() -> (common::Running, Tokens, Arc<dyn chronicle_core::EventStore>) {
    let mut entries = Vec::new();
    let mut token = |id: &str, role, grants: &[&str]| {
        let (secret, mut entry) = TokenEntry::generate(id, role).unwrap();
        entry.grants = grants.iter().map(|g| g.parse().unwrap()).collect();
        entry.check().unwrap();
        entries.push(entry);
        secret
    };
    let tokens = Tokens {
        orders: token("orders", Role::Writer, &["order-*=read,append"]),
        payments: token("payments", Role::Reader, &["category:payment=read"]),
        system: token("system", Role::Reader, &["$projections=read"]),
        writer: token("writer", Role::Writer, &[]),
        admin: token("admin", Role::Admin, &[]),
    };
    let audit: Arc<dyn chronicle_core::EventStore> = Arc::new(chronicle_memory::MemoryStore::new());
    let log = audit.clone();
    let s = common::start_with(Arc::new(chronicle_memory::MemoryStore::new()), |s| s.with_auth(&entries).with_audit(log, true)).await;
    (s, tokens, audit)
}

async fn call(s: &common::Running, method: &str, path: &str, body: Option<Value>, token: &str) -> (u16, Value) {
    let mut req = s.http.request(method.parse().unwrap(), s.at(path)).bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn one(event_type: &str) -> Value {
    json!([{"event_type": event_type, "data": {"n": 1}, "metadata": {"correlation_id": "c-1"}}])
}

fn streams_of(events: &Value) -> Vec<String> {
    let list = events.get("events").unwrap_or(events);
    list.as_array().unwrap().iter().map(|e| e["stream_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_and_system_streams_on_every_route() {
    let (s, t, audit) = server().await;
    for (stream, who) in [("order-1", &t.orders), ("payment-1", &t.writer), ("$projections", &t.admin)] {
        assert_eq!(call(&s, "POST", &format!("/streams/{stream}"), Some(one("Made")), who).await.0, 200, "{stream}");
    }
    let head = s.head().await;

    // Writes outside the grants, or to a system stream, are refused and store nothing.
    for (path, body, who, action, stream) in [
        ("/streams/payment-2", one("X"), &t.orders, "append", "payment-2"),
        ("/streams/$projections", one("Forged"), &t.writer, "append", "$projections"),
        (
            "/append",
            json!({"streams": [{"stream_id": "order-3", "events": one("X")}, {"stream_id": "payment-3", "events": one("X")}]}),
            &t.orders,
            "append",
            "payment-3",
        ),
    ] {
        let (status, body) = call(&s, "POST", path, Some(body), who).await;
        assert_eq!((status, body["error"].as_str()), (403, Some("forbidden")), "{path}: {body}");
        assert_eq!((body["action"].as_str(), body["stream_id"].as_str()), (Some(action), Some(stream)), "{body}");
    }
    let (status, body) =
        call(&s, "PUT", "/streams/payment-1/snapshot", Some(json!({"version": 1, "schema_version": 1, "state": {}})), &t.orders).await;
    assert_eq!((status, body["action"].as_str()), (403, Some("snapshot")));
    assert_eq!(s.head().await, head, "nothing of a refused request is stored");

    // Reads: refused streams answer 403; the log, look-ups, correlations and listings hide them.
    assert_eq!(call(&s, "GET", "/streams/payment-1", None, &t.orders).await.0, 403);
    assert_eq!(call(&s, "GET", "/streams/order-1/info", None, &t.payments).await.0, 403);
    assert_eq!(call(&s, "GET", "/streams/payment-1", None, &t.payments).await.0, 200);
    assert_eq!(call(&s, "GET", "/streams/$projections", None, &t.writer).await.0, 403, "no grant names it");
    assert_eq!(call(&s, "GET", "/streams/$projections", None, &t.system).await.0, 200);
    for (who, expected) in [
        (&t.orders, vec!["order-1"]),
        (&t.payments, vec!["payment-1"]),
        (&t.writer, vec!["order-1", "payment-1"]),
        (&t.admin, vec!["order-1", "payment-1", "$projections"]),
    ] {
        let (_, page) = call(&s, "GET", "/events", None, who).await;
        assert_eq!(streams_of(&page), expected, "GET /events");
        let (_, corr) = call(&s, "GET", "/correlations/c-1", None, who).await;
        assert_eq!(streams_of(&corr), expected, "GET /correlations");
        let (_, listed) = call(&s, "GET", "/streams", None, who).await;
        let mut ids: Vec<String> =
            listed["streams"].as_array().unwrap().iter().map(|x| x["stream_id"].as_str().unwrap().to_owned()).collect();
        ids.sort_by_key(|id| (id.starts_with('$'), id.clone()));
        assert_eq!(ids, expected, "GET /streams");
    }
    // Listing pages of one: the cursor is always a stream the token may read.
    let (_, first) = call(&s, "GET", "/streams?limit=1", None, &t.orders).await;
    assert_eq!((streams_of(&first["streams"]), first["next"].as_str()), (vec!["order-1".to_owned()], Some("order-1")), "{first}");
    let (_, rest) = call(&s, "GET", "/streams?limit=1&after=order-1", None, &t.orders).await;
    assert_eq!((rest["streams"].as_array().map(Vec::len), rest["next"].as_str()), (Some(0), None), "payment-1 is not named: {rest}");

    // A narrowed token's page, cursor and head say nothing of the hidden events.
    let (_, page) = call(&s, "GET", "/events?limit=1", None, &t.payments).await;
    assert_eq!((streams_of(&page), page["head"].as_u64()), (vec!["payment-1".to_owned()], Some(2)), "{page}");
    assert!(page["next"].as_u64().is_none_or(|n| n == 3), "the cursor follows its own last event: {page}");
    let (_, page) = call(&s, "GET", "/events?limit=1", None, &t.orders).await;
    assert_eq!(page["head"].as_u64(), Some(1), "its last readable position, not the log's: {page}");
    let (_, all) = call(&s, "GET", "/events", None, &t.admin).await;
    let payment_id = all["events"][1]["event_id"].as_str().unwrap().to_owned();
    assert_eq!(call(&s, "GET", &format!("/events/{payment_id}"), None, &t.orders).await.0, 404, "a hidden event does not exist");
    assert_eq!(call(&s, "GET", &format!("/events/{payment_id}"), None, &t.payments).await.0, 200);

    // Subscriptions deliver only what the token may read.
    let sse = s.http.get(s.at("/subscribe?from=1")).bearer_auth(&t.orders).send().await.unwrap();
    let mut body = sse.bytes_stream();
    let mut text = String::new();
    let _ = tokio::time::timeout(Duration::from_millis(800), async {
        while let Some(Ok(chunk)) = body.next().await {
            text += &String::from_utf8_lossy(&chunk);
        }
    })
    .await;
    assert!(text.contains("order-1") && !text.contains("payment-1") && !text.contains("$projections"), "SSE: {text}");
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
        "{}/ws?from=1",
        s.url.replace("http://", "ws://")
    ))
    .unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {}", t.payments).parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap().unwrap().unwrap();
    assert!(first.to_text().unwrap().contains("payment-1"), "{first}");
    let more = tokio::time::timeout(Duration::from_millis(500), ws.next()).await;
    assert!(more.is_err(), "nothing else is the payments token's to see: {more:?}");

    // Every grant denial is audited with the action and the stream.
    // Denials are stored before the response is sent: no waiting.
    let records: Vec<AuditRecord> = chronicle_server::audit::recent(&*audit, usize::MAX, false).await.unwrap();
    let denied: Vec<(String, String, String)> =
        records.iter().filter_map(|r| r.denied.as_ref().map(|d| (r.token_id.clone(), d.action.clone(), d.stream.clone()))).collect();
    for expected in [
        ("orders", "append", "payment-2"),
        ("writer", "append", "$projections"),
        ("orders", "snapshot", "payment-1"),
        ("orders", "read", "payment-1"),
    ] {
        let expected = (expected.0.to_owned(), expected.1.to_owned(), expected.2.to_owned());
        assert!(denied.contains(&expected), "{expected:?} in {denied:?}");
    }
    s.shutdown().await;
}

#[test]
fn a_grant_above_the_role_is_refused_at_start() {
    let auth: toml::Table = toml::from_str(
        "[[tokens]]\nid = \"r\"\nrole = \"reader\"\nsha256 = \"ab\"\ngrants = [{ streams = \"order-*\", allow = [\"read\", \"append\"] }]\n",
    )
    .unwrap();
    let err = ServerSettings::from_tables(&auth, &toml::Table::new()).unwrap_err().to_string();
    assert!(err.contains("token r: grants[0]: append needs the writer role") && !err.contains('\n'), "{err}");
    let typo: toml::Table =
        toml::from_str("[[tokens]]\nid = \"r\"\nrole = \"reader\"\nsha256 = \"ab\"\ngrants = [{ stream = \"o\", allow = [\"read\"] }]\n")
            .unwrap();
    assert!(ServerSettings::from_tables(&typo, &toml::Table::new()).is_err(), "unknown keys in a grant are errors");
    let (_, mut entry) = TokenEntry::generate("w", Role::Writer).unwrap();
    entry.grants = vec!["order-*=read,append".parse().unwrap(), "category:payment=read".parse().unwrap()];
    let text = entry.to_toml();
    let parsed: toml::Table = toml::from_str(&text).unwrap();
    let back = ServerSettings::from_tables(parsed["auth"].as_table().unwrap(), &toml::Table::new()).unwrap();
    assert_eq!(back.auth.tokens[0].grants, entry.grants, "{text}");
}
