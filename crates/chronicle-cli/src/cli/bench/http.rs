//! `http`: appends through `chronicle serve`'s HTTP API (an in-process
//! server on a loopback port, a pooled HTTP/1.1 client), next to the same
//! appends made in process in the same run.

use super::{Target, append, report::BenchResult};
use crate::cli::{CliError, CliResult, stats::progress_bar};
use chronicle_server::Server;
use std::time::Instant;

fn body(first: u64, batch: usize, size: usize) -> String {
    let events: Vec<String> = (first..first + batch as u64)
        .map(|i| format!(r#"{{"event_type":"BenchEvent","data":{}}}"#, String::from_utf8_lossy(&append::payload(i, size))))
        .collect();
    format!("[{}]", events.join(","))
}

pub(crate) async fn run(target: &Target, name: &str, writers: usize, batch: usize, events: u64, size: usize) -> CliResult<BenchResult> {
    let in_process = append::run(target, &format!("{name}-inproc"), writers, batch, events, size).await?;
    let store = target.store(name).await?.store;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(CliError::Output)?;
    let url = format!("http://{}", listener.local_addr().map_err(CliError::Output)?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(Server::new(store).serve(listener, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder().pool_max_idle_per_host(writers).build().map_err(|e| CliError::Usage(e.to_string()))?;
    let per_writer = (events / batch as u64).max(1).div_ceil(writers as u64);
    let bar = progress_bar(per_writer * writers as u64 * batch as u64, &format!("http append {writers}x{batch}"));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (client, url, bar) = (client.clone(), url.clone(), bar.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_writer as usize);
            for c in 0..per_writer {
                let payload = body(c * batch as u64, batch, size);
                let t = Instant::now();
                let r = client
                    .post(format!("{url}/streams/bench-{w}-{}", c % 16))
                    .header("content-type", "application/json")
                    .body(payload)
                    .send()
                    .await;
                let ok = r.map_err(|e| e.to_string())?.status();
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
    let _ = stop.send(());
    let _ = server.await;
    let total = latencies.len() as u64 * batch as u64;
    let result = BenchResult {
        workload: "http-append",
        backend: target.backend,
        writers: Some(writers),
        batch: Some(batch),
        events: Some(total),
        events_per_sec: Some(total as f64 / elapsed),
        ..BenchResult::default()
    }
    .latencies(latencies);
    Ok(result.baseline("the same appends in process, same run", in_process.events_per_sec.unwrap_or(f64::NAN)))
}
