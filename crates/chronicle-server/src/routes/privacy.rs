//! `/privacy/…` (admin): forget a subject (crypto-shredding), rotate a
//! subject's data key or the key-encryption key, key status. 404 when the
//! server has no `[privacy]` layer.

use crate::{
    AppState,
    body::ErrorSchema,
    error::{ApiError, ApiResult},
};
use axum::{
    Extension, Json,
    extract::{Path, State, rejection::PathRejection},
};
use chronicle_core::Principal;
use chronicle_privacy::Privacy;
use serde::Serialize;
use std::{collections::BTreeMap, sync::Arc};
use utoipa::ToSchema;

/// What a forget did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ForgetBody {
    /// The subject.
    subject: String,
    /// Every data key of the subject up to this generation is destroyed.
    through: u32,
    /// Keys destroyed by this call (0 when they were gone already).
    keys_destroyed: u64,
    /// Who asked (the token id).
    by: String,
}

/// The keys in use.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KeyStatusBody {
    /// The current key-encryption key's id (a hash prefix, not the key).
    kek_id: String,
    /// Older KEKs still configured.
    previous_kek_ids: Vec<String>,
    /// Where the data keys are.
    key_store: String,
    /// Subjects with a live data key.
    subjects: u64,
    /// Live data keys.
    keys: u64,
    /// Subjects forgotten.
    forgotten: u64,
    /// Live data keys per KEK id (all under `kek_id` once a rotation is done).
    by_kek: BTreeMap<String, u64>,
}

/// What a KEK rotation did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RotateKekBody {
    /// The KEK every data key is wrapped with now.
    kek_id: String,
    /// Data keys re-wrapped by this call (0: all were already).
    rewrapped: u64,
}

/// What a subject's key rotation did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RotateBody {
    /// The subject.
    subject: String,
    /// The generation of its new data key (new events use it; older ones keep theirs).
    generation: u32,
}

fn privacy(state: &AppState) -> ApiResult<&Arc<Privacy>> {
    state.privacy.as_ref().ok_or_else(|| ApiError::not_found("no [privacy] layer: this server encrypts no fields"))
}

fn who(principal: &Option<Extension<Principal>>) -> String {
    principal.as_ref().map_or_else(|| "anonymous".to_owned(), |Extension(p)| p.token_id.clone())
}

fn subject(path: Result<Path<String>, PathRejection>) -> ApiResult<String> {
    let Path(subject) = path?;
    if subject.is_empty() || subject.len() > 255 || subject.chars().any(char::is_control) {
        return Err(ApiError::bad_request("subject", "1 to 255 bytes, no control characters"));
    }
    Ok(subject)
}

fn failed(e: chronicle_privacy::PrivacyError) -> ApiError {
    ApiError::from(chronicle_core::Error::from(e))
}

/// Forgets a subject: destroys every data key of theirs (in the key store, which no backup of the log holds) and
/// records a `SubjectForgotten` event in `$privacy`. From then on every read shows their encrypted fields as
/// `{"$erased": true}` — also in backups restored later. Events, positions and versions stay. Admin only.
#[utoipa::path(post, path = "/privacy/forget/{subject}", tag = "privacy", params(("subject" = String, Path, description = "The subject's id (what the configured subject pointer holds)")),
    responses((status = 200, body = ForgetBody), (status = 400, body = ErrorSchema), (status = 404, body = ErrorSchema, description = "No [privacy] layer")))]
pub(crate) async fn forget(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<ForgetBody>> {
    let subject = subject(path)?;
    let privacy = privacy(&state)?;
    let f = privacy.forget(&*state.raw, &subject, &who(&principal)).await.map_err(failed)?;
    Ok(Json(ForgetBody { subject: f.subject, through: f.through, keys_destroyed: f.keys_destroyed, by: f.by }))
}

/// The key-encryption key in use and the data keys per KEK. Admin only.
#[utoipa::path(get, path = "/privacy/keys", tag = "privacy",
    responses((status = 200, body = KeyStatusBody), (status = 404, body = ErrorSchema, description = "No [privacy] layer")))]
pub(crate) async fn status(State(state): State<AppState>) -> ApiResult<Json<KeyStatusBody>> {
    let s = privacy(&state)?.status().await.map_err(failed)?;
    Ok(Json(KeyStatusBody {
        kek_id: s.kek_id,
        previous_kek_ids: s.previous_kek_ids,
        key_store: s.key_store,
        subjects: s.counts.subjects,
        keys: s.counts.keys,
        forgotten: s.counts.forgotten,
        by_kek: s.counts.by_kek,
    }))
}

/// Re-wraps every data key not yet under the current key-encryption key (start the server with the new `kek_file`
/// and the old one in `previous_kek_files` first). Events are not touched; resumable (a second call continues).
/// Recorded as `KekRotated` in `$privacy`. Admin only.
#[utoipa::path(post, path = "/privacy/keys/rotate-kek", tag = "privacy",
    responses((status = 200, body = RotateKekBody), (status = 404, body = ErrorSchema, description = "No [privacy] layer")))]
pub(crate) async fn rotate_kek(State(state): State<AppState>, principal: Option<Extension<Principal>>) -> ApiResult<Json<RotateKekBody>> {
    let privacy = privacy(&state)?;
    let rewrapped = privacy.rotate_kek(&*state.raw, &who(&principal), &mut |_| {}).await.map_err(failed)?;
    let kek_id = privacy.status().await.map_err(failed)?.kek_id;
    Ok(Json(RotateKekBody { kek_id, rewrapped }))
}

/// Starts a new data key for a subject's future events (older events stay readable with theirs). Recorded as
/// `SubjectKeyRotated` in `$privacy`. Admin only.
#[utoipa::path(post, path = "/privacy/subjects/{subject}/rotate", tag = "privacy", params(("subject" = String, Path, description = "The subject's id")),
    responses((status = 200, body = RotateBody), (status = 400, body = ErrorSchema), (status = 404, body = ErrorSchema, description = "No [privacy] layer")))]
pub(crate) async fn rotate(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<RotateBody>> {
    let subject = subject(path)?;
    let generation = privacy(&state)?.rotate(&*state.raw, &subject, &who(&principal)).await.map_err(failed)?;
    Ok(Json(RotateBody { subject, generation }))
}
