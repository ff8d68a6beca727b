//! TLS: a self-signed certificate generated here; the API answers over
//! https, a plain-HTTP request to the TLS port gets no answer, and a
//! client that does not trust the certificate is refused.

use std::{sync::Arc, time::Duration};

#[tokio::test]
async fn serves_over_tls_with_a_self_signed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = chronicle_testkit::tls::self_signed_certificate(dir.path());
    let (cert_path, key_path) = (cert.cert_path.clone(), cert.key_path.clone());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = chronicle_server::Server::new(Arc::new(chronicle_memory::MemoryStore::new()));
    let (c, k) = (cert_path.clone(), key_path.clone());
    let done = tokio::spawn(async move {
        server
            .serve_tls(listener, &c, &k, async move {
                let _ = stopped.await;
            })
            .await
    });

    let trusted = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.pem.as_bytes()).unwrap())
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .build()
        .unwrap();
    let url = format!("https://localhost:{port}");
    let mut ready = None;
    for _ in 0..100 {
        if let Ok(r) = trusted.get(format!("{url}/health/ready")).send().await {
            ready = Some(r.status());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(ready, Some(reqwest::StatusCode::OK));
    let appended = trusted
        .post(format!("{url}/streams/tls-1"))
        .header("content-type", "application/json")
        .body(r#"[{"event_type":"T","data":{"over":"tls"}}]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(appended.status(), 200);
    let events: serde_json::Value = trusted.get(format!("{url}/streams/tls-1")).send().await.unwrap().json().await.unwrap();
    assert_eq!(events[0]["data"]["over"], "tls");

    let untrusting = reqwest::Client::builder().resolve("localhost", ([127, 0, 0, 1], port).into()).build().unwrap();
    assert!(untrusting.get(format!("{url}/health/ready")).send().await.is_err(), "an unknown certificate is refused");
    let plain = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
    assert!(plain.get(format!("http://127.0.0.1:{port}/health/ready")).send().await.is_err(), "no plain HTTP on the TLS port");

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), done).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn a_missing_certificate_is_an_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = chronicle_server::Server::new(Arc::new(chronicle_memory::MemoryStore::new()));
    let missing = std::path::Path::new("/nonexistent/cert.pem");
    let err = server.serve_tls(listener, missing, missing, std::future::pending()).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}
