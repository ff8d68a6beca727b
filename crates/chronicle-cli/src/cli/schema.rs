//! `chronicle schema [--dry-run]`: the PostgreSQL migrations.

use super::{CliResult, output};
use chronicle::{Config, open_postgres};

#[derive(Debug, clap::Args)]
pub(crate) struct SchemaArgs {
    /// Print the SQL instead of applying it (no database needed).
    #[arg(long)]
    dry_run: bool,
}

pub(crate) async fn run(config: &Config, args: SchemaArgs) -> CliResult {
    let schema = &config.postgres.schema;
    if args.dry_run {
        return Ok(output::print(chronicle_postgres::dry_run(schema)?.as_bytes())?);
    }
    open_postgres(config).await?;
    Ok(output::print(format!("schema {schema} is up to date\n").as_bytes())?)
}
