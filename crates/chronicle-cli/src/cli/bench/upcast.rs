//! `read` (reads of the whole log, as stored) and, with `--upcast`, what
//! schemas cost: the same reads with a 2-step upcaster chain lifting 10 %
//! of the events (against the raw reads) and all of them (against a
//! serde_json parse + serialise of the same events: raw reads never parse
//! JSON, so that is the honest baseline), the eager migration (`chronicle
//! upcast --apply`, against the same copy unchanged), and appends checked
//! against a JSON Schema at 64 writers (against the same appends unchecked).

use super::{Target, append, report::BenchResult};
use crate::cli::{CliError, CliResult, stats::progress_bar};
use chronicle::{EventStore, ExpectedVersion, NewEvent, Opened, ReadAll, RecordedEvent, StreamId};
use chronicle_schema::{Catalog, Mode, SchemaHook, ShapedStore, Step, Unknown};
use serde_json::json;
use std::{sync::Arc, time::Instant};

/// Every 10th event is an `OrderCreated` (lifted by the 10 % catalog).
fn event(i: u64, size: usize) -> NewEvent {
    let kind = if i.is_multiple_of(10) { "OrderCreated" } else { "OrderShipped" };
    NewEvent::raw(kind, append::payload(i, size))
}

/// A 2-step chain (v1 → v2 → v3) for each of `types`.
fn catalog(types: &[&str]) -> CliResult<Arc<Catalog>> {
    let catalog = Catalog::default();
    for t in types {
        let steps = |path: &str, value: serde_json::Value| vec![Step::Set { path: path.into(), value }];
        catalog.register_steps(t, 1, 2, steps("/currency", json!("USD"))).map_err(|e| CliError::Usage(e.to_string()))?;
        catalog.register_steps(t, 2, 3, steps("/taxRate", json!(0))).map_err(|e| CliError::Usage(e.to_string()))?;
    }
    Ok(Arc::new(catalog))
}

