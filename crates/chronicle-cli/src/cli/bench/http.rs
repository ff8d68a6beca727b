//! `http`: appends through `chronicle serve`'s HTTP API (an in-process
//! server on a loopback port, a pooled HTTP/1.1 client), next to the same
//! appends made in process in the same run; and `http-grants`: the same
//! appends by a token whose grants are checked on every request, next to
//! a token without grants on the same server (auth on for both); and
//! `http-audit`: the same appends with access auditing on (every request
//! recorded) next to off (only denials and admin actions), with the audit
//! log's bytes per request.

use super::{Target, append, report::BenchResult};
use crate::cli::{CliError, CliResult, stats::progress_bar};
use chronicle_server::{
    Server,
    auth::{Role, TokenEntry},
};
use std::time::Instant;

fn body(first: u64, batch: usize, size: usize) -> String {
    let events: Vec<String> = (first..first + batch as u64)
        .map(|i| format!(r#"{{"event_type":"BenchEvent","data":{}}}"#, String::from_utf8_lossy(&append::payload(i, size))))
        .collect();
    format!("[{}]", events.join(","))
}

/// A server over a fresh store `name` (with `tokens`, when any); its URL
/// and its stop switch.
async fn serve(target: &Target, name: &str, tokens: &[TokenEntry]) -> CliResult<(String, tokio::sync::oneshot::Sender<()>)> {
    let store = target.store(name).await?.store;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(CliError::Output)?;
    let url = format!("http://{}", listener.local_addr().map_err(CliError::Output)?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(Server::new(store).with_auth(tokens).serve(listener, async move {
        let _ = stopped.await;
    }));
    Ok((url, stop))
}

/// Shape of one HTTP load.
#[derive(Clone, Copy)]
struct Load {
    writers: usize,
    batch: usize,
    events: u64,
    size: usize,
}

/// `writers` clients appending batches to `url` (as `token`); the
/// latencies and the seconds it took.
async fn drive(url: &str, token: Option<&str>, load: Load, label: &str) -> CliResult<(Vec<u64>, f64)> {
    let Load { writers, batch, events, size } = load;
    let client = reqwest::Client::builder().pool_max_idle_per_host(writers).build().map_err(|e| CliError::Usage(e.to_string()))?;
    let per_writer = (events / batch as u64).max(1).div_ceil(writers as u64);
    let bar = progress_bar(per_writer * writers as u64 * batch as u64, label);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (client, url, bar, token) = (client.clone(), url.to_owned(), bar.clone(), token.map(str::to_owned));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_writer as usize);
            for c in 0..per_writer {
                let payload = body(c * batch as u64, batch, size);
                let t = Instant::now();
                let mut request = client.post(format!("{url}/streams/bench-{w}-{}", c % 16)).header("content-type", "application/json");
                if let Some(token) = &token {
                    request = request.bearer_auth(token);
                }
                let ok = request.body(payload).send().await.map_err(|e| e.to_string())?.status();
                if !ok.is_success() {
                    return Err(format!("HTTP {ok}"));
                }
                latencies.push(t.elapsed().as_micros() as u64);
                bar.inc(batch as u64);
            }
            Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.map_err(|e| CliError::Usage(e.to_string()))?.map_err(|e| CliError::Usage(format!("http bench: {e}")))?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    Ok((latencies, elapsed))
}

fn row(workload: &'static str, target: &Target, load: Load, latencies: Vec<u64>, elapsed: f64) -> BenchResult {
    let total = latencies.len() as u64 * load.batch as u64;
    BenchResult {
        workload,
        backend: target.backend,
        writers: Some(load.writers),
        batch: Some(load.batch),
        events: Some(total),
        events_per_sec: Some(total as f64 / elapsed),
        ..BenchResult::default()
    }
    .latencies(latencies)
}

pub(crate) async fn run(target: &Target, name: &str, writers: usize, batch: usize, events: u64, size: usize) -> CliResult<BenchResult> {
    let load = Load { writers, batch, events, size };
    let in_process = append::run(target, &format!("{name}-inproc"), writers, batch, events, size).await?;
    let (url, stop) = serve(target, name, &[]).await?;
    let (latencies, elapsed) = drive(&url, None, load, &format!("http append {writers}x{batch}")).await?;
    let _ = stop.send(());
    let result = row("http-append", target, load, latencies, elapsed);
    Ok(result.baseline("the same appends in process, same run", in_process.events_per_sec.unwrap_or(f64::NAN)))
}

/// `http-grants`: 64 single-event writers as a token limited by two
/// grants (`bench-*` append, a category read) against a token without
/// grants, two rounds alternating on fresh stores, the best of each.
pub(crate) async fn grants(target: &Target, quick: bool, size: usize) -> CliResult<BenchResult> {
    let load = Load { writers: 64, batch: 1, events: if quick { 3_200 } else { 50_000 }, size };
    let token = |id: &str, grants: &[&str]| -> CliResult<(String, TokenEntry)> {
        let (secret, mut entry) = TokenEntry::generate(id, Role::Writer).map_err(|e| CliError::Usage(e.to_string()))?;
        entry.grants = grants.iter().map(|g| g.parse()).collect::<Result<_, String>>().map_err(CliError::Usage)?;
        Ok((secret, entry))
    };
    let (plain, plain_entry) = token("plain", &[])?;
    let (granted, granted_entry) = token("granted", &["category:orders=read", "bench-*=read,append"])?;
    let tokens = [plain_entry, granted_entry];
    let (mut base, mut best) = (0f64, None::<(f64, Vec<u64>, f64)>);
    for round in 0..2 {
        let (url, stop) = serve(target, &format!("http-plain-{round}"), &tokens).await?;
        let (latencies, elapsed) = drive(&url, Some(&plain), load, "http append, no grants").await?;
        let _ = stop.send(());
        base = base.max(latencies.len() as f64 / elapsed);
        let (url, stop) = serve(target, &format!("http-grants-{round}"), &tokens).await?;
        let (latencies, elapsed) = drive(&url, Some(&granted), load, "http append, grants").await?;
        let _ = stop.send(());
        let rate = latencies.len() as f64 / elapsed;
        if best.as_ref().is_none_or(|(r, _, _)| rate > *r) {
            best = Some((rate, latencies, elapsed));
        }
    }
    let (_, latencies, elapsed) = best.unwrap_or_default();
    Ok(row("http-grants", target, load, latencies, elapsed)
        .baseline("the same appends by a token without grants (auth on for both), best of 2 alternating", base))
}

/// A server with `tokens` whose audit log is a file store of its own in
/// the bench directory (as `chronicle serve` keeps it), recording every
/// request when `access`; its URL, stop switch, task and audit store.
async fn serve_audited(
    target: &Target,
    name: &str,
    tokens: &[TokenEntry],
    access: bool,
) -> CliResult<(String, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<()>>, chronicle::Opened)> {
    let store = target.store(name).await?.store;
    let mut config = target.config.clone();
    (config.backend, config.data_dir) = (chronicle::BackendKind::File, target.dir(&format!("{name}-audit")));
    let audit = chronicle::open_with(&config, chronicle::AppendPipeline::default()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(CliError::Output)?;
    let url = format!("http://{}", listener.local_addr().map_err(CliError::Output)?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = Server::new(store).with_auth(tokens).with_audit(audit.store.clone(), access);
    let task = tokio::spawn(server.serve(listener, async move {
        let _ = stopped.await;
    }));
    Ok((url, stop, task, audit))
}

/// `http-audit`: 64 single-event writers with access auditing on against
/// off (auth on for both), two rounds alternating on fresh stores, the
/// best of each; bytes per request of the audit log when on.
pub(crate) async fn audit(target: &Target, quick: bool, size: usize) -> CliResult<BenchResult> {
    let load = Load { writers: 64, batch: 1, events: if quick { 3_200 } else { 50_000 }, size };
    let (secret, entry) = TokenEntry::generate("bench", Role::Writer).map_err(|e| CliError::Usage(e.to_string()))?;
    let tokens = [entry];
    let (mut base, mut best, mut bytes) = (0f64, None::<(f64, Vec<u64>, f64)>, f64::NAN);
    for round in 0..2 {
        for access in [false, true] {
            let name = format!("http-audit-{round}-{}", if access { "on" } else { "off" });
            let (url, stop, task, log) = serve_audited(target, &name, &tokens, access).await?;
            let label = if access { "http append, access audit on" } else { "http append, access audit off" };
            let (latencies, elapsed) = drive(&url, Some(&secret), load, label).await?;
            let _ = stop.send(());
            task.await.map_err(|e| CliError::Usage(e.to_string()))?.map_err(CliError::Output)?; // the audit log is flushed
            let rate = latencies.len() as f64 / elapsed;
            if !access {
                base = base.max(rate);
                continue;
            }
            let requests = latencies.len() as f64;
            bytes = log.maintenance.storage_bytes().map_or(f64::NAN, |b| b as f64 / requests);
            if best.as_ref().is_none_or(|(r, _, _)| rate > *r) {
                best = Some((rate, latencies, elapsed));
            }
        }
    }
    let (_, latencies, elapsed) = best.unwrap_or_default();
    let mut result = row("http-audit", target, load, latencies, elapsed)
        .baseline("the same appends with access audit off (denials and admin actions only), best of 2 alternating", base);
    result.bytes_per_event = Some(bytes);
    Ok(result)
}
