//! Which fields are personal data: `[privacy]` in `chronicle.toml`, or the
//! same [`FieldRule`]s built in Rust.
//!
//! ```toml
//! [privacy]
//! kek_file = "/etc/chronicle/kek"        # or CHRONICLE_KEK
//! previous_kek_files = []                # older KEKs during a rotation
//!
//! [[privacy.fields]]
//! event_type = "CustomerRegistered"
//! subject = "/customer_id"               # in data: whose data this is
//! encrypt = ["/email", "/address", "/phone"]
//! encrypt_metadata = ["/ip"]
//! ```

use crate::{PrivacyError, Result};
use serde::{Deserialize, Serialize};
use std::{collections::HashMap, path::PathBuf};

/// Metadata members the store indexes: never encrypted (refused at start).
pub const INDEXED_METADATA: [&str; 5] = ["correlation_id", "causation_id", "actor", "tenant", "tags"];

/// The metadata member that lists the encrypted fields of an event
/// (`["/data/email", "/metadata/ip"]`).
pub const ENCRYPTED_MEMBER: &str = "$encrypted";

/// The sensitive fields of one event type (and optionally one schema
/// version).
///
/// ```
/// use chronicle_privacy::{FieldRule, Policy};
/// let rule = FieldRule::new("CustomerRegistered", "/customer_id").encrypt(["/email", "/address"]);
/// let policy = Policy::new(vec![rule]).unwrap();
/// assert!(policy.rule("CustomerRegistered", 1).is_some());
/// assert!(Policy::new(vec![FieldRule::new("X", "/id").encrypt_metadata(["/tags"])]).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldRule {
    /// The event type.
    pub event_type: String,
    /// Only this schema version (default: every version without a rule of
    /// its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u32>,
    /// JSON Pointer into `data` to the subject's id (a string or number).
    pub subject: String,
    /// JSON Pointers into `data` of the fields to encrypt.
    #[serde(default)]
    pub encrypt: Vec<String>,
    /// JSON Pointers into `metadata` of the fields to encrypt.
    #[serde(default)]
    pub encrypt_metadata: Vec<String>,
}

impl FieldRule {
    /// A rule for `event_type` whose subject is at `subject` in data.
    pub fn new(event_type: impl Into<String>, subject: impl Into<String>) -> Self {
        Self {
            event_type: event_type.into(),
            schema_version: None,
            subject: subject.into(),
            encrypt: Vec::new(),
            encrypt_metadata: Vec::new(),
        }
    }

    /// Adds data fields to encrypt.
    pub fn encrypt<S: Into<String>>(mut self, pointers: impl IntoIterator<Item = S>) -> Self {
        self.encrypt.extend(pointers.into_iter().map(Into::into));
        self
    }

    /// Adds metadata fields to encrypt.
    pub fn encrypt_metadata<S: Into<String>>(mut self, pointers: impl IntoIterator<Item = S>) -> Self {
        self.encrypt_metadata.extend(pointers.into_iter().map(Into::into));
        self
    }

    /// Only for this schema version.
    pub fn version(mut self, schema_version: u32) -> Self {
        self.schema_version = Some(schema_version);
        self
    }

    fn check(&self, field: &str) -> Result<()> {
        if self.event_type.is_empty() {
            return Err(PrivacyError::invalid(format!("{field}.event_type"), "is empty"));
        }
        pointer(&format!("{field}.subject"), &self.subject)?;
        if self.encrypt.is_empty() && self.encrypt_metadata.is_empty() {
            return Err(PrivacyError::invalid(format!("{field}.encrypt"), "names no field to encrypt"));
        }
        for (i, p) in self.encrypt.iter().enumerate() {
            pointer(&format!("{field}.encrypt[{i}]"), p)?;
            if self.subject.starts_with(p.as_str()) && (self.subject.len() == p.len() || self.subject[p.len()..].starts_with('/')) {
                return Err(PrivacyError::invalid(format!("{field}.encrypt[{i}]"), "holds the subject, which must stay readable"));
            }
        }
        for (i, p) in self.encrypt_metadata.iter().enumerate() {
            let name = format!("{field}.encrypt_metadata[{i}]");
            pointer(&name, p)?;
            let top = p.trim_start_matches('/').split('/').next().unwrap_or_default();
            if INDEXED_METADATA.contains(&top) || top == ENCRYPTED_MEMBER {
                return Err(PrivacyError::invalid(name, format!("{top} is indexed by the store and cannot be encrypted")));
            }
        }
        Ok(())
    }
}

