//! `AionSurfaceError`: the one error type every aion operation returns.

/// A failure on the aion surface. Every field is a string so the value can be cloned, compared
/// and carried inside an [`ActivityResult`](super::ActivityResult) without borrowing anything.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum AionSurfaceError {
    /// Dispatching an activity failed: no worker, a router error or a worker-reported failure.
    #[error("dispatch failed for workflow '{workflow_id}' on channel '{channel_name}': {message}")]
    DispatchFailed {
        channel_name: String,
        workflow_id: String,
        message: String,
    },
    /// A worker died while serving a workflow.
    #[error(
        "worker '{worker_id}' crashed while serving workflow '{workflow_id}' \
         on channel '{channel_name}': {message}"
    )]
    WorkerCrashed {
        channel_name: String,
        workflow_id: String,
        worker_id: String,
        message: String,
    },
    /// A signal could not be delivered to its workflow (signal surface).
    #[error(
        "signal '{signal_name}' could not be delivered to workflow '{workflow_id}' \
         on channel '{channel_name}': {message}"
    )]
    SignalDeliveryFailed {
        channel_name: String,
        workflow_id: String,
        signal_name: String,
        message: String,
    },
    /// A signal was rejected before delivery because its payload was invalid (signal surface).
    #[error(
        "signal '{signal_name}' for workflow '{workflow_id}' on channel '{channel_name}' \
         failed validation: {message}"
    )]
    SignalValidationFailed {
        channel_name: String,
        workflow_id: String,
        signal_name: String,
        message: String,
    },
    /// Streaming a workflow's history failed (history surface).
    #[error(
        "history streaming failed for workflow '{workflow_id}' on channel '{channel_name}': \
         {message}"
    )]
    StreamingFailed {
        channel_name: String,
        workflow_id: String,
        message: String,
    },
    /// A channel-name constructor rejected one of its parts.
    #[error("invalid channel name input '{input}' for {part}: {message}")]
    InvalidChannelName {
        part: String,
        input: String,
        message: String,
    },
    /// Any internal failure of the worker pool, with the underlying error's Display as message.
    #[error("channel lifecycle error for channel '{channel_name}': {message}")]
    ChannelLifecycleError {
        channel_name: String,
        message: String,
    },
}
