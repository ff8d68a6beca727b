//! Errors as JSON `{error, message, field?, …}` with the right status.

use axum::{
    Json,
    extract::rejection::{JsonRejection, PathRejection, QueryRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chronicle_core::Error;
use chronicle_wire::{ErrorCode, error_body};
use serde_json::Value;

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
        Self { field: Some(field.into()), ..Self::of(ErrorCode::Invalid, message) }
    }

    /// A 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::of(ErrorCode::NotFound, message)
    }

    /// An error with `code` and its status (the table of `chronicle-wire`).
    pub fn of(code: ErrorCode, message: impl Into<String>) -> Self {
        let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self { status, error: code.as_str(), message: message.into(), field: None, extra: None }
    }
}

/// The body `chronicle-wire` gives a core error, with its status.
impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let code = ErrorCode::of(&e);
        let (_, mut body) = error_body(&e);
        body.remove("error");
        let message = body.remove("message").and_then(|m| m.as_str().map(str::to_owned)).unwrap_or_default();
        let field = body.remove("field").and_then(|f| f.as_str().map(str::to_owned));
        Self { field, extra: (!body.is_empty()).then_some(Value::Object(body)), ..Self::of(code, message) }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let code = match &r {
            JsonRejection::MissingJsonContentType(_) => ErrorCode::UnsupportedMediaType,
            JsonRejection::BytesRejection(_) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::TooLarge,
            _ => ErrorCode::Invalid,
        };
        Self { field: Some("body".into()), ..Self::of(code, r.body_text()) }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self { field: Some("query".into()), ..Self::of(ErrorCode::Invalid, r.body_text()) }
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self { field: Some("path".into()), ..Self::of(ErrorCode::Invalid, r.body_text()) }
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
        let mut denial = None;
        if let Some(Value::Object(extra)) = self.extra {
            if self.error == ErrorCode::Forbidden.as_str()
                && let (Some(action), Some(stream)) =
                    (extra.get("action").and_then(Value::as_str), extra.get("stream_id").and_then(Value::as_str))
            {
                denial = Some(crate::audit::Denial { action: action.to_owned(), stream: stream.to_owned() });
            }
            body.extend(extra);
        }
        let mut response = (self.status, Json(Value::Object(body))).into_response();
        if let Some(denial) = denial {
            response.extensions_mut().insert(denial); // for the audit record
        }
        response
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
