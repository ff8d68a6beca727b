use super::*;
use chronicle_core::Uuid;

/// One error of every core variant.
fn every_error() -> Vec<Error> {
    let s = StreamId::new("order-1").unwrap();
    vec![
        Error::Invalid { field: "events[0].data".into(), reason: "not well-formed JSON".into() },
        Error::TooLarge { field: "events[0].data".into(), limit: 10, actual: 20 },
        Error::SchemaViolation {
            field: "events[1].data".into(),
            event_type: "OrderCreated".into(),
            schema_version: 3,
            pointer: "/lines/0/qty".into(),
            reason: "minimum".into(),
        },
        Error::WrongExpectedVersion { stream: s.clone(), expected: ExpectedVersion::NoStream, actual: Some(3) },
        Error::DuplicateEventId { event_id: Uuid::now_v7() },
        Error::AppendConditionFailed { position: 7 },
        Error::StreamDeleted { stream: s },
        Error::NotFound { what: "no checkpoint named p".into() },
        Error::Locked { resource: "data directory /d".into() },
        Error::Unsupported { operation: "scavenge".into(), backend: "memory".into(), hint: " (only the file backend)".into() },
        Error::Unavailable { reason: "postgres down".into() },
        Error::Corrupted { location: "00000001.seg at 64".into(), reason: "checksum".into() },
        Error::Io { operation: "writing".into(), source: std::io::Error::other("disk full") },
        Error::Config { reason: "bad url".into() },
        Error::Forbidden { action: "append".into(), stream: "$projections".into(), token: "ci".into() },
    ]
}

#[test]
fn every_core_error_crosses_the_wire_unchanged() {
    let errors = every_error();
    let kinds: std::collections::BTreeSet<_> = errors.iter().map(Error::kind).collect();
    assert_eq!(kinds.len(), errors.len(), "one sample per variant");
    for e in errors {
        let (status, body) = error_body(&e);
        let code = ErrorCode::parse(e.kind()).expect("every core kind is a wire code");
        assert_eq!(status, code.status(), "{e}");
        let back = error_from_body(status, &serde_json::to_vec(&body).unwrap(), None);
        assert_eq!((back.kind(), back.to_string()), (e.kind(), e.to_string()), "{body:?}");
    }
}

#[test]
fn the_table_of_codes_and_statuses() {
    let table: Vec<(&str, u16)> = ErrorCode::ALL.iter().map(|c| (c.as_str(), c.status())).collect();
    assert_eq!(
        table,
        [
            ("invalid", 400),
            ("too_large", 413),
            ("schema_violation", 422),
            ("wrong_expected_version", 409),
            ("duplicate_event_id", 409),
            ("append_condition_failed", 409),
            ("stream_deleted", 410),
            ("not_found", 404),
            ("locked", 409),
            ("conflict", 409),
            ("unsupported", 501),
            ("unavailable", 503),
            ("corrupted", 500),
            ("io", 500),
            ("config", 500),
            ("unauthorized", 401),
            ("forbidden", 403),
            ("rate_limited", 429),
            ("unsupported_media_type", 415),
        ]
    );
    assert!(ErrorCode::ALL.iter().all(|c| ErrorCode::parse(c.as_str()) == Some(*c)));
    assert!(matches!(error_from_body(502, b"<html>bad gateway</html>", None), Error::Unavailable { .. }));
    assert!(matches!(error_from_body(401, br#"{"error":"unauthorized","message":"unknown token"}"#, None), Error::Config { .. }));
}
