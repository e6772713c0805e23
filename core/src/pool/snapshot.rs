//! The snapshot projection: how a pool entry becomes the `DispatchWorker` routing sees.

use super::WorkerEntry;
use crate::aion::{ActivityRequest, AionSurfaceError, ChannelName};
use crate::process::ParticipantPid;
use crate::routing::{ConsumerId, ConsumerStateView};
use crate::sync::Ordering;

/// A worker as dispatch sees it in one snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DispatchWorker {
    pub worker_id: String,
    pub participant: ParticipantPid,
    pub consumer_state: ConsumerStateView,
}

impl DispatchWorker {
    /// A one-slot view: consumer id = worker id, 0 in flight, max 1, no buffer, no tags.
    pub fn new(worker_id: impl Into<String>, participant: ParticipantPid) -> Self {
        let worker_id = worker_id.into();
        let consumer_state = ConsumerStateView {
            consumer: ConsumerId(worker_id.clone()),
            current_in_flight: 0,
            max_in_flight: 1,
            buffer_depth: 0,
            affinity_tags: Vec::new(),
        };
        DispatchWorker::with_state(worker_id, participant, consumer_state)
    }

    /// A worker with an explicit view; nothing forces the view's consumer id to match.
    pub fn with_state(
        worker_id: impl Into<String>,
        participant: ParticipantPid,
        consumer_state: ConsumerStateView,
    ) -> Self {
        DispatchWorker {
            worker_id: worker_id.into(),
            participant,
            consumer_state,
        }
    }
}

/// The pool seam of dispatch: a fresh list of candidates for every attempt.
pub trait DispatchWorkerPool: std::fmt::Debug + Send + Sync {
    fn workers_for(
        &self,
        channel: &ChannelName,
        request: &ActivityRequest,
    ) -> Result<Vec<DispatchWorker>, AionSurfaceError>;
}

/// Projects an entry as of this moment (spec b.6): the in-flight count is read now, the
/// capacity saturates into `u32`, tags are the raw activity types.
pub(super) fn project(entry: &WorkerEntry) -> DispatchWorker {
    let consumer_state = ConsumerStateView {
        consumer: ConsumerId(entry.worker_id.clone()),
        current_in_flight: entry.current_in_flight.load(Ordering::Acquire),
        max_in_flight: u32::try_from(entry.capacity.max_concurrent).unwrap_or(u32::MAX),
        buffer_depth: 0,
        affinity_tags: entry.capacity.activity_types.clone(),
    };
    DispatchWorker::with_state(entry.worker_id.clone(), entry.participant, consumer_state)
}
