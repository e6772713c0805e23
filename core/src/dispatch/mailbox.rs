//! An unbounded hand-off from a process behaviour (running on its node's runner) to one host
//! task: a queue under a mutex plus a capacity-1 doorbell, the pattern the node itself uses.
//! Nothing is ever dropped for lack of room, and the reader learns when the writer is gone.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::sync::{Mutex, Receiver, Sender, TrySendError, channel};

/// The writing end, owned by a process behaviour. Dropping it (the process ended) discards
/// what is queued and wakes the reader, which then sees the end.
pub(super) struct MailboxWriter<T> {
    queue: Arc<Mutex<Queue<T>>>,
    bell: Sender<()>,
}

/// The reading end, owned by the one task that waits on it.
pub(super) struct MailboxReader<T> {
    queue: Arc<Mutex<Queue<T>>>,
    bell: Receiver<()>,
}

struct Queue<T> {
    items: VecDeque<T>,
    /// The writer is gone: whatever it queued is discarded and nothing more will come.
    ended: bool,
}

pub(super) fn mailbox<T>(name: &'static str) -> (MailboxWriter<T>, MailboxReader<T>) {
    let queue = Arc::new(Mutex::named(
        name,
        Queue {
            items: VecDeque::new(),
            ended: false,
        },
    ));
    let (bell, ring) = channel("dispatch.doorbell", 1);
    (
        MailboxWriter {
            queue: queue.clone(),
            bell,
        },
        MailboxReader { queue, bell: ring },
    )
}

impl<T> MailboxWriter<T> {
    pub(super) fn push(&self, item: T) {
        self.queue.lock().items.push_back(item);
        match self.bell.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
        }
    }
}

impl<T> Drop for MailboxWriter<T> {
    fn drop(&mut self) {
        let discarded = {
            let mut queue = self.queue.lock();
            queue.ended = true;
            std::mem::take(&mut queue.items)
        };
        // Items may own handles that use the scheduler when dropped; drop them unlocked.
        drop(discarded);
    }
}

impl<T> MailboxReader<T> {
    /// The next item, waiting for one; `None` once the writer is gone.
    pub(super) fn next(&self) -> Option<T> {
        loop {
            {
                let mut queue = self.queue.lock();
                if let Some(item) = queue.items.pop_front() {
                    return Some(item);
                }
                if queue.ended {
                    return None;
                }
            }
            if self.bell.recv().is_err() {
                // The sender went with the writer; its drop marked the queue ended first.
                let mut queue = self.queue.lock();
                return queue.items.pop_front();
            }
        }
    }
}
