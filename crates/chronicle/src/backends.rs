//! The one place that names backends: [`open`] and the maintenance handle
//! of each. A backend left out of the build answers
//! [`ConfigError::BackendUnavailable`] naming the cargo feature.

use crate::{BackendKind, Config, ConfigError};
use chronicle_core::{AppendPipeline, EventStore, Leases, LocalLeases, Maintenance, NoMaintenance};
use std::{path::Path, sync::Arc};

/// An open store and its maintenance handle (stats, verify, scavenge,
/// storage size; "unsupported by the X backend" for what it lacks).
#[derive(Clone, Debug)]
pub struct Opened {
    /// The store.
    pub store: Arc<dyn EventStore>,
    /// Its maintenance, over this very store (a scavenge runs in it).
    pub maintenance: Arc<dyn Maintenance>,
    /// Leases for "one node at a time" jobs (publishing relays): shared
    /// by every node on PostgreSQL, process-local elsewhere (the file
    /// engine locks its directory to one process anyway).
    pub leases: Arc<dyn Leases>,
    /// The PostgreSQL store itself when that is the backend (consumer
    /// groups keep their rows in its schema).
    #[cfg(feature = "postgres")]
    pub postgres: Option<chronicle_postgres::PgStore>,
    /// The schemas and upcasters (`[schemas]` plus the registrations in
    /// `$schemas`): `store` checks appends against them and reads in the
    /// current shape (and, with `[privacy]`, decrypted: this process holds
    /// the key-encryption key). `None` on the remote backend (the server
    /// does it).
    pub catalog: Option<Arc<chronicle_schema::Catalog>>,
    /// The store as stored: reads give each event's stored shape (and
    /// encrypted fields sealed).
    pub raw: Arc<dyn EventStore>,
    /// The store in the current shape with encrypted fields still sealed:
    /// what a server reveals per caller (the same as `store` without
    /// `[privacy]`).
    pub shaped: Arc<dyn EventStore>,
    /// The privacy layer (`[privacy]`): keys, forget, rotation. `None`
    /// without one, and on the remote backend (the server does it).
    pub privacy: Option<Arc<chronicle_privacy::Privacy>>,
}

/// Opens the configured backend with the pipeline the configuration asks
/// for ([`Config::pipeline`]). Callers hold an `Arc<dyn EventStore>` and
/// never name a backend type, so new backends plug in here alone.
pub async fn open(config: &Config) -> Result<Arc<dyn EventStore>, ConfigError> {
    Ok(open_with(config, config.pipeline()).await?.store)
}

/// Opens the configured backend with `pipeline` (start from
/// [`Config::pipeline`] and add hooks), and its maintenance handle.
///
/// ```
/// use chronicle::{AppendContext, AppendHook, Config, Error, ExpectedVersion, NewEvent, PreparedAppend, StreamId, open_with};
/// use std::sync::Arc;
///
/// /// Refuses appends to `audit-*` streams from the library.
/// #[derive(Debug)]
/// struct NoAudit;
/// impl AppendHook for NoAudit {
///     fn before_store(&self, _ctx: &AppendContext, append: &mut PreparedAppend) -> chronicle::Result<()> {
///         match append.streams.iter().any(|p| p.stream.category() == "audit") {
///             true => Err(Error::invalid("stream", "audit streams are written by the server")),
///             false => Ok(()),
///         }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let config = Config { data_dir: dir.path().to_owned(), ..Config::default() };
/// let opened = open_with(&config, config.pipeline().with_hook(Arc::new(NoAudit))).await?;
/// let refused = opened.store.append(&StreamId::new("audit-1")?, ExpectedVersion::Any, vec![NewEvent::raw("X", &b"{}"[..])]).await;
/// assert!(matches!(refused, Err(Error::Invalid { .. })));
/// assert_eq!(opened.maintenance.stats()?["events"], 0);
/// # Ok(())
/// # }
/// ```
#[cfg_attr(not(any(feature = "file", feature = "memory", feature = "postgres", feature = "remote")), allow(unused_variables))]
pub async fn open_with(config: &Config, pipeline: AppendPipeline) -> Result<Opened, ConfigError> {
    if config.backend == BackendKind::Remote {
        return open_backend(config, pipeline).await;
    }
    let catalog = catalog_of(config)?;
    let privacy = privacy_of(config)?;
    let mut pipeline = pipeline.with_hook(Arc::new(chronicle_schema::SchemaHook(catalog.clone())));
    if let Some(p) = &privacy {
        pipeline = pipeline.with_sealer(p.sealer());
        if let Some(keys) = local_keys(config, true)? {
            p.attach(keys).await?; // before the store opens: a wrong KEK touches nothing
        }
    }
    let opened = open_backend(config, pipeline).await?;
    if let Some(p) = &privacy {
        if !p.keyring().is_attached() {
            p.attach(backend_keys(config, &opened)?).await?;
        }
        p.reconcile(&*opened.raw).await?;
    }
    let shaped = shaped(opened.raw.clone(), catalog.clone()).await?;
    Ok(Opened { store: revealed(&privacy, shaped.clone()), shaped, catalog: Some(catalog), privacy, ..opened })
}

