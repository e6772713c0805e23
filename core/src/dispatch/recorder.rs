//! Recorders: one that keeps nothing, and one that stores operations and final outcomes and
//! replays those outcomes.

use crate::aion::{ActivityRequest, AionSurfaceError};
use crate::sync::{AtomicBool, Mutex, Ordering};

use super::types::{DispatchOperation, DispatchRecorder, RecordedDispatchOutcome};

/// Never replays, accepts every record and keeps nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopRecorder;

impl DispatchRecorder for NoopRecorder {
    fn replay_outcome(
        &self,
        _channel: &str,
        _request: &ActivityRequest,
    ) -> Result<Option<RecordedDispatchOutcome>, AionSurfaceError> {
        Ok(None)
    }

    fn record(&self, _operation: DispatchOperation) -> Result<(), AionSurfaceError> {
        Ok(())
    }
}

/// Stores every operation and every final outcome in memory. While recording it never
/// replays; after [`MemoryRecorder::start_replay`] it answers `replay_outcome` with the first
/// stored outcome for the same channel and request (replay is keyed by those two only, as in
/// the original).
#[derive(Debug)]
pub struct MemoryRecorder {
    operations: Mutex<Vec<DispatchOperation>>,
    outcomes: Mutex<Vec<(String, ActivityRequest, RecordedDispatchOutcome)>>,
    replaying: AtomicBool,
}

impl MemoryRecorder {
    pub fn new() -> Self {
        MemoryRecorder {
            operations: Mutex::named("recorder.operations", Vec::new()),
            outcomes: Mutex::named("recorder.outcomes", Vec::new()),
            replaying: AtomicBool::named("recorder.replaying", false),
        }
    }

    /// A recorder that replays `outcomes` from the start.
    pub fn replaying(outcomes: Vec<(String, ActivityRequest, RecordedDispatchOutcome)>) -> Self {
        let recorder = MemoryRecorder::new();
        *recorder.outcomes.lock() = outcomes;
        recorder.start_replay();
        recorder
    }

    /// From now on, answer `replay_outcome` from the stored outcomes.
    pub fn start_replay(&self) {
        self.replaying.store(true, Ordering::Release);
    }

    /// Every operation recorded so far, in order.
    pub fn operations(&self) -> Vec<DispatchOperation> {
        self.operations.lock().clone()
    }

    /// Every final outcome recorded so far, in order.
    pub fn outcomes(&self) -> Vec<(String, ActivityRequest, RecordedDispatchOutcome)> {
        self.outcomes.lock().clone()
    }
}

impl Default for MemoryRecorder {
    fn default() -> Self {
        MemoryRecorder::new()
    }
}

impl DispatchRecorder for MemoryRecorder {
    fn replay_outcome(
        &self,
        channel: &str,
        request: &ActivityRequest,
    ) -> Result<Option<RecordedDispatchOutcome>, AionSurfaceError> {
        if !self.replaying.load(Ordering::Acquire) {
            return Ok(None);
        }
        let outcomes = self.outcomes.lock();
        Ok(outcomes
            .iter()
            .find(|(stored, stored_request, _)| stored == channel && stored_request == request)
            .map(|(_, _, outcome)| outcome.clone()))
    }

    fn record(&self, operation: DispatchOperation) -> Result<(), AionSurfaceError> {
        self.operations.lock().push(operation);
        Ok(())
    }

    fn record_outcome(
        &self,
        channel: &str,
        request: &ActivityRequest,
        outcome: &RecordedDispatchOutcome,
    ) -> Result<(), AionSurfaceError> {
        self.outcomes
            .lock()
            .push((channel.to_owned(), request.clone(), outcome.clone()));
        Ok(())
    }
}
