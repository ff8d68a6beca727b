//! Bearer tokens with roles, checked on every route but the health probes
//! and the OpenAPI document.
//!
//! Tokens are configured as `[[auth.tokens]]` entries holding the token's
//! id, role and the SHA-256 of its secret (never the secret itself).
//! `reader` may use every `GET`; `writer` also appends and saves snapshots
//! and checkpoints; `admin` also changes stream metadata and deletes
//! streams (and reads a `$audit` stream, should one be served).

use crate::{AppState, audit::AuditRecord};
use axum::{
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::{collections::HashMap, fmt, str::FromStr};

/// What a token may do; each role includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Every read, subscription and `/metrics`.
    Reader,
    /// Also appends, snapshots and checkpoints.
    Writer,
    /// Also stream metadata (retention), deletes and the audit log.
    Admin,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Reader => "reader",
            Self::Writer => "writer",
            Self::Admin => "admin",
        })
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "reader" => Ok(Self::Reader),
            "writer" => Ok(Self::Writer),
            "admin" => Ok(Self::Admin),
            other => Err(format!("unknown role {other:?} (reader, writer or admin)")),
        }
    }
}

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
        let entry = Self { id: id.to_owned(), role, sha256: hash_secret(&secret) };
        Ok((secret, entry))
    }

    /// The entry as a TOML `[[auth.tokens]]` table (entries concatenate).
    pub fn to_toml(&self) -> String {
        let id = serde_json::to_string(&self.id).unwrap_or_else(|_| "\"\"".into()); // a JSON string is a TOML basic string
        format!("[[auth.tokens]]\nid = {id}\nrole = \"{}\"\nsha256 = \"{}\"\n", self.role, self.sha256)
    }
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
    by_hash: HashMap<String, (String, Role)>,
}

impl Tokens {
    /// Tokens from their entries.
    pub fn new(entries: &[TokenEntry]) -> Self {
        Self { by_hash: entries.iter().map(|e| (e.sha256.to_ascii_lowercase(), (e.id.clone(), e.role))).collect() }
    }

    /// Whether no token is configured (every request is allowed).
    pub fn is_open(&self) -> bool {
        self.by_hash.is_empty()
    }

    fn lookup(&self, secret: &str) -> Option<&(String, Role)> {
        self.by_hash.get(&hash_secret(secret))
    }
}

/// The role a request needs; `None` for the open routes.
pub(crate) fn required_role(method: &Method, path: &str) -> Option<Role> {
    if path.starts_with("/health/") || path == "/openapi.json" {
        return None;
    }
    let stream = path.strip_prefix("/streams/");
    if stream.is_some_and(|s| s.starts_with("$audit") || s.starts_with("%24audit")) {
        return Some(Role::Admin);
    }
    if *method == Method::GET || *method == Method::HEAD {
        return Some(Role::Reader);
    }
    let metadata = stream.is_some_and(|s| s.ends_with("/metadata"));
    let delete = *method == Method::DELETE && stream.is_some_and(|s| !s.contains('/'));
    Some(if metadata || delete { Role::Admin } else { Role::Writer })
}

fn denied(status: StatusCode, error: &'static str, message: String) -> Response {
    let mut response = crate::ApiError { status, error, message, field: None, extra: None }.into_response();
    if status == StatusCode::UNAUTHORIZED {
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
        return denied(StatusCode::UNAUTHORIZED, "unauthorized", "send Authorization: Bearer TOKEN".into());
    };
    let Some((id, role)) = state.tokens.lookup(secret.trim()).cloned() else {
        audit("-", None, StatusCode::UNAUTHORIZED).await;
        return denied(StatusCode::UNAUTHORIZED, "unauthorized", "unknown token".into());
    };
    if role < required {
        audit(&id, Some(role), StatusCode::FORBIDDEN).await;
        return denied(StatusCode::FORBIDDEN, "forbidden", format!("{method} {path} needs the {required} role; token {id} is {role}"));
    }
    let response = next.run(request).await;
    audit(&id, Some(role), response.status()).await;
    response
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
        assert_eq!(r(Method::GET, "/streams/%24audit"), Some(Role::Admin));
    }

    #[test]
    fn tokens_are_found_by_hash_only() {
        let (secret, entry) = TokenEntry::generate("ops", Role::Admin).unwrap();
        assert_eq!(secret.len(), 68);
        let tokens = Tokens::new(&[entry]);
        assert_eq!(tokens.lookup(&secret), Some(&("ops".to_owned(), Role::Admin)));
        assert_eq!(tokens.lookup("chr_guess"), None);
        let parsed: toml::Value = toml::from_str(&TokenEntry::generate("a\"b", Role::Reader).unwrap().1.to_toml()).unwrap();
        assert_eq!(parsed["auth"]["tokens"][0]["id"].as_str(), Some("a\"b"));
    }
}
