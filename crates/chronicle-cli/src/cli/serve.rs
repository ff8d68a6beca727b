//! `chronicle serve [--listen ADDR:PORT]`.

use super::{CliError, CliResult};
use chronicle::{BackendKind, Config, open_with};
use chronicle_publish::Publisher;
use chronicle_server::{Server, ServerSettings};
use std::{net::SocketAddr, sync::Arc};

/// The generated name of a node without `--node`: host, listen port,
/// process id.
fn generated_node_name(local: SocketAddr) -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_owned()))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{} pid {}", local.port(), std::process::id())
}

/// Checks a `--node` name: 1-48 printable characters (it ends up in a
/// PostgreSQL `application_name`, 63 bytes at most, after a prefix).
fn parse_node(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > 48 || s.chars().any(char::is_control) {
        return Err("a node name is 1 to 48 bytes of printable characters".into());
    }
    Ok(s.to_owned())
}

/// The default listen address.
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:7350";

#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Address and port to listen on (port 1-65535).
    #[arg(long, default_value = DEFAULT_LISTEN, value_name = "ADDR:PORT", value_parser = parse_listen)]
    listen: SocketAddr,
    /// Serve without tokens on a non-loopback address (anyone who can reach it may read, write and delete).
    #[arg(long)]
    allow_anonymous: bool,
    /// This node's name: in /health/ready, as the `node` label in /metrics, as the holder of leases
    /// (default: host, port and process id).
    #[arg(long, env = "CHRONICLE_NODE", value_name = "NAME", value_parser = parse_node)]
    node: Option<String>,
}

/// Parses and validates a listen address.
fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = s.parse().map_err(|_| format!("{s:?} is not an ADDR:PORT address (e.g. 127.0.0.1:7350 or [::1]:7350)"))?;
    if addr.port() == 0 {
        return Err("the port must be between 1 and 65535".into());
    }
    Ok(addr)
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

