use super::*;

#[test]
fn defaults_are_the_embedded_file_store() {
    let c = Config::from_toml("").unwrap();
    assert_eq!(c, Config::default());
    assert_eq!(c.backend, BackendKind::File);
    assert_eq!(c.data_dir, PathBuf::from("./chronicle-data"));
    assert_eq!(c.file.max_batch_events, 100);
    assert_eq!(c.file.sync, SyncMode::Always);
    assert_eq!(c.limits, Limits::default());
}

#[test]
fn full_file_round_trips() {
    let text = r#"
backend = "postgres"
data_dir = "/var/lib/chronicle"
database_url = "postgres://postgres@127.0.0.1/test"

[limits]
max_data_bytes = 1000
max_metadata_bytes = 100

[file]
sync = "never"
max_batch_events = 500

[postgres]
pool_size = 4
schema = "es"
sslmode = "verify-full"
sslrootcert = "/etc/ssl/pg-root.pem"
"#;
    let c = Config::from_toml(text).unwrap();
    assert_eq!(c.backend, BackendKind::Postgres);
    assert_eq!(c.limits.max_metadata_bytes, 100);
    assert_eq!(c.file.sync, SyncMode::Never);
    assert_eq!(c.postgres.schema, "es");
    assert_eq!(c.postgres.tls_params(), [("sslmode", "verify-full"), ("sslrootcert", "/etc/ssl/pg-root.pem")]);
    assert_eq!(Config::from_toml(&c.to_toml()).unwrap(), c);
}

#[test]
fn typos_and_bad_values_are_errors_with_a_line() {
    let err = Config::from_toml("backend = \"file\"\nbakend = \"memory\"\n").unwrap_err();
    assert!(matches!(err, Error::ConfigParse { line: Some(2), .. }), "{err:?}");
    assert!(err.to_string().contains("bakend"), "{err}");
    let err = Config::from_toml("backend = \"sqlite\"").unwrap_err();
    assert!(err.to_string().contains("sqlite"), "{err}");
}

#[test]
fn env_overrides_the_file() {
    let mut c = Config::from_toml("backend = \"file\"\ndata_dir = \"a\"").unwrap();
    let env = |var: &str| match var {
        "CHRONICLE_BACKEND" => Some("remote".to_owned()),
        "CHRONICLE_DATA_DIR" => Some("b".to_owned()),
        "CHRONICLE_DATABASE_URL" => Some(String::new()),
        "CHRONICLE_URL" => Some("http://127.0.0.1:7350".to_owned()),
        "CHRONICLE_CA_CERT" => Some("ca.pem".to_owned()),
        _ => None,
    };
    c.apply_env(env).unwrap();
    assert_eq!(c.backend, BackendKind::Remote);
    assert_eq!(c.data_dir, PathBuf::from("b"));
    assert_eq!(c.database_url, None, "empty values are ignored");
    assert_eq!(c.url.as_deref(), Some("http://127.0.0.1:7350"));
    assert_eq!(c.ca_cert, Some(PathBuf::from("ca.pem")));
    let err = c.apply_env(|v| (v == "CHRONICLE_BACKEND").then(|| "oracle".to_owned())).unwrap_err();
    assert!(err.to_string().starts_with("CHRONICLE_BACKEND"), "{err}");
}

#[test]
fn load_reads_the_named_file_and_requires_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "backend = \"memory\"").unwrap();
    assert_eq!(Config::read(&path).unwrap().backend, BackendKind::Memory);
    let err = Config::load(Some(&dir.path().join("missing.toml"))).unwrap_err();
    assert!(matches!(err, Error::ConfigRead { .. }), "{err:?}");
}

#[test]
fn server_sections_are_kept_raw_for_their_owner() {
    let text = "[auth]\naudit_access = false\n[auth.rate_limit]\nper_token = 50.0\n\n\
                [[auth.tokens]]\nid = \"ci\"\nrole = \"writer\"\nsha256 = \"ab\"\n[tls]\ncert = \"c.pem\"\n";
    let c = Config::from_toml(text).unwrap();
    assert_eq!(c.auth.get("audit_access").and_then(toml::Value::as_bool), Some(false));
    assert_eq!(c.tls.get("cert").and_then(toml::Value::as_str), Some("c.pem"));
    assert_eq!(Config::from_toml(&c.to_toml()).unwrap(), c, "to_toml round-trips");
}

#[test]
fn pipeline_section_builds_the_built_in_hooks() {
    let c = Config::from_toml("[pipeline]\ndeny_event_types = [\"Debug\"]\nstamp_principal = true\n").unwrap();
    assert_eq!(c.pipeline.deny_event_types, vec!["Debug".to_owned()]);
    assert!(c.pipeline.stamp_principal);
    assert_ne!(c.pipeline(), Config::default().pipeline(), "hooks installed");
    let default = format!("{:?}", Config::default().pipeline());
    let access_only = chronicle_core::AppendPipeline::new(Limits::default()).with_hook(std::sync::Arc::new(chronicle_core::AccessHook));
    assert_eq!(default, format!("{access_only:?}"), "by default only the access hook (grants, reserved `$` streams)");
    assert!(Config::from_toml("[pipeline]\ndeny = []\n").is_err(), "unknown keys are errors");
}
