//! What a caller may do to which stream: [`Grant`]s narrow a token's role
//! to some streams and actions, and the reserved system streams (ids
//! starting with `$`: projection state, parked events, privacy facts…)
//! are written only by Chronicle itself and by admins, and read by others
//! only through a grant that names them.
//!
//! [`Principal::may`] is the one decision; [`AccessHook`] applies it to
//! appends in the pipeline (every backend), and `GrantedStore` to every
//! other operation of one caller.

use crate::{AppendContext, AppendHook, Error, Filter, PreparedAppend, Principal, Result, Role, StreamId, category_of};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a grant allows on its streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Read events, stream info, snapshots; subscribe.
    Read,
    /// Append events.
    Append,
    /// Delete the stream.
    Delete,
    /// Change the stream's metadata (retention).
    Metadata,
    /// Save snapshots.
    Snapshot,
    /// See personal data (encrypted fields) in clear.
    Pii,
}

impl Action {
    /// The least role that may do it at all (a grant never lifts a role).
    pub fn role(self) -> Role {
        match self {
            Self::Read | Self::Pii => Role::Reader,
            Self::Append | Self::Snapshot => Role::Writer,
            Self::Delete | Self::Metadata => Role::Admin,
        }
    }

    /// Whether it changes the stream.
    pub fn writes(self) -> bool {
        !matches!(self, Self::Read | Self::Pii)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Read => "read",
            Self::Append => "append",
            Self::Delete => "delete",
            Self::Metadata => "metadata",
            Self::Snapshot => "snapshot",
            Self::Pii => "pii",
        })
    }
}

/// Some streams and what may be done to them:
/// `{ streams = "order-*", allow = ["read", "append"] }` (a pattern where
/// `*` stands for any run of characters) or `{ category = "payment",
/// allow = ["read"] }` (every stream of the category).
///
/// ```
/// use chronicle_core::{Action, Grant, StreamId};
/// let grant = Grant::streams("order-*", [Action::Read]);
/// assert!(grant.covers(&StreamId::new("order-17")?));
/// assert!(!grant.covers(&StreamId::new("payment-17")?));
/// assert!(Grant::category("payment", [Action::Read]).covers(&StreamId::new("payment-17")?));
/// # Ok::<(), chronicle_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// A stream id pattern (`*`: any run of characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streams: Option<String>,
    /// A category (the id before its first `-`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The actions allowed.
    pub allow: Vec<Action>,
}

impl Grant {
    /// A grant on the streams matching `pattern`.
    pub fn streams(pattern: &str, allow: impl IntoIterator<Item = Action>) -> Self {
        Self { streams: Some(pattern.to_owned()), category: None, allow: allow.into_iter().collect() }
    }

    /// A grant on a category.
    pub fn category(category: &str, allow: impl IntoIterator<Item = Action>) -> Self {
        Self { streams: None, category: Some(category.to_owned()), allow: allow.into_iter().collect() }
    }

    /// Checks the grant for a token of `role`: one of `streams` and
    /// `category`, a non-empty `allow`, no action above the role. The
    /// error says what is wrong.
    pub fn check(&self, role: Role) -> std::result::Result<(), String> {
        match (&self.streams, &self.category) {
            (Some(p), None) if !p.is_empty() => {}
            (None, Some(c)) if !c.is_empty() && !c.contains('-') => {}
            (None, Some(c)) if c.contains('-') => {
                return Err(format!("category {c:?} holds a '-' (a category is the id before its first '-')"));
            }
            _ => return Err("give exactly one of streams (a pattern) and category".into()),
        }
        if self.allow.is_empty() {
            return Err("allow lists no action (read, append, delete, metadata, snapshot, pii)".into());
        }
        match self.allow.iter().find(|a| a.role() > role) {
            Some(a) => Err(format!("{a} needs the {} role; the token is {role}", a.role())),
            None => Ok(()),
        }
    }

    /// Whether the grant covers every stream `filter` can select (by its
    /// category or stream prefix; a pattern must then end in its only
    /// `*`). Conservative: `false` when containment is not evident.
    fn covers_filter(&self, filter: &Filter) -> bool {
        let (category, prefix) = (filter.category.as_deref(), filter.stream_prefix.as_deref());
        match (&self.streams, &self.category) {
            (Some(p), _) if p == "*" => true,
            (Some(p), _) => match p.strip_suffix('*') {
                Some(head) if !head.contains('*') => {
                    prefix.is_some_and(|sp| sp.starts_with(head)) || category.is_some_and(|c| c.starts_with(head))
                }
                _ => false,
            },
            (None, Some(c)) => category == Some(c.as_str()) || prefix.is_some_and(|sp| sp.starts_with(&format!("{c}-"))),
            (None, None) => false,
        }
    }