/// The privacy layer `[privacy]` asks for (KEK files read from the
/// working directory), not yet attached to a key store; `None` without one.
pub fn privacy_of(config: &Config) -> Result<Option<Arc<chronicle_privacy::Privacy>>, ConfigError> {
    let settings = chronicle_privacy::PrivacySettings::from_table(&config.privacy)?;
    Ok(chronicle_privacy::Privacy::from_settings(&settings, Path::new("."))?.map(Arc::new))
}

/// `store` revealed to this process (it holds the KEK): decrypted.
fn revealed(privacy: &Option<Arc<chronicle_privacy::Privacy>>, store: Arc<dyn EventStore>) -> Arc<dyn EventStore> {
    match privacy {
        Some(p) => Arc::new(p.reader(store, chronicle_privacy::Clearance::Clear, "library")),
        None => store,
    }
}

/// The key store that lives beside the store's files (file: `{data_dir}/keys`;
/// memory: in memory); `None` for a backend that keeps keys in itself.
fn local_keys(config: &Config, writable: bool) -> Result<Option<Arc<dyn chronicle_privacy::KeyStore>>, ConfigError> {
    Ok(match config.backend {
        BackendKind::File => Some(Arc::new(chronicle_privacy::FileKeys::open(&config.data_dir.join("keys"), writable)?)),
        BackendKind::Memory => Some(Arc::new(chronicle_privacy::MemoryKeys::default())),
        _ => None,
    })
}

/// The privacy layer of the configured store, attached to its key store
/// for reading only, without opening the event log: what `chronicle
/// migrate` and `chronicle upcast --apply` copy keys from. `None` without
/// `[privacy]`, and for backends whose keys live elsewhere (memory: in
/// the process that opened it; remote: on the server).
#[cfg_attr(not(feature = "postgres"), allow(clippy::unused_async))]
pub async fn open_privacy_read_only(config: &Config) -> Result<Option<Arc<chronicle_privacy::Privacy>>, ConfigError> {
    let Some(privacy) = privacy_of(config)? else { return Ok(None) };
    let keys: Arc<dyn chronicle_privacy::KeyStore> = match config.backend {
        BackendKind::File => Arc::new(chronicle_privacy::FileKeys::open(&config.data_dir.join("keys"), false)?),
        #[cfg(feature = "postgres")]
        BackendKind::Postgres => Arc::new(chronicle_privacy::PgKeys(open_postgres(config).await?.key_rows())),
        _ => return Ok(None),
    };
    privacy.attach(keys).await?;
    Ok(Some(privacy))
}

/// The key store kept by the backend itself (PostgreSQL's key tables).
#[cfg_attr(not(feature = "postgres"), allow(unused_variables))]
fn backend_keys(config: &Config, opened: &Opened) -> Result<Arc<dyn chronicle_privacy::KeyStore>, ConfigError> {
    #[cfg(feature = "postgres")]
    if let Some(pg) = &opened.postgres {
        return Ok(Arc::new(chronicle_privacy::PgKeys(pg.key_rows())));
    }
    Err(ConfigError::BackendUnavailable { backend: config.backend, reason: "this backend keeps no data keys for [privacy]".into() })
}

/// The catalog `[schemas]` asks for (files read from the working directory).
fn catalog_of(config: &Config) -> Result<Arc<chronicle_schema::Catalog>, ConfigError> {
    Ok(chronicle_schema::SchemaSettings::from_table(&config.schemas)?.catalog(Path::new("."))?)
}

