//! SSE: a subscriber connected mid-history gets every event once, in order,
//! across the catch-up→live boundary, and resumes after a disconnect with
//! Last-Event-ID without gaps; on shutdown it is told.

mod common;

use futures_util::StreamExt;
use std::time::Duration;

/// Reads SSE frames from a response: (event, id, data).
struct Frames {
    stream: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
}

impl Frames {
    fn new(r: reqwest::Response) -> Self {
        Self { stream: r.bytes_stream().boxed(), buf: String::new() }
    }

    async fn next(&mut self) -> (String, Option<u64>, String) {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = (String::from("message"), None, String::new());
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data += v.trim_start();
                    }
                }
                if frame.trim_start().starts_with(':') {
                    continue; // keep-alive comment
                }
                return (event, id, data);
            }
            let chunk =
                tokio::time::timeout(Duration::from_secs(10), self.stream.next()).await.expect("SSE stalled").expect("SSE ended").unwrap();
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

async fn append(s: &common::Running, n: u64) {
    let body = serde_json::json!([{"event_type": "T", "data": {"n": n}}]).to_string();
    assert_eq!(s.post_json(&format!("/streams/s-{}", n % 3), &body).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mid_history_subscriber_crosses_into_live_and_resumes() {
    let s = common::start().await;
    for n in 1..=50 {
        append(&s, n).await;
    }
    let r = s.http.get(s.at("/subscribe?from=20")).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut frames = Frames::new(r);
    let writer = {
        let (http, url) = (s.http.clone(), s.url.clone());
        tokio::spawn(async move {
            for n in 51..=120u64 {
                let body = serde_json::json!([{"event_type": "T", "data": {"n": n}}]).to_string();
                http.post(format!("{url}/streams/s-{}", n % 3)).header("content-type", "application/json").body(body).send().await.unwrap();
            }
        })
    };
    let mut last = 19;
    for _ in 20..=80 {
        let (event, id, data) = frames.next().await;
        let id = id.unwrap();
        assert_eq!((event.as_str(), id), ("event", last + 1), "in order, no gap, no duplicate");
        let v: serde_json::Value = serde_json::from_str(&data).unwrap();
        assert_eq!(v["global_position"].as_u64(), Some(id));
        last = id;
    }
    drop(frames); // disconnect mid-stream
    writer.await.unwrap();
    let r = s.http.get(s.at("/subscribe")).header("Last-Event-ID", last.to_string()).send().await.unwrap();
    let mut frames = Frames::new(r);
    for expected in last + 1..=120 {
        assert_eq!(frames.next().await.1, Some(expected));
    }
    append(&s, 121).await;
    assert_eq!(frames.next().await.1, Some(121));
    // Shutdown tells the subscriber, then the server stops.
    let common::Running { stop, done, .. } = s;
    stop.unwrap().send(()).unwrap();
    let (event, _, _) = frames.next().await;
    assert_eq!(event, "shutdown");
    tokio::time::timeout(Duration::from_secs(10), done).await.expect("graceful shutdown finished").unwrap().unwrap();
}
