//! The shared value types of the aion surface: payloads, activity requests and results, capacity.

use std::time::Duration;

use super::error::AionSurfaceError;

/// Opaque bytes plus a content-type tag. The default is empty bytes with an empty content type.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Payload {
    pub data: Vec<u8>,
    pub content_type: String,
}

/// One unit of activity work, as the workflow engine hands it to dispatch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityRequest {
    /// Matched against the activity types a worker declares in its [`WorkerCapacity`].
    pub activity_type: String,
    pub input: Payload,
    /// Carried for the worker's benefit only. Dispatch names its channel from its own
    /// `task_queue` argument and never checks that the two agree.
    pub task_queue: String,
    /// Carried on the wire but not enforced by the surface.
    pub schedule_to_close_timeout: Option<Duration>,
    /// Carried on the wire but not enforced by the surface.
    pub start_to_close_timeout: Option<Duration>,
}

/// A worker's answer to an [`ActivityRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActivityResult {
    Completed { output: Payload },
    Failed { error: AionSurfaceError },
}

/// What a worker declares when it joins a dispatch channel. This is a declaration only: zero
/// concurrency and an empty type list are both accepted as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerCapacity {
    pub max_concurrent: usize,
    pub activity_types: Vec<String>,
}