fn pointer(field: &str, p: &str) -> Result<()> {
    match p.starts_with('/') && p.len() > 1 {
        true => Ok(()),
        false => Err(PrivacyError::invalid(field, format!("{p:?} is not a JSON Pointer to a member (it starts with /)"))),
    }
}

/// The rules by event type.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    by_type: HashMap<String, Vec<FieldRule>>,
}

impl Policy {
    /// Checks and indexes `rules` (two rules for the same type and version
    /// are an error).
    pub fn new(rules: Vec<FieldRule>) -> Result<Self> {
        let mut by_type: HashMap<String, Vec<FieldRule>> = HashMap::new();
        for (i, rule) in rules.into_iter().enumerate() {
            let field = format!("privacy.fields[{i}]");
            rule.check(&field)?;
            let same = by_type.entry(rule.event_type.clone()).or_default();
            if same.iter().any(|r| r.schema_version == rule.schema_version) {
                return Err(PrivacyError::invalid(field, format!("a second rule for {} of the same schema version", rule.event_type)));
            }
            same.push(rule);
        }
        Ok(Self { by_type })
    }

    /// Whether no field is marked.
    pub fn is_empty(&self) -> bool {
        self.by_type.is_empty()
    }

    /// The rule for this type and version: the version's own, else the
    /// type's rule without a version.
    pub fn rule(&self, event_type: &str, schema_version: u32) -> Option<&FieldRule> {
        let rules = self.by_type.get(event_type)?;
        rules.iter().find(|r| r.schema_version == Some(schema_version)).or_else(|| rules.iter().find(|r| r.schema_version.is_none()))
    }
}

/// `[privacy]` as configured.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacySettings {
    /// The file holding the KEK (base64 or hex of 32 bytes);
    /// `CHRONICLE_KEK` wins over it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kek_file: Option<PathBuf>,
    /// Older KEKs still wrapping some data keys (during a rotation).
    pub previous_kek_files: Vec<PathBuf>,
    /// The sensitive fields.
    pub fields: Vec<FieldRule>,
}

impl PrivacySettings {
    /// The settings of a `[privacy]` table (empty: nothing encrypted).
    pub fn from_table(table: &toml::Table) -> Result<Self> {
        Self::deserialize(toml::Value::Table(table.clone())).map_err(|e| PrivacyError::invalid("privacy", e.message().to_owned()))
    }

    /// Whether any field is marked (then a KEK is required).
    pub fn enabled(&self) -> bool {
        !self.fields.is_empty()
    }

    /// The checked policy.
    pub fn policy(&self) -> Result<Policy> {
        Policy::new(self.fields.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_and_refuse_what_cannot_work() {
        let table: toml::Table = toml::from_str(
            r#"
kek_file = "k"
[[fields]]
event_type = "CustomerRegistered"
subject = "/customer_id"
encrypt = ["/email"]
"#,
        )
        .unwrap();
        let s = PrivacySettings::from_table(&table).unwrap();
        assert!(s.enabled());
        let policy = s.policy().unwrap();
        assert_eq!(policy.rule("CustomerRegistered", 7).unwrap().encrypt, ["/email"]);
        let bad = |rule: FieldRule| Policy::new(vec![rule]).unwrap_err().to_string();
        assert!(bad(FieldRule::new("A", "/id").encrypt(["/id"])).contains("subject"));
        assert!(bad(FieldRule::new("A", "/id").encrypt(["email"])).contains("encrypt[0]"));
        assert!(bad(FieldRule::new("A", "/id").encrypt_metadata(["/correlation_id"])).contains("indexed"));
        assert!(bad(FieldRule::new("A", "/id")).contains("no field"));
        assert!(Policy::new(vec![FieldRule::new("A", "/id").encrypt(["/id2"])]).is_ok(), "/id2 does not hold /id");
        let twice = Policy::new(vec![FieldRule::new("A", "/i").encrypt(["/e"]), FieldRule::new("A", "/i").encrypt(["/f"])]);
        assert!(twice.is_err());
        let versioned =
            Policy::new(vec![FieldRule::new("A", "/i").encrypt(["/e"]), FieldRule::new("A", "/i").encrypt(["/f"]).version(2)]).unwrap();
        assert_eq!(versioned.rule("A", 2).unwrap().encrypt, ["/f"]);
        assert_eq!(versioned.rule("A", 1).unwrap().encrypt, ["/e"]);
        assert!(PrivacySettings::from_table(&toml::from_str("kek = 1").unwrap()).is_err());
    }
}
