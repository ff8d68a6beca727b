//! Tenant isolation on every route: tokens of `acme` and `globex` use the
//! same stream names and event ids without seeing each other — not in
//! reads, the global log, look-ups, correlations, listings, SSE, `/ws`,
//! checkpoints, DCB conditions, `head`, cursors or errors — and routes
//! that span tenants refuse them (audited). Admins see every tenant's
//! streams under their stored names (`@acme/…`).

mod common;

use chronicle_server::auth::{Role, TokenEntry};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::{sync::Arc, time::Duration};

struct Tokens {
    acme: String,
    acme_reader: String,
    globex: String,
    plain: String,
    admin: String,
}

async fn server() -> (common::Running, Tokens, Arc<dyn chronicle_core::EventStore>) {
    let mut entries = Vec::new();
    let mut token = |id: &str, role, tenant: Option<&str>| {
        let (secret, mut entry) = TokenEntry::generate(id, role).unwrap();
        entry.tenant = tenant.map(str::to_owned);
        entry.check().unwrap();
        entries.push(entry);
        secret
    };
    let tokens = Tokens {
        acme: token("acme-w", Role::Writer, Some("acme")),
        acme_reader: token("acme-r", Role::Reader, Some("acme")),
        globex: token("globex-w", Role::Writer, Some("globex")),
        plain: token("plain", Role::Writer, None),
        admin: token("admin", Role::Admin, Some("acme")),
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

fn placed(id: chronicle_core::Uuid, who: &str) -> Value {
    json!([{"event_type": "Placed", "event_id": id, "data": {"who": who}, "metadata": {"correlation_id": "c-1", "tags": ["order:1"]}}])
}

fn streams_of(page: &Value) -> Vec<String> {
    let list = page.get("events").or_else(|| page.get("streams")).unwrap_or(page);
    list.as_array().unwrap().iter().map(|e| e["stream_id"].as_str().unwrap().to_owned()).collect()
}

async fn sse_text(s: &common::Running, token: &str) -> String {
    let sse = s.http.get(s.at("/subscribe?from=1")).bearer_auth(token).send().await.unwrap();
    let mut body = sse.bytes_stream();
    let mut text = String::new();
    let _ = tokio::time::timeout(Duration::from_millis(600), async {
        while let Some(Ok(chunk)) = body.next().await {
            text += &String::from_utf8_lossy(&chunk);
        }
    })
    .await;
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_see_only_their_own_data_on_every_route() {
    let (s, t, audit) = server().await;
    let id = chronicle_core::Uuid::now_v7();
    // The same stream, the same event id: one per tenant, plus one outside any tenant.
    assert_eq!(call(&s, "POST", "/streams/order-1", Some(placed(id, "acme")), &t.acme).await.0, 200);
    assert_eq!(call(&s, "POST", "/streams/order-1", Some(placed(id, "globex")), &t.globex).await.0, 200);
    assert_eq!(call(&s, "POST", "/streams/order-1", Some(placed(chronicle_core::Uuid::now_v7(), "plain")), &t.plain).await.0, 200);
    let (status, retried) = call(&s, "POST", "/streams/order-1", Some(placed(id, "acme")), &t.acme).await;
    assert_eq!((status, retried["last_position"].as_u64()), (200, Some(1)), "a retry within the tenant is idempotent: {retried}");
    assert_eq!(s.head().await, 3);

    // Reads of every kind show the tenant's own events under its own names.
    for (who, token) in [("acme", &t.acme_reader), ("globex", &t.globex)] {
        let (_, stream) = call(&s, "GET", "/streams/order-1", None, token).await;
        assert_eq!((stream.as_array().unwrap().len(), stream[0]["data"]["who"].as_str()), (1, Some(who)), "{stream}");
        assert_eq!(stream[0]["event_id"].as_str(), Some(id.to_string().as_str()));
        let (_, page) = call(&s, "GET", "/events", None, token).await;
        assert_eq!(streams_of(&page), ["order-1"], "{who}: {page}");
        assert_eq!(page["head"], page["events"][0]["global_position"], "{who}: head is its own");
        let (_, one) = call(&s, "GET", "/events?limit=1&direction=backward", None, token).await;
        let own = one["events"][0]["global_position"].as_u64().unwrap();
        assert!(one["next"].as_u64().is_none_or(|n| n + 1 == own), "the cursor follows its own event: {one}");
        let (_, by_id) = call(&s, "GET", &format!("/events/{id}"), None, token).await;
        assert_eq!(by_id["data"]["who"].as_str(), Some(who));
        let (_, corr) = call(&s, "GET", "/correlations/c-1", None, token).await;
        assert_eq!(streams_of(&corr), ["order-1"], "{who}: {corr}");
        let (_, listed) = call(&s, "GET", "/streams", None, token).await;
        assert_eq!(streams_of(&listed), ["order-1"], "{who}: {listed}");
        let (_, info) = call(&s, "GET", "/streams/order-1/info", None, token).await;
        assert_eq!(info["last_version"].as_u64(), Some(1), "{who}: {info}");
        let text = sse_text(&s, token).await;
        assert!(
            text.contains(&format!("\"who\":\"{who}\"")) && !text.contains('@') && text.matches("order-1").count() == 1,
            "{who}: {text}"
        );
    }
    let (_, plain) = call(&s, "GET", "/events", None, &t.plain).await;
    assert_eq!(streams_of(&plain), ["order-1"], "no tenant's events outside the tenant");
    assert_eq!(plain["events"][0]["data"]["who"].as_str(), Some("plain"));
    let (_, all) = call(&s, "GET", "/events", None, &t.admin).await;
    assert_eq!(
        streams_of(&all),
        ["@acme/order-1", "@globex/order-1", "order-1"],
        "the admin spans tenants (its tenant only counts for limits)"
    );

    // Errors speak the tenant's names; nothing of another tenant is reachable.
    let (status, conflict) =
        call(&s, "POST", "/streams/order-1?expected_version=5", Some(placed(chronicle_core::Uuid::now_v7(), "x")), &t.acme).await;
    assert_eq!(status, 409, "{conflict}");
    assert!(!conflict.to_string().contains('@'), "{conflict}");
    let (status, body) = call(&s, "GET", "/streams/@globex%2Forder-1", None, &t.acme).await;
    assert_eq!((status, body), (200, json!([])), "acme's own (empty) stream @globex/order-1, not globex's");
    assert_eq!(call(&s, "GET", "/streams/@acme%2Forder-1", None, &t.plain).await.0, 403, "no tenant's stream without the tenant");
    assert_eq!(call(&s, "POST", "/streams/@acme%2Forder-1", Some(placed(chronicle_core::Uuid::now_v7(), "forged")), &t.plain).await.0, 403);

    // DCB conditions count only the tenant's events.
    let atomic = |after: u64| {
        json!({"streams": [{"stream_id": "order-1", "events": placed(chronicle_core::Uuid::now_v7(), "acme")}],
        "condition": {"query": {"items": [{"types": ["Placed"], "tags": ["order:1"]}]}, "after": after}})
    };
    let (status, body) = call(&s, "POST", "/append", Some(atomic(1)), &t.acme).await;
    assert_eq!(status, 200, "globex's and the plain Placed after position 1 are not acme's: {body}");

    // Snapshots are per tenant.
    let snapshot = json!({"version": 1, "schema_version": 1, "state": {"n": 1}});
    assert_eq!(call(&s, "PUT", "/streams/order-1/snapshot", Some(snapshot), &t.acme).await.0, 204);
    assert_eq!(call(&s, "GET", "/streams/order-1/snapshot", None, &t.globex).await.0, 404);
    let (status, got) = call(&s, "GET", "/streams/order-1/snapshot", None, &t.acme_reader).await;
    assert_eq!((status, got["stream_id"].as_str()), (200, Some("order-1")), "{got}");

    // Checkpoints are per tenant.
    assert_eq!(call(&s, "PUT", "/checkpoints/billing", Some(json!({"position": 7})), &t.acme).await.0, 204);
    assert_eq!(call(&s, "GET", "/checkpoints/billing", None, &t.globex).await.0, 404);
    assert_eq!(call(&s, "GET", "/checkpoints/billing", None, &t.acme_reader).await.1["position"].as_u64(), Some(7));

    // Routes that span tenants are refused to a tenant's token, and audited.
    for path in ["/metrics", "/subscriptions", "/publish"] {
        let (status, body) = call(&s, "GET", path, None, &t.acme_reader).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body["message"].as_str().unwrap().contains("tenant acme"), "{body}");
    }
    let records = chronicle_server::audit::recent(&*audit, usize::MAX, true).await.unwrap();
    let spans: Vec<_> = records.iter().filter(|r| r.denied.as_ref().is_some_and(|d| d.stream == "every tenant")).collect();
    assert_eq!(spans.len(), 3, "{records:?}");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_delivers_only_the_tenants_events() {
    let (s, t, _) = server().await;
    for (who, token) in [("acme", &t.acme), ("globex", &t.globex)] {
        assert_eq!(call(&s, "POST", "/streams/order-1", Some(placed(chronicle_core::Uuid::now_v7(), who)), token).await.0, 200);
    }
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
        "{}/ws?from=1",
        s.url.replace("http://", "ws://")
    ))
    .unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {}", t.globex).parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap().unwrap().unwrap();
    let first: Value = serde_json::from_str(first.to_text().unwrap()).unwrap();
    assert_eq!((first["stream_id"].as_str(), first["data"]["who"].as_str()), (Some("order-1"), Some("globex")), "{first}");
    let more = tokio::time::timeout(Duration::from_millis(500), ws.next()).await;
    assert!(more.is_err(), "nothing of acme: {more:?}");
    s.shutdown().await;
}

#[test]
fn a_bad_tenant_name_is_refused_at_start() {
    let auth: toml::Table = toml::from_str("[[tokens]]\nid = \"w\"\nrole = \"writer\"\nsha256 = \"ab\"\ntenant = \"acme-eu\"\n").unwrap();
    let err = chronicle_server::ServerSettings::from_tables(&auth, &toml::Table::new()).unwrap_err().to_string();
    assert!(err.contains("token w: tenant \"acme-eu\"") && !err.contains('\n'), "{err}");
}
