//! The aion surface: channel names, value types, errors and the dispatch wire codec.
//!
//! Everything here is a plain value. Nothing in this module spawns, locks or reads a clock, so
//! the worker pool and the dispatcher built on top can be driven by any scheduler.

mod codec;
mod error;
mod names;
mod schema;
mod types;

pub use codec::{
    DISPATCH_ACK_CONTENT_TYPE, DISPATCH_REQUEST_CONTENT_TYPE, DISPATCH_RESPONSE_CONTENT_TYPE,
    DispatchAck, DispatchAckStatus, DispatchRequest, DispatchResponse,
};
pub use error::AionSurfaceError;
pub use names::{ChannelName, dispatch_channel, history_channel, signal_channel};
pub use schema::{MessageSchema, SchemaError};
pub use types::{ActivityRequest, ActivityResult, Payload, WorkerCapacity};

#[cfg(test)]
mod tests;
