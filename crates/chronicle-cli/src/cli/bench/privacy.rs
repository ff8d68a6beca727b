//! `--privacy` (with `append`): what field-level encryption costs, each row
//! next to its same-run baseline — 64-writer appends of events with three
//! encrypted fields (subjects from a pool of 1,000, keys made on first use
//! and kept in `{data_dir}/keys`) against the same appends unencrypted;
//! reads where every event is encrypted, decrypted for a cleared reader,
//! against a serde_json parse + serialise of the same events (plain reads
//! never parse JSON, so that is the honest baseline); and reads where
//! 10 % are encrypted against plain reads of the same log.

use super::{
    Target, append,
    report::BenchResult,
    upcast::{self, row},
};
use crate::cli::{CliError, CliResult, stats::progress_bar};
use chronicle::{EventStore, ExpectedVersion, NewEvent, StreamId};
use chronicle_privacy::{Clearance, FieldRule, FileKeys, Kek, Keyring, Policy, Privacy, StaticKeys};
use std::{sync::Arc, time::Instant};

/// A `CustomerRegistered` of ~300 bytes with email, address and phone, of
/// `subject`.
fn registered(i: u64, subject: &str) -> NewEvent {
    let data = format!(
        r#"{{"customer_id":"{subject}","email":"user{i}@example.com","address":"{i} Long Road, Springfield, 12345","phone":"+1-555-{:07}","plan":"gold","note":"{}"}}"#,
        i % 10_000_000,
        "x".repeat(150)
    );
    NewEvent::raw("CustomerRegistered", data.into_bytes())
}

/// An event of one of 1,000 customers (spread, so concurrent writers
/// mostly write different ones).
fn customer(i: u64) -> NewEvent {
    registered(i, &format!("c-{}", i.wrapping_mul(7919) % 1000))
}

/// An event of a customer never seen before (a key made for each).
fn newcomer(i: u64) -> NewEvent {
    registered(i, &format!("n-{i}"))
}

fn privacy() -> CliResult<Privacy> {
    let rule = FieldRule::new("CustomerRegistered", "/customer_id").encrypt(["/email", "/address", "/phone"]);
    let policy = Policy::new(vec![rule]).map_err(|e| CliError::Usage(e.to_string()))?;
    let (_, kek) = Kek::generate().map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(Privacy::new(policy, Keyring::new(Arc::new(StaticKeys::new(kek, vec![])))))
}

/// A fresh store `name` whose pipeline seals, keys in its directory.
async fn sealing_store(target: &Target, name: &str, privacy: &Privacy) -> CliResult<Arc<dyn EventStore>> {
    let keys = FileKeys::open(&target.dir(name).join("keys"), true).map_err(|e| CliError::Usage(e.to_string()))?;
    privacy.attach(Arc::new(keys)).await.map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(target.reopen_with(name, target.config.pipeline().with_sealer(privacy.sealer())).await?.raw)
}

/// 64 writers of single events, each `events` appends; events/s and latencies.
async fn drive(store: Arc<dyn EventStore>, events: u64, make: fn(u64) -> NewEvent) -> CliResult<(Vec<u64>, f64)> {
    let per_writer = events.div_ceil(64);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..64u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_writer as usize);
            for c in 0..per_writer {
                let i = c * 64 + w;
                let t = Instant::now();
                store.append(&StreamId::new(format!("customer-{w}-{}", c % 16))?, ExpectedVersion::Any, vec![make(i)]).await?;
                latencies.push(t.elapsed().as_micros() as u64);
            }
            Ok::<_, chronicle::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.map_err(|e| CliError::Usage(format!("bench writer failed: {e}")))??);
    }
    let rate = latencies.len() as f64 / start.elapsed().as_secs_f64();
    Ok((latencies, rate))
}

