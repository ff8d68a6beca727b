//! A private PostgreSQL 15 cluster for tests that must restart the server
//! or change how it accepts connections: `initdb` and `pg_ctl` from
//! `/usr/lib/postgresql/15/bin`, run as the `postgres` user (initdb refuses
//! root), in a temporary directory on a free port; stopped and removed on
//! drop.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

const BIN: &str = "/usr/lib/postgresql/15/bin";

/// How the cluster accepts connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Plain TCP on 127.0.0.1 (and the socket).
    Plain,
    /// TLS only (`hostssl`), with a certificate for `localhost` signed by a
    /// test CA: `root.crt` is that CA, `other-root.crt` another one.
    TlsOnly,
}

/// A running private cluster.
#[derive(Debug)]
pub struct PgCluster {
    dir: tempfile::TempDir,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
}

/// Runs a PostgreSQL tool as `postgres` when this process is root.
fn as_postgres(tool: &str, args: &[&str]) -> std::process::Output {
    let path = format!("{BIN}/{tool}");
    let root = Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
    let mut command = if root { Command::new("runuser") } else { Command::new(&path) };
    if root {
        command.args(["-u", "postgres", "--", &path]);
    }
    command.args(args).output().expect("run a PostgreSQL tool")
}

fn chown_postgres(path: &Path) {
    if let Ok(out) = Command::new("id").args(["-u", "postgres"]).output()
        && let Ok(uid) = String::from_utf8_lossy(&out.stdout).trim().parse::<u32>()
    {
        let _ = std::os::unix::fs::chown(path, Some(uid), None);
    }
}

fn pem_ca(name: &str) -> (rcgen::Certificate, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    (params.self_signed(&key).expect("CA"), key)
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).expect("open postgresql.conf");
    f.write_all(text.as_bytes()).expect("append");
}

impl PgCluster {
    /// Creates and starts a cluster; `None` (skipped, or a panic under
    /// `CHRONICLE_REQUIRE_SERVICES=1`) when PostgreSQL's tools are missing.
    pub fn start(access: Access) -> Option<Self> {
        let tools = if Path::new(BIN).join("initdb").exists() { Ok(()) } else { Err(format!("{BIN}/initdb not found")) };
        crate::service_or_skip("PostgreSQL's initdb", tools)?;
        let dir = tempfile::Builder::new().prefix("chronicle-pg-").tempdir().expect("temp dir");
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).expect("chmod");
        let data = dir.path().join("data");
        let out = as_postgres("initdb", &["-D", &data.to_string_lossy(), "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let mut conf = format!(
            "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nfsync = off\nmax_connections = 200\n",
            dir.path().display()
        );
        let hba = match access {
            Access::Plain => "local all all trust\nhost all all 127.0.0.1/32 trust\n",
            Access::TlsOnly => {
                Self::certificates(dir.path(), &data);
                conf.push_str("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
                "local all all trust\nhostssl all all 127.0.0.1/32 trust\n"
            }
        };
        append(&data.join("postgresql.conf"), &conf);
        std::fs::write(data.join("pg_hba.conf"), hba).expect("pg_hba.conf");
        chown_postgres(&data.join("pg_hba.conf"));
        let cluster = Self { dir, port };
        cluster.pg_ctl(&["-w", "start"]);
        Some(cluster)
    }

    fn certificates(dir: &Path, data: &Path) {
        let (ca, ca_key) = pem_ca("chronicle test CA");
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .and_then(|p| p.signed_by(&key, &ca, &ca_key))
            .expect("server certificate");
        for (name, text) in [("server.crt", cert.pem()), ("server.key", key.serialize_pem())] {
            let path = data.join(name);
            std::fs::write(&path, text).expect("write");
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
            chown_postgres(&path);
        }
        std::fs::write(dir.join("root.crt"), ca.pem()).expect("root.crt");
        std::fs::write(dir.join("other-root.crt"), pem_ca("someone else").0.pem()).expect("other-root.crt");
    }

    /// Runs `pg_ctl` on this cluster with `args` (its log in `log`); panics
    /// with the log when it fails.
    pub fn pg_ctl(&self, args: &[&str]) {
        let (data, log) = (self.dir.path().join("data"), self.file("log"));
        let mut all = vec!["-D", data.to_str().unwrap_or_default(), "-l", log.to_str().unwrap_or_default()];
        all.extend_from_slice(args);
        let out = as_postgres("pg_ctl", &all);
        assert!(
            out.status.success(),
            "pg_ctl {args:?}: {} {}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// `pg_ctl restart -m fast`: sessions are terminated, in-flight
    /// transactions roll back, the server comes back on the same port.
    pub fn restart_fast(&self) {
        self.pg_ctl(&["-w", "-m", "fast", "restart"]);
    }

    /// A file in the cluster's directory (`root.crt`, `other-root.crt`, `log`).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `postgres://postgres@{host}:{port}/postgres?{params}`.
    pub fn url(&self, host: &str, params: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{params}", self.port)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = as_postgres("pg_ctl", &["-D", data.to_str().unwrap_or_default(), "-m", "immediate", "stop"]);
    }
}
