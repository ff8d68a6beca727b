//! Stateless nodes: three `chronicle serve` nodes started from **one
//! read-only working directory** (no data directory; as root the nodes run
//! as `nobody`, who cannot write there) on one PostgreSQL schema. Each says
//! at start that it is stateless and names itself in `/health/ready` and in
//! `/metrics`; appends through all three land in one gapless order that a
//! subscriber on each node sees identically; the audit log is one (in the
//! database); the consumer group's lease names its holder; and the
//! directory is left exactly as it was.

mod served;

use chronicle::{EventStore, Filter, RemoteStore, SubscribeFrom};
use serde_json::{Value, json};
use served::{BIN, Schema, free_port, pg_url, token, wait};
use std::{
    os::unix::fs::PermissionsExt,
    process::{Command, Stdio},
};

const PER_NODE: usize = 60;

/// The uid and gid of `nobody` when this process is root (who may write anywhere).
fn nobody() -> Option<(u32, u32)> {
    let id = |flag: &str| {
        Command::new("id").args([flag, "nobody"]).output().ok().and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
    };
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout == b"0\n");
    if root { Some((id("-u")?, id("-g")?)) } else { None }
}

/// `chronicle serve` in `dir` as a user who may not write there.
fn node(dir: &std::path::Path, log: &std::path::Path, port: u16, name: &str) -> served::Server {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(BIN);
    if let Some((uid, gid)) = nobody() {
        command.uid(uid).gid(gid);
    }
    let log = std::fs::File::create(log).unwrap();
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--node", name])
        .current_dir(dir)
        .env("CHRONICLE_DATABASE_URL", pg_url())
        .env_remove("CHRONICLE_BACKEND")
        .env("RUST_LOG", "info")
        .stderr(Stdio::from(log.try_clone().unwrap()))
        .stdout(Stdio::from(log));
    served::Server(command.spawn().unwrap())
}

/// Every path under `dir` with its size and modification time.
fn listing(dir: &std::path::Path) -> Vec<(String, u64, std::time::SystemTime)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let meta = entry.as_ref().unwrap().metadata().unwrap();
        out.push((entry.unwrap().file_name().to_string_lossy().into_owned(), meta.len(), meta.modified().unwrap()));
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_stateless_nodes_from_one_read_only_directory() {
    let Some(schema) = Schema::fresh("stateless").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let (admin, admin_entry) = token(&["--role", "admin", "--id", "ops"]);
    let config = format!(
        "backend = \"postgres\"\n[postgres]\nschema = \"{}\"\npool_size = 4\n\n[auth]\naudit_access = true\n\n{admin_entry}\n",
        schema.0
    );
    std::fs::write(dir.path().join("chronicle.toml"), config).unwrap();
    std::fs::set_permissions(dir.path().join("chronicle.toml"), std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let before = listing(dir.path());
    let names = ["node-1", "node-2", "node-3"];
    let ports = [free_port(), free_port(), free_port()];
    let nodes: Vec<_> = (0..3).map(|i| node(dir.path(), &logs.path().join(names[i]), ports[i], names[i])).collect();
    let http = reqwest::Client::new();
    let bases = ports.map(|p| format!("http://127.0.0.1:{p}"));
    for (base, name) in bases.iter().zip(names) {
        let ready = async || http.get(format!("{base}/health/ready")).send().await.is_ok_and(|r| r.status() == 200);
        wait(30, &format!("{name} up"), ready).await;
        let health: Value = http.get(format!("{base}/health/ready")).send().await.unwrap().json().await.unwrap();
        assert_eq!(health["node"].as_str(), Some(name), "{health}");
        assert_eq!(health["connections"]["breaker"].as_str(), Some("closed"), "{health}");
        assert_eq!(health["connections"]["pool_max"].as_u64(), Some(4), "{health}");
        let log = std::fs::read_to_string(logs.path().join(name)).unwrap();
        assert!(log.contains(&format!("stateless node \"{name}\"")), "{log}");
        let metrics = http.get(format!("{base}/metrics")).bearer_auth(&admin).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains(&format!("chronicle_node_info{{node=\"{name}\"")), "{metrics}");
        assert!(metrics.contains(&format!("chronicle_db_pool_connections{{node=\"{name}\",state=\"idle\"}}")), "{metrics}");
        assert!(metrics.contains(&format!("chronicle_db_breaker_state{{node=\"{name}\",state=\"closed\"}} 1")), "{metrics}");
    }

    // A subscriber on each node, then appends through all three at once.
    let mut subscriptions = Vec::new();
    for base in &bases {
        let store = RemoteStore::new(base, Some(admin.clone())).unwrap();
        subscriptions.push(store.subscribe(SubscribeFrom::Start, Filter::default()).await.unwrap());
    }
    let writers: Vec<_> = bases
        .iter()
        .enumerate()
        .map(|(i, base)| {
            let (http, url, admin) = (http.clone(), format!("{base}/streams/order-{i}"), admin.clone());
            tokio::spawn(async move {
                for n in 0..PER_NODE {
                    let body = json!([{"event_type": "Placed", "data": {"node": i, "n": n}}]);
                    let r = http.post(&url).bearer_auth(&admin).json(&body).send().await.unwrap();
                    assert_eq!(r.status(), 200);
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let total = 3 * PER_NODE;
    let mut orders = Vec::new();
    for sub in &mut subscriptions {
        let mut order = Vec::new();
        while order.len() < total {
            let event = tokio::time::timeout(std::time::Duration::from_secs(20), sub.next()).await.unwrap().unwrap().unwrap();
            order.push((event.global_position, event.event_id));
        }
        assert_eq!(order.iter().map(|(p, _)| *p).collect::<Vec<_>>(), (1..=total as u64).collect::<Vec<_>>(), "gapless");
        orders.push(order);
    }
    assert!(orders.iter().all(|o| *o == orders[0]), "one order, the same on every node");

    // One audit log: every node's appends, read through any node (each
    // node writes its records in batches, within ~25 ms).
    let audited = async || {
        let audit: Value =
            http.get(format!("{}/audit?limit=10000", bases[2])).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
        audit.as_array().unwrap().iter().filter(|r| r["method"] == "POST" && r["status"] == 200).count() == total
    };
    wait(10, "every node's appends in the one audit log", audited).await;

    // A consumer group is fed by one node: its lease names the holder.
    let r = http.put(format!("{}/subscriptions/billing", bases[0])).bearer_auth(&admin).json(&json!({"from": "start"})).send().await;
    assert!(r.unwrap().status().is_success());
    let feeder = async || {
        let g: Value =
            http.get(format!("{}/subscriptions/billing", bases[1])).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
        g["feeder"].as_str().is_some_and(|f| names.contains(&f))
    };
    wait(10, "the group's feeder lease", feeder).await;

    drop(subscriptions);
    drop(nodes);
    assert_eq!(listing(dir.path()), before, "nothing was written in the working directory");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
}
