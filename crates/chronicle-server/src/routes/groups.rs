//! Consumer groups: create, list, inspect, delete; consume over a
//! WebSocket with acks and nacks; parked events and their replay.

use crate::{
    AppState,
    body::{ErrorSchema, Object},
    error::{ApiError, ApiResult},
};
use axum::{
    Json,
    extract::{
        Path, State,
        rejection::{JsonRejection, PathRejection},
        ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code},
    },
    http::StatusCode,
    response::Response,
};
use chronicle_groups::{
    Consumer, ConsumerMessage, GroupError, GroupSpec, GroupStatus, Groups, GroupsBody, NackAction, ParkedBody, ReplayedBody,
};
use chronicle_publish::SelectionBody;
use chronicle_wire::ErrorCode;
use futures_util::SinkExt;
use std::sync::Arc;

impl From<GroupError> for ApiError {
    fn from(e: GroupError) -> Self {
        match e {
            GroupError::Store(e) => e.into(),
            GroupError::Invalid { ref field, ref reason } => ApiError::bad_request(field.clone(), reason.clone()),
            GroupError::Conflict { ref field, .. } => {
                Self { field: Some(field.clone()), ..ApiError::of(ErrorCode::Conflict, e.to_string()) }
            }
            GroupError::NotParked { .. } => Self { field: Some("event_ids".into()), ..ApiError::not_found(e.to_string()) },
            e => ApiError::not_found(e.to_string()),
        }
    }
}

fn groups(state: &AppState) -> ApiResult<Arc<Groups>> {
    state.groups.clone().ok_or_else(|| {
        ApiError::of(
            ErrorCode::Unsupported,
            "consumer groups are not served by this node (the file, memory and postgres backends serve them; a node on the remote backend does not)",
        )
    })
}

/// Creates a consumer group (201) or changes its tuning (200): `strategy`,
/// `max_retries`, `ack_timeout_ms`, `max_in_flight`; a different `filter`
/// or `from` is a 409 naming the field. Admin only.
#[utoipa::path(put, path = "/subscriptions/{group}", tag = "subscriptions", params(("group" = String, Path, description = "Group name")),
    request_body = GroupSpec,
    responses((status = 200, body = GroupStatus, description = "Updated"), (status = 201, body = GroupStatus, description = "Created"),
        (status = 409, body = ErrorSchema, description = "The filter or start differs from the existing group's"), (status = 501, body = ErrorSchema)))]
pub(crate) async fn put(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<Object<GroupSpec>>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<GroupStatus>)> {
    let Path(name) = path?;
    let Json(Object(spec)) = body?;
    let groups = groups(&state)?;
    let created = groups.put(&name, spec).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(groups.status(&name).await?)))
}

/// Every consumer group with its checkpoint, lag, in-flight and parked counts and connected consumers.
#[utoipa::path(get, path = "/subscriptions", tag = "subscriptions", responses((status = 200, body = GroupsBody), (status = 501, body = ErrorSchema)))]
pub(crate) async fn list(State(state): State<AppState>) -> ApiResult<Json<GroupsBody>> {
    Ok(Json(GroupsBody { groups: groups(&state)?.list().await? }))
}

/// One consumer group's status.
#[utoipa::path(get, path = "/subscriptions/{group}", tag = "subscriptions", params(("group" = String, Path, description = "Group name")),
    responses((status = 200, body = GroupStatus), (status = 404, body = ErrorSchema), (status = 501, body = ErrorSchema)))]
pub(crate) async fn get(State(state): State<AppState>, path: Result<Path<String>, PathRejection>) -> ApiResult<Json<GroupStatus>> {
    let Path(name) = path?;
    Ok(Json(groups(&state)?.status(&name).await?))
}

