//! The compact form of audit records: one `AccessAuditBatch` event per
//! batch the writer stores, its data `{"records": [...]}` with one array
//! per record — `[at, token, role, method, path, status, extra]`: `at`
//! in microseconds since the epoch, `role` or `null`, `extra` `null` or
//! `{"denied": {...}}` / `{"crypto": {...}}`. About 60 bytes a record
//! instead of a ~290-byte event of its own.

use crate::audit::{AUDIT_BATCH_EVENT, AUDIT_EVENT, AuditRecord, CryptoEntry, Denial};
use chronicle_core::{Error, NewEvent, RecordedEvent, Result, Role, Timestamp};
use serde::{Deserialize, Serialize};

/// One record as the batch holds it.
#[derive(Serialize, Deserialize)]
struct Compact(i64, String, Option<Role>, String, String, u16, Option<Extra>);

/// What few records carry.
#[derive(Serialize, Deserialize)]
struct Extra {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    denied: Option<Denial>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crypto: Option<CryptoEntry>,
}

#[derive(Serialize, Deserialize)]
struct Batch {
    records: Vec<Compact>,
}

fn compact(r: &AuditRecord) -> Compact {
    let extra = (r.denied.is_some() || r.crypto.is_some()).then(|| Extra { denied: r.denied.clone(), crypto: r.crypto.clone() });
    Compact(r.at.as_micros(), r.token_id.clone(), r.role, r.method.clone(), r.path.clone(), r.status, extra)
}

fn expand(c: Compact) -> AuditRecord {
    let Compact(at, token_id, role, method, path, status, extra) = c;
    let outcome = if matches!(status, 401 | 403 | 429) { "denied" } else { "allowed" };
    let (denied, crypto) = extra.map_or((None, None), |e| (e.denied, e.crypto));
    AuditRecord { token_id, role, method, path, status, outcome: outcome.into(), at: Timestamp::from_micros(at), crypto, denied }
}

/// The event storing `records`.
pub(crate) fn encode(records: &[&AuditRecord]) -> NewEvent {
    let batch = Batch { records: records.iter().map(|r| compact(r)).collect() };
    let data = serde_json::to_vec(&batch).unwrap_or_else(|_| b"{\"records\":[]}".to_vec());
    NewEvent::raw(AUDIT_BATCH_EVENT, data)
}

/// The records an event of the audit stream holds, oldest first.
pub(crate) fn decode(event: &RecordedEvent) -> Result<Vec<AuditRecord>> {
    let bad = |err: serde_json::Error| Error::Corrupted {
        location: format!("{} version {}", crate::audit::AUDIT_STREAM, event.version),
        reason: format!("unreadable audit record: {err}"),
    };
    match &*event.event_type {
        AUDIT_BATCH_EVENT => Ok(event.data.decode::<Batch>().map_err(bad)?.records.into_iter().map(expand).collect()),
        AUDIT_EVENT => Ok(vec![event.data.decode::<AuditRecord>().map_err(bad)?]),
        _ => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    #[test]
    fn records_survive_the_compact_form() {
        let plain = AuditRecord::new("w", Some(Role::Writer), &Method::POST, "/streams/order-1", 200);
        let mut denial = AuditRecord::new("r", Some(Role::Reader), &Method::GET, "/streams/payment-1", 403);
        denial.denied = Some(Denial { action: "read".into(), stream: "payment-1".into() });
        let anonymous = AuditRecord::new("-", None, &Method::GET, "/events", 401);
        let event = encode(&[&plain, &denial, &anonymous]);
        let stored = RecordedEvent {
            global_position: 1,
            stream_id: chronicle_core::StreamId::new("$audit").unwrap(),
            version: 1,
            event_id: chronicle_core::Uuid::nil(),
            event_type: event.event_type.as_str().into(),
            schema_version: 1,
            data: chronicle_core::RawJson::from_trusted(event.data.clone()),
            metadata: chronicle_core::RawJson::from_trusted(bytes::Bytes::from_static(b"{}")),
            recorded_at: Timestamp::now(),
        };
        assert_eq!(decode(&stored).unwrap(), vec![plain.clone(), denial, anonymous]);
        let per_record = serde_json::to_vec(&plain).unwrap().len();
        let compact = serde_json::to_vec(&compact(&plain)).unwrap().len();
        assert!(compact * 2 < per_record, "compact {compact} B vs {per_record} B");
    }
}