async fn load(store: &dyn EventStore, n: u64, every: u64, what: &str) -> CliResult {
    let bar = progress_bar(n, what);
    for chunk in 0..n.div_ceil(1000) {
        let batch = (chunk * 1000..((chunk + 1) * 1000).min(n))
            .map(|i| if i.is_multiple_of(every) { customer(i) } else { append::bench_event(i, 300) })
            .collect();
        store.append(&StreamId::new(format!("load-{}", chunk % 100))?, ExpectedVersion::Any, batch).await?;
        bar.set_position(((chunk + 1) * 1000).min(n));
    }
    bar.finish_and_clear();
    Ok(())
}

/// The three privacy rows.
pub(crate) async fn run(target: &Target, quick: bool) -> CliResult<Vec<BenchResult>> {
    let appends = if quick { 6_400 } else { 64_000 };
    // Two rounds, alternating plain and encrypted (fresh stores each),
    // the best of each: one short run is at the mercy of the disk.
    let (mut base, mut best) = (0f64, None::<(f64, Vec<u64>)>);
    for round in 0..2 {
        let plain = target.store(&format!("privacy-append-plain-{round}")).await?.raw;
        base = base.max(drive(plain, appends, customer).await?.1);
        let p = privacy()?;
        let sealed = sealing_store(target, &format!("privacy-append-{round}"), &p).await?;
        // Steady state: the 1,000 subjects' keys exist (making keys is
        // the append-privacy-new row's cost).
        let subjects: Vec<String> = (0..1000).map(|s| format!("c-{s}")).collect();
        p.keyring().keys_for(&subjects, "bench").await.map_err(|e| CliError::Usage(e.to_string()))?;
        let (latencies, rate) = drive(sealed, appends, customer).await?;
        if best.as_ref().is_none_or(|(r, _)| rate > *r) {
            best = Some((rate, latencies));
        }
    }
    let (rate, latencies) = best.unwrap_or_default();
    let append_row = BenchResult { writers: Some(64), batch: Some(1), ..row("append-privacy", target, latencies.len() as u64, rate) };
    let mut rows = vec![
        append_row
            .latencies(latencies)
            .baseline("the same appends unencrypted (1,000 subjects, keys made before), best of 2 alternating", base),
    ];
    let p = privacy()?;
    let sealed = sealing_store(target, "privacy-append-new", &p).await?;
    let (latencies, rate) = drive(sealed, appends, newcomer).await?;
    let new_row = BenchResult { writers: Some(64), batch: Some(1), ..row("append-privacy-new", target, latencies.len() as u64, rate) };
    rows.push(
        new_row.latencies(latencies).baseline("the same plain appends; here every event's subject is new (a key made and synced)", base),
    );

    let n = if quick { 20_000 } else { 200_000 };
    let p = privacy()?;
    let all = sealing_store(target, "privacy-read-all", &p).await?;
    load(&*all, n, 1, "privacy: loading (all encrypted)").await?;
    let serde = upcast::serde_roundtrip(&*all, n).await?;
    let clear = p.reader(all.clone(), Clearance::Clear, "bench");
    let rate = upcast::read_all(&clear, "privacy: read decrypted", n).await?;
    rows.push(
        row("read-decrypt", target, n, rate).baseline("reads as stored + serde_json parse and serialise of each event's data", serde),
    );

    let p = privacy()?;
    let tenth = sealing_store(target, "privacy-read-10", &p).await?;
    load(&*tenth, n, 10, "privacy: loading (10% encrypted)").await?;
    let clear = p.reader(tenth.clone(), Clearance::Clear, "bench");
    // Short scans (~50 ms each): the best of five, alternating, for both.
    let (mut plain_rate, mut rate) = (0f64, 0f64);
    for _ in 0..5 {
        plain_rate = plain_rate.max(upcast::read_all(&*tenth, "privacy: read as stored", n).await?);
        rate = rate.max(upcast::read_all(&clear, "privacy: read decrypted", n).await?);
    }
    rows.push(
        row("read-decrypt10", target, n, rate)
            .baseline("reads as stored (ciphertext left sealed), same run, best of 5 alternating", plain_rate),
    );
    Ok(rows)
}
