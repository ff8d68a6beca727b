//! Error codes, statuses and bodies: `{error, message, field?, …}`.

use chronicle_core::{Error, ExpectedVersion, StreamId};
use serde_json::{Map, Value, json};

/// Every `error` code the API answers with, and its HTTP status. The one
/// table both sides read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 400: a field is invalid (`field` names it).
    Invalid,
    /// 413: over a size limit (`limit`, `actual`).
    TooLarge,
    /// 422: an event does not match its registered JSON Schema (`field`,
    /// `event_type`, `schema_version`, `pointer`, `reason`).
    SchemaViolation,
    /// 409: the stream's version is not the expected one (`expected`, `actual`).
    WrongExpectedVersion,
    /// 409: an event id is stored already, and this is no retry of it.
    DuplicateEventId,
    /// 409: a DCB condition failed (`position`).
    AppendConditionFailed,
    /// 410: the stream is tombstoned.
    StreamDeleted,
    /// 404: nothing by that name or id.
    NotFound,
    /// 409: a resource is held by another process.
    Locked,
    /// 409: the resource exists with different settings (`field` names one).
    Conflict,
    /// 501: the backend does not offer the operation.
    Unsupported,
    /// 503: the store cannot serve now; retry.
    Unavailable,
    /// 500: stored data failed an integrity check.
    Corrupted,
    /// 500: an I/O operation failed.
    Io,
    /// 500: the configuration is invalid.
    Config,
    /// 401: no token, or an unknown one.
    Unauthorized,
    /// 403: the token's role does not allow the route, or its grants the
    /// action on the stream (`action`, `stream_id`, `token`).
    Forbidden,
    /// 429: over the rate limit (`Retry-After`).
    RateLimited,
    /// 415: the body is not `application/json`.
    UnsupportedMediaType,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [Self; 19] = [
        Self::Invalid,
        Self::TooLarge,
        Self::SchemaViolation,
        Self::WrongExpectedVersion,
        Self::DuplicateEventId,
        Self::AppendConditionFailed,
        Self::StreamDeleted,
        Self::NotFound,
        Self::Locked,
        Self::Conflict,
        Self::Unsupported,
        Self::Unavailable,
        Self::Corrupted,
        Self::Io,
        Self::Config,
        Self::Unauthorized,
        Self::Forbidden,
        Self::RateLimited,
        Self::UnsupportedMediaType,
    ];

    /// The code as it appears in a body (`error`); core errors use their
    /// [`kind`](chronicle_core::Error::kind).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::TooLarge => "too_large",
            Self::SchemaViolation => "schema_violation",
            Self::WrongExpectedVersion => "wrong_expected_version",
            Self::DuplicateEventId => "duplicate_event_id",
            Self::AppendConditionFailed => "append_condition_failed",
            Self::StreamDeleted => "stream_deleted",
            Self::NotFound => "not_found",
            Self::Locked => "locked",
            Self::Conflict => "conflict",
            Self::Unsupported => "unsupported",
            Self::Unavailable => "unavailable",
            Self::Corrupted => "corrupted",
            Self::Io => "io",
            Self::Config => "config",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::RateLimited => "rate_limited",
            Self::UnsupportedMediaType => "unsupported_media_type",
        }
    }

    /// The code named `code`, if any.
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == code)
    }

    /// The HTTP status this code is answered with.
    pub fn status(self) -> u16 {
        match self {
            Self::Invalid => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::WrongExpectedVersion | Self::DuplicateEventId | Self::AppendConditionFailed | Self::Locked | Self::Conflict => 409,
            Self::StreamDeleted => 410,
            Self::TooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::SchemaViolation => 422,
            Self::RateLimited => 429,
            Self::Corrupted | Self::Io | Self::Config => 500,
            Self::Unsupported => 501,
            Self::Unavailable => 503,
        }
    }

    /// The code of a core error.
    pub fn of(error: &Error) -> Self {
        Self::parse(error.kind()).unwrap_or(Self::Unavailable)
    }
}

/// The status and JSON body of a core error: `error` (the code),
/// `message` (readable), `field` when one is to blame, and the variant's
/// own members (`reason`, `limit`/`actual`, `stream_id`/`expected`/`actual`,
/// `event_id`, `position`, `location`, `what`, `resource`, `operation`/`backend`).
pub fn error_body(error: &Error) -> (u16, Map<String, Value>) {
    let code = ErrorCode::of(error);
    let mut body = Map::new();
    body.insert("error".into(), code.as_str().into());
    body.insert("message".into(), error.to_string().into());
    let extra = match error {
        Error::Invalid { field, reason } => json!({"field": field, "reason": reason}),
        Error::TooLarge { field, limit, actual } => json!({"field": field, "limit": limit, "actual": actual}),
        Error::SchemaViolation { field, event_type, schema_version, pointer, reason } => {
            json!({"field": field, "event_type": event_type, "schema_version": schema_version, "pointer": pointer, "reason": reason})
        }
        Error::WrongExpectedVersion { stream, expected, actual } => {
            json!({"field": "expected_version", "stream_id": stream, "expected": expected, "actual": actual})
        }
        Error::DuplicateEventId { event_id } => json!({"event_id": event_id}),
        Error::AppendConditionFailed { position } => json!({"position": position}),
        Error::StreamDeleted { stream } => json!({"stream_id": stream}),
        Error::Unavailable { reason } | Error::Config { reason } => json!({"reason": reason}),
        Error::Corrupted { location, reason } => json!({"location": location, "reason": reason}),
        Error::Io { operation, source } => json!({"operation": operation, "reason": source.to_string()}),
        Error::NotFound { what } => json!({"what": what}),
        Error::Locked { resource } => json!({"resource": resource}),
        Error::Unsupported { operation, backend, hint } => json!({"operation": operation, "backend": backend, "hint": hint}),
        Error::Forbidden { action, stream, token } => json!({"action": action, "stream_id": stream, "token": token}),
        _ => json!({}),
    };
    if let Value::Object(extra) = extra {
        body.extend(extra);
    }
    (code.status(), body)
}

