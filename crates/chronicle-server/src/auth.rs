//! Bearer tokens with roles, checked on every route but the health probes
//! and the OpenAPI document.
//!
//! Tokens are configured as `[[auth.tokens]]` entries holding the token's
//! id, role and the SHA-256 of its secret (never the secret itself).
//! `reader` may use every `GET`; `writer` also appends and saves snapshots
//! and checkpoints; `admin` also changes stream metadata and deletes
//! streams (and reads a `$audit` stream, should one be served).

use crate::{
    AppState,
    audit::AuditRecord,
    rate::{Limiter, RateLimit},
};
use axum::{
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use chronicle_core::{Grant, Principal};
use chronicle_wire::ErrorCode;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

pub use chronicle_core::Role;

/// One configured token: `[[auth.tokens]] id, role, sha256`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// A name for the token (appears in the audit log).
    pub id: String,
    /// Its role.
    pub role: Role,
    /// Lowercase hex SHA-256 of the secret.
    pub sha256: String,
    /// The tenant the token belongs to (its requests count against the
    /// tenant's rate limit too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Cleared for personal data: reads show `[privacy]`-encrypted fields
    /// decrypted (otherwise `"***"`). Admin tokens always are.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pii: bool,
    /// The streams and actions the token is limited to, within its role
    /// (none: every stream its role allows; system `$` streams only for
    /// admins, or through a grant that names them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<Grant>,
}

impl TokenEntry {
    /// A new random secret (256 bits, `chr_` + 64 hex digits) and its entry.
    ///
    /// ```
    /// # use chronicle_server::auth::{Role, TokenEntry, hash_secret};
    /// let (secret, entry) = TokenEntry::generate("ci", Role::Writer).unwrap();
    /// assert_eq!(entry.sha256, hash_secret(&secret));
    /// assert!(entry.to_toml().starts_with("[[auth.tokens]]\n"));
    /// ```
    pub fn generate(id: &str, role: Role) -> Result<(String, Self), getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        let secret = format!("chr_{}", hex(&bytes));
        let entry = Self { id: id.to_owned(), role, sha256: hash_secret(&secret), tenant: None, pii: false, grants: Vec::new() };
        Ok((secret, entry))
    }

    /// The entry as a TOML `[[auth.tokens]]` table (entries concatenate).
    pub fn to_toml(&self) -> String {
        let id = serde_json::to_string(&self.id).unwrap_or_else(|_| "\"\"".into()); // a JSON string is a TOML basic string
        let mut text = format!("[[auth.tokens]]\nid = {id}\nrole = \"{}\"\nsha256 = \"{}\"\n", self.role, self.sha256);
        if let Some(tenant) = &self.tenant {
            text += &format!("tenant = {}\n", serde_json::to_string(tenant).unwrap_or_else(|_| "\"\"".into()));
        }
        if self.pii {
            text += "pii = true\n";
        }
        if !self.grants.is_empty() {
            let grants: Vec<String> = self.grants.iter().map(grant_toml).collect();
            text += &format!("grants = [{}]\n", grants.join(", "));
        }
        text
    }

    /// Checks the entry's grants against its role; the error names the
    /// grant and says what is wrong.
    pub fn check(&self) -> Result<(), String> {
        for (i, g) in self.grants.iter().enumerate() {
            g.check(self.role).map_err(|e| format!("token {}: grants[{i}]: {e}", self.id))?;
        }
        match &self.tenant {
            Some(t) => chronicle_core::check_tenant_name(t).map_err(|e| format!("token {}: {e}", self.id)),
            None => Ok(()),
        }
    }
}

/// A grant as a TOML inline table.
fn grant_toml(g: &Grant) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    let scope = match (&g.streams, &g.category) {
        (Some(p), _) => format!("streams = {}", quote(p)),
        (None, Some(c)) => format!("category = {}", quote(c)),
        (None, None) => String::new(),
    };
    let allow: Vec<String> = g.allow.iter().map(|a| quote(&a.to_string())).collect();
    format!("{{ {scope}, allow = [{}] }}", allow.join(", "))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lowercase hex SHA-256 of a token secret.
pub fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// The configured tokens, by hash. Empty: the server is open.
#[derive(Clone, Debug, Default)]
pub struct Tokens {
    by_hash: HashMap<String, Known>,
}

/// A token found: its id, role, tenant, clearance and grants.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Known {
    id: String,
    role: Role,
    tenant: Option<String>,
    pii: bool,
    grants: Vec<Grant>,
}