    /// Whether `stream` is one of the grant's streams.
    pub fn covers(&self, stream: &StreamId) -> bool {
        self.covers_id(stream.as_str())
    }

    fn covers_id(&self, stream: &str) -> bool {
        match (&self.streams, &self.category) {
            (Some(pattern), _) => glob(pattern.as_bytes(), stream.as_bytes()),
            (None, Some(category)) => category_of(stream) == category,
            (None, None) => false,
        }
    }

    /// Whether the grant names system streams explicitly (its pattern or
    /// category starts with `$`): only such a grant opens them to a
    /// non-admin.
    pub fn names_system_streams(&self) -> bool {
        self.streams.as_deref().or(self.category.as_deref()).is_some_and(|s| s.starts_with('$'))
    }
}

impl std::str::FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Ok(match s.trim() {
            "read" => Self::Read,
            "append" => Self::Append,
            "delete" => Self::Delete,
            "metadata" => Self::Metadata,
            "snapshot" => Self::Snapshot,
            "pii" => Self::Pii,
            other => return Err(format!("unknown action {other:?} (read, append, delete, metadata, snapshot, pii)")),
        })
    }
}

/// `PATTERN=ACTIONS` or `category:NAME=ACTIONS` (actions separated by
/// commas), as `chronicle token create --grant` takes it.
///
/// ```
/// use chronicle_core::{Action, Grant};
/// assert_eq!("order-*=read,append".parse::<Grant>()?, Grant::streams("order-*", [Action::Read, Action::Append]));
/// assert_eq!("category:payment=read".parse::<Grant>()?, Grant::category("payment", [Action::Read]));
/// assert!("order-*".parse::<Grant>().is_err());
/// # Ok::<(), String>(())
/// ```
impl std::str::FromStr for Grant {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (scope, actions) = s.rsplit_once('=').ok_or_else(|| format!("{s:?}: write PATTERN=ACTIONS or category:NAME=ACTIONS"))?;
        let allow = actions.split(',').map(str::parse).collect::<std::result::Result<Vec<Action>, _>>()?;
        Ok(match scope.strip_prefix("category:") {
            Some(category) => Self::category(category, allow),
            None => Self::streams(scope, allow),
        })
    }
}

/// `*` matches any run of bytes (including none); everything else itself.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(c) if Some(c) == text.get(t) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern.get(p..).unwrap_or_default().iter().all(|&c| c == b'*')
}

/// Whether `stream` is a reserved system stream (its id starts with `$`).
pub fn is_system_stream(stream: &StreamId) -> bool {
    stream.as_str().starts_with('$')
}

impl Principal {
    /// Whether this caller may do `action` on `stream`: the role must
    /// allow the action; a token with grants only where a grant covers
    /// the stream and allows the action; a system stream (`$…`) is
    /// written only by admins and read by others only through a grant
    /// that names system streams.
    ///
    /// ```
    /// use chronicle_core::{Action, Grant, Principal, Role, StreamId};
    /// let writer = Principal { token_id: "w".into(), role: Role::Writer, tenant: None, grants: vec![], pii: false };
    /// let order = StreamId::new("order-1")?;
    /// assert!(writer.may(Action::Append, &order));
    /// assert!(!writer.may(Action::Append, &StreamId::new("$projections")?), "system streams: admins only");
    /// let narrow = Principal { grants: vec![Grant::streams("order-*", [Action::Read])], ..writer };
    /// assert!(narrow.may(Action::Read, &order) && !narrow.may(Action::Append, &order));
    /// # Ok::<(), chronicle_core::Error>(())
    /// ```
    pub fn may(&self, action: Action, stream: &StreamId) -> bool {
        if self.role < action.role() {
            return false;
        }
        let Some(view) = self.view_of(stream.as_str()) else { return false };
        let system = view.starts_with('$');
        if system && action.writes() && self.role < Role::Admin {
            return false;
        }
        if self.grants.is_empty() {
            return (!system || self.role == Role::Admin) && (action != Action::Pii || self.cleared());
        }
        if action == Action::Pii && self.cleared() {
            return self.may(Action::Read, stream);
        }
        self.grants.iter().any(|g| g.allow.contains(&action) && g.covers_id(view) && (!system || g.names_system_streams()))
    }

