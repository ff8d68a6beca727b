//! How Chronicle reaches PostgreSQL: the connection URL (or key=value
//! string) with libpq's TLS settings — `sslmode` (`disable` | `prefer` |
//! `require` | `verify-ca` | `verify-full`), `sslrootcert`, `sslcert`,
//! `sslkey` — through rustls (ring; no OpenSSL). The pool, the LISTEN
//! connection, leases and the tools all connect through one [`Connector`].
//!
//! As in libpq: `prefer` (the default) and `require` encrypt without
//! checking the server's certificate (`require` with a `sslrootcert`
//! checks it as `verify-ca` does); `verify-ca` checks the chain against
//! `sslrootcert` (else the public web roots); `verify-full` also checks
//! that the certificate names the host.

use chronicle_core::{Error, Result};
use rustls::{
    DigitallySignedStruct, SignatureScheme,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime, pem::PemObject},
};
use std::{str::FromStr, sync::Arc};
use tokio_postgres::config::SslMode as WireMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it, unverified.
    #[default]
    Prefer,
    /// TLS or nothing, unverified (verified as `verify-ca` with a root).
    Require,
    /// TLS, the certificate chain verified.
    VerifyCa,
    /// TLS, the chain and the host name verified.
    VerifyFull,
}

impl FromStr for SslMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "disable" => Self::Disable,
            "prefer" | "allow" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => {
                return Err(Error::Config {
                    reason: format!("sslmode {other:?}: expected disable, prefer, require, verify-ca or verify-full"),
                });
            }
        })
    }
}

/// The TLS settings taken out of a connection string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// `sslmode`.
    pub mode: SslMode,
    /// `sslrootcert`: PEM file of the roots to trust.
    pub root_cert: Option<String>,
    /// `sslcert`: PEM file of the client certificate (chain).
    pub client_cert: Option<String>,
    /// `sslkey`: PEM file of the client key.
    pub client_key: Option<String>,
}

/// Connects to one database with its TLS settings. Cheap to clone.
#[derive(Clone)]
pub struct Connector {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    settings: TlsSettings,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector").field("settings", &self.settings).finish_non_exhaustive()
    }
}

fn config_error(reason: String) -> Error {
    Error::Config { reason }
}

impl Connector {
    /// Parses `url` (`postgres://…?sslmode=verify-full&sslrootcert=…` or
    /// `host=… sslmode=…`) and loads the certificates it names.
    pub fn parse(url: &str) -> Result<Self> {
        let (rest, settings) = split(url)?;
        let mut config = tokio_postgres::Config::from_str(&rest).map_err(|e| config_error(format!("invalid database URL: {e}")))?;
        config.ssl_mode(match settings.mode {
            SslMode::Disable => WireMode::Disable,
            SslMode::Prefer => WireMode::Prefer,
            _ => WireMode::Require,
        });
        let tls = MakeRustlsConnect::new(client_config(&settings)?);
        Ok(Self { config, tls, settings })
    }

    /// `url` with `params` (`sslmode`, …) added where it does not set
    /// them itself.
    ///
    /// ```
    /// use chronicle_postgres::Connector;
    /// let url = Connector::with_params("postgres://u@h/db?sslmode=require", &[("sslmode", "disable"), ("sslrootcert", "/r.pem")]);
    /// assert_eq!(url, "postgres://u@h/db?sslmode=require&sslrootcert=/r.pem");
    /// assert_eq!(Connector::with_params("host=h", &[("sslmode", "verify-full")]), "host=h sslmode=verify-full");
    /// ```
    pub fn with_params(url: &str, params: &[(&str, &str)]) -> String {
        let uri = url.starts_with("postgres://") || url.starts_with("postgresql://");
        let mut out = url.to_owned();
        for (key, value) in params {
            let set = match uri {
                true => url.split_once('?').is_some_and(|(_, q)| q.split('&').any(|p| p.split('=').next() == Some(key))),
                false => url.split_whitespace().any(|w| w.split('=').next() == Some(key)),
            };
            if set {
                continue;
            }
            let sep = match (uri, out.contains('?')) {
                (true, true) => "&",
                (true, false) => "?",
                (false, _) => " ",
            };
            out = format!("{out}{sep}{key}={value}");
        }
        out
    }

    /// The connection settings (to adjust before connecting).
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// The same connector with other connection settings.
    pub fn with_config(&self, config: tokio_postgres::Config) -> Self {
        Self { config, ..self.clone() }
    }

    /// The TLS half, for a pool.
    pub fn tls(&self) -> MakeRustlsConnect {
        self.tls.clone()
    }

    /// The TLS settings.
    pub fn settings(&self) -> &TlsSettings {
        &self.settings
    }

    /// One connection; its driver runs on a task of its own.
    pub async fn connect(&self) -> Result<tokio_postgres::Client> {
        let (client, conn) = self.config.connect(self.tls.clone()).await.map_err(|e| unreachable(&e))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(client)
    }
}