/// `raw` read through `catalog`, with the registrations stored in `$schemas` loaded.
async fn shaped(raw: Arc<dyn EventStore>, catalog: Arc<chronicle_schema::Catalog>) -> Result<Arc<dyn EventStore>, ConfigError> {
    chronicle_schema::load(&*raw, &catalog, 0).await?;
    Ok(Arc::new(chronicle_schema::ShapedStore::new(raw, catalog)))
}

#[cfg_attr(not(any(feature = "file", feature = "memory", feature = "postgres", feature = "remote")), allow(unused_variables))]
async fn open_backend(config: &Config, pipeline: AppendPipeline) -> Result<Opened, ConfigError> {
    let kind = config.backend;
    match kind {
        #[cfg(feature = "memory")]
        BackendKind::Memory => Ok(without_maintenance(kind, Arc::new(chronicle_memory::MemoryStore::with_pipeline(pipeline)))),
        #[cfg(feature = "file")]
        BackendKind::File => {
            let options = file_engine_options(config, pipeline);
            let store = chronicle_file::FileStore::open(&config.data_dir, options.clone())?;
            let maintenance = Arc::new(chronicle_file::FileMaintenance::of(store.clone(), options));
            Ok(Opened { maintenance, ..without_maintenance(kind, Arc::new(store)) })
        }
        #[cfg(feature = "postgres")]
        BackendKind::Postgres => {
            let options = pg_options(config, pipeline)?;
            let store = chronicle_postgres::PgStore::connect(options).await?;
            let leases = Arc::new(store.leases());
            let maintenance = Arc::new(chronicle_postgres::PgMaintenance::of(store.clone()));
            Ok(Opened { leases, maintenance, postgres: Some(store.clone()), ..without_maintenance(kind, Arc::new(store)) })
        }
        #[cfg(feature = "remote")]
        BackendKind::Remote => Ok(without_maintenance(kind, Arc::new(remote_client(config).await?.with_pipeline(pipeline)))),
        #[allow(unreachable_patterns)]
        other => Err(not_built(other)),
    }
}

/// Opens the configured backend for reading only. For the file backend
/// this needs no directory lock, so it works while another process (a
/// server, an import) writes, and follows its commits; other backends open
/// as usual. Reads serve each event's current shape.
pub async fn open_read_only(config: &Config) -> Result<Arc<dyn EventStore>, ConfigError> {
    match config.backend {
        #[cfg(feature = "file")]
        BackendKind::File => {
            let (raw, catalog) = open_read_only_raw(config).await?;
            let privacy = privacy_of(config)?;
            if let (Some(p), Some(keys)) = (&privacy, local_keys(config, false)?) {
                p.attach(keys).await?;
            }
            Ok(revealed(&privacy, Arc::new(chronicle_schema::ShapedStore::new(raw, catalog))))
        }
        _ => open(config).await,
    }
}

/// Like [`open_read_only`], but as stored (reads give stored shapes), with
/// the catalog the store is served with: `[schemas]` and the registrations
/// in its `$schemas` stream (what `chronicle upcast` and `chronicle
/// catalog` work from).
pub async fn open_read_only_raw(config: &Config) -> Result<(Arc<dyn EventStore>, Arc<chronicle_schema::Catalog>), ConfigError> {
    let catalog = catalog_of(config)?;
    let raw: Arc<dyn EventStore> = match config.backend {
        #[cfg(feature = "file")]
        BackendKind::File => Arc::new(chronicle_file::FileStore::open_read_only(&config.data_dir, file_options(config))?),
        _ => open_backend(config, config.pipeline()).await?.raw,
    };
    chronicle_schema::load(&*raw, &catalog, 0).await?;
    Ok((raw, catalog))
}

/// The maintenance handle of the configured backend without opening a
/// store first: each operation opens what it needs (the file backend's
/// stats read-only, its scavenge as the writer, its verify nothing;
/// PostgreSQL's connects per operation).
/// Fails only when the configuration cannot reach the store (PostgreSQL
/// without a database URL).
pub fn maintenance(config: &Config) -> Result<Arc<dyn Maintenance>, ConfigError> {
    Ok(match config.backend {
        #[cfg(feature = "file")]
        BackendKind::File => Arc::new(chronicle_file::FileMaintenance::at(&config.data_dir, file_options(config))),
        #[cfg(feature = "postgres")]
        BackendKind::Postgres => Arc::new(chronicle_postgres::PgMaintenance::at(postgres_options(config)?)),
        other => Arc::new(NoMaintenance(name(other))),
    })
}