/// Reads the whole log in pages of 1,000, passing each event to `each`; events/s.
async fn scan(store: &dyn EventStore, what: &str, expected: u64, mut each: impl FnMut(&RecordedEvent) -> CliResult) -> CliResult<f64> {
    let bar = progress_bar(expected, what);
    let start = Instant::now();
    let (mut from, mut n) = (1, 0u64);
    loop {
        let page = store.read_all(&ReadAll::forward().from(from).limit(1000)).await?;
        page.events.iter().try_for_each(&mut each)?;
        n += page.events.len() as u64;
        bar.set_position(n);
        match page.next {
            Some(next) => from = next,
            None => break,
        }
    }
    bar.finish_and_clear();
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// Reads the whole log in pages of 1,000; events/s.
pub(crate) async fn read_all(store: &dyn EventStore, what: &str, expected: u64) -> CliResult<f64> {
    scan(store, what, expected, |_| Ok(())).await
}

pub(crate) fn row(workload: &'static str, target: &Target, events: u64, rate: f64) -> BenchResult {
    BenchResult { workload, backend: target.backend, events: Some(events), events_per_sec: Some(rate), ..BenchResult::default() }
}

/// The `read` workload; with `upcast`, the schema rows too.
pub(crate) async fn run(target: &Target, quick: bool, events: Option<u64>, upcast: bool) -> CliResult<Vec<BenchResult>> {
    let n = events.unwrap_or(if quick { 20_000 } else { 1_000_000 });
    let Opened { raw, .. } = target.store("read").await?;
    let bar = progress_bar(n, "read: loading");
    for chunk in 0..n.div_ceil(1000) {
        let batch = (chunk * 1000..((chunk + 1) * 1000).min(n)).map(|i| event(i, 300)).collect();
        raw.append(&StreamId::new(format!("read-{}", chunk % 100))?, ExpectedVersion::Any, batch).await?;
        bar.set_position(((chunk + 1) * 1000).min(n));
    }
    bar.finish_and_clear();
    let plain = read_all(&*raw, "read: as stored", n).await?;
    let mut rows = vec![row("read", target, n, plain)];
    if !upcast {
        return Ok(rows);
    }
    let tenth = ShapedStore::new(raw.clone(), catalog(&["OrderCreated"])?);
    let rate = read_all(&tenth, "read: 10% upcast", n).await?;
    rows.push(row("read-upcast10", target, n, rate).baseline("reads as stored, same run", plain));
    let all_catalog = catalog(&["OrderCreated", "OrderShipped"])?;
    let all = ShapedStore::new(raw.clone(), all_catalog.clone());
    let rate = read_all(&all, "read: all upcast", n).await?;
    let serde = serde_roundtrip(&*raw, n).await?;
    rows.push(row("read-upcast", target, n, rate).baseline("reads as stored + serde_json parse and serialise of each event's data", serde));
    rows.push(eager(target, &raw, &all_catalog, n).await?);
    drop((tenth, all, raw));
    rows.extend(validated_appends(target, if quick { 6_400 } else { 64_000 }).await?);
    Ok(rows)
}

/// `chronicle upcast --apply` (every event lifted) into a fresh store,
/// next to the same copy unchanged (`chronicle migrate`), same run.
async fn eager(target: &Target, source: &Arc<dyn EventStore>, catalog: &Catalog, n: u64) -> CliResult<BenchResult> {
    let quiet = || -> chronicle_backup::Progress { Box::new(|_, _| {}) };
    let plain = target.store("copy-plain").await?.raw;
    let start = Instant::now();
    chronicle_backup::copy(&**source, &*plain, chronicle_backup::CopyOptions::default(), quiet()).await?;
    let base = n as f64 / start.elapsed().as_secs_f64();
    let lifted = target.store("copy-upcast").await?.raw;
    let lifter = chronicle_schema::Lifter::of(catalog);
    let lift = |item| lifter.lift_item(item);
    let start = Instant::now();
    chronicle_backup::copy_through(&**source, &*lifted, chronicle_backup::CopyOptions::default(), &lift, quiet()).await?;
    let rate = n as f64 / start.elapsed().as_secs_f64();
    Ok(row("upcast-apply", target, n, rate).baseline("the same copy without upcasting (chronicle migrate), same run", base))
}

/// Reads the whole log as stored and parses + serialises each event's data; events/s.
pub(crate) async fn serde_roundtrip(store: &dyn EventStore, expected: u64) -> CliResult<f64> {
    let mut bytes = 0usize;
    let rate = scan(store, "read: serde baseline", expected, |e| {
        let value: serde_json::Value = serde_json::from_slice(e.data.as_bytes()).map_err(|e| CliError::Usage(e.to_string()))?;
        bytes += serde_json::to_vec(&value).map_err(|e| CliError::Usage(e.to_string()))?.len();
        Ok(())
    })
    .await?;
    std::hint::black_box(bytes);
    Ok(rate)
}

/// 64 writers of single events, with and without a JSON Schema check.
async fn validated_appends(target: &Target, events: u64) -> CliResult<Vec<BenchResult>> {
    let unchecked = target.store("append-unchecked").await?.store;
    let (latencies, elapsed) = append::drive(unchecked, 64, 1, events, 300).await?;
    let base = latencies.len() as f64 / elapsed;
    let catalog = Catalog::new(Mode::Enforce, Unknown::Allow);
    let schema = json!({"type": "object", "required": ["order_id", "customer", "total"], "properties": {
        "order_id": {"type": "string"}, "customer": {"type": "string"}, "total": {"type": "integer", "minimum": 0}, "note": {"type": "string"}}});
    catalog.register_schema("BenchEvent", 1, schema).map_err(|e| CliError::Usage(e.to_string()))?;
    let pipeline = target.config.pipeline().with_hook(Arc::new(SchemaHook(Arc::new(catalog))));
    let checked = target.reopen_with("append-checked", pipeline).await?.store;
    let (latencies, elapsed) = append::drive(checked, 64, 1, events, 300).await?;
    let rate = latencies.len() as f64 / elapsed;
    let result = BenchResult { writers: Some(64), batch: Some(1), ..row("append-schema", target, latencies.len() as u64, rate) };
    Ok(vec![result.latencies(latencies).baseline("the same appends without a schema, same run", base)])
}
