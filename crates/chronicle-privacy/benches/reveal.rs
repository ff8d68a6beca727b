//! Revealing pages of 1,000 events (20 in turn, 1,000 subjects) for a cleared reader: every event
//! encrypted (three fields), and 10 % encrypted, next to the same page
//! passed through untouched (what a plain read costs this layer: nothing).
#![allow(missing_docs)]

use chronicle_core::{AppendPipeline, EventStore, ExpectedVersion, NewEvent, ReadAll, RecordedEvent, StreamId};
use chronicle_memory::MemoryStore;
use chronicle_privacy::{Clearance, FieldRule, Kek, Keyring, MemoryKeys, Policy, Privacy, Revealer, StaticKeys};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::{hint::black_box, sync::Arc};

fn event(i: u64, encrypted: bool) -> NewEvent {
    let kind = if encrypted { "CustomerRegistered" } else { "Other" };
    let data = format!(
        r#"{{"customer_id":"c-{}","email":"user{i}@example.com","address":"{i} Long Road, Springfield, 12345","phone":"+1-555-{i:07}","plan":"gold","note":"{}"}}"#,
        i.wrapping_mul(7919) % 1000,
        "x".repeat(150)
    );
    NewEvent::raw(kind, data.into_bytes())
}

/// 20 pages of 1,000 events as stored (every `every`th encrypted, of
/// 1,000 subjects), and a revealer.
fn pages(rt: &tokio::runtime::Runtime, every: u64) -> (Vec<Vec<RecordedEvent>>, Revealer) {
    rt.block_on(async {
        let rule = FieldRule::new("CustomerRegistered", "/customer_id").encrypt(["/email", "/address", "/phone"]);
        let (_, kek) = Kek::generate().unwrap();
        let privacy = Privacy::new(Policy::new(vec![rule]).unwrap(), Keyring::new(Arc::new(StaticKeys::new(kek, vec![]))));
        privacy.attach(Arc::new(MemoryKeys::default())).await.unwrap();
        let store = MemoryStore::with_pipeline(AppendPipeline::default().with_sealer(privacy.sealer()));
        let mut pages = Vec::new();
        for p in 0..20 {
            let events = (p * 1000..(p + 1) * 1000).map(|i| event(i, i % every == 0)).collect();
            store.append(&StreamId::new("load-1").unwrap(), ExpectedVersion::Any, events).await.unwrap();
            pages.push(store.read_all(&ReadAll::forward().from(p * 1000 + 1).limit(1000)).await.unwrap().events);
        }
        (pages, Revealer::new(privacy.keyring().clone(), Clearance::Clear, "bench"))
    })
}

fn reveal(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let mut g = c.benchmark_group("reveal-page");
    g.throughput(Throughput::Elements(1000));
    for (name, every) in [("all-encrypted", 1), ("10pct-encrypted", 10), ("none-encrypted", u64::MAX)] {
        let (pages, revealer) = pages(&rt, every);
        let mut next = pages.iter().cycle();
        g.bench_function(name, |b| b.iter(|| rt.block_on(revealer.events(black_box(next.next().cloned().unwrap_or_default()))).unwrap()));
    }
    g.bench_function("clone-only", |b| {
        let (pages, _) = pages(&rt, 10);
        let mut next = pages.iter().cycle();
        b.iter(|| black_box(next.next().cloned()))
    });
    g.finish();
}

criterion_group!(benches, reveal);
criterion_main!(benches);