    /// The tenant this caller is confined to: its token's tenant, unless
    /// it is an admin (admins span tenants; their tenant only counts for
    /// rate limits).
    pub fn confined_tenant(&self) -> Option<&str> {
        self.tenant.as_deref().filter(|_| self.role < Role::Admin)
    }

    /// The part of a stored stream id this caller's grants apply to, or
    /// `None` when the stream is outside its reach: a confined caller
    /// reaches only its tenant's streams (seen without the prefix), any
    /// other non-admin no tenant's streams.
    fn view_of<'a>(&self, stored: &'a str) -> Option<&'a str> {
        match self.confined_tenant() {
            Some(tenant) => crate::tenant_view(stored, tenant),
            None if self.role < Role::Admin && crate::is_tenant_stream(stored) => None,
            None => Some(stored),
        }
    }

    /// Whether this caller reads every stream (no grant narrows it, and
    /// it may read system streams): reads need no filtering.
    pub fn reads_everything(&self) -> bool {
        self.grants.is_empty() && self.role == Role::Admin
    }

    /// Whether this caller sees every encrypted field it may read in
    /// clear: cleared (`pii = true` or admin) with no grant narrowing it.
    pub fn sees_all_pii(&self) -> bool {
        self.cleared() && self.grants.is_empty()
    }

    /// Whether this caller may read every event outside the system
    /// streams that `filter` selects (what a consumer group with that
    /// filter delivers): no grant narrows it, or a read grant evidently
    /// contains the filter's streams.
    ///
    /// A group delivers a tenant's streams only when its filter names the
    /// tenant (`stream_prefix = "@acme/…"` or `category = "@acme/…"`): a
    /// confined caller may connect only to such groups of its tenant.
    pub fn reads_all_of(&self, filter: &Filter) -> bool {
        if let Some(stream) = &filter.stream_id {
            return self.may(Action::Read, stream);
        }
        let names_tenant = |f: &Filter| f.stream_prefix.as_deref().or(f.category.as_deref()).is_some_and(crate::is_tenant_stream);
        let view = match self.confined_tenant() {
            Some(tenant) => match tenant_filter(filter, tenant) {
                Some(view) => view,
                None => return false,
            },
            None if self.role < Role::Admin && names_tenant(filter) => return false,
            None => filter.clone(),
        };
        self.grants.is_empty() || self.grants.iter().any(|g| g.allow.contains(&Action::Read) && g.covers_filter(&view))
    }

    /// [`Principal::may`], as an error naming the action and the stream.
    pub fn require(&self, action: Action, stream: &StreamId) -> Result<()> {
        match self.may(action, stream) {
            true => Ok(()),
            false => Err(Error::Forbidden { action: action.to_string(), stream: stream.to_string(), token: self.token_id.clone() }),
        }
    }
}

/// `filter` (of stored ids) as seen by a caller of `tenant`, or `None`
/// when it does not stay inside the tenant.
fn tenant_filter(filter: &Filter, tenant: &str) -> Option<Filter> {
    let category = filter.category.as_deref().map(|c| crate::tenant_view(c, tenant));
    let prefix = filter.stream_prefix.as_deref().map(|p| crate::tenant_view(p, tenant));
    if category.is_none() && prefix.is_none() || category == Some(None) || prefix == Some(None) {
        return None;
    }
    let owned = |v: Option<Option<&str>>| v.flatten().map(str::to_owned);
    Some(Filter { category: owned(category), stream_prefix: owned(prefix), ..filter.clone() })
}

/// The pipeline hook that enforces [`Principal::may`] on appends: an
/// append by a caller (the server's token) to a stream it may not append
/// to is refused before anything is stored. Appends without a principal
/// (Chronicle itself, the library, the CLI) pass: they hold the store.
#[derive(Clone, Copy, Debug, Default)]
pub struct AccessHook;

impl AppendHook for AccessHook {
    fn before_store(&self, context: &AppendContext, append: &mut PreparedAppend) -> Result<()> {
        let Some(principal) = &context.principal else { return Ok(()) };
        append.streams.iter().try_for_each(|s| principal.require(Action::Append, &s.stream))
    }
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
