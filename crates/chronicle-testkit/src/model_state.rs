//! The reference model: a plain list of events and per-stream records,
//! every rule written out as directly as possible.

use super::{Batch, Op, Outcome, STREAMS, pick};
use chronicle_core::{ExpectedVersion, Uuid, category_of};

#[derive(Clone, Debug)]
struct Ev {
    pos: u64,
    stream: usize,
    version: u64,
    id: Uuid,
    ty: usize,
    tag: usize,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
enum Status {
    #[default]
    Absent,
    Active,
    Soft,
    Tomb,
}

#[derive(Clone, Copy, Debug, Default)]
struct St {
    last: u64,
    status: Status,
    deleted_through: u64,
    max_count: Option<u64>,
}

/// The naive reference model.
#[derive(Debug, Default)]
pub(super) struct Model {
    pub(super) batches: Vec<Batch>,
    events: Vec<Ev>,
    streams: [St; 3],
    /// How many batches earlier operations used.
    consumed: usize,
}

type Part = (usize, ExpectedVersion, Vec<Uuid>, Vec<(usize, usize)>);

impl Model {
    fn current(&self, s: usize) -> Option<u64> {
        (self.streams[s].status == Status::Active).then_some(self.streams[s].last)
    }

    fn visible(&self, e: &Ev) -> bool {
        let st = &self.streams[e.stream];
        st.status != Status::Tomb && e.version > st.deleted_through && st.max_count.is_none_or(|n| st.last - e.version < n)
    }

    fn find(&self, id: Uuid) -> Option<&Ev> {
        self.events.iter().find(|e| e.id == id)
    }

    fn append(&mut self, parts: Vec<Part>, cond: Option<(Option<u64>, usize, usize)>) -> Outcome {
        let ids: Vec<Uuid> = parts.iter().flat_map(|p| p.2.clone()).collect();
        let existing = ids.iter().filter(|id| self.find(**id).is_some()).count();
        if existing == ids.len() {
            let mut out = Vec::new();
            for (s, _, ids, _) in &parts {
                let evs: Vec<&Ev> = ids.iter().filter_map(|id| self.find(*id)).collect();
                let consecutive = evs.iter().all(|e| e.stream == *s) && evs.windows(2).all(|w| w[1].version == w[0].version + 1);
                if !consecutive {
                    return Outcome::Failed("duplicate_event_id".into());
                }
                out.push((evs[0].version, evs[evs.len() - 1].version, evs[0].pos, evs[evs.len() - 1].pos));
            }
            return Outcome::Appended(out);
        }
        if existing > 0 {
            return Outcome::Failed("duplicate_event_id".into());
        }
        for (s, expected, _, _) in &parts {
            if self.streams[*s].status == Status::Tomb {
                return Outcome::Failed("stream_deleted".into());
            }
            if !expected.accepts(self.current(*s)) {
                return Outcome::Failed(format!("wrong_expected_version {:?}", self.current(*s)));
            }
        }
        if let Some((after, ty, tag)) = cond
            && let Some(e) = self.events.iter().find(|e| e.pos > after.unwrap_or(0) && e.ty == ty && e.tag == tag)
        {
            return Outcome::Failed(format!("append_condition_failed {}", e.pos));
        }
        let mut out = Vec::new();
        for (s, _, ids, spec) in parts {
            let first = (self.streams[s].last + 1, self.events.len() as u64 + 1);
            for (id, (ty, tag)) in ids.into_iter().zip(spec) {
                self.streams[s].last += 1;
                let (version, pos) = (self.streams[s].last, self.events.len() as u64 + 1);
                self.events.push(Ev { pos, stream: s, version, id, ty, tag });
            }
            self.streams[s].status = Status::Active;
            out.push((first.0, self.streams[s].last, first.1, self.events.len() as u64));
        }
        Outcome::Appended(out)
    }

    fn last_part(&self) -> Part {
        let b = &self.batches[self.batches.len() - 1];
        (b.stream, ExpectedVersion::Any, b.ids.clone(), b.spec.clone())
    }

    /// Applies an operation to the model (after the store ran it, so the
    /// ids it generated are in `batches`).
    pub(super) fn apply(&mut self, op: &Op) -> Outcome {
        let outcome = self.apply_inner(op);
        self.consumed = self.batches.len();
        outcome
    }