#[allow(dead_code)] // unused when only the file backend is built in
fn without_maintenance(kind: BackendKind, store: Arc<dyn EventStore>) -> Opened {
    Opened {
        raw: store.clone(),
        shaped: store.clone(),
        store,
        catalog: None,
        privacy: None,
        maintenance: Arc::new(NoMaintenance(name(kind))),
        leases: Arc::new(LocalLeases::default()),
        #[cfg(feature = "postgres")]
        postgres: None,
    }
}

fn name(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::File => "file",
        BackendKind::Memory => "memory",
        BackendKind::Postgres => "postgres",
        BackendKind::Remote => "remote",
    }
}

#[allow(dead_code)] // every backend may be built in
fn not_built(kind: BackendKind) -> ConfigError {
    ConfigError::BackendUnavailable {
        backend: kind,
        reason: format!("this build has no {kind} backend: enable the `{kind}` feature of the chronicle crate"),
    }
}

/// Connects to the Chronicle server at `url` (with `token`, if any,
/// trusting `ca_cert` besides the public roots).
#[cfg(feature = "remote")]
pub async fn open_remote(config: &Config) -> Result<chronicle_remote::RemoteStore, ConfigError> {
    Ok(remote_client(config).await?.with_pipeline(config.pipeline()))
}

#[cfg(feature = "remote")]
async fn remote_client(config: &Config) -> Result<chronicle_remote::RemoteStore, ConfigError> {
    let url = config.url.clone().ok_or(ConfigError::BackendUnavailable {
        backend: BackendKind::Remote,
        reason: "no server URL: set url in chronicle.toml or CHRONICLE_URL".into(),
    })?;
    let mut store = chronicle_remote::RemoteStore::new(&url, config.token.clone())?;
    if let Some(path) = &config.ca_cert {
        let pem = std::fs::read(path).map_err(|e| ConfigError::BackendUnavailable {
            backend: BackendKind::Remote,
            reason: format!("reading the CA certificate {}: {e}", path.display()),
        })?;
        store = store.with_ca_certificate(&pem)?;
    }
    Ok(store.check().await?)
}

/// The PostgreSQL backend's options from a configuration.
#[cfg(feature = "postgres")]
pub fn postgres_options(config: &Config) -> Result<chronicle_postgres::PgOptions, ConfigError> {
    pg_options(config, config.pipeline())
}

#[cfg(feature = "postgres")]
fn pg_options(config: &Config, pipeline: AppendPipeline) -> Result<chronicle_postgres::PgOptions, ConfigError> {
    let url = config.database_url.clone().ok_or(ConfigError::BackendUnavailable {
        backend: BackendKind::Postgres,
        reason: "no database URL: set database_url in chronicle.toml or CHRONICLE_DATABASE_URL".into(),
    })?;
    Ok(chronicle_postgres::PgOptions {
        url: chronicle_postgres::Connector::with_params(&url, &config.postgres.tls_params()),
        schema: config.postgres.schema.clone(),
        pool_size: config.postgres.pool_size as usize,
        pipeline,
    })
}

/// Connects to PostgreSQL at `database_url` (migrating the schema).
#[cfg(feature = "postgres")]
pub async fn open_postgres(config: &Config) -> Result<chronicle_postgres::PgStore, ConfigError> {
    Ok(chronicle_postgres::PgStore::connect(postgres_options(config)?).await?)
}

/// Opens the file backend at `config.data_dir` (for file-only operations;
/// [`open`] is the general entry point).
#[cfg(feature = "file")]
pub fn open_file(config: &Config) -> Result<chronicle_file::FileStore, ConfigError> {
    Ok(chronicle_file::FileStore::open(&config.data_dir, file_options(config))?)
}

/// The file engine's options from a configuration (with its pipeline).
#[cfg(feature = "file")]
pub fn file_options(config: &Config) -> chronicle_file::FileOptions {
    file_engine_options(config, config.pipeline())
}

#[cfg(feature = "file")]
fn file_engine_options(config: &Config, pipeline: AppendPipeline) -> chronicle_file::FileOptions {
    chronicle_file::FileOptions {
        sync: config.file.sync == crate::SyncMode::Always,
        max_batch_events: config.file.max_batch_events.max(1),
        segment_size_bytes: config.file.segment_size_bytes,
        compress_sealed: config.file.compress_sealed,
        pipeline,
        archive: config.file.archive_dir.clone().map(|dir| chronicle_file::ArchiveOptions { dir, after: config.file.archive_after }),
    }
}
