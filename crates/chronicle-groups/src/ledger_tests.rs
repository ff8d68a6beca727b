use super::*;
use chronicle_core::{RawJson, Timestamp};
use std::sync::Arc;

fn event(pos: u64, stream: &str) -> RecordedEvent {
    RecordedEvent {
        global_position: pos,
        stream_id: StreamId::new(stream).unwrap(),
        version: pos,
        event_id: Uuid::now_v7(),
        event_type: Arc::from("T"),
        schema_version: 1,
        data: RawJson::parse(&b"{}"[..]).unwrap(),
        metadata: RawJson::parse(&b"{}"[..]).unwrap(),
        recorded_at: Timestamp::now(),
    }
}

fn ledger(strategy: Strategy, max_in_flight: u64, max_retries: u64) -> Ledger {
    let spec = GroupSpec { strategy, max_in_flight, max_retries, ack_timeout_ms: 1000, ..GroupSpec::default() };
    Ledger::new(spec, Progress::default())
}

fn ids(d: &[Delivery]) -> Vec<Uuid> {
    d.iter().map(|d| d.event.event_id).collect()
}

#[test]
fn round_robin_respects_room_and_the_checkpoint_needs_a_contiguous_prefix() {
    let mut l = ledger(Strategy::RoundRobin, 3, 3);
    (1..=10).for_each(|p| l.insert(event(p, "s-1")));
    let (a, b) = (l.connect(), l.connect());
    let now = Instant::now();
    let (da, _) = l.claim(a, now);
    let (db, _) = l.claim(b, now);
    assert_eq!(da.iter().map(|d| d.event.global_position).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(db.iter().map(|d| d.event.global_position).collect::<Vec<_>>(), [4, 5, 6]);
    assert!(l.claim(a, now).0.is_empty(), "no room left");
    l.ack(&ids(&db));
    assert_eq!(l.checkpoint(), 0, "1..3 are still in flight");
    l.ack(&ids(&da)[..2]);
    assert_eq!(l.checkpoint(), 2);
    l.ack(&ids(&da)[2..]);
    assert_eq!(l.checkpoint(), 6);
    let p = l.progress();
    assert_eq!((p.checkpoint, p.acked.len()), (6, 0));
}

#[test]
fn overdue_and_abandoned_leases_are_redelivered_then_parked() {
    let mut l = ledger(Strategy::RoundRobin, 10, 2);
    l.insert(event(1, "s-1"));
    let (a, b) = (l.connect(), l.connect());
    let now = Instant::now();
    assert_eq!(l.claim(a, now).0.len(), 1);
    let (again, parked) = l.claim(b, now + Duration::from_millis(1500));
    assert_eq!((again.len(), again[0].retry_count, parked.len()), (1, 1, 0), "redelivered after the ack timeout");
    assert!(l.disconnect(b).is_empty(), "a disconnect redelivers");
    let (third, _) = l.claim(a, now + Duration::from_millis(1600));
    assert_eq!(third[0].retry_count, 2);
    let (_, to_park) = l.claim(a, now + Duration::from_millis(5000));
    assert_eq!((to_park.len(), to_park[0].attempts), (1, 3), "parked once max_retries is spent");
    assert_eq!(l.checkpoint(), 0);
    l.parked(to_park[0].event.event_id);
    assert_eq!(l.checkpoint(), 1);
}

#[test]
fn pinned_streams_stay_on_one_consumer_in_order_through_retries() {
    let mut l = ledger(Strategy::PinnedByStream, 100, 5);
    for p in 1..=40 {
        l.insert(event(p, &format!("s-{}", p % 4)));
    }
    let (a, b) = (l.connect(), l.connect());
    let now = Instant::now();
    let (da, _) = l.claim(a, now);
    let (db, _) = l.claim(b, now);
    assert_eq!(da.len() + db.len(), 40);
    let streams = |d: &[Delivery]| d.iter().map(|d| d.event.stream_id.to_string()).collect::<HashSet<_>>();
    assert!(streams(&da).is_disjoint(&streams(&db)), "each stream on one consumer");
    // A nacked event holds back the rest of its stream until it is redelivered.
    let first = da[0].clone();
    let rest: Vec<Uuid> = da.iter().skip(1).map(|d| d.event.event_id).collect();
    l.nack(&[first.event.event_id], NackAction::Retry, now, Backoff::new(Duration::from_millis(50), Duration::from_millis(50)), "x");
    l.nack(&rest, NackAction::Retry, now, Backoff::new(Duration::from_millis(10), Duration::from_millis(10)), "x");
    let (early, _) = l.claim(a, now + Duration::from_millis(20));
    assert!(early.iter().all(|d| d.event.stream_id != first.event.stream_id), "the stream waits for its first event");
    let (later, _) = l.claim(a, now + Duration::from_millis(60));
    assert_eq!(
        later.iter().find(|d| d.event.stream_id == first.event.stream_id).map(|d| d.event.global_position),
        Some(first.event.global_position)
    );
}

#[test]
fn progress_survives_a_restart_without_redelivering_acked_events() {
    let mut l = ledger(Strategy::RoundRobin, 10, 3);
    (1..=5).for_each(|p| l.insert(event(p, "s-1")));
    let c = l.connect();
    let (d, _) = l.claim(c, Instant::now());
    l.ack(&[d[1].event.event_id, d[3].event.event_id]);
    l.nack(&[d[2].event.event_id], NackAction::Retry, Instant::now(), Backoff::new(Duration::ZERO, Duration::ZERO), "x");
    let saved = l.progress();
    assert_eq!((saved.checkpoint, saved.acked.clone(), saved.retries.clone()), (0, vec![2, 4], vec![(3, 1)]));
    let mut again = Ledger::new(l.spec().clone(), saved);
    (1..=5).for_each(|p| again.insert(event(p, "s-1")));
    let c = again.connect();
    let (d, _) = again.claim(c, Instant::now());
    assert_eq!(d.iter().map(|d| (d.event.global_position, d.retry_count)).collect::<Vec<_>>(), [(1, 0), (3, 1), (5, 0)]);
}

#[test]
fn a_pin_lasts_while_its_consumer_holds_events_of_the_stream_so_newcomers_get_a_share() {
    let mut l = ledger(Strategy::PinnedByStream, 100, 3);
    (1..=40).for_each(|p| l.insert(event(p, &format!("s-{}", p % 8))));
    let first = l.connect();
    let now = Instant::now();
    let (held, _) = l.claim(first, now);
    assert_eq!(held.len(), 40, "alone, it takes every stream");
    let second = l.connect();
    (41..=80).for_each(|p| l.insert(event(p, &format!("s-{}", p % 8))));
    assert!(l.claim(second, now).0.is_empty(), "every stream is pinned to the first while it holds their events");
    l.ack(&ids(&held));
    let (newcomer, _) = l.claim(second, now);
    let (old, _) = l.claim(first, now);
    assert!(!newcomer.is_empty() && !old.is_empty(), "the streams are shared again: {} / {}", newcomer.len(), old.len());
    let streams = |d: &[Delivery]| d.iter().map(|d| d.event.stream_id.clone()).collect::<HashSet<_>>();
    assert!(streams(&newcomer).is_disjoint(&streams(&old)), "each stream on one consumer");
    assert_eq!(newcomer.len() + old.len(), 40);
}

#[test]
fn a_progress_in_the_read_through_form_delivers_only_what_it_lists() {
    let spec = GroupSpec { max_in_flight: 100, ..GroupSpec::default() };
    let progress = Progress { checkpoint: 2, read_through: Some(6), unhandled: vec![3, 5], retries: vec![(5, 2)], ..Progress::default() };
    let mut l = Ledger::new(spec, progress);
    // Saved before the pump re-read anything: the form is kept.
    let early = l.progress();
    assert_eq!((early.read_through, early.unhandled.clone(), early.retries.clone()), (Some(6), vec![3, 5], vec![(5, 2)]));
    (3..=8).for_each(|p| l.insert(event(p, "s-1")));
    let c = l.connect();
    let (got, _) = l.claim(c, Instant::now());
    let got: Vec<(u64, u32)> = got.iter().map(|d| (d.event.global_position, d.retry_count)).collect();
    assert_eq!(got, [(3, 0), (5, 2), (7, 0), (8, 0)], "4 and 6 were handled before");
    let three = l.claim(c, Instant::now()).0;
    assert!(three.is_empty());
    let p = l.progress();
    assert_eq!(p.checkpoint, 2, "3 is still in flight");
    assert_eq!((p.read_through, p.unhandled), (Some(6), vec![3, 5]));
}
