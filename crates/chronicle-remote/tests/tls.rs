//! The remote backend over TLS: a server with a self-signed certificate
//! generated here; a client trusting it appends, reads and subscribes
//! (`wss://`); a client that does not trust it is refused.

use chronicle_core::{EventStore, ExpectedVersion, Filter, NewEvent, ReadStream, StreamId, SubscribeFrom};
use chronicle_remote::RemoteStore;
use std::{sync::Arc, time::Duration};

#[tokio::test]
async fn appends_reads_and_subscribes_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let cert = chronicle_testkit::tls::self_signed_certificate(dir.path());
    let (cert_path, key_path) = (cert.cert_path.clone(), cert.key_path.clone());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://localhost:{}", listener.local_addr().unwrap().port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = chronicle_server::Server::new(Arc::new(chronicle_memory::MemoryStore::new()));
    tokio::spawn(async move {
        server
            .serve_tls(listener, &cert_path, &key_path, async move {
                let _ = stopped.await;
            })
            .await
    });

    let untrusting = RemoteStore::new(&url, None).unwrap();
    let refused = untrusting.read_stream(&StreamId::new("tls-1").unwrap(), ReadStream::default()).await;
    assert!(matches!(refused, Err(chronicle_core::Error::Unavailable { .. })), "{refused:?}");

    let store = RemoteStore::new(&url, None).unwrap().with_ca_certificate(cert.pem.as_bytes()).unwrap();
    let store = tokio::time::timeout(Duration::from_secs(10), store.check()).await.unwrap().unwrap();
    let mut live = store.subscribe(SubscribeFrom::Start, Filter::default()).await.unwrap();
    let stream = StreamId::new("tls-1").unwrap();
    store.append(&stream, ExpectedVersion::NoStream, vec![NewEvent::raw("T", &br#"{"over":"tls"}"#[..])]).await.unwrap();
    let read = store.read_stream(&stream, ReadStream::default()).await.unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].data.to_string(), r#"{"over":"tls"}"#);
    let delivered = tokio::time::timeout(Duration::from_secs(10), live.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(delivered.event_id, read[0].event_id, "the wss:// subscription delivers the event");

    assert!(store.clone().with_ca_certificate(b"not a certificate").is_err(), "a CA file without a certificate is an error");
    let _ = stop.send(());
}
