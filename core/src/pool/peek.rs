//! Observers' copies of the pool's channels, taken between steps without scheduling points.
//!
//! A simulation's observers look at the channels after every step, so the copy reuses the
//! previous one's buffers (names, entry vectors, worker ids) instead of allocating afresh:
//! what it holds afterwards is exactly what a fresh copy would hold.

use std::sync::Arc;

use super::{ChannelState, PeekedChannel, PeekedEntry, WorkerContext, WorkerEntry};

impl WorkerContext {
    /// Runs `read` over every channel's entries without scheduling points; `None` while the
    /// channels lock is held. For invariant checkers that observe between steps.
    pub fn peek_channels<R>(&self, read: impl FnOnce(&[PeekedChannel]) -> R) -> Option<R> {
        let peeked = self.peek_channels_owned()?;
        Some(read(&peeked))
    }

    /// The copy [`WorkerContext::peek_channels`] reads, handed over.
    pub fn peek_channels_owned(&self) -> Option<Vec<PeekedChannel>> {
        let mut channels = Vec::new();
        self.peek_channels_into(&mut channels).then_some(channels)
    }

    /// Overwrites `into` with the copy [`WorkerContext::peek_channels`] reads, reusing its
    /// allocations; `false`, leaving `into` as it was, while the channels lock is held.
    pub fn peek_channels_into(&self, into: &mut Vec<PeekedChannel>) -> bool {
        self.inner
            .channels
            .peek(|channels| {
                into.truncate(channels.len());
                for (idx, (name, state)) in channels.iter().enumerate() {
                    if idx == into.len() {
                        into.push(PeekedChannel {
                            name: String::new(),
                            actor: None,
                            fan_out: None,
                            entries: Vec::new(),
                        });
                    }
                    copy_channel(&mut into[idx], name, state);
                }
            })
            .is_some()
    }
}

fn copy_channel(into: &mut PeekedChannel, name: &str, state: &ChannelState) {
    name.clone_into(&mut into.name);
    into.actor = state.session.handle.peek_actor();
    into.fan_out = state.session.handle.peek_fan_out();
    let slots = &state.entries.slots;
    into.entries.truncate(slots.len());
    for (idx, slot) in slots.iter().enumerate() {
        let owner = slot.owner.upgrade();
        match into.entries.get_mut(idx) {
            Some(entry) => copy_entry(entry, owner),
            None => {
                let mut entry = None;
                copy_entry(&mut entry, owner);
                into.entries.push(entry);
            }
        }
    }
}

/// Sets `into` to what an observer sees of `owner` (`None` where the weak pointer no
/// longer upgrades).
fn copy_entry(into: &mut Option<PeekedEntry>, owner: Option<Arc<WorkerEntry>>) {
    let Some(owner) = owner else {
        *into = None;
        return;
    };
    let entry = into.get_or_insert_with(|| PeekedEntry {
        registration: owner.registration,
        worker_id: String::new(),
        participant: owner.view.participant,
        active: false,
        in_flight: 0,
        subscriber: None,
    });
    entry.registration = owner.registration;
    owner
        .view
        .worker_id
        .as_ref()
        .clone_into(&mut entry.worker_id);
    entry.participant = owner.view.participant;
    entry.active = owner.view.active().peek();
    entry.in_flight = owner.view.in_flight().peek();
    entry.subscriber = owner
        .subscription
        .peek(|subscription| subscription.as_ref().map(|s| s.pid()))
        .flatten();
}
