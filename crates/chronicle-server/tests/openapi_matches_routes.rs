//! The OpenAPI document is generated from the handlers; this checks it
//! lists exactly the routes the server answers, and that each documented
//! operation is routed (no 404/405 for a documented method and path).

mod common;

use std::collections::BTreeSet;

const ROUTES: [(&str, &str); 43] = [
    ("get", "/streams"),
    ("post", "/streams/{stream}"),
    ("get", "/streams/{stream}"),
    ("delete", "/streams/{stream}"),
    ("get", "/streams/{stream}/info"),
    ("put", "/streams/{stream}/metadata"),
    ("get", "/streams/{stream}/snapshot"),
    ("put", "/streams/{stream}/snapshot"),
    ("post", "/append"),
    ("get", "/events"),
    ("get", "/events/{event_id}"),
    ("get", "/correlations/{correlation_id}"),
    ("get", "/subscribe"),
    ("get", "/ws"),
    ("get", "/checkpoints/{name}"),
    ("put", "/checkpoints/{name}"),
    ("get", "/health/live"),
    ("get", "/health/ready"),
    ("get", "/metrics"),
    ("get", "/audit"),
    ("post", "/admin/scavenge"),
    ("post", "/admin/retention"),
    ("get", "/admin/export"),
    ("post", "/admin/import"),
    ("get", "/openapi.json"),
    ("get", "/publish"),
    ("get", "/publish/{sink}/dlq"),
    ("post", "/publish/{sink}/dlq/replay"),
    ("post", "/publish/{sink}/dlq/discard"),
    ("get", "/subscriptions"),
    ("put", "/subscriptions/{group}"),
    ("get", "/subscriptions/{group}"),
    ("delete", "/subscriptions/{group}"),
    ("get", "/subscriptions/{group}/connect"),
    ("get", "/subscriptions/{group}/parked"),
    ("post", "/subscriptions/{group}/parked/replay"),
    ("get", "/schemas"),
    ("get", "/schemas/{event_type}"),
    ("put", "/schemas/{event_type}/{version}"),
    ("post", "/privacy/forget/{subject}"),
    ("get", "/privacy/keys"),
    ("post", "/privacy/keys/rotate-kek"),
    ("post", "/privacy/subjects/{subject}/rotate"),
];

#[tokio::test]
async fn openapi_lists_exactly_the_routes_and_each_is_routed() {
    let s = common::start().await;
    let doc: serde_json::Value = s.http.get(s.at("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys().filter(|m| ["get", "post", "put", "delete", "patch"].contains(&m.as_str())) {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let expected: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    assert_eq!(documented, expected);
    for (method, path) in &documented {
        let concrete = path
            .replace("{stream}", "doc-1")
            .replace("{event_id}", "01a20300-0000-7000-8000-000000000001")
            .replace("{correlation_id}", "c")
            .replace("{name}", "n")
            .replace("{sink}", "s")
            .replace("{group}", "g")
            .replace("{event_type}", "T")
            .replace("{version}", "1");
        let req =
            s.http.request(method.to_uppercase().parse().unwrap(), s.at(&concrete)).header("content-type", "application/json").body("{}");
        let req = if path == "/subscribe" { req.timeout(std::time::Duration::from_millis(300)) } else { req };
        let Ok(r) = req.send().await else { continue }; // a live SSE stream times out: it was routed
        let status = r.status().as_u16();
        let body = r.text().await.unwrap_or_default();
        assert!(
            status != 405 && !(status == 404 && body.contains("no such route")),
            "{method} {concrete} is documented but not routed: {status} {body}"
        );
    }
    s.shutdown().await;
}