/// The core error an error answer stands for (`context`: the stream the
/// request was about, for bodies that do not name it). Bodies that are not
/// JSON, and codes of the HTTP layer (401/403/429/415), become
/// [`Error::Unavailable`] or [`Error::Config`] with the server's message.
pub fn error_from_body(status: u16, body: &[u8], context: Option<&StreamId>) -> Error {
    let Ok(Value::Object(v)) = serde_json::from_slice::<Value>(body) else {
        let text: String = String::from_utf8_lossy(body).chars().take(200).collect();
        return Error::Unavailable { reason: format!("HTTP {status}: {text}") };
    };
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    let number = |k: &str| v.get(k).and_then(Value::as_u64);
    let message = text("message");
    let reason = || v.get("reason").and_then(Value::as_str).map_or_else(|| message.clone(), str::to_owned);
    let stream = || v.get("stream_id").and_then(Value::as_str).and_then(|s| StreamId::new(s).ok()).or_else(|| context.cloned());
    let bad = |what: &str| Error::Unavailable { reason: format!("unexpected answer from the server ({what}): {message}") };
    let code = ErrorCode::parse(&text("error"));
    match code {
        Some(ErrorCode::WrongExpectedVersion) => {
            let expected = v.get("expected").cloned().map(serde_json::from_value::<ExpectedVersion>);
            match (stream(), expected) {
                (Some(stream), Some(Ok(expected))) => Error::WrongExpectedVersion { stream, expected, actual: number("actual") },
                _ => bad("wrong_expected_version"),
            }
        }
        Some(ErrorCode::DuplicateEventId) => match v.get("event_id").and_then(Value::as_str).and_then(|s| s.parse().ok()) {
            Some(event_id) => Error::DuplicateEventId { event_id },
            None => bad("duplicate_event_id"),
        },
        Some(ErrorCode::AppendConditionFailed) => Error::AppendConditionFailed { position: number("position").unwrap_or(0) },
        Some(ErrorCode::StreamDeleted) => stream().map_or_else(|| bad("stream_deleted"), |stream| Error::StreamDeleted { stream }),
        Some(ErrorCode::TooLarge) => Error::TooLarge {
            field: text("field"),
            limit: number("limit").map_or(0, |n| n as usize),
            actual: number("actual").map_or(0, |n| n as usize),
        },
        Some(ErrorCode::SchemaViolation) => Error::SchemaViolation {
            field: text("field"),
            event_type: text("event_type"),
            schema_version: number("schema_version").map_or(0, |n| n as u32),
            pointer: text("pointer"),
            reason: reason(),
        },
        Some(ErrorCode::Invalid | ErrorCode::Conflict) => Error::Invalid { field: text("field"), reason: reason() },
        Some(ErrorCode::Corrupted) => {
            Error::Corrupted { location: v.get("location").and_then(Value::as_str).unwrap_or("server").to_owned(), reason: reason() }
        }
        Some(ErrorCode::Config) => Error::Config { reason: reason() },
        Some(ErrorCode::Io) => Error::Io { operation: text("operation"), source: std::io::Error::other(reason()) },
        Some(ErrorCode::NotFound) => Error::NotFound { what: v.get("what").and_then(Value::as_str).map_or(message.clone(), str::to_owned) },
        Some(ErrorCode::Locked) => Error::Locked { resource: text("resource") },
        Some(ErrorCode::Unsupported) => Error::Unsupported { operation: text("operation"), backend: text("backend"), hint: text("hint") },
        Some(ErrorCode::Forbidden) if v.contains_key("action") => {
            Error::Forbidden { action: text("action"), stream: text("stream_id"), token: text("token") }
        }
        Some(ErrorCode::Unauthorized | ErrorCode::Forbidden) => {
            Error::Config { reason: format!("the server refused the token (HTTP {status}): {message}") }
        }
        Some(ErrorCode::Unavailable) => Error::Unavailable { reason: reason() },
        _ if status == 404 => Error::NotFound { what: message },
        _ => Error::Unavailable { reason: format!("HTTP {status} {}: {message}", text("error")) },
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
