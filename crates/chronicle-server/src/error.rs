//! Errors as JSON `{error, message, field?, …}` with the right status.

use axum::{
    Json,
    extract::rejection::{JsonRejection, PathRejection, QueryRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chronicle_core::Error;
use serde_json::{Value, json};

/// An API error: a status and a JSON body.
#[derive(Debug, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code (`invalid`, `too_large`, `wrong_expected_version`, …).
    pub error: &'static str,
    /// Human-readable message.
    pub message: String,
    /// The offending field, when one is to blame.
    pub field: Option<String>,
    /// Extra members of the body (expected/actual versions…).
    pub extra: Option<Value>,
}

impl ApiError {
    /// A 400 naming a field.
    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, error: "invalid", message: message.into(), field: Some(field.into()), extra: None }
    }

    /// A 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self { status: StatusCode::NOT_FOUND, error: "not_found", message: message.into(), field: None, extra: None }
    }

    fn plain(status: StatusCode, error: &'static str, message: String) -> Self {
        Self { status, error, message, field: None, extra: None }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let message = e.to_string();
        let kind = e.kind();
        match e {
            Error::Invalid { field, .. } => Self { field: Some(field), ..Self::plain(StatusCode::BAD_REQUEST, kind, message) },
            Error::TooLarge { field, limit, actual } => Self {
                field: Some(field),
                extra: Some(json!({"limit": limit, "actual": actual})),
                ..Self::plain(StatusCode::PAYLOAD_TOO_LARGE, kind, message)
            },
            Error::WrongExpectedVersion { stream, expected, actual } => Self {
                field: Some("expected_version".into()),
                extra: Some(json!({"stream_id": stream, "expected": expected, "actual": actual})),
                ..Self::plain(StatusCode::CONFLICT, kind, message)
            },
            Error::DuplicateEventId { event_id } => {
                Self { extra: Some(json!({"event_id": event_id})), ..Self::plain(StatusCode::CONFLICT, kind, message) }
            }
            Error::AppendConditionFailed { position } => {
                Self { extra: Some(json!({"position": position})), ..Self::plain(StatusCode::CONFLICT, kind, message) }
            }
            Error::StreamDeleted { stream } => {
                Self { extra: Some(json!({"stream_id": stream})), ..Self::plain(StatusCode::GONE, kind, message) }
            }
            Error::Unavailable { .. } => Self::plain(StatusCode::SERVICE_UNAVAILABLE, kind, message),
            Error::Unsupported { .. } => Self::plain(StatusCode::NOT_IMPLEMENTED, kind, message),
            Error::NotFound { .. } => Self::plain(StatusCode::NOT_FOUND, kind, message),
            Error::Locked { .. } => Self::plain(StatusCode::CONFLICT, kind, message),
            _ => Self::plain(StatusCode::INTERNAL_SERVER_ERROR, kind, message),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = match &r {
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            JsonRejection::BytesRejection(_) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        let error = match status {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::PAYLOAD_TOO_LARGE => "too_large",
            _ => "invalid",
        };
        Self { field: Some("body".into()), ..Self::plain(status, error, r.body_text()) }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self { field: Some("query".into()), ..Self::plain(StatusCode::BAD_REQUEST, "invalid", r.body_text()) }
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self { field: Some("path".into()), ..Self::plain(StatusCode::BAD_REQUEST, "invalid", r.body_text()) }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::Map::new();
        body.insert("error".into(), self.error.into());
        body.insert("message".into(), self.message.into());
        if let Some(field) = self.field {
            body.insert("field".into(), field.into());
        }
        if let Some(Value::Object(extra)) = self.extra {
            body.extend(extra);
        }
        (self.status, Json(Value::Object(body))).into_response()
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
