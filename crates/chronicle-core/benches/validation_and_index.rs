//! JSON validation of appended events and index look-ups.
#![allow(missing_docs)]

use chronicle_core::{
    AppendView, Filter, IndexedEvent, Limits, LogIndex, Metadata, NewEvent, ReadAll, ReadStream, StreamId, Timestamp, Uuid, compact_meta,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::{hint::black_box, sync::Arc};

fn validation(c: &mut Criterion) {
    let limits = Limits::default();
    let data = format!(r#"{{"order_id":"order-1","items":[1,2,3],"note":"{}"}}"#, "x".repeat(250));
    let meta = br#"{"correlation_id":"c-1","actor":{"type":"user","id":"u-9"},"tags":["vip"]}"#;
    let mut g = c.benchmark_group("validate_event");
    g.throughput(Throughput::Elements(1));
    g.bench_function("data only", |b| b.iter(|| limits.validate_event("e", black_box(NewEvent::raw("OrderPlaced", data.clone())))));
    g.bench_function("data + metadata", |b| {
        b.iter(|| limits.validate_event("e", black_box(NewEvent::raw("OrderPlaced", data.clone()).with_metadata_raw(&meta[..]))))
    });
    g.finish();
}

fn index(c: &mut Criterion) {
    let mut index = LogIndex::new();
    let streams: Vec<StreamId> = (0..10_000).map(|i| StreamId::new(format!("order-{i}")).unwrap()).collect();
    let mut ids = Vec::new();
    let ty: Arc<str> = Arc::from("OrderPlaced");
    for p in 1..=1_000_000u64 {
        let stream = &streams[(p % 10_000) as usize];
        let version = index.stream_info(stream).last_version + 1;
        let id = Uuid::now_v7();
        ids.push(id);
        let meta = compact_meta(&Metadata::default());
        index.push(IndexedEvent {
            position: p,
            stream: stream.clone(),
            version,
            event_id: id,
            event_type: ty.clone(),
            recorded_at: Timestamp::now(),
            meta,
            payload: (),
        });
    }
    index.publish(index.len());
    let mut g = c.benchmark_group("index (1M events, 10k streams)");
    let mut i = 0usize;
    g.bench_function("locate event id", |b| {
        b.iter(|| {
            i = (i + 7919) % ids.len();
            index.locate(black_box(&ids[i]))
        })
    });
    g.bench_function("read_stream (100 events)", |b| {
        b.iter(|| {
            i = (i + 7919) % streams.len();
            index.read_stream(black_box(&streams[i]), ReadStream::forward()).map(|e| e.len())
        })
    });
    let read = ReadAll::forward().limit(1000).filter(Filter { event_types: vec!["OrderPlaced".into()], ..Filter::default() });
    g.throughput(Throughput::Elements(1000));
    g.bench_function("read_all page of 1000, type filter", |b| b.iter(|| index.read_all(black_box(&read)).map(|p| p.entries.len())));
    g.finish();
}

criterion_group!(benches, validation, index);
criterion_main!(benches);