/// Picks up schemas other nodes of a shared store register (`$schemas`).
async fn follow_schemas(raw: Arc<dyn chronicle::EventStore>, catalog: Arc<chronicle_schema::Catalog>) {
    let mut last = 0;
    loop {
        match chronicle_schema::load(&*raw, &catalog, last).await {
            Ok(read) => last = read,
            Err(e) => tracing::warn!("reading the schema registrations of other nodes: {e}"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}

pub(crate) async fn run(config: &Config, args: ServeArgs) -> CliResult {
    let ServerSettings { auth, tls } = ServerSettings::from_tables(&config.auth, &config.tls)?;
    let tls = match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => return Err(CliError::Usage("[tls] needs both cert and key".into())),
    };
    let anonymous = auth.tokens.is_empty();
    if anonymous && !args.listen.ip().is_loopback() && !args.allow_anonymous {
        return Err(CliError::Usage(format!(
            "refusing to serve on {} without tokens: add [[auth.tokens]] (chronicle token create --role admin) or pass --allow-anonymous",
            args.listen
        )));
    }
    let publishing = chronicle_publish::PublishSettings::from_table(&config.publish)?;
    let retention = chronicle_retention::RetentionSettings::from_table(&config.retention)?;
    let opened = open_with(config, config.pipeline()).await?;
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.map_err(|e| CliError::Usage(format!("cannot listen on {}: {e}", args.listen)))?;
    let local = listener.local_addr().map_err(CliError::Output)?;
    let node = args.node.clone().unwrap_or_else(|| generated_node_name(local));
    let where_ = if config.backend == BackendKind::File { format!(" at {}", config.data_dir.display()) } else { String::new() };
    tracing::info!("chronicle serving the {} backend{where_} on http://{local} (OpenAPI: http://{local}/openapi.json)", config.backend);
    if anonymous {
        tracing::warn!("no [[auth.tokens]] configured: the API is open to anyone who can reach {local}");
    } else {
        tracing::info!("{} token(s) configured: every route but /health/* and /openapi.json needs a bearer token", auth.tokens.len());
    }
    let audit_at = super::access::AuditTarget::of(config, &auth);
    let audit = chronicle::open(&audit_at.config(config))
        .await
        .map_err(|e| CliError::Usage(format!("cannot open the audit log at {audit_at}: {e}")))?;
    tracing::info!("audit log at {audit_at}");
    if let super::access::AuditTarget::Schema(audit) = &audit_at {
        tracing::info!(
            "stateless node {node:?}: events, audit log ({audit}), leases, consumer groups, checkpoints and keys live in PostgreSQL \
             schema {}; nothing is written on this machine",
            config.postgres.schema
        );
    }
    // Sinks see encrypted fields masked ("***"), as any reader without clearance does.
    let published = match &opened.privacy {
        Some(p) => {
            Arc::new(p.reader(opened.shaped.clone(), chronicle_privacy::Clearance::Masked, "publish")) as Arc<dyn chronicle::EventStore>
        }
        None => opened.shaped.clone(),
    };
    let publisher = Arc::new(Publisher::new(published, opened.leases.clone(), &publishing, &node));
    if !publisher.is_empty() {
        publisher.start();
        let names: Vec<&str> = publishing.sinks.iter().map(|s| s.name()).collect();
        tracing::info!("publishing to {} sink(s): {} (status: GET /publish)", names.len(), names.join(", "));
    }
    // Consumer groups: in the store when one node serves it, in shared rows on PostgreSQL.
    let groups = match (&opened.postgres, config.backend) {
        (Some(pg), _) => Some(chronicle_groups::Groups::postgres(pg.clone(), opened.leases.clone(), &node).await),
        (None, BackendKind::File | BackendKind::Memory) => Some(chronicle_groups::Groups::open(opened.shaped.clone()).await),
        _ => None,
    };
    let groups = groups.transpose().map_err(|e| CliError::Usage(format!("loading the consumer groups: {e}")))?;
    let (stop_retention, retention_stopped) = tokio::sync::watch::channel(false);
    if retention.is_active() {
        tracing::info!("retention: {} (chronicle retention run --dry-run shows what a pass removes)", retention.summary());
    }
    let retention = Arc::new(chronicle_retention::Retention::new(opened.raw.clone(), opened.maintenance.clone(), retention));
    let retention_task = tokio::spawn(retention.clone().schedule(opened.leases.clone(), node.clone(), retention_stopped));
    let mut server = Server::new(opened.shaped.clone())
        .with_publisher(publisher.clone())
        .with_maintenance(opened.maintenance)
        .with_retention(retention)
        .with_auth(&auth.tokens)
        .with_rate_limit(&auth.rate_limit)
        .with_audit(audit, auth.audit_access);
    if let Some(groups) = &groups {
        server = server.with_groups(groups.clone());
    }
    let connections = opened.postgres.clone().map(|pg| Arc::new(pg) as Arc<dyn chronicle::ConnectionReport>);
    server = server.with_node(chronicle_server::Node { name: Some(node.clone()), connections });
    if let Some(privacy) = &opened.privacy {
        server = server.with_privacy(privacy.clone());
        tokio::spawn(privacy.clone().follow(opened.raw.clone()));
        let status = privacy.status().await.map_err(|e| CliError::Usage(e.to_string()))?;
        tracing::info!(
            "privacy: encrypting marked fields; KEK {}, {} subject(s), {} forgotten",
            status.kek_id,
            status.counts.subjects,
            status.counts.forgotten
        );
    }
    if let Some(catalog) = &opened.catalog {
        server = server.with_schemas(opened.raw.clone(), catalog.clone());
        tokio::spawn(follow_schemas(opened.raw.clone(), catalog.clone()));
    }
    match tls {
        Some((cert, key)) => {
            tracing::info!("TLS on: https://{local} (certificate {})", cert.display());
            server
                .serve_tls(listener, cert, key, shutdown_signal())
                .await
                .map_err(|e| CliError::Usage(format!("TLS with certificate {} and key {}: {e}", cert.display(), key.display())))?;
        }
        None => server.serve(listener, shutdown_signal()).await.map_err(CliError::Output)?,
    }
    let _ = stop_retention.send(true);
    retention_task.abort(); // a pass cut short is safe: each stream's cut is one metadata write, each reclaim batch one statement
    let _ = retention_task.await;
    publisher.stop().await; // saves every relay's checkpoint
    if let Some(groups) = &groups {
        groups.shutdown(std::time::Duration::from_secs(3)).await; // and every group's progress saved
    }
    tracing::info!("chronicle stopped");
    Ok(())
}
