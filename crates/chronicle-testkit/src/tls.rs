//! A self-signed certificate for TLS tests.

use std::path::{Path, PathBuf};

/// A certificate for `localhost` and its key, written as PEM files.
#[derive(Debug)]
pub struct TestCertificate {
    /// The certificate, PEM (what a client trusts).
    pub pem: String,
    /// Where the certificate was written.
    pub cert_path: PathBuf,
    /// Where the private key was written.
    pub key_path: PathBuf,
}

/// Generates a self-signed certificate for `localhost` and writes
/// `cert.pem` and `key.pem` into `dir`.
///
/// # Panics
/// When generation or writing fails (a test helper).
pub fn self_signed_certificate(dir: &Path) -> TestCertificate {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("generate a self-signed certificate");
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).expect("write cert.pem");
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).expect("write key.pem");
    TestCertificate { pem: cert.cert.pem(), cert_path, key_path }
}