/// A connection failure as one line naming its cause.
pub(crate) fn unreachable(e: &tokio_postgres::Error) -> Error {
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !reason.contains(&text) {
            reason = format!("{reason}: {text}");
        }
        source = s.source();
    }
    let hint = [
        ("UnknownIssuer", " (the server's certificate is not signed by a root in sslrootcert)"),
        ("no encryption", " (the server takes only TLS connections: set sslmode)"),
        ("does not support TLS", " (sslmode asks for TLS; the server offers none)"),
    ]
    .into_iter()
    .find_map(|(cause, hint)| reason.contains(cause).then_some(hint))
    .unwrap_or("");
    Error::Unavailable { reason: format!("cannot connect to postgres: {}{hint}", reason.replace('\n', " ")) }
}

/// `url` without its TLS settings, and the settings.
fn split(url: &str) -> Result<(String, TlsSettings)> {
    let mut settings = TlsSettings::default();
    let mut take = |key: &str, value: &str| -> Result<bool> {
        match key {
            "sslmode" => settings.mode = value.parse()?,
            "sslrootcert" => settings.root_cert = Some(value.to_owned()),
            "sslcert" => settings.client_cert = Some(value.to_owned()),
            "sslkey" => settings.client_key = Some(value.to_owned()),
            _ => return Ok(false),
        }
        Ok(true)
    };
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        match url.split_once('?') {
            Some((base, query)) => {
                let mut kept = Vec::new();
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    if !take(k, &percent_decode(v))? {
                        kept.push(pair);
                    }
                }
                if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) }
            }
            None => url.to_owned(),
        }
    } else {
        let mut kept = Vec::new();
        for word in url.split_whitespace() {
            let (k, v) = word.split_once('=').unwrap_or((word, ""));
            if !take(k, v.trim_matches('\''))? {
                kept.push(word);
            }
        }
        kept.join(" ")
    };
    Ok((rest, settings))
}

fn percent_decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The rustls client for `settings`.
fn client_config(settings: &TlsSettings) -> Result<rustls::ClientConfig> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(format!("TLS: {e}")))?;
    let verify = match (settings.mode, &settings.root_cert) {
        (SslMode::VerifyFull, _) => Some(true),
        (SslMode::VerifyCa, _) | (SslMode::Require, Some(_)) => Some(false),
        _ => None,
    };
    let builder = match verify {
        None => builder.dangerous().with_custom_certificate_verifier(Arc::new(Lenient { chain: None, provider: provider() })),
        Some(names) => {
            let roots = Arc::new(roots(settings.root_cert.as_deref())?);
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider())
                .build()
                .map_err(|e| config_error(format!("TLS: {e}")))?;
            match names {
                true => builder.with_webpki_verifier(webpki),
                false => {
                    builder.dangerous().with_custom_certificate_verifier(Arc::new(Lenient { chain: Some(webpki), provider: provider() }))
                }
            }
        }
    };
    match (&settings.client_cert, &settings.client_key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| config_error(format!("sslcert {cert}: {e}")))?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| config_error(format!("sslkey {key}: {e}")))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| config_error(format!("sslcert/sslkey: {e}")))
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        _ => Err(config_error("sslcert and sslkey go together".into())),
    }
}

/// The roots in `file` (PEM), or the public web roots.
fn roots(file: Option<&str>) -> Result<rustls::RootCertStore> {
    let mut store = rustls::RootCertStore::empty();
    match file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| config_error(format!("sslrootcert {path}: {e}")))?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(config_error(format!("sslrootcert {path}: no certificate in it")));
            }
        }
        None => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(store)
}

/// `prefer` and `require` (no `chain`): encrypted, the certificate not
/// checked, as libpq does; `verify-ca` (a `chain`): the chain checked, the
/// host name not. The handshake signatures are checked either way.
#[derive(Debug)]
struct Lenient {
    chain: Option<Arc<rustls::client::WebPkiServerVerifier>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else { return Ok(ServerCertVerified::assertion()) };
        match chain.verify_server_cert(end_entity, intermediates, name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext { .. })) => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_settings_leave_the_url() {
        let (rest, s) = split("postgres://u@h:5432/db?sslmode=verify-full&sslrootcert=%2Ftmp%2Froot.pem&application_name=x").unwrap();
        assert_eq!(rest, "postgres://u@h:5432/db?application_name=x");
        assert_eq!((s.mode, s.root_cert.as_deref()), (SslMode::VerifyFull, Some("/tmp/root.pem")));
        let (rest, s) = split("host=h user=u sslmode=require dbname=d").unwrap();
        assert_eq!((rest.as_str(), s.mode), ("host=h user=u dbname=d", SslMode::Require));
        let (rest, s) = split("postgres://u@h/db").unwrap();
        assert_eq!((rest.as_str(), s.mode), ("postgres://u@h/db", SslMode::Prefer));
        assert!(split("postgres://h/db?sslmode=sometimes").unwrap_err().to_string().contains("sslmode \"sometimes\""));
    }

    #[test]
    fn connectors_build_for_every_mode() {
        for mode in ["disable", "prefer", "require", "verify-ca", "verify-full"] {
            Connector::parse(&format!("postgres://u@127.0.0.1/db?sslmode={mode}")).unwrap();
        }
        let missing = Connector::parse("postgres://u@h/db?sslmode=verify-full&sslrootcert=/no/such.pem").unwrap_err();
        assert!(missing.to_string().contains("sslrootcert /no/such.pem"), "{missing}");
        assert!(Connector::parse("postgres://u@h/db?sslcert=/a.pem").is_err(), "sslcert without sslkey");
    }
}
