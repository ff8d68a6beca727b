//! `chronicle forget SUBJECT` and `chronicle keys status|rotate|rotate-kek|new-kek`:
//! the privacy layer of `[privacy]` on the configured store (the file
//! backend needs the writer lock: with a server running, use
//! `CHRONICLE_BACKEND=remote` and an admin token, which calls its
//! `/privacy/…` routes).

use super::{CliError, CliResult, output};
use chronicle::{BackendKind, Config, open_remote, open_with};
use chronicle_privacy::Privacy;
use serde_json::Value;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub(crate) struct ForgetArgs {
    /// The subject's id (what the configured `subject` pointer holds).
    subject: String,
    /// Print the answer as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct KeysArgs {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// The current KEK id, subjects, keys per KEK and forgotten subjects.
    Status {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Start a new data key for SUBJECT's future events (older events keep theirs).
    Rotate {
        /// The subject's id.
        subject: String,
    },
    /// Re-wrap every data key under the current KEK (`kek_file` / CHRONICLE_KEK; the old one in `previous_kek_files`).
    /// Resumable; events are not touched.
    RotateKek,
    /// Print a new random key-encryption key (base64) for `kek_file` or CHRONICLE_KEK.
    NewKek,
}

/// The privacy layer of the configured (local) store, opened as writer.
async fn local(config: &Config) -> CliResult<(Arc<Privacy>, Arc<dyn chronicle::EventStore>)> {
    let opened = open_with(config, config.pipeline()).await?;
    let privacy = opened.privacy.ok_or_else(|| {
        CliError::Usage("no [privacy] layer: set [privacy] kek_file (or CHRONICLE_KEK) and [[privacy.fields]] in chronicle.toml".into())
    })?;
    Ok((privacy, opened.raw))
}

fn failed(e: chronicle_privacy::PrivacyError) -> CliError {
    CliError::Config(e.into())
}

fn print_json(value: &impl serde::Serialize) -> CliResult {
    let text = serde_json::to_string(value).map_err(std::io::Error::other)? + "\n";
    Ok(output::print(text.as_bytes())?)
}

pub(crate) async fn forget(config: &Config, args: ForgetArgs) -> CliResult {
    let answer: Value = if config.backend == BackendKind::Remote {
        open_remote(config).await?.post_json(&["privacy", "forget", &args.subject], &serde_json::json!({})).await?
    } else {
        let (privacy, raw) = local(config).await?;
        serde_json::to_value(privacy.forget(&*raw, &args.subject, "cli").await.map_err(failed)?).map_err(std::io::Error::other)?
    };
    if args.json {
        return print_json(&answer);
    }
    let n = answer["keys_destroyed"].as_u64().unwrap_or(0);
    let text = format!(
        "forgot {}: {n} data key(s) destroyed; their encrypted fields now read as {{\"$erased\": true}} everywhere (recorded in $privacy)\n",
        args.subject
    );
    Ok(output::print(text.as_bytes())?)
}

pub(crate) async fn keys(config: &Config, args: KeysArgs) -> CliResult {
    let remote = config.backend == BackendKind::Remote;
    match args.command {
        Sub::NewKek => {
            let (text, kek) = chronicle_privacy::Kek::generate().map_err(failed)?;
            eprintln!("new key-encryption key {} — store it like a password; losing it loses every encrypted field", kek.id());
            Ok(output::print(format!("{text}\n").as_bytes())?)
        }
        Sub::Status { json } => {
            let status: Value = match remote {
                true => open_remote(config).await?.get_json(&["privacy", "keys"]).await?,
                false => serde_json::to_value(local(config).await?.0.status().await.map_err(failed)?).map_err(std::io::Error::other)?,
            };
            if json {
                return print_json(&status);
            }
            let mut text = format!(
                "KEK {}\nkey store {}\n{} subject(s) with keys, {} key(s), {} forgotten\n",
                status["kek_id"].as_str().unwrap_or("?"),
                status["key_store"].as_str().unwrap_or("?"),
                status["subjects"],
                status["keys"],
                status["forgotten"]
            );
            if let Some(by) = status["by_kek"].as_object().filter(|m| m.len() > 1) {
                text += &format!("a KEK rotation is unfinished: keys per KEK {}\n", Value::Object(by.clone()));
            }
            Ok(output::print(text.as_bytes())?)
        }
        Sub::Rotate { subject } => {
            let generation = match remote {
                true => open_remote(config)
                    .await?
                    .post_json::<Value>(&["privacy", "subjects", &subject, "rotate"], &serde_json::json!({}))
                    .await?["generation"]
                    .as_u64()
                    .unwrap_or(0),
                false => {
                    let (privacy, raw) = local(config).await?;
                    u64::from(privacy.rotate(&*raw, &subject, "cli").await.map_err(failed)?)
                }
            };
            Ok(output::print(format!("{subject}: new data key, generation {generation}\n").as_bytes())?)
        }
        Sub::RotateKek => {
            let rewrapped =
                match remote {
                    true => open_remote(config)
                        .await?
                        .post_json::<Value>(&["privacy", "keys", "rotate-kek"], &serde_json::json!({}))
                        .await?["rewrapped"]
                        .as_u64()
                        .unwrap_or(0),
                    false => {
                        let (privacy, raw) = local(config).await?;
                        privacy.rotate_kek(&*raw, "cli", &mut |n| eprint!("\rre-wrapped {n} key(s)")).await.map_err(failed)?
                    }
                };
            Ok(output::print(format!("{rewrapped} data key(s) re-wrapped under the current KEK\n").as_bytes())?)
        }
    }
}

/// Refuses a copy whose source has `[privacy]` into a target without:
/// the copied events hold encrypted fields that would read as erased
/// without their keys. Checked before the target is opened (and created).
pub(crate) fn keys_can_follow(source: Option<&Privacy>, to: &Config) -> CliResult {
    if source.is_some() && chronicle::privacy_of(to)?.is_none() {
        return Err(CliError::Usage(
            "the source has a [privacy] section but the target has none: its encrypted fields need their data keys; \
             add [privacy] (a kek_file and the same [[privacy.fields]]) to the target's configuration"
                .into(),
        ));
    }
    Ok(())
}

/// The data keys of a copy's source, carried into its target (before the
/// events, so the copy reads like the source; again on each `--follow`
/// round). See [`keys_can_follow`].
pub(crate) async fn copy_keys(source: Option<&Privacy>, target: Option<&Privacy>) -> CliResult<Option<chronicle_privacy::KeysCopied>> {
    match (source, target) {
        (None, _) => Ok(None),
        (Some(source), Some(target)) => Ok(Some(source.keyring().copy_keys_to(target.keyring()).await.map_err(failed)?)),
        (Some(_), None) => Err(CliError::Usage("the target has no [privacy] layer for the source's data keys".into())),
    }
}

/// One line on what [`copy_keys`] did.
pub(crate) fn keys_copied_text(copied: &chronicle_privacy::KeysCopied) -> String {
    let rewrapped = match copied.rewrapped {
        0 => String::new(),
        n => format!(", {n} re-wrapped under the target's KEK"),
    };
    format!("data keys: {} live ({} added{rewrapped}), {} forgotten subject(s) carried over\n", copied.keys, copied.added, copied.forgotten)
}