    fn apply_inner(&mut self, op: &Op) -> Outcome {
        match op {
            Op::Append { expected, .. } => {
                let mut p = self.last_part();
                p.1 = expected.get();
                self.append(vec![p], None)
            }
            Op::Retry { .. } if self.batches.len() == self.consumed => Outcome::Done,
            Op::Retry { .. } => {
                let p = self.last_part();
                self.append(vec![p], None)
            }
            Op::Multi { a, b, ea, eb } => {
                if a == b {
                    return Outcome::Failed("invalid".into());
                }
                let n = self.batches.len();
                let part = |bt: &Batch, e: ExpectedVersion| (bt.stream, e, bt.ids.clone(), bt.spec.clone());
                let parts = vec![part(&self.batches[n - 2], ea.get()), part(&self.batches[n - 1], eb.get())];
                self.append(parts, None)
            }
            Op::Conditional { after, ty, tag, .. } => {
                let p = self.last_part();
                self.append(vec![p], Some((*after, *ty, *tag)))
            }
            Op::Delete { stream, expected, tombstone } => {
                let st = self.streams[*stream];
                if st.status == Status::Tomb {
                    return Outcome::Failed("stream_deleted".into());
                }
                if !expected.get().accepts(self.current(*stream)) {
                    return Outcome::Failed(format!("wrong_expected_version {:?}", self.current(*stream)));
                }
                let st = &mut self.streams[*stream];
                if *tombstone {
                    st.status = Status::Tomb;
                } else if st.status == Status::Active {
                    st.status = Status::Soft;
                    st.deleted_through = st.last;
                }
                Outcome::Done
            }
            Op::MaxCount { stream, n } => {
                if self.streams[*stream].status == Status::Tomb {
                    return Outcome::Failed("stream_deleted".into());
                }
                self.streams[*stream].max_count = *n;
                Outcome::Done
            }
            Op::ReadStream { stream, backward, from, limit } => {
                if self.streams[*stream].status == Status::Tomb {
                    return Outcome::Failed("stream_deleted".into());
                }
                let last = self.streams[*stream].last;
                let mut evs: Vec<Ev> = self.events.iter().filter(|e| e.stream == *stream && self.visible(e)).cloned().collect();
                if *backward {
                    evs.retain(|e| e.version <= from.unwrap_or(last));
                    evs.reverse();
                } else {
                    evs.retain(|e| e.version >= from.unwrap_or(1));
                }
                evs.truncate(limit.unwrap_or(usize::MAX));
                self.outcome(&evs, None)
            }
            Op::ReadAll { backward, from, limit, ty, tag, category } => {
                let head = self.events.len() as u64;
                let matches = |e: &Ev| {
                    ty.is_none_or(|t| t == e.ty)
                        && tag.is_none_or(|t| t == e.tag)
                        && category.is_none_or(|c| category_of(STREAMS[e.stream]) == ["acct", "cart"][c])
                        && self.visible(e)
                };
                let mut evs: Vec<Ev> = self.events.iter().filter(|e| matches(e)).cloned().collect();
                if *backward {
                    evs.retain(|e| e.pos <= from.unwrap_or(head));
                    evs.reverse();
                } else {
                    evs.retain(|e| e.pos >= from.unwrap_or(1));
                }
                let limit = limit.unwrap_or(usize::MAX);
                let next = if evs.len() >= limit {
                    let last = evs[limit - 1].pos;
                    match backward {
                        true if last > 1 => Some(last - 1),
                        false if last < head => Some(last + 1),
                        _ => None,
                    }
                } else {
                    None
                };
                evs.truncate(limit);
                self.outcome(&evs, next)
            }
            Op::Get { batch } => {
                let Some(id) = pick(&self.batches, *batch).and_then(|b| b.ids.first().copied()) else { return Outcome::Done };
                let evs: Vec<Ev> = self.find(id).filter(|e| self.visible(e)).cloned().into_iter().collect();
                self.outcome(&evs, None)
            }
        }
    }

    fn outcome(&self, evs: &[Ev], next: Option<u64>) -> Outcome {
        Outcome::Read(evs.iter().map(|e| (e.pos, STREAMS[e.stream].to_owned(), e.version, e.id)).collect(), next)
    }
}
