//! The server's sections of `chronicle.toml`: `[auth]` (tokens, audit,
//! rate limits) and `[tls]`. The façade's `Config` keeps them as raw
//! tables; this module gives them their types.

use crate::{auth::TokenEntry, rate::RateLimit};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::path::{Path, PathBuf};

/// TLS of `chronicle serve` (`[tls]`): both paths set, or neither.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsOptions {
    /// PEM certificate chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
}

/// Access control of `chronicle serve` (`[auth]`, `[[auth.tokens]]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthOptions {
    /// Bearer tokens (`chronicle token create --role R` prints an entry).
    /// None: the server is open, and only on a loopback address unless
    /// `--allow-anonymous` is given.
    pub tokens: Vec<TokenEntry>,
    /// Also audit successful reads and appends (denials and admin actions
    /// are always audited).
    pub audit_access: bool,
    /// Where the audit log (a file store of its own) lives; default
    /// `{data_dir}/audit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_dir: Option<PathBuf>,
    /// Request rate limits per token and per tenant (`[auth.rate_limit]`).
    pub rate_limit: RateLimit,
}

impl Default for AuthOptions {
    fn default() -> Self {
        Self { tokens: Vec::new(), audit_access: true, audit_dir: None, rate_limit: RateLimit::default() }
    }
}

impl AuthOptions {
    /// The audit log's directory: `audit_dir`, else `{data_dir}/audit`.
    pub fn audit_dir(&self, data_dir: &Path) -> PathBuf {
        self.audit_dir.clone().unwrap_or_else(|| data_dir.join("audit"))
    }
}

/// A server section of `chronicle.toml` that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid [{section}] section of the config file: {message}")]
pub struct SettingsError {
    /// `auth` or `tls`.
    pub section: &'static str,
    /// What is wrong.
    pub message: String,
}

/// Everything `chronicle serve` reads from `chronicle.toml` besides the
/// store's own settings.
///
/// ```
/// use chronicle_server::ServerSettings;
/// let auth: toml::Table = toml::from_str("audit_access = false\n[rate_limit]\nper_token = 5.0\n").unwrap();
/// let s = ServerSettings::from_tables(&auth, &toml::Table::new()).unwrap();
/// assert!(!s.auth.audit_access);
/// assert_eq!(s.auth.rate_limit.per_token, Some(5.0));
/// assert!(ServerSettings::from_tables(&toml::from_str("tokenz = []").unwrap(), &toml::Table::new()).is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerSettings {
    /// `[auth]`.
    pub auth: AuthOptions,
    /// `[tls]`.
    pub tls: TlsOptions,
}

impl ServerSettings {
    /// Types the raw `[auth]` and `[tls]` tables (unknown keys are errors).
    pub fn from_tables(auth: &toml::Table, tls: &toml::Table) -> Result<Self, SettingsError> {
        let auth: AuthOptions = section("auth", auth)?;
        for token in &auth.tokens {
            token.check().map_err(|message| SettingsError { section: "auth", message })?;
        }
        Ok(Self { auth, tls: section("tls", tls)? })
    }

    /// The settings back as raw tables (defaults filled in), for printing.
    pub fn to_tables(&self) -> Result<(toml::Table, toml::Table), SettingsError> {
        let fail = |section| move |e: toml::ser::Error| SettingsError { section, message: e.to_string() };
        Ok((toml::Table::try_from(&self.auth).map_err(fail("auth"))?, toml::Table::try_from(&self.tls).map_err(fail("tls"))?))
    }
}

fn section<T: DeserializeOwned>(name: &'static str, table: &toml::Table) -> Result<T, SettingsError> {
    T::deserialize(toml::Value::Table(table.clone())).map_err(|e| SettingsError { section: name, message: e.message().to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_section_with_tokens_and_rate_limits() {
        let text = "audit_access = false\n[rate_limit]\nper_token = 50.0\nper_tenant = 200\n\n\
                    [[tokens]]\nid = \"ci\"\nrole = \"writer\"\nsha256 = \"ab\"\ntenant = \"acme\"\n";
        let auth: toml::Table = toml::from_str(text).unwrap();
        let s = ServerSettings::from_tables(&auth, &toml::Table::new()).unwrap();
        assert!(!s.auth.audit_access);
        assert_eq!((s.auth.rate_limit.per_token, s.auth.rate_limit.per_tenant), (Some(50.0), Some(200.0)));
        assert_eq!(s.auth.tokens[0].tenant.as_deref(), Some("acme"));
        assert_eq!(s.auth.audit_dir(Path::new("d")), Path::new("d").join("audit"));
        let bad: toml::Table = toml::from_str("[[tokens]]\nid = \"x\"\nrole = \"root\"\nsha256 = \"ab\"\n").unwrap();
        let err = ServerSettings::from_tables(&bad, &toml::Table::new()).unwrap_err();
        assert!(err.to_string().contains("role") || err.to_string().contains("root"), "{err}");
        let (auth, tls) = s.to_tables().unwrap();
        assert_eq!(ServerSettings::from_tables(&auth, &tls).unwrap(), s, "to_tables round-trips");
    }
}
