//! Who is appending, and through which door: the [`AppendContext`] every
//! append hook receives.

use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// What an authenticated caller may do; each role includes the ones before
/// it.
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

/// An authenticated caller: the token the server matched, its role, its
/// tenant and its grants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The token's id (its name in `[[auth.tokens]]`, never its secret).
    pub token_id: String,
    /// Its role.
    pub role: Role,
    /// The tenant the token belongs to, if any.
    pub tenant: Option<String>,
    /// The streams and actions the token is limited to (empty: every
    /// stream its role allows, system streams only for admins).
    #[serde(default)]
    pub grants: Vec<crate::Grant>,
    /// Cleared for personal data: reads show encrypted fields decrypted
    /// (otherwise masked). Admins always are.
    #[serde(default)]
    pub pii: bool,
}

impl Principal {
    /// Whether this caller may read encrypted fields in clear.
    pub fn cleared(&self) -> bool {
        self.pii || self.role == Role::Admin
    }
}

/// Through which door an append entered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum EntryPoint {
    /// An application calling the store in-process.
    #[default]
    Library,
    /// The HTTP API of `chronicle serve` (including the WebSocket).
    Http,
    /// The `chronicle` command line.
    Cli,
}

/// Who is appending and how. Hooks use it to stamp the actor, enforce
/// grants and decide by permission.
///
/// ```
/// use chronicle_core::{AppendContext, EntryPoint, Principal, Role};
/// let ctx = AppendContext::library();
/// assert!(ctx.principal.is_none());
/// let p = Principal { token_id: "ci".into(), role: Role::Writer, tenant: None, grants: vec![], pii: false };
/// let ctx = AppendContext::http(Some(p));
/// assert_eq!(ctx.entry_point, EntryPoint::Http);
/// assert_eq!(ctx.principal.unwrap().token_id, "ci");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppendContext {
    /// The authenticated caller, when there is one (none in-process, or on
    /// a server without tokens).
    pub principal: Option<Principal>,
    /// The entry point.
    pub entry_point: EntryPoint,
}

impl AppendContext {
    /// An in-process append with no principal (what
    /// [`EventStore::append_atomic`](crate::EventStore::append_atomic) uses).
    pub fn library() -> Self {
        Self::default()
    }

    /// An append from the command line.
    pub fn cli() -> Self {
        Self { principal: None, entry_point: EntryPoint::Cli }
    }

    /// An append through the server's API, by `principal` when the server
    /// checks tokens.
    pub fn http(principal: Option<Principal>) -> Self {
        Self { principal, entry_point: EntryPoint::Http }
    }

    /// The same context with a principal.
    pub fn with_principal(mut self, principal: Principal) -> Self {
        self.principal = Some(principal);
        self
    }
}
