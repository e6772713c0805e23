//! The dispatch vocabulary of spec (b.5): recorded operations, activity states, conversation
//! events, and the five seams dispatch calls besides the pool.

use std::fmt;

use crate::aion::{ActivityRequest, ActivityResult, AionSurfaceError, ChannelName};
use crate::aion::{DispatchRequest, DispatchResponse};
use crate::pool::DispatchWorker;

/// How a conversation step maps onto an Aion activity state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivityDispatchState {
    /// The conversation opened.
    ActivityScheduled,
    /// A worker was selected and linked.
    ActivityStarted,
    /// The worker answered `Completed`.
    ActivityCompleted,
    /// The worker answered `Failed` (`retry_eligible: false`) or exited (`true`).
    ActivityFailed { retry_eligible: bool },
}

/// The six kinds of recorded dispatch operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DispatchOperationKind {
    ConversationOpened,
    WorkerSelected,
    MessageSent,
    MessageReceived,
    WorkerExited,
    ConversationClosed,
}

impl DispatchOperationKind {
    /// A short name for traces and oracle messages.
    pub fn as_str(self) -> &'static str {
        match self {
            DispatchOperationKind::ConversationOpened => "Opened",
            DispatchOperationKind::WorkerSelected => "Selected",
            DispatchOperationKind::MessageSent => "Sent",
            DispatchOperationKind::MessageReceived => "Received",
            DispatchOperationKind::WorkerExited => "WorkerExited",
            DispatchOperationKind::ConversationClosed => "Closed",
        }
    }
}

/// One recorded dispatch event. Built with its three required fields; the optional ones are
/// set by dispatch only, through crate-internal setters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DispatchOperation {
    pub kind: DispatchOperationKind,
    pub conversation_id: String,
    pub channel_name: String,
    pub worker_id: Option<String>,
    pub activity_state: Option<ActivityDispatchState>,
    pub result: Option<ActivityResult>,
    pub message: Option<String>,
}

impl DispatchOperation {
    pub fn new(
        kind: DispatchOperationKind,
        conversation_id: impl Into<String>,
        channel_name: impl Into<String>,
    ) -> Self {
        DispatchOperation {
            kind,
            conversation_id: conversation_id.into(),
            channel_name: channel_name.into(),
            worker_id: None,
            activity_state: None,
            result: None,
            message: None,
        }
    }

    pub(crate) fn worker(mut self, worker_id: impl Into<String>) -> Self {
        self.worker_id = Some(worker_id.into());
        self
    }

    pub(crate) fn state(mut self, state: ActivityDispatchState) -> Self {
        self.activity_state = Some(state);
        self
    }

    pub(crate) fn result(mut self, result: ActivityResult) -> Self {
        self.result = Some(result);
        self
    }

    pub(crate) fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
}

/// The final outcome a recorder hands back during replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedDispatchOutcome {
    pub result: Result<ActivityResult, AionSurfaceError>,
}

/// What a conversation's `receive` yields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DispatchConversationEvent {
    Response(DispatchResponse),
    WorkerExited { worker_id: String, message: String },
}

/// Chooses a worker among one snapshot's candidates, skipping the excluded ids.
pub trait DispatchRouter: fmt::Debug + Send + Sync {
    fn select_worker(
        &self,
        workflow_id: &str,
        channel: &ChannelName,
        request: &ActivityRequest,
        candidates: &[DispatchWorker],
        excluded_ids: &[String],
    ) -> Result<Option<DispatchWorker>, AionSurfaceError>;
}

/// Opens one conversation per dispatch.
pub trait DispatchConversationFactory: fmt::Debug + Send + Sync {
    fn open(
        &self,
        workflow_id: &str,
        channel: &ChannelName,
        conversation_id: &str,
    ) -> Result<Box<dyn DispatchConversation>, AionSurfaceError>;
}

/// One dispatch conversation: link to a worker, send it the request, wait for its answer or
/// its exit; closed once at the end.
pub trait DispatchConversation: fmt::Debug + Send {
    fn link_worker(&mut self, worker: &DispatchWorker) -> Result<(), AionSurfaceError>;
    fn send(&mut self, request: DispatchRequest) -> Result<(), AionSurfaceError>;
    fn receive(&mut self) -> Result<DispatchConversationEvent, AionSurfaceError>;
    fn close(&mut self) -> Result<(), AionSurfaceError>;
}

/// Aion's record/replay layer as dispatch sees it.
pub trait DispatchRecorder: fmt::Debug + Send + Sync {
    /// A recorded final outcome for this channel and request, if replaying.
    fn replay_outcome(
        &self,
        channel: &str,
        request: &ActivityRequest,
    ) -> Result<Option<RecordedDispatchOutcome>, AionSurfaceError>;

    fn record(&self, operation: DispatchOperation) -> Result<(), AionSurfaceError>;

    /// Stores the final outcome of a live dispatch so a later replay can return it. Not in
    /// the original seam (its recorder never learnt outcomes); the default keeps nothing.
    fn record_outcome(
        &self,
        _channel: &str,
        _request: &ActivityRequest,
        _outcome: &RecordedDispatchOutcome,
    ) -> Result<(), AionSurfaceError> {
        Ok(())
    }
}

/// Names each dispatch's conversation. Cannot fail.
pub trait ConversationIdProvider: fmt::Debug + Send + Sync {
    fn next_conversation_id(&self) -> String;
}