/// Deletes a consumer group: its consumers are disconnected, its parked events discarded. Admin only.
#[utoipa::path(delete, path = "/subscriptions/{group}", tag = "subscriptions", params(("group" = String, Path, description = "Group name")),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorSchema), (status = 501, body = ErrorSchema)))]
pub(crate) async fn delete(State(state): State<AppState>, path: Result<Path<String>, PathRejection>) -> ApiResult<StatusCode> {
    let Path(name) = path?;
    groups(&state)?.delete(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A consumer group's parked events, oldest first.
#[utoipa::path(get, path = "/subscriptions/{group}/parked", tag = "subscriptions", params(("group" = String, Path, description = "Group name")),
    responses((status = 200, body = ParkedBody), (status = 404, body = ErrorSchema), (status = 501, body = ErrorSchema)))]
pub(crate) async fn parked(State(state): State<AppState>, path: Result<Path<String>, PathRejection>) -> ApiResult<Json<ParkedBody>> {
    let Path(name) = path?;
    let entries = groups(&state)?.parked(&name).await?;
    Ok(Json(ParkedBody { group: name, size: entries.len() as u64, entries }))
}

/// Sends parked events back to the group's consumers (admin): body
/// `{"event_ids": [...]}` or `{"all": true}`; 404 naming `event_ids` when
/// one is not parked (nothing is replayed then).
#[utoipa::path(post, path = "/subscriptions/{group}/parked/replay", tag = "subscriptions", params(("group" = String, Path, description = "Group name")),
    request_body = SelectionBody,
    responses((status = 200, body = ReplayedBody), (status = 404, body = ErrorSchema), (status = 501, body = ErrorSchema)))]
pub(crate) async fn replay(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<Object<SelectionBody>>, JsonRejection>,
) -> ApiResult<Json<ReplayedBody>> {
    let Path(name) = path?;
    let Json(Object(body)) = body?;
    let selection = body.selection().map_err(|(field, reason)| ApiError::bad_request(field, reason))?;
    let event_ids = groups(&state)?.replay_parked(&name, &selection).await?;
    Ok(Json(ReplayedBody { group: name, event_ids }))
}

/// Consumes a group over a WebSocket. The server sends `{"event": {…}, "retry_count": N}` per event (up to the group's
/// `max_in_flight` unacknowledged); the client sends `{"ack": [event_ids]}` or `{"nack": [event_ids], "action":
/// "retry"|"park"|"skip"}`. Unacknowledged events go to other consumers after `ack_timeout_ms` or when this one
/// disconnects. A bad message is answered with `{"error", "message", "field"}`; close 1001 on shutdown, 1011 when the
/// group is deleted or the store fails.
#[utoipa::path(get, path = "/subscriptions/{group}/connect", tag = "subscriptions", params(("group" = String, Path, description = "Group name")),
    responses((status = 101, description = "WebSocket of deliveries and acks"), (status = 400, body = ErrorSchema), (status = 404, body = ErrorSchema),
        (status = 501, body = ErrorSchema)))]
pub(crate) async fn connect(
    State(state): State<AppState>,
    principal: Option<axum::Extension<chronicle_core::Principal>>,
    path: Result<Path<String>, PathRejection>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let Path(name) = path?;
    let groups = groups(&state)?;
    let status = groups.status(&name).await?; // 404 before the upgrade
    if let Some(who) = super::streams::caller(&principal)
        && !who.reads_all_of(&status.spec.filter.to_filter("filter.")?)
    {
        // A consumer takes whatever the group delivers: it must be allowed to read all of it.
        let stream = format!("the streams of group {name}");
        return Err(chronicle_core::Error::Forbidden { action: "read".into(), stream, token: who.token_id.clone() }.into());
    }
    let upgrade = super::ws::handshake(upgrade)?;
    let consumer = groups.connect(&name).await?;
    let revealer = state.privacy.as_ref().map(|p| {
        let caller = super::streams::caller(&principal);
        let revealer = chronicle_privacy::Revealer::new(
            p.keyring().clone(),
            crate::clearance(caller),
            caller.map_or("anonymous", |p| p.token_id.as_str()),
        );
        match caller {
            Some(who) => revealer.with_grants(who),
            None => revealer,
        }
    });
    // A tenant's consumer sees its events as the tenant names them.
    let space = super::streams::caller(&principal).and_then(|p| p.confined_tenant()).map(chronicle_core::TenantSpace::new);
    Ok(upgrade.on_upgrade(move |socket| serve_consumer(socket, TenantConsumer { consumer, space }, state, revealer)))
}

