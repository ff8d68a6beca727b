//! TLS to PostgreSQL, against a private cluster of the test's own
//! (`initdb` + `pg_ctl` from PostgreSQL 15, run as the `postgres` user)
//! that accepts only TLS connections (`hostssl`), with certificates
//! generated here: a certificate for `localhost` signed by a test CA.
//! `verify-full` with the CA runs the append/read/subscribe part of the
//! conformance suite; a wrong root, a host the certificate does not name,
//! and `sslmode=disable` each fail with one line naming the cause;
//! `verify-ca` accepts the host the certificate does not name.

use chronicle_core::AppendPipeline;
use chronicle_postgres::PgStore;
use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
};

const BIN: &str = "/usr/lib/postgresql/15/bin";

/// A TLS-only cluster on a free port, stopped and removed on drop.
struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
}

/// Runs a PostgreSQL tool as `postgres` (initdb refuses root).
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
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    (params.self_signed(&key).unwrap(), key)
}

impl Cluster {
    /// `None` (skipped, or a failure under `CHRONICLE_REQUIRE_SERVICES=1`)
    /// when PostgreSQL's tools are not installed.
    fn start() -> Option<Self> {
        let tools = if Path::new(BIN).join("initdb").exists() { Ok(()) } else { Err(format!("{BIN}/initdb not found")) };
        chronicle_testkit::service_or_skip("PostgreSQL's initdb", tools)?;
        let dir = tempfile::Builder::new().prefix("chronicle-tls-").tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
        let data = dir.path().join("data");
        let out = as_postgres("initdb", &["-D", data.to_str().unwrap(), "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let (ca, ca_key) = pem_ca("chronicle test CA");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().signed_by(&key, &ca, &ca_key).unwrap();
        for (name, text) in [("server.crt", cert.pem()), ("server.key", key.serialize_pem())] {
            let path = data.join(name);
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
            chown_postgres(&path);
        }
        std::fs::write(dir.path().join("root.crt"), ca.pem()).unwrap();
        std::fs::write(dir.path().join("other-root.crt"), pem_ca("someone else").0.pem()).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let conf = format!(
            "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nssl = on\nssl_cert_file = 'server.crt'\n\
             ssl_key_file = 'server.key'\nfsync = off\n",
            dir.path().display()
        );
        append(&data.join("postgresql.conf"), &conf);
        std::fs::write(data.join("pg_hba.conf"), "local all all trust\nhostssl all all 127.0.0.1/32 trust\n").unwrap();
        chown_postgres(&data.join("pg_hba.conf"));
        let log = dir.path().join("log");
        let out = as_postgres("pg_ctl", &["-D", data.to_str().unwrap(), "-l", log.to_str().unwrap(), "-w", "start"]);
        assert!(
            out.status.success(),
            "pg_ctl start: {} {}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Some(Self { dir, port })
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn url(&self, host: &str, tls: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{tls}", self.port)
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = as_postgres("pg_ctl", &["-D", data.to_str().unwrap_or_default(), "-m", "immediate", "stop"]);
    }
}

async fn connect(url: &str) -> chronicle_core::Result<PgStore> {
    PgStore::connect_temporary(url, AppendPipeline::default()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_tls_only_postgres() {
    let Some(cluster) = Cluster::start() else { return };
    let root = format!("sslrootcert={}", cluster.file("root.crt").display());
    let full = cluster.url("localhost", &format!("sslmode=verify-full&{root}"));

    // The conformance suite's append, read and subscribe cases over verified TLS.
    chronicle_testkit::cases::positions_and_versions_start_at_one_and_are_gapless(Arc::new(connect(&full).await.unwrap())).await;
    chronicle_testkit::cases::read_all_filters(Arc::new(connect(&full).await.unwrap())).await;
    chronicle_testkit::cases::subscription_crosses_from_history_into_live(Arc::new(connect(&full).await.unwrap())).await;
    chronicle_testkit::cases::dcb_condition_guards_the_append(Arc::new(connect(&full).await.unwrap())).await;

    // verify-ca checks the chain only: the IP the certificate does not name is accepted.
    connect(&cluster.url("127.0.0.1", &format!("sslmode=verify-ca&{root}"))).await.unwrap();
    // Each refusal is one line naming its cause.
    let refusals = [
        (cluster.url("127.0.0.1", &format!("sslmode=verify-full&{root}")), "not valid for name \"127.0.0.1\""),
        (
            cluster.url("localhost", &format!("sslmode=verify-full&sslrootcert={}", cluster.file("other-root.crt").display())),
            "invalid peer certificate",
        ),
        (cluster.url("127.0.0.1", "sslmode=disable"), "no encryption"),
    ];
    for (url, cause) in refusals {
        let err = connect(&url).await.unwrap_err().to_string();
        assert!(err.contains(cause) && !err.contains('\n'), "{url}: {err}");
    }
    // `require` encrypts without checking the certificate, as libpq does.
    connect(&cluster.url("127.0.0.1", "sslmode=require")).await.unwrap();
}
