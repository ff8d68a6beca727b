//! The schema registry: `PUT /schemas/{event_type}/{version}` (admin),
//! `GET /schemas`, `GET /schemas/{event_type}`. A registration is kept in
//! the store's `$schemas` stream and takes effect at once on this node
//! (other nodes of a shared store pick it up within seconds); a registered
//! version never changes.

use crate::{
    AppState,
    body::{ErrorSchema, Object},
    error::{ApiError, ApiResult},
};
use axum::{
    Json,
    extract::{Path, State, rejection::JsonRejection, rejection::PathRejection},
    http::StatusCode,
};
use chronicle_schema::{Catalog, Registration, SchemaError, UpcastFrom};
use chronicle_wire::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;

/// What `PUT /schemas/{event_type}/{version}` takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SchemaBody {
    /// The JSON Schema (an object) events of this type and version must match.
    #[schema(value_type = Object)]
    schema: Value,
    /// How events of an older version are lifted to this one:
    /// `{"from": N, "steps": [{"op": "set"|"rename"|"move"|"copy"|"drop"|"wrap", …}]}`.
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    upcast: Option<Value>,
}

/// A registered schema.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SchemaEntry {
    event_type: String,
    version: u32,
    #[schema(value_type = Object)]
    schema: Value,
}

/// An upcaster: the steps that lift `from` to `to` (`steps` is null for one written in code).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UpcasterEntry {
    event_type: String,
    from: u32,
    to: u32,
    #[schema(value_type = Option<Vec<Object>>)]
    steps: Option<Value>,
}

/// What `PUT` answers.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Registered {
    event_type: String,
    version: u32,
    /// `false`: exactly this was registered already.
    registered: bool,
}

/// Every schema and upcaster, and how appends are checked.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SchemasBody {
    /// `off`, `warn` or `enforce`.
    #[schema(value_type = String)]
    mode: chronicle_schema::Mode,
    /// `allow` or `reject` (event types without schemas).
    #[schema(value_type = String)]
    unknown: chronicle_schema::Unknown,
    schemas: Vec<SchemaEntry>,
    upcasters: Vec<UpcasterEntry>,
}

/// One event type's schemas and upcasters.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TypeBody {
    event_type: String,
    /// The version reads serve (the last one an upcaster chain or a schema reaches).
    latest: u32,
    schemas: Vec<SchemaEntry>,
    upcasters: Vec<UpcasterEntry>,
}

fn catalog(state: &AppState) -> ApiResult<&Arc<Catalog>> {
    state.catalog.as_ref().ok_or_else(|| {
        ApiError::of(ErrorCode::Unsupported, "schemas are not served by this node (a node on the remote backend leaves them to its server)")
    })
}

fn api_error(e: SchemaError) -> ApiError {
    match e {
        SchemaError::Invalid { field, reason } => ApiError::bad_request(field, reason),
        SchemaError::Conflict { .. } => ApiError { field: Some("schema".into()), ..ApiError::of(ErrorCode::Conflict, e.to_string()) },
        SchemaError::Store(e) => e.into(),
        other => ApiError::bad_request("upcast", other.to_string()),
    }
}

fn entries(catalog: &Catalog, only: Option<&str>) -> (Vec<SchemaEntry>, Vec<UpcasterEntry>) {
    let keep = |t: &str| only.is_none_or(|o| o == t);
    let schemas = catalog.schemas().list().into_iter().filter(|(t, ..)| keep(t));
    let schemas = schemas.map(|(event_type, version, schema)| SchemaEntry { event_type, version, schema }).collect();
    let chains = catalog.upcasters().chains().into_iter().filter(|(t, ..)| keep(t));
    let upcasters = chains
        .map(|(event_type, from, to, steps)| UpcasterEntry {
            event_type,
            from,
            to,
            steps: steps.and_then(|s| serde_json::to_value(s).ok()),
        })
        .collect();
    (schemas, upcasters)
}

/// Registers the JSON Schema of `event_type` at `version` (201; 200 when
/// exactly this is registered already), optionally with the upcast steps
/// from an older version. A registered version never changes: a different
/// schema for it is a 409. Admin only.
#[utoipa::path(put, path = "/schemas/{event_type}/{version}", tag = "schemas",
    params(("event_type" = String, Path, description = "Event type"), ("version" = u32, Path, description = "Schema version (from 1)")),
    request_body = SchemaBody,
    responses((status = 201, body = Registered, description = "Registered"), (status = 200, body = Registered, description = "Registered already"),
        (status = 400, body = ErrorSchema, description = "Not a valid JSON Schema, a bad step or version"),
        (status = 409, body = ErrorSchema, description = "The version is registered with a different schema"), (status = 501, body = ErrorSchema)))]
pub(crate) async fn put(
    State(state): State<AppState>,
    path: Result<Path<(String, u32)>, PathRejection>,
    body: Result<Json<Object<SchemaBody>>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Registered>)> {
    let Path((event_type, version)) = path?;
    let Json(Object(body)) = body?;
    let catalog = catalog(&state)?;
    if !body.schema.is_object() {
        return Err(ApiError::bad_request("schema", "must be a JSON Schema object"));
    }
    let upcast: Option<UpcastFrom> =
        body.upcast.map(serde_json::from_value).transpose().map_err(|e| ApiError::bad_request("upcast", e.to_string()))?;
    let registration = Registration { event_type: event_type.clone(), version, schema: body.schema, upcast };
    let registered = chronicle_schema::register(&*state.raw, catalog, &registration).await.map_err(api_error)?;
    Ok((if registered { StatusCode::CREATED } else { StatusCode::OK }, Json(Registered { event_type, version, registered })))
}

/// Every registered schema and upcaster, and how appends are checked.
#[utoipa::path(get, path = "/schemas", tag = "schemas", responses((status = 200, body = SchemasBody), (status = 501, body = ErrorSchema)))]
pub(crate) async fn list(State(state): State<AppState>) -> ApiResult<Json<SchemasBody>> {
    let catalog = catalog(&state)?;
    let (schemas, upcasters) = entries(catalog, None);
    Ok(Json(SchemasBody { mode: catalog.mode(), unknown: catalog.unknown(), schemas, upcasters }))
}

/// One event type's schemas and upcasters, and the version reads serve.
#[utoipa::path(get, path = "/schemas/{event_type}", tag = "schemas", params(("event_type" = String, Path, description = "Event type")),
    responses((status = 200, body = TypeBody), (status = 404, body = ErrorSchema, description = "No schema or upcaster for this type"),
        (status = 501, body = ErrorSchema)))]
pub(crate) async fn get(State(state): State<AppState>, path: Result<Path<String>, PathRejection>) -> ApiResult<Json<TypeBody>> {
    let Path(event_type) = path?;
    let catalog = catalog(&state)?;
    let (schemas, upcasters) = entries(catalog, Some(&event_type));
    if schemas.is_empty() && upcasters.is_empty() {
        return Err(ApiError::not_found(format!("no schema or upcaster for event type {event_type}")));
    }
    let latest = schemas.iter().map(|s| s.version).chain(upcasters.iter().map(|u| u.to)).max().unwrap_or(1);
    Ok(Json(TypeBody { event_type, latest, schemas, upcasters }))
}