impl Tokens {
    /// Tokens from their entries.
    pub fn new(entries: &[TokenEntry]) -> Self {
        let known =
            |e: &TokenEntry| Known { id: e.id.clone(), role: e.role, tenant: e.tenant.clone(), pii: e.pii, grants: e.grants.clone() };
        Self { by_hash: entries.iter().map(|e| (e.sha256.to_ascii_lowercase(), known(e))).collect() }
    }

    /// Whether no token is configured (every request is allowed).
    pub fn is_open(&self) -> bool {
        self.by_hash.is_empty()
    }

    fn lookup(&self, secret: &str) -> Option<&Known> {
        self.by_hash.get(&hash_secret(secret))
    }
}

/// The role a request needs; `None` for the open routes.
pub(crate) fn required_role(method: &Method, path: &str) -> Option<Role> {
    if path.starts_with("/health/") || path == "/openapi.json" {
        return None;
    }
    let stream = path.strip_prefix("/streams/");
    let read = *method == Method::GET || *method == Method::HEAD;
    let publish_change = (path.starts_with("/publish/") || path.starts_with("/subscriptions/") || path.starts_with("/schemas/")) && !read;
    if publish_change
        || path.starts_with("/privacy/")
        || path == "/audit"
        || path.starts_with("/admin/")
        || stream.is_some_and(|s| s.starts_with("$audit") || s.starts_with("%24audit"))
    {
        return Some(Role::Admin);
    }
    if *method == Method::GET || *method == Method::HEAD {
        return Some(Role::Reader);
    }
    let metadata = stream.is_some_and(|s| s.ends_with("/metadata"));
    let delete = *method == Method::DELETE && stream.is_some_and(|s| !s.contains('/'));
    Some(if metadata || delete { Role::Admin } else { Role::Writer })
}

/// Whether a route shows data of every tenant (store metrics, publishing
/// and its dead letters, consumer groups and their parked events): a
/// caller confined to a tenant may not use it. Connecting to a group is
/// checked against the group's filter instead.
pub(crate) fn spans_tenants(path: &str) -> bool {
    match path.strip_prefix("/subscriptions") {
        Some(rest) => !(rest.starts_with('/') && rest.ends_with("/connect") && rest.matches('/').count() == 2),
        None => path == "/metrics" || path == "/publish" || path.starts_with("/publish/"),
    }
}

fn denied(code: ErrorCode, message: String) -> Response {
    let mut response = crate::ApiError::of(code, message).into_response();
    if code == ErrorCode::Unauthorized {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"chronicle\""));
    }
    response
}

/// Middleware: authenticate, authorize, audit.
pub(crate) async fn authorize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let Some(required) = required_role(&method, &path) else { return next.run(request).await };
    let audit = |token: &str, role: Option<Role>, status: StatusCode| {
        state.audit.record(AuditRecord::new(token, role, &method, &path, status.as_u16()), required == Role::Admin)
    };
    if state.tokens.is_open() {
        let response = next.run(request).await;
        audit("anonymous", None, response.status()).await;
        return response;
    }
    let bearer = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let Some(secret) = bearer else {
        audit("-", None, StatusCode::UNAUTHORIZED).await;
        return denied(ErrorCode::Unauthorized, "send Authorization: Bearer TOKEN".into());
    };
    let Some(Known { id, role, tenant, pii, grants }) = state.tokens.lookup(secret.trim()).cloned() else {
        audit("-", None, StatusCode::UNAUTHORIZED).await;
        return denied(ErrorCode::Unauthorized, "unknown token".into());
    };
    if role < required {
        audit(&id, Some(role), StatusCode::FORBIDDEN).await;
        return denied(ErrorCode::Forbidden, format!("{method} {path} needs the {required} role; token {id} is {role}"));
    }
    if let Err(wait) = state.limits.check(&id, tenant.as_deref()) {
        audit(&id, Some(role), StatusCode::TOO_MANY_REQUESTS).await;
        let mut response = denied(ErrorCode::RateLimited, format!("token {id} is over its rate limit; retry later"));
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    let principal = Principal { token_id: id.clone(), role, tenant, grants, pii };
    if let Some(tenant) = principal.confined_tenant().filter(|_| spans_tenants(&path)) {
        let mut record = AuditRecord::new(&id, Some(role), &method, &path, StatusCode::FORBIDDEN.as_u16());
        record.denied = Some(crate::audit::Denial { action: "read".into(), stream: "every tenant".into() });
        state.audit.record(record, false).await;
        return denied(ErrorCode::Forbidden, format!("{method} {path} spans every tenant; token {id} is confined to tenant {tenant}"));
    }
    let mut request = request;
    request.extensions_mut().insert(principal);
    let response = next.run(request).await;
    let mut record = AuditRecord::new(&id, Some(role), &method, &path, response.status().as_u16());
    record.denied = response.extensions().get::<crate::audit::Denial>().cloned();
    state.audit.record(record, required == Role::Admin).await;
    response
}

