//! The group-commit writer: one thread owns the tail of the log. It takes
//! whatever is queued (up to `max_batch_events`, never splitting an
//! append), decides each command against the index, writes the batch as
//! one block and makes it durable with one fdatasync, then publishes and
//! answers. It starts the next batch as soon as the fdatasync returns.

use crate::{
    FileOptions,
    block::Block,
    io::SegmentFile,
    recovery::create_segment,
    shared::{Shared, SnapLoc, read, write},
};
use chronicle_core::{
    Committed, DeleteMode, Error, ExpectedVersion, LogItem, PreparedAppend, Result, Snapshot, StreamChange, StreamId, StreamMetadata,
};
use std::sync::{Arc, mpsc};
use tokio::sync::oneshot;

/// What an append answers.
pub(crate) type AppendReply = Result<Committed>;

/// A request to the writer.
#[derive(Debug)]
pub(crate) enum Command {
    /// An append.
    Append {
        /// What to store.
        append: PreparedAppend,
        /// Whether the reply carries the committed events (for after-store hooks).
        want_events: bool,
        /// Where the answer goes once the block is durable.
        reply: oneshot::Sender<AppendReply>,
    },
    Metadata(StreamId, StreamMetadata, oneshot::Sender<Result<()>>),
    Delete(StreamId, ExpectedVersion, DeleteMode, oneshot::Sender<Result<()>>),
    Snapshot(Snapshot, oneshot::Sender<Result<()>>),
    Checkpoint(String, u64, oneshot::Sender<Result<()>>),
    /// Exported items stored as they are (restore, migration).
    Import(Vec<LogItem>, oneshot::Sender<Result<()>>),
}

impl Command {
    fn events(&self) -> usize {
        match self {
            Self::Append { append, .. } => append.event_count(),
            Self::Import(items, _) => items.len(),
            _ => 1,
        }
    }

    /// Stream lifecycle changes affect how later commands are decided, so
    /// they are committed alone (never mid-batch).
    fn is_change(&self) -> bool {
        matches!(self, Self::Metadata(..) | Self::Delete(..) | Self::Import(..))
    }
}

/// The writer's own state: the tail segment.
#[derive(Debug)]
pub(crate) struct Writer {
    pub(crate) shared: Arc<Shared>,
    pub(crate) options: FileOptions,
    pub(crate) segment: u32,
    pub(crate) file: Arc<dyn SegmentFile>,
    pub(crate) len: u64,
    /// Threads writing the index files of segments sealed since the open.
    pub(crate) indexers: Vec<std::thread::JoinHandle<()>>,
}

/// An answer held back until the batch is durable.
pub(crate) enum Reply {
    Append(oneshot::Sender<AppendReply>, AppendReply),
    Unit(oneshot::Sender<Result<()>>, Result<()>),
}

/// Work to do once the batch is durable.
pub(crate) enum After {
    Change(StreamChange),
    Snapshot(StreamId, SnapLoc),
    Checkpoint(String, u64),
}

impl Writer {
    /// Runs until every sender is gone.
    pub(crate) fn run(mut self, rx: mpsc::Receiver<Command>) {
        let mut carry: Option<Command> = None;
        loop {
            let Some(first) = carry.take().or_else(|| rx.recv().ok()) else {
                // Closing: let the index files of sealed segments be written.
                self.indexers.drain(..).for_each(|h| drop(h.join()));
                return;
            };
            let mut events = first.events();
            let alone = first.is_change();
            let mut batch = vec![first];
            while !alone && events < self.options.max_batch_events {
                let Ok(cmd) = rx.try_recv() else { break };
                if cmd.is_change() || events + cmd.events() > self.options.max_batch_events {
                    carry = Some(cmd);
                    break;
                }
                events += cmd.events();
                batch.push(cmd);
            }
            self.commit(batch);
        }
    }

