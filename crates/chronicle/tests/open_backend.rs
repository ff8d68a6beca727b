//! The factory opens the configured backend, or says clearly why not.

use chronicle::{BackendKind, Config, ConfigError, ExpectedVersion, NewEvent, StreamId, open};

#[cfg(feature = "memory")]
#[tokio::test]
async fn memory_backend_opens_with_configured_limits() {
    let config = Config::from_toml("backend = \"memory\"\n[limits]\nmax_data_bytes = 16\n").unwrap();
    let store = open(&config).await.unwrap();
    let s = StreamId::new("x-1").unwrap();
    store.append(&s, ExpectedVersion::Any, vec![NewEvent::raw("T", &b"[1,2,3]"[..])]).await.unwrap();
    let big = NewEvent::raw("T", format!("\"{}\"", "x".repeat(20)).into_bytes());
    let err = store.append(&s, ExpectedVersion::Any, vec![big]).await.unwrap_err();
    assert_eq!(err.kind(), "too_large");
}

/// A backend left out of the build (`cargo test -p chronicle` builds the
/// default features only) names the cargo feature to enable.
#[cfg(not(feature = "memory"))]
#[tokio::test]
async fn a_backend_left_out_of_the_build_names_its_feature() {
    let err = open(&Config { backend: BackendKind::Memory, ..Config::default() }).await.unwrap_err();
    assert!(matches!(err, ConfigError::BackendUnavailable { backend: BackendKind::Memory, .. }), "{err:?}");
    assert!(err.to_string().contains("`memory` feature"), "{err}");
}

#[tokio::test]
async fn unavailable_backends_fail_with_a_clear_error() {
    for backend in [BackendKind::Postgres, BackendKind::Remote] {
        // postgres without a database URL, remote without a server URL
        let err = open(&Config { backend, ..Config::default() }).await.unwrap_err();
        assert!(matches!(err, ConfigError::BackendUnavailable { .. }), "{err:?}");
        assert!(err.to_string().contains(&backend.to_string()), "{err}");
    }
}

#[tokio::test]
async fn file_backend_opens_at_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config { data_dir: dir.path().join("store"), ..Config::default() };
    assert_eq!(config.backend, BackendKind::File, "file is the default");
    let store = open(&config).await.unwrap();
    store.append(&StreamId::new("x-1").unwrap(), ExpectedVersion::Any, vec![NewEvent::raw("T", &b"1"[..])]).await.unwrap();
    drop(store);
    assert!(dir.path().join("store/segments").is_dir());
    assert_eq!(chronicle::verify(&dir.path().join("store"), |_, _| {}).unwrap().events, 1);
}