/// The per-token and per-tenant limiters.
#[derive(Debug, Default)]
pub(crate) struct Limits {
    per_token: Option<Limiter>,
    per_tenant: Option<Limiter>,
}

impl Limits {
    pub(crate) fn new(limit: &RateLimit) -> Self {
        Self {
            per_token: Limiter::new(limit.per_token, limit.burst_seconds),
            per_tenant: Limiter::new(limit.per_tenant, limit.burst_seconds),
        }
    }

    fn check(&self, token: &str, tenant: Option<&str>) -> Result<(), std::time::Duration> {
        let now = std::time::Instant::now();
        if let Some(l) = &self.per_token {
            l.check(token, now)?;
        }
        match (&self.per_tenant, tenant) {
            (Some(l), Some(tenant)) => l.check(tenant, now),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_need_the_right_role() {
        let r = |m: Method, p: &str| required_role(&m, p);
        assert_eq!(r(Method::GET, "/health/ready"), None);
        assert_eq!(r(Method::GET, "/openapi.json"), None);
        assert_eq!(r(Method::GET, "/streams/order-1"), Some(Role::Reader));
        assert_eq!(r(Method::GET, "/metrics"), Some(Role::Reader));
        assert_eq!(r(Method::POST, "/streams/order-1"), Some(Role::Writer));
        assert_eq!(r(Method::PUT, "/checkpoints/p"), Some(Role::Writer));
        assert_eq!(r(Method::PUT, "/streams/order-1/snapshot"), Some(Role::Writer));
        assert_eq!(r(Method::PUT, "/streams/order-1/metadata"), Some(Role::Admin));
        assert_eq!(r(Method::DELETE, "/streams/order-1"), Some(Role::Admin));
        assert_eq!(r(Method::GET, "/streams/$audit"), Some(Role::Admin));
        assert_eq!(r(Method::POST, "/admin/scavenge"), Some(Role::Admin));
        assert_eq!(r(Method::POST, "/admin/retention"), Some(Role::Admin));
        assert_eq!(r(Method::PUT, "/schemas/OrderCreated/3"), Some(Role::Admin));
        assert_eq!(r(Method::GET, "/schemas/OrderCreated"), Some(Role::Reader));
        assert_eq!(r(Method::GET, "/publish"), Some(Role::Reader));
        assert_eq!(r(Method::GET, "/publish/s/dlq"), Some(Role::Reader));
        assert_eq!(r(Method::POST, "/publish/s/dlq/replay"), Some(Role::Admin));
        assert_eq!(r(Method::POST, "/publish/s/dlq/discard"), Some(Role::Admin));
        assert_eq!(r(Method::GET, "/subscriptions/g/connect"), Some(Role::Reader));
        assert_eq!(r(Method::PUT, "/subscriptions/g"), Some(Role::Admin));
        assert_eq!(r(Method::DELETE, "/subscriptions/g"), Some(Role::Admin));
        assert_eq!(r(Method::POST, "/subscriptions/g/parked/replay"), Some(Role::Admin));
        assert_eq!(r(Method::GET, "/streams/%24audit"), Some(Role::Admin));
        for (path, spans) in [
            ("/metrics", true),
            ("/publish", true),
            ("/publish/s/dlq", true),
            ("/subscriptions", true),
            ("/subscriptions/g", true),
            ("/subscriptions/g/parked", true),
            ("/subscriptions/g/connect", false),
            ("/streams/x", false),
            ("/events", false),
            ("/checkpoints/c", false),
        ] {
            assert_eq!(spans_tenants(path), spans, "{path}");
        }
        assert_eq!(r(Method::POST, "/privacy/forget/c-1"), Some(Role::Admin));
        assert_eq!(r(Method::GET, "/privacy/keys"), Some(Role::Admin));
    }

    #[test]
    fn tokens_are_found_by_hash_only() {
        let (secret, entry) = TokenEntry::generate("ops", Role::Admin).unwrap();
        assert_eq!(secret.len(), 68);
        let tokens = Tokens::new(&[entry]);
        assert_eq!(
            tokens.lookup(&secret),
            Some(&Known { id: "ops".to_owned(), role: Role::Admin, tenant: None, pii: false, grants: vec![] })
        );
        assert_eq!(tokens.lookup("chr_guess"), None);
        let parsed: toml::Value = toml::from_str(&TokenEntry::generate("a\"b", Role::Reader).unwrap().1.to_toml()).unwrap();
        assert_eq!(parsed["auth"]["tokens"][0]["id"].as_str(), Some("a\"b"));
    }
}