    fn commit(&mut self, batch: Vec<Command>) {
        if let Err(e) = self.shared.check_writable().and_then(|()| self.roll_if_full()) {
            return fail_all(batch, &e);
        }
        let mut index = write(&self.shared.index);
        let mut block = Block::new(self.segment, self.len, &index);
        for cmd in batch {
            match cmd {
                Command::Append { append, want_events, reply } => block.append(&mut index, append, want_events, reply),
                Command::Metadata(stream, metadata, tx) => block.metadata(&index, stream, metadata, tx),
                Command::Delete(stream, expected, mode, tx) => block.delete(&index, stream, expected, mode, tx),
                Command::Snapshot(snapshot, tx) => block.snapshot(snapshot, tx),
                Command::Checkpoint(name, position, tx) => block.checkpoint(name, position, tx),
                Command::Import(items, tx) => block.import(&mut index, items, tx),
            }
        }
        let head = index.len();
        drop(index);
        let (body, replies, after) = block.finish();
        if let Some(Err(e)) = body.map(|body| self.write_block(&body)) {
            self.shared.fail(e.to_string());
            return answer(replies, Some(&e));
        }
        let mut index = write(&self.shared.index);
        index.publish(head);
        for a in after {
            match a {
                After::Change(change) => index.apply_change(change),
                After::Checkpoint(name, position) => index.set_checkpoint(name, position),
                After::Snapshot(stream, snap) => {
                    let mut snaps = write(&self.shared.snapshots);
                    if snaps.get(&stream).is_none_or(|s| s.version <= snap.version) {
                        snaps.insert(stream, snap);
                    }
                }
            }
        }
        drop(index);
        self.shared.head.send_replace(head);
        answer(replies, None);
    }

    fn write_block(&mut self, block: &[u8]) -> Result<()> {
        let name = || self.shared.storage.describe(self.segment);
        self.file.write_all_at(block, self.len).map_err(|e| Error::io(format!("writing {}", name()), e))?;
        if self.options.sync {
            self.file.sync_data().map_err(|e| Error::io(format!("fdatasync of {}", name()), e))?;
        }
        self.len += block.len() as u64;
        Ok(())
    }

    /// Seals the tail segment once it reached the configured size and
    /// starts the next one.
    fn roll_if_full(&mut self) -> Result<()> {
        if self.len < self.options.segment_size_bytes {
            return Ok(());
        }
        let name = self.shared.storage.describe(self.segment);
        self.file.sync_data().map_err(|e| Error::io(format!("sealing {name}"), e))?;
        let next = self.segment + 1;
        let first_position = read(&self.shared.index).len() + 1;
        let file = create_segment(&*self.shared.storage, next, first_position)?;
        write(&self.shared.segments).insert(next, file.clone());
        self.indexers.retain(|h| !h.is_finished());
        self.indexers.extend(crate::scavenge::seal_in_background(self.shared.clone(), self.segment, self.options.compress_sealed));
        (self.segment, self.file, self.len) = (next, file, crate::format::SEGMENT_HEADER_LEN as u64);
        Ok(())
    }
}

fn answer(replies: Vec<Reply>, failure: Option<&Error>) {
    let failed = |e: &Error| Error::Unavailable { reason: format!("the write was not made durable: {e}") };
    for reply in replies {
        match reply {
            Reply::Append(tx, r) => drop(tx.send(match failure {
                Some(e) if r.is_ok() => Err(failed(e)),
                _ => r,
            })),
            Reply::Unit(tx, r) => drop(tx.send(match failure {
                Some(e) if r.is_ok() => Err(failed(e)),
                _ => r,
            })),
        }
    }
}

fn fail_all(batch: Vec<Command>, e: &Error) {
    let err = || Error::Unavailable { reason: e.to_string() };
    for cmd in batch {
        match cmd {
            Command::Append { reply, .. } => drop(reply.send(Err(err()))),
            Command::Metadata(.., tx)
            | Command::Delete(.., tx)
            | Command::Snapshot(_, tx)
            | Command::Checkpoint(_, _, tx)
            | Command::Import(_, tx) => drop(tx.send(Err(err()))),
        }
    }
}
