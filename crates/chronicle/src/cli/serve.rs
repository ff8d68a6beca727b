//! `chronicle serve [--listen ADDR:PORT]`.

use super::{CliError, CliResult};
use chronicle::{BackendKind, Config, EventStore, FileStore, file_options, open, open_file};
use chronicle_server::Server;
use std::{net::SocketAddr, sync::Arc};

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
}

/// Parses and validates a listen address.
fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = s.parse().map_err(|_| format!("{s:?} is not an ADDR:PORT address (e.g. 127.0.0.1:7350 or [::1]:7350)"))?;
    if addr.port() == 0 {
        return Err("the port must be between 1 and 65535".into());
    }
    Ok(addr)
}

async fn shutdown_signal() {
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

pub(crate) async fn run(config: &Config, args: ServeArgs) -> CliResult {
    let tls = match (&config.tls.cert, &config.tls.key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => return Err(CliError::Usage("[tls] needs both cert and key".into())),
    };
    let anonymous = config.auth.tokens.is_empty();
    if anonymous && !args.listen.ip().is_loopback() && !args.allow_anonymous {
        return Err(CliError::Usage(format!(
            "refusing to serve on {} without tokens: add [[auth.tokens]] (chronicle token create --role admin) or pass --allow-anonymous",
            args.listen
        )));
    }
    let (store, file) = if config.backend == BackendKind::File {
        let file = open_file(config)?;
        (Arc::new(file.clone()) as Arc<dyn EventStore>, Some(file))
    } else {
        (open(config).await?, None)
    };
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.map_err(|e| CliError::Usage(format!("cannot listen on {}: {e}", args.listen)))?;
    let local = listener.local_addr().map_err(CliError::Output)?;
    let where_ = if config.backend == BackendKind::File { format!(" at {}", config.data_dir.display()) } else { String::new() };
    tracing::info!("chronicle serving the {} backend{where_} on http://{local} (OpenAPI: http://{local}/openapi.json)", config.backend);
    if anonymous {
        tracing::warn!("no [[auth.tokens]] configured: the API is open to anyone who can reach {local}");
    } else {
        tracing::info!(
            "{} token(s) configured: every route but /health/* and /openapi.json needs a bearer token",
            config.auth.tokens.len()
        );
    }
    let audit_dir = config.audit_dir();
    let audit = FileStore::open(&audit_dir, file_options(config))
        .map_err(|e| CliError::Usage(format!("cannot open the audit log at {}: {e}", audit_dir.display())))?;
    tracing::info!("audit log at {}", audit_dir.display());
    let mut server = Server::new(store)
        .with_auth(&config.auth.tokens)
        .with_rate_limit(&config.auth.rate_limit)
        .with_audit(Arc::new(audit), config.auth.audit_access);
    if let Some(file) = file {
        let stats = file.clone();
        server = server.with_storage_bytes(Arc::new(move || stats.stats().map(|s| s.bytes).unwrap_or(0))).with_scavenge(scavenger(file));
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
    tracing::info!("chronicle stopped");
    Ok(())
}

/// `POST /admin/scavenge` for the file store: the rewrite runs on a
/// blocking thread; its report is the response.
fn scavenger(file: FileStore) -> chronicle_server::Scavenge {
    Arc::new(move || {
        let file = file.clone();
        Box::pin(async move {
            let report = tokio::task::spawn_blocking(move || file.scavenge(|_, _| {}))
                .await
                .map_err(|e| chronicle::Error::Unavailable { reason: format!("the scavenge task stopped: {e}") })??;
            tracing::info!(?report, "scavenge done");
            serde_json::to_value(report).map_err(|e| chronicle::Error::Unavailable { reason: format!("scavenge report: {e}") })
        })
    })
}
