//! Tokens and roles on every route: no token and a bad token get 401, a
//! too-low role 403; none of these changes stored data; each denial is in
//! the `$audit` stream.

mod common;

use chronicle_core::{ReadStream, StreamId};
use chronicle_server::{
    audit::AuditRecord,
    auth::{Role, TokenEntry},
};
use std::{sync::Arc, time::Duration};

/// Every route but the open ones (health probes, OpenAPI): method, path, body, role needed.
const ROUTES: [(&str, &str, &str, Role); 20] = [
    ("POST", "/streams/acct-1", r#"[{"event_type":"T","data":{}}]"#, Role::Writer),
    ("GET", "/streams/acct-1", "", Role::Reader),
    ("DELETE", "/streams/acct-1", "", Role::Admin),
    ("GET", "/streams/acct-1/info", "", Role::Reader),
    ("PUT", "/streams/acct-1/metadata", r#"{"max_count":1}"#, Role::Admin),
    ("GET", "/streams/acct-1/snapshot", "", Role::Reader),
    ("PUT", "/streams/acct-1/snapshot", r#"{"version":1,"schema_version":1,"state":{}}"#, Role::Writer),
    ("POST", "/append", r#"{"streams":[{"stream_id":"acct-2","events":[{"event_type":"T","data":{}}]}]}"#, Role::Writer),
    ("GET", "/events", "", Role::Reader),
    ("GET", "/events/01a20300-0000-7000-8000-000000000001", "", Role::Reader),
    ("GET", "/correlations/c", "", Role::Reader),
    ("GET", "/subscribe", "", Role::Reader),
    ("GET", "/ws", "", Role::Reader),
    ("GET", "/checkpoints/n", "", Role::Reader),
    ("PUT", "/checkpoints/n", r#"{"position":1}"#, Role::Writer),
    ("GET", "/metrics", "", Role::Reader),
    ("GET", "/streams/$audit", "", Role::Admin),
    ("GET", "/audit", "", Role::Admin),
    ("GET", "/schemas", "", Role::Reader),
    ("PUT", "/schemas/T/1", r#"{"schema":{"type":"object"}}"#, Role::Admin),
];

struct Keys {
    reader: String,
    writer: String,
    admin: String,
}

async fn server() -> (common::Running, Keys, Arc<dyn chronicle_core::EventStore>) {
    let mut entries = Vec::new();
    let mut secret = |id: &str, role| {
        let (s, e) = TokenEntry::generate(id, role).unwrap();
        entries.push(e);
        s
    };
    let keys = Keys { reader: secret("r", Role::Reader), writer: secret("w", Role::Writer), admin: secret("a", Role::Admin) };
    let store = Arc::new(chronicle_memory::MemoryStore::new());
    let audit: Arc<dyn chronicle_core::EventStore> = Arc::new(chronicle_memory::MemoryStore::new());
    let log = audit.clone();
    (common::start_with(store, |s| s.with_auth(&entries).with_audit(log, true)).await, keys, audit)
}

async fn send(s: &common::Running, method: &str, path: &str, body: &str, token: Option<&str>) -> u16 {
    let mut req = s.http.request(method.parse().unwrap(), s.at(path)).header("content-type", "application/json").body(body.to_owned());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if path == "/subscribe" {
        req = req.timeout(Duration::from_millis(300));
    }
    match req.send().await {
        Ok(r) => r.status().as_u16(),
        Err(e) if e.is_timeout() => 200, // a live SSE stream: it was let through
        Err(e) => panic!("{method} {path}: {e}"),
    }
}

async fn audit_records(audit: &Arc<dyn chronicle_core::EventStore>) -> Vec<AuditRecord> {
    chronicle_server::audit::recent(&**audit, usize::MAX, false).await.unwrap()
}

#[tokio::test]
async fn every_route_denies_missing_bad_and_too_low_tokens_without_side_effects() {
    let (s, keys, audit) = server().await;
    let before = s.store.head().await.unwrap();
    let mut denials = 0;
    for (method, path, body, needed) in ROUTES {
        assert_eq!(send(&s, method, path, body, None).await, 401, "{method} {path} without a token");
        assert_eq!(send(&s, method, path, body, Some("chr_not-a-token")).await, 401, "{method} {path} with a bad token");
        denials += 2;
        for (role, key) in [(Role::Reader, &keys.reader), (Role::Writer, &keys.writer)] {
            if role < needed {
                assert_eq!(send(&s, method, path, body, Some(key)).await, 403, "{method} {path} as {role}");
                denials += 1;
            }
        }
    }
    assert_eq!(s.store.head().await.unwrap(), before, "denied requests stored nothing");
    // Denials are stored before the response is sent: no waiting.
    let records = audit_records(&audit).await;
    let denied: Vec<_> = records.iter().filter(|r| r.outcome == "denied").collect();
    assert_eq!(denied.len(), denials);
    assert!(denied.iter().any(|r| r.token_id == "r" && r.status == 403 && r.method == "DELETE" && r.path == "/streams/acct-1"));
    assert!(denied.iter().any(|r| r.token_id == "-" && r.status == 401 && r.path == "/metrics"));
    let served: Vec<AuditRecord> =
        s.http.get(s.at("/audit?denied=true&limit=1000")).bearer_auth(&keys.admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(served.len(), denials, "GET /audit serves the same denials");
    assert_eq!(served.first(), denied.first().copied());
    let bad = s.http.get(s.at("/audit?limit=0")).bearer_auth(&keys.admin).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    s.shutdown().await;
}

#[tokio::test]
async fn sufficient_roles_pass_and_are_audited() {
    let (s, keys, audit) = server().await;
    for (method, path, body, needed) in ROUTES {
        let key = match needed {
            Role::Reader => &keys.reader,
            Role::Writer => &keys.writer,
            Role::Admin => &keys.admin,
        };
        let status = send(&s, method, path, body, Some(key)).await;
        assert!(status != 401 && status != 403, "{method} {path} as {needed}: {status}");
    }
    assert_eq!(send(&s, "GET", "/health/ready", "", None).await, 200, "probes stay open");
    assert_eq!(send(&s, "GET", "/openapi.json", "", None).await, 200);
    let stream = StreamId::new("acct-2").unwrap();
    assert_eq!(s.store.read_stream(&stream, ReadStream::forward()).await.unwrap().len(), 1, "the writer's append was stored");
    let mut records = Vec::new();
    for _ in 0..200 {
        records = audit_records(&audit).await;
        if records.len() >= ROUTES.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(records.len(), ROUTES.len(), "one record per authenticated request, none for open routes");
    assert!(records.iter().all(|r| r.outcome == "allowed"));
    assert!(records.iter().any(|r| r.token_id == "a" && r.role == Some(Role::Admin) && r.method == "PUT"));
    s.shutdown().await;
}

#[tokio::test]
async fn rate_limits_per_token_and_per_tenant_answer_429_with_retry_after() {
    let (a, mut entry_a) = TokenEntry::generate("a", Role::Reader).unwrap();
    let (b, mut entry_b) = TokenEntry::generate("b", Role::Reader).unwrap();
    let (c, entry_c) = TokenEntry::generate("c", Role::Reader).unwrap();
    (entry_a.tenant, entry_b.tenant) = (Some("acme".into()), Some("acme".into()));
    let limit = chronicle_server::rate::RateLimit { per_token: Some(2.0), per_tenant: Some(3.0), burst_seconds: Some(1.0) };
    let store = Arc::new(chronicle_memory::MemoryStore::new());
    let s = common::start_with(store, |s| s.with_auth(&[entry_a, entry_b, entry_c]).with_rate_limit(&limit)).await;
    let get = |t: &str| s.http.get(s.at("/events")).bearer_auth(t.to_owned()).send();
    assert_eq!(get(&a).await.unwrap().status(), 200);
    assert_eq!(get(&a).await.unwrap().status(), 200);
    let limited = get(&a).await.unwrap();
    assert_eq!(limited.status(), 429, "a's bucket of 2 is empty");
    assert_eq!(limited.headers()["retry-after"], "1");
    let body: serde_json::Value = limited.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    assert_eq!(get(&b).await.unwrap().status(), 200, "b has its own bucket, acme its third request");
    assert_eq!(get(&b).await.unwrap().status(), 429, "acme's bucket of 3 is empty");
    assert_eq!(get(&c).await.unwrap().status(), 200, "another tenant is not affected");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(get(&a).await.unwrap().status(), 200, "refilled at 2/s");
    s.shutdown().await;
}
