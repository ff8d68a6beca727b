//! The RabbitMQ sink against the machine's broker, on an exchange and
//! queue of the test's own (removed at the end): with publisher confirms
//! the consumer sees every event id at least once, and the set is
//! complete, across a connection the broker closes mid-way.

mod common;

use chronicle_core::{EventStore, ExpectedVersion, NewEvent, StreamId, Uuid};
use chronicle_memory::MemoryStore;
use common::*;
use futures_util::StreamExt;
use lapin::{
    Connection, ConnectionProperties, ExchangeKind,
    options::{BasicAckOptions, BasicConsumeOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions},
    types::FieldTable,
};
use std::{collections::HashSet, sync::Arc, time::Duration};

const URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const EVENTS: u64 = 3_000;

/// Closes the broker side of the relay's connection (found by its
/// connection name) with `rabbitmqctl`; false when that is not possible.
fn close_relay_connection(sink: &str) -> bool {
    let Ok(out) = std::process::Command::new("rabbitmqctl").args(["-q", "list_connections", "pid", "client_properties"]).output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(line) = text.lines().find(|l| l.contains(&format!("chronicle-publish:{sink}"))) else { return false };
    let Some(pid) = line.split_whitespace().next() else { return false };
    std::process::Command::new("rabbitmqctl")
        .args(["-q", "close_connection", pid, "closed by the relay test"])
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_id_arrives_with_confirms_across_a_dropped_connection() {
    let Some(conn) = chronicle_testkit::service_or_skip("RabbitMQ", Connection::connect(URL, ConnectionProperties::default()).await) else {
        return;
    };
    let unique = Uuid::now_v7().simple().to_string();
    let (exchange, queue, sink) = (format!("relaytest-{unique}"), format!("relaytest-{unique}"), format!("rabbit-{}", &unique[20..]));
    let channel = conn.create_channel().await.unwrap();
    let durable = ExchangeDeclareOptions { durable: true, ..Default::default() };
    channel.exchange_declare(exchange.as_str().into(), ExchangeKind::Topic, durable, FieldTable::default()).await.unwrap();
    channel.queue_declare(queue.as_str().into(), QueueDeclareOptions::default(), FieldTable::default()).await.unwrap();
    channel
        .queue_bind(queue.as_str().into(), exchange.as_str().into(), "order.#".into(), QueueBindOptions::default(), FieldTable::default())
        .await
        .unwrap();

    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let text = format!(
        "[[sinks]]\nname = \"{sink}\"\nkind = \"rabbitmq\"\nurl = \"{URL}\"\nexchange = \"{exchange}\"\nsubject = \"{{category}}.{{event_type}}\"\ntimeout_ms = 3000\nretry_base_ms = 50\nretry_max_ms = 500\n"
    );
    let publisher = publisher(&store, &text);
    publisher.start();
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for chunk in 0..EVENTS / 10 {
                let events = (0..10).map(|i| NewEvent::json("Placed", &serde_json::json!({"n": chunk * 10 + i})).unwrap()).collect();
                store.append(&StreamId::new(format!("order-{}", chunk % 20)).unwrap(), ExpectedVersion::Any, events).await.unwrap();
                if chunk % 20 == 0 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        })
    };
    wait_for(60, "1,000 events delivered", || async { status(&publisher).await.delivered >= 1_000 }).await;
    let dropped = close_relay_connection(&sink);
    eprintln!("broker closed the relay's connection mid-way: {dropped}");
    let required = std::env::var(chronicle_testkit::REQUIRE_SERVICES).is_ok_and(|v| v == "1");
    assert!(dropped || !required, "rabbitmqctl could not close the relay's connection");
    writer.await.unwrap();
    wait_for(120, "every event confirmed", || async { status(&publisher).await.lag == 0 }).await;
    let s = status(&publisher).await;
    assert_eq!((s.dlq_size, s.checkpoint), (0, EVENTS), "{s:?}");
    publisher.stop().await;

    // Consume: every event id at least once, persistent, the set complete.
    let expected: HashSet<String> = (1..=EVENTS).map(|p| p.to_string()).collect();
    let mut seen_positions = HashSet::new();
    let mut ids = HashSet::new();
    let mut consumer = channel
        .basic_consume(queue.as_str().into(), "relaytest".into(), BasicConsumeOptions::default(), FieldTable::default())
        .await
        .unwrap();
    while seen_positions.len() < expected.len() {
        let delivery =
            tokio::time::timeout(Duration::from_secs(10), consumer.next()).await.expect("messages keep coming").unwrap().unwrap();
        let body: serde_json::Value = serde_json::from_slice(&delivery.data).unwrap();
        let props = &delivery.properties;
        assert_eq!(props.message_id().as_ref().unwrap().as_str(), body["event_id"].as_str().unwrap());
        assert_eq!(props.delivery_mode(), &Some(2), "persistent");
        assert_eq!(delivery.routing_key.as_str(), "order.Placed");
        ids.insert(body["event_id"].as_str().unwrap().to_owned());
        seen_positions.insert(body["global_position"].to_string());
        delivery.ack(BasicAckOptions::default()).await.unwrap();
    }
    assert_eq!(seen_positions, expected);
    assert_eq!(ids.len() as u64, EVENTS);
    channel.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()).await.unwrap();
    channel.exchange_delete(exchange.as_str().into(), Default::default()).await.unwrap();
}