fn close(code: u16, reason: String) -> Message {
    Message::Close(Some(CloseFrame { code, reason: reason.into() }))
}

/// A delivered event as this consumer may see it: in the current shape,
/// encrypted fields revealed by its clearance.
async fn shown(
    state: &AppState,
    revealer: Option<&chronicle_privacy::Revealer>,
    event: chronicle_core::RecordedEvent,
) -> chronicle_core::Result<chronicle_core::RecordedEvent> {
    let event = match &state.catalog {
        Some(c) => c.shape(event),
        None => event,
    };
    match revealer {
        Some(r) => r.event(event).await,
        None => Ok(event),
    }
}

/// A connected consumer and, for a tenant's token, the tenant's names.
struct TenantConsumer {
    consumer: Consumer,
    space: Option<chronicle_core::TenantSpace>,
}

async fn serve_consumer(mut socket: WebSocket, consumer: TenantConsumer, state: AppState, revealer: Option<chronicle_privacy::Revealer>) {
    let mut shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            next = consumer.consumer.next() => match next {
                Ok(batch) => {
                    // One flush per batch, not per event.
                    for d in batch {
                        let event = match shown(&state, revealer.as_ref(), d.event).await {
                            Ok(e) => match &consumer.space {
                                Some(space) => match space.event_out(e) {
                                    Some(e) => e,
                                    None => continue, // never: the group's filter is inside the tenant
                                },
                                None => e,
                            },
                            Err(e) => {
                                let _ = socket.send(close(close_code::ERROR, e.to_string())).await;
                                return;
                            }
                        };
                        if socket.feed(Message::Text(chronicle_groups::delivery_json(&event, d.retry_count).into())).await.is_err() {
                            return;
                        }
                    }
                    if socket.flush().await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = socket.send(close(close_code::ERROR, e.to_string())).await;
                    return;
                }
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if let Err(reply) = handle(&consumer, text.as_str()).await {
                        let body = serde_json::json!({"error": reply.error, "message": reply.message, "field": reply.field});
                        if socket.send(Message::Text(body.to_string().into())).await.is_err() {
                            return;
                        }
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            () = async { let _ = shutdown.wait_for(|stop| *stop).await.map(|_| ()); } => {
                let _ = socket.send(close(close_code::AWAY, "server shutting down; reconnect".into())).await;
                // Acks the client sent before it saw the close still count
                // (so nothing it handled is redelivered after the restart).
                let drain = async {
                    while let Some(Ok(message)) = socket.recv().await {
                        match message {
                            Message::Text(text) => {
                                let _ = handle(&consumer, text.as_str()).await;
                            }
                            Message::Close(_) => return,
                            _ => {}
                        }
                    }
                };
                let _ = tokio::time::timeout(std::time::Duration::from_secs(2), drain).await;
                return;
            }
        }
    }
}

async fn handle(consumer: &TenantConsumer, text: &str) -> ApiResult<()> {
    let message: ConsumerMessage = serde_json::from_str(text).map_err(|e| ApiError::bad_request("message", e.to_string()))?;
    let stored = |ids: Option<Vec<chronicle_core::Uuid>>| match &consumer.space {
        Some(space) => ids.map(|ids| ids.into_iter().map(|id| space.id_in(id)).collect::<Vec<_>>()),
        None => ids,
    };
    let consumer = &consumer.consumer;
    match (stored(message.ack), stored(message.nack)) {
        (Some(ids), None) => Ok(consumer.ack(&ids).await?),
        (None, Some(ids)) => Ok(consumer.nack(&ids, message.action.unwrap_or(NackAction::Retry)).await?),
        _ => Err(ApiError::bad_request("message", "send {\"ack\": [ids]} or {\"nack\": [ids], \"action\": …}")),
    }
}
