//! The dispatch wire format: content types, message types and their compact JSON encoders.
//!
//! Only encoders exist. Messages are checked on the way in by the [`MessageSchema`]s instead
//! of being decoded back into these types.
//!
//! [`MessageSchema`]: super::MessageSchema

use std::time::Duration;

use serde_json::{Value, json};

use super::types::{ActivityRequest, ActivityResult, Payload};

/// Content type of a [`DispatchRequest`] on the wire.
pub const DISPATCH_REQUEST_CONTENT_TYPE: &str = "application/vnd.aion.dispatch.request+json";
/// Content type of a [`DispatchResponse`] on the wire.
pub const DISPATCH_RESPONSE_CONTENT_TYPE: &str = "application/vnd.aion.dispatch.response+json";
/// Content type of a [`DispatchAck`] on the wire.
pub const DISPATCH_ACK_CONTENT_TYPE: &str = "application/vnd.aion.dispatch.ack+json";

// Every `json!` object below lists its keys in alphabetical order. serde_json sorts keys by
// default, and with its `preserve_order` feature keeps insertion order; writing them sorted
// makes the bytes identical either way, so no other crate's feature choice can change them.

/// An activity request sent to a worker inside a dispatch conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DispatchRequest {
    pub conversation_id: String,
    pub request: ActivityRequest,
}

impl DispatchRequest {
    pub const CONTENT_TYPE: &str = DISPATCH_REQUEST_CONTENT_TYPE;

    /// Compact JSON: `{content_type, conversation_id, request}`.
    pub fn encode(&self) -> Vec<u8> {
        let request = &self.request;
        let body = json!({
            "activity_type": request.activity_type,
            "input": payload_value(&request.input),
            "schedule_to_close_timeout_ms": request.schedule_to_close_timeout.map(millis),
            "start_to_close_timeout_ms": request.start_to_close_timeout.map(millis),
            "task_queue": request.task_queue,
        });
        to_bytes(json!({
            "content_type": Self::CONTENT_TYPE,
            "conversation_id": self.conversation_id,
            "request": body,
        }))
    }
}

/// A worker's answer to a [`DispatchRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DispatchResponse {
    pub worker_id: String,
    pub result: ActivityResult,
}

impl DispatchResponse {
    pub const CONTENT_TYPE: &str = DISPATCH_RESPONSE_CONTENT_TYPE;

    /// Compact JSON: `{content_type, result, worker_id}`, where a failed result carries the
    /// error's Display rather than its structure.
    pub fn encode(&self) -> Vec<u8> {
        let result = match &self.result {
            ActivityResult::Completed { output } => json!({
                "output": payload_value(output),
                "status": "completed",
            }),
            ActivityResult::Failed { error } => json!({
                "error": error.to_string(),
                "status": "failed",
            }),
        };
        to_bytes(json!({
            "content_type": Self::CONTENT_TYPE,
            "result": result,
            "worker_id": self.worker_id,
        }))
    }
}

/// Whether a worker took a request on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DispatchAckStatus {
    Accepted,
    Deferred,
    Rejected,
}

impl DispatchAckStatus {
    /// Every status, in wire order.
    pub const ALL: [DispatchAckStatus; 3] = [Self::Accepted, Self::Deferred, Self::Rejected];

    /// The string used on the wire: `accepted`, `deferred` or `rejected`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Deferred => "deferred",
            Self::Rejected => "rejected",
        }
    }
}

/// A worker's acknowledgement of a [`DispatchRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DispatchAck {
    pub conversation_id: String,
    pub status: DispatchAckStatus,
}

impl DispatchAck {
    pub const CONTENT_TYPE: &str = DISPATCH_ACK_CONTENT_TYPE;

    /// Compact JSON: `{content_type, conversation_id, status}`.
    pub fn encode(&self) -> Vec<u8> {
        to_bytes(json!({
            "content_type": Self::CONTENT_TYPE,
            "conversation_id": self.conversation_id,
            "status": self.status.as_str(),
        }))
    }
}

/// A payload as `{content_type, data}`, with the bytes as an array of numbers.
fn payload_value(payload: &Payload) -> Value {
    json!({
        "content_type": payload.content_type,
        "data": payload.data,
    })
}

/// Whole milliseconds, saturating at `u64::MAX` for durations too long to fit.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// `Value`'s Display is compact JSON and cannot fail, unlike `serde_json::to_vec`.
fn to_bytes(value: Value) -> Vec<u8> {
    value.to_string().into_bytes()
}
