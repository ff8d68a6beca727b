//! `GET /ws`: a subscriber connected mid-history gets every event once, in
//! order, across the catch-up → live boundary, and resumes after a
//! disconnect without gaps; 100 concurrent subscribers all get everything;
//! a shutdown closes with 1001.

mod common;

use futures_util::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::{connect_async, tungstenite::Message};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn append(s: &common::Running, stream: &str, n: u64) {
    let events: Vec<Value> = (0..n).map(|i| json!({"event_type": "T", "data": {"i": i}})).collect();
    assert_eq!(s.post_json(&format!("/streams/{stream}"), &Value::from(events).to_string()).await.status(), 200);
}

async fn connect(s: &common::Running, query: &str) -> Socket {
    let url = format!("{}/ws?{query}", s.url.replace("http://", "ws://"));
    connect_async(url).await.unwrap().0
}

/// The next `n` event positions from `socket`.
async fn positions(socket: &mut Socket, n: usize) -> Vec<u64> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        let msg = tokio::time::timeout(Duration::from_secs(10), socket.next()).await.expect("an event in time").unwrap().unwrap();
        if let Message::Text(text) = msg {
            let e: Value = serde_json::from_str(&text).unwrap();
            got.push(e["global_position"].as_u64().unwrap());
        }
    }
    got
}

#[tokio::test]
async fn catch_up_then_live_then_resume_without_gaps() {
    let s = common::start().await;
    append(&s, "a-1", 50).await;
    let mut socket = connect(&s, "from=20").await;
    let writer = {
        let (url, http) = (s.url.clone(), s.http.clone());
        tokio::spawn(async move {
            for i in 0..50 {
                let body = json!([{"event_type": "T", "data": {"live": i}}]).to_string();
                let r = http.post(format!("{url}/streams/a-2")).header("content-type", "application/json").body(body).send().await.unwrap();
                assert_eq!(r.status(), 200);
            }
        })
    };
    let first = positions(&mut socket, 81).await;
    writer.await.unwrap();
    assert_eq!(first, (20..=100).collect::<Vec<_>>(), "every event once, in order, across the boundary");
    socket.close(None).await.unwrap();

    append(&s, "a-1", 10).await;
    let last = *first.last().unwrap();
    let mut again = connect(&s, &format!("from={}", last + 1)).await;
    assert_eq!(positions(&mut again, 10).await, (101..=110).collect::<Vec<_>>());

    // Filters: one stream only.
    let mut one = connect(&s, "from=1&stream_id=a-2").await;
    let only = positions(&mut one, 50).await;
    assert_eq!(only, (51..=100).collect::<Vec<_>>());

    // Shutdown closes with 1001 and a reason.
    s.shutdown().await;
    let mut close = None;
    while let Some(Ok(msg)) = again.next().await {
        if let Message::Close(frame) = msg {
            close = frame;
            break;
        }
    }
    let frame = close.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1001);
    assert!(frame.reason.contains("from=last+1"));
}

#[tokio::test]
async fn a_hundred_subscribers_all_receive_every_event() {
    let s = common::start().await;
    let mut sockets = Vec::new();
    for _ in 0..100 {
        sockets.push(connect(&s, "from=1").await);
    }
    append(&s, "fan-1", 200).await;
    let readers: Vec<_> = sockets.into_iter().map(|mut socket| tokio::spawn(async move { positions(&mut socket, 200).await })).collect();
    for r in readers {
        assert_eq!(r.await.unwrap(), (1..=200).collect::<Vec<_>>());
    }
    s.shutdown().await;
}

#[tokio::test]
async fn bad_parameters_are_refused_before_the_upgrade() {
    let s = common::start().await;
    let url = format!("{}/ws?from=0", s.url.replace("http://", "ws://"));
    let err = connect_async(url).await.unwrap_err();
    match err {
        tokio_tungstenite::tungstenite::Error::Http(response) => assert_eq!(response.status(), 400),
        other => panic!("expected an HTTP 400, got {other}"),
    }
    let plain = s.http.get(s.at("/ws?from=1")).send().await.unwrap();
    assert_eq!(plain.status(), 400, "a plain GET is not a WebSocket handshake");
    s.shutdown().await;
}
