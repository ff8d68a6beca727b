//! Three `chronicle serve` nodes started from **one working directory**
//! on one PostgreSQL database: all start (nothing node-local is locked),
//! enforce the same grants and tenants, and share one audit log in the
//! database (`{schema}_audit`), which `GET /audit` on any node and
//! `chronicle audit` in the directory both read.

mod served;

use serde_json::{Value, json};
use served::{Schema, free_port, serve_pg, token, wait};

async fn call(http: &reqwest::Client, port: u16, method: &str, path: &str, body: Option<Value>, secret: &str) -> (u16, Value) {
    let mut req = http.request(method.parse().unwrap(), format!("http://127.0.0.1:{port}{path}")).bearer_auth(secret);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_from_one_directory_share_grants_tenants_and_the_audit_log() {
    let Some(schema) = Schema::fresh("tenants").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let (admin, admin_entry) = token(&["--role", "admin", "--id", "ops"]);
    let (acme, acme_entry) = token(&["--role", "writer", "--id", "acme-app", "--tenant", "acme"]);
    let (globex, globex_entry) = token(&["--role", "writer", "--id", "globex-app", "--tenant", "globex"]);
    let (orders, orders_entry) = token(&["--role", "writer", "--id", "orders", "--grant", "order-*=read,append"]);
    let config = format!(
        "backend = \"postgres\"\n[postgres]\nschema = \"{}\"\npool_size = 4\n\n{admin_entry}\n{acme_entry}\n{globex_entry}\n{orders_entry}\n",
        schema.0
    );
    std::fs::write(dir.path().join("chronicle.toml"), config).unwrap();
    let ports = [free_port(), free_port(), free_port()];
    let nodes: Vec<_> = ports.iter().map(|&p| serve_pg(dir.path(), p)).collect();
    let http = reqwest::Client::new();
    for port in ports {
        let ready = async || http.get(format!("http://127.0.0.1:{port}/health/ready")).send().await.is_ok_and(|r| r.status() == 200);
        wait(30, &format!("node on {port} up"), ready).await;
    }

    // Tenants: the same stream name and the same event id on two nodes, each tenant's own.
    let id = chronicle::Uuid::now_v7();
    let event =
        |tenant: &str| json!([{"event_type": "Placed", "event_id": id, "data": {"tenant": tenant}, "metadata": {"correlation_id": "c-1"}}]);
    assert_eq!(call(&http, ports[0], "POST", "/streams/order-1", Some(event("acme")), &acme).await.0, 200);
    assert_eq!(call(&http, ports[1], "POST", "/streams/order-1", Some(event("globex")), &globex).await.0, 200);
    let (status, retry) = call(&http, ports[2], "POST", "/streams/order-1", Some(event("acme")), &acme).await;
    assert_eq!((status, retry["first_version"].as_u64()), (200, Some(1)), "a retry is idempotent within the tenant: {retry}");
    for (secret, tenant) in [(&acme, "acme"), (&globex, "globex")] {
        let (_, page) = call(&http, ports[2], "GET", "/events", None, secret).await;
        let events = page["events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{tenant}: {page}");
        assert_eq!((events[0]["stream_id"].as_str(), events[0]["data"]["tenant"].as_str()), (Some("order-1"), Some(tenant)));
        assert_eq!(events[0]["event_id"].as_str(), Some(id.to_string().as_str()));
        assert_eq!(page["head"].as_u64(), events[0]["global_position"].as_u64(), "{tenant}'s head is its own last event");
    }
    let (_, all) = call(&http, ports[1], "GET", "/events", None, &admin).await;
    let stored: Vec<&str> = all["events"].as_array().unwrap().iter().map(|e| e["stream_id"].as_str().unwrap()).collect();
    assert_eq!(stored, ["@acme/order-1", "@globex/order-1"], "the admin spans tenants");

    // The same grants on every node; every denial lands in the one audit log.
    for port in ports {
        let (status, body) = call(&http, port, "POST", "/streams/payment-1", Some(event("x")), &orders).await;
        assert_eq!((status, body["stream_id"].as_str()), (403, Some("payment-1")), "{port}: {body}");
        assert_eq!(call(&http, port, "GET", "/streams/@acme%2Forder-1", None, &orders).await.0, 403, "no tenant's streams");
    }
    let (status, denied) = call(&http, ports[2], "GET", "/audit?denied=true&limit=100", None, &admin).await;
    assert_eq!(status, 200, "{denied}");
    let refused: Vec<&Value> = denied.as_array().unwrap().iter().filter(|r| r["path"] == "/streams/payment-1").collect();
    assert_eq!(refused.len(), 3, "one trail for the three nodes: {denied}");
    assert!(refused.iter().all(|r| r["token_id"] == "orders" && r["denied"]["action"] == "append"), "{refused:?}");
    let cli = std::process::Command::new(served::BIN)
        .args(["audit", "--denied", "--json"])
        .current_dir(dir.path())
        .env("CHRONICLE_DATABASE_URL", served::pg_url())
        .env_remove("CHRONICLE_BACKEND")
        .output()
        .unwrap();
    assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stderr));
    let lines = String::from_utf8(cli.stdout).unwrap();
    assert_eq!(lines.lines().filter(|l| l.contains("/streams/payment-1")).count(), 3, "{lines}");

    // A consumer group naming the tenant: acme's consumer gets acme's events in acme's names and acks its own ids.
    let created = std::process::Command::new(served::BIN)
        .args(["subscriptions", "create", "acme-billing", "--from", "start", "--stream-prefix", "@acme/"])
        .current_dir(dir.path())
        .env("CHRONICLE_BACKEND", "remote")
        .env("CHRONICLE_URL", format!("http://127.0.0.1:{}", ports[0]))
        .env("CHRONICLE_TOKEN", &admin)
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let url = format!("http://127.0.0.1:{}", ports[1]);
    let mut consumer = chronicle::RemoteStore::new(&url, Some(acme.clone())).unwrap().consume("acme-billing").await.unwrap();
    let delivered = tokio::time::timeout(std::time::Duration::from_secs(10), consumer.next()).await.unwrap().unwrap();
    assert_eq!((delivered.event.stream_id.as_str(), delivered.event.event_id), ("order-1", id));
    consumer.ack(&[id]).await.unwrap();
    let refused = chronicle::RemoteStore::new(&url, Some(globex.clone())).unwrap().consume("acme-billing").await;
    assert!(refused.is_err(), "globex may not consume acme's group");
    let acked = async || {
        let (_, g) = call(&http, ports[2], "GET", "/subscriptions/acme-billing", None, &admin).await;
        g["checkpoint"].as_u64().unwrap_or(0) >= 1 && g["in_flight"].as_u64() == Some(0)
    };
    wait(10, "the tenant's ack reached the group", acked).await;
    assert!(!dir.path().join("data").exists(), "nothing node-local was written");
    drop(nodes);
}
