//! Record codec: encoding and decoding (with CRC32C) of a ~300 B event.
#![allow(missing_docs)]

use chronicle_core::Uuid;
use chronicle_file::format::{EventRecord, Record, decode_record, encode_record};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn record(data: &[u8]) -> Record<'_> {
    Record::Event(EventRecord {
        global_position: 42,
        version: 7,
        event_id: Uuid::now_v7(),
        recorded_at: 1_700_000_000_000_000,
        schema_version: 1,
        stream: "order-12345",
        event_type: "OrderPlaced",
        metadata: br#"{"correlation_id":"c-1"}"#,
        data,
    })
}

fn codec(c: &mut Criterion) {
    let data = format!(r#"{{"order_id":"order-1","note":"{}"}}"#, "x".repeat(260)).into_bytes();
    let mut g = c.benchmark_group("record");
    g.throughput(Throughput::Elements(1));
    let mut buf = Vec::with_capacity(512);
    g.bench_function("encode", |b| {
        b.iter(|| {
            buf.clear();
            encode_record(black_box(&record(&data)), &mut buf);
        })
    });
    buf.clear();
    encode_record(&record(&data), &mut buf);
    g.bench_function("decode", |b| b.iter(|| decode_record(black_box(&buf)).map(|(_, n)| n)));
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
