//! `GET /admin/export` and `POST /admin/import`: the lossless copy of a
//! store over HTTP (what `chronicle backup`, `restore` and `migrate` use
//! with `CHRONICLE_BACKEND=remote`). Lines are
//! [`LogItem`](chronicle_core::LogItem) JSON lines; an export ends with a
//! line `{"kind":"end","through":N}` (or `{"kind":"error",…}` when the
//! store failed midway), so a client always knows it got everything.

use crate::{
    AppState,
    body::ErrorSchema,
    error::{ApiError, ApiResult},
};
use axum::{
    Json,
    body::{Body, Bytes},
    extract::{Query, State, rejection::QueryRejection},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use chronicle_core::{ExportRange, LogItem};
use serde::{Deserialize, Serialize};

/// What `GET /admin/export` takes.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportQuery {
    /// Positions after this one (default 0: from the start).
    #[serde(default)]
    after: u64,
    /// Up to and including this position (default, and at most: the head when the export starts).
    through: Option<u64>,
}

/// Every stored fact of `(after, through]` in log order — events with
/// their positions, versions, ids, times and bytes; positions a scavenge
/// emptied; stream changes (deletes, retention settings) at the head they
/// were made — then the latest snapshots, every checkpoint and every
/// consumer group's progress, as
/// NDJSON, ending with `{"kind":"end","through":N}`; nothing but that
/// line when `after` is at or past the end. Admin only.
#[utoipa::path(get, path = "/admin/export", tag = "ops", params(ExportQuery),
    responses((status = 200, content_type = "application/x-ndjson", body = String,
        description = "One JSON line per item (`kind`: event, removed, metadata, delete, snapshot, checkpoint, group), then an `end` (or `error`) line")))]
pub(crate) async fn export(
    State(state): State<AppState>,
    principal: Option<axum::Extension<chronicle_core::Principal>>,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = query?;
    let store = state.granted(super::streams::caller(&principal));
    let head = store.head().await?;
    let through = q.through.unwrap_or(head).min(head);
    // Past the end there is nothing to export: an empty answer, like a read
    // from past the head.
    let reader = match q.after > through {
        true => chronicle_core::LogReader::from_items(Vec::new()),
        false => store.export_log(ExportRange { after: q.after, through }).await?,
    };
    let stream = futures_util::stream::unfold(Some(reader), move |reader| async move {
        let mut reader = reader?;
        let mut chunk = Vec::with_capacity(64 * 1024);
        while chunk.len() < 60 * 1024 {
            match reader.next().await {
                Some(Ok(item)) => item.write_json_line(&mut chunk),
                Some(Err(e)) => {
                    let (_, body) = chronicle_wire::error_body(&e);
                    let line = serde_json::json!({"kind": "error", "error": body});
                    chunk.extend_from_slice(format!("{line}\n").as_bytes());
                    return Some((Ok::<_, std::io::Error>(Bytes::from(chunk)), None));
                }
                None => {
                    chunk.extend_from_slice(format!("{{\"kind\":\"end\",\"through\":{through}}}\n").as_bytes());
                    return Some((Ok(Bytes::from(chunk)), None));
                }
            }
        }
        Some((Ok(Bytes::from(chunk)), Some(reader)))
    });
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"))], Body::from_stream(stream)).into_response())
}

/// What `POST /admin/import` answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ImportAnswer {
    /// Items stored.
    imported: usize,
    /// The store's head after the import.
    head: u64,
}

/// Stores exported items as they are (positions, versions, ids, times),
/// atomically: the first event must take the next position, versions
/// continue their streams, no id may be stored already — otherwise
/// nothing is stored (400 naming `items` with the reason, or 409 for an
/// id stored already). The body is NDJSON, one item per line, as
/// `GET /admin/export` writes them. Admin only.
#[utoipa::path(post, path = "/admin/import", tag = "ops",
    request_body(content = String, content_type = "application/x-ndjson", description = "One item per line, as GET /admin/export writes them"),
    responses((status = 200, body = ImportAnswer, description = "Everything was stored"),
        (status = 400, body = ErrorSchema, description = "A line is not an item (`items[N]`), or the items do not continue the store (`items`)"),
        (status = 409, body = ErrorSchema, description = "An event id is stored already")))]
pub(crate) async fn import(
    State(state): State<AppState>,
    principal: Option<axum::Extension<chronicle_core::Principal>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<ImportAnswer>> {
    let kind = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !kind.starts_with("application/x-ndjson") {
        return Err(ApiError::of(chronicle_wire::ErrorCode::UnsupportedMediaType, "send application/x-ndjson: one item per line"));
    }
    let mut items = Vec::new();
    for (n, line) in body.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let item = LogItem::parse_json_line(line).map_err(|e| ApiError::bad_request(format!("items[{n}]"), e.to_string()))?;
        items.push(item);
    }
    let imported = items.len();
    let store = state.granted(super::streams::caller(&principal));
    store.import_log(items).await?;
    Ok(Json(ImportAnswer { imported, head: store.head().await? }))
}
