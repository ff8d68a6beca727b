use super::*;
use proptest::prelude::*;
use std::time::Duration;

const DAY: i64 = 86_400_000_000;

fn stream(ages_days: &[i64], kept: &[u64], now: Timestamp) -> Vec<Candidate> {
    ages_days
        .iter()
        .enumerate()
        .map(|(i, age)| Candidate {
            version: i as u64 + 1,
            recorded_at: Timestamp::from_micros(now.as_micros() - age * DAY),
            kept: kept.contains(&(i as u64 + 1)),
        })
        .collect()
}

#[test]
fn age_count_and_keep() {
    let now = Timestamp::from_micros(100 * DAY);
    let events = stream(&[40, 35, 31, 29, 1], &[], now);
    let month = Limits { max_age: Some(Duration::from_secs(30 * 86_400)), max_count: None };
    assert_eq!(plan_cut(month, 5, now, events.clone()), Some(4), "three older than 30 days go");
    assert_eq!(plan_cut(Limits { max_count: Some(2), ..Limits::default() }, 5, now, events.clone()), Some(4));
    assert_eq!(plan_cut(Limits { max_count: Some(10), ..Limits::default() }, 5, now, events.clone()), None, "nothing to remove");
    let kept = stream(&[40, 35, 31, 29, 1], &[2], now);
    assert_eq!(plan_cut(month, 5, now, kept), Some(2), "the kept event stops the cut at itself");
    let old = stream(&[40, 35], &[], now);
    assert_eq!(plan_cut(month, 2, now, old), Some(3), "a stream entirely past its age is emptied");
    assert_eq!(plan_cut(month, 0, now, Vec::new()), None);
    let first_kept = stream(&[40, 35], &[1], now);
    assert_eq!(plan_cut(month, 2, now, first_kept), None);
}

#[test]
fn an_already_truncated_stream_is_cut_from_where_it_starts() {
    let now = Timestamp::from_micros(100 * DAY);
    let events: Vec<Candidate> = stream(&[50, 50, 50, 50, 2, 1], &[], now).into_iter().skip(3).collect(); // starts at 4
    let month = Limits { max_age: Some(Duration::from_secs(30 * 86_400)), max_count: None };
    assert_eq!(plan_cut(month, 6, now, events.clone()), Some(5));
    let week = Limits { max_age: Some(Duration::from_secs(90 * 86_400)), max_count: None };
    assert_eq!(plan_cut(week, 6, now, events), None, "version 4 stays: nothing new to remove");
}

proptest! {
    /// The cut removes exactly the longest prefix of events the limits
    /// expire and no kept event: everything before it expires and is not
    /// kept, the event at it stays or is kept.
    #[test]
    fn the_cut_is_the_longest_expired_unkept_prefix(
        ages in proptest::collection::vec(0i64..100, 0..40),
        kept in proptest::collection::vec(1u64..40, 0..3),
        max_age_days in proptest::option::of(1u64..100),
        max_count in proptest::option::of(1u64..40),
    ) {
        let now = Timestamp::from_micros(1_000 * DAY);
        let mut ages = ages;
        ages.sort_unstable_by(|a, b| b.cmp(a)); // older first
        let events = stream(&ages, &kept, now);
        let limits = Limits { max_age: max_age_days.map(|d| Duration::from_secs(d * 86_400)), max_count };
        let last = events.len() as u64;
        let expired = |e: &Candidate| {
            let by_count = max_count.is_some_and(|n| last - e.version >= n);
            let by_age = max_age_days.is_some_and(|d| e.recorded_at.as_micros() < now.as_micros() - d as i64 * DAY);
            (by_count || by_age) && !e.kept
        };
        let removable = events.iter().take_while(|e| expired(e)).count() as u64;
        let expected = (removable > 0).then_some(removable + 1);
        prop_assert_eq!(plan_cut(limits, last, now, events.clone()), expected);
    }
}
