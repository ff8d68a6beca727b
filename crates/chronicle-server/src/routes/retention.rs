//! `POST /admin/retention`: one retention pass on demand.

use crate::{
    AppState,
    body::ErrorSchema,
    error::{ApiError, ApiResult},
};
use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
};
use chronicle_retention::PassReport;
use serde::Deserialize;

/// What `POST /admin/retention` takes.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RetentionQuery {
    /// Report what a pass would remove; change nothing.
    #[serde(default)]
    dry_run: bool,
}

/// Enforces the `[retention]` policies once: every stream a rule or the
/// default binds loses its expired prefix (events with a `keep` tag stop
/// the cut), then the space is reclaimed (file: the segments holding what
/// was cut are rewritten; PostgreSQL: the rows are deleted in small
/// batches and the table vacuumed). Answers when done, with the report per
/// rule. A pass that removed something is recorded in `$retention`.
/// Admin only; 404 when the server enforces no policy.
#[utoipa::path(post, path = "/admin/retention", tag = "ops", params(RetentionQuery),
    responses((status = 200, body = PassReport, description = "What the pass removed (or would, with dry_run)"),
        (status = 400, body = ErrorSchema), (status = 404, body = ErrorSchema, description = "No [retention] policy is configured")))]
pub(crate) async fn run(
    State(state): State<AppState>,
    query: Result<Query<RetentionQuery>, QueryRejection>,
) -> ApiResult<Json<PassReport>> {
    let Query(q) = query?;
    let retention = state.retention.as_ref().filter(|r| r.settings().is_active());
    let retention = retention.ok_or_else(|| ApiError::not_found("no retention policy: [retention] sets no default and no rule"))?;
    let report = retention.run("http", q.dry_run).await.map_err(|e| match e {
        chronicle_retention::RetentionError::Store(e) => ApiError::from(e),
        // Settings are checked when the server starts; a pass never reads them anew.
        other => ApiError::of(chronicle_wire::ErrorCode::Config, other.to_string()),
    })?;
    Ok(Json(report))
}
