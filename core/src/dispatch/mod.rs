//! Activity dispatch (spec sections b.5, c.13, e.1): every attempt takes a fresh snapshot,
//! routes to one worker, links to it and waits for its answer or its exit; an exited worker
//! is excluded and another selected, inside the same conversation.
//!
//! The algorithm lives in [`dispatch_activity_with_context`]; the six seams it calls are the
//! fields of [`DispatchContext`]. [`DispatchContext::default`] wires them to the real pool,
//! the routing-function router, a conversation on the process substrate, a recorder that
//! keeps nothing, and conversation ids drawn from the scheduler's random source.

mod algorithm;
mod context;
mod mailbox;
mod process;
mod recorder;
mod router;
mod types;

pub use algorithm::{NO_WORKERS_AVAILABLE, dispatch_activity, dispatch_activity_with_context};
pub use context::{DEFAULT_WORKFLOW_ID, DispatchContext, RandomConversationIds};
pub use process::{
    ActivityHandler, DispatchWorkerHandle, ProcessConversation, ProcessConversationFactory,
    register_dispatch_worker,
};
pub use recorder::{MemoryRecorder, NoopRecorder};
pub use router::{
    FieldValue, FunctionError, RoutingDecision, RoutingFunction, RoutingFunctionDispatchRouter,
    RoutingMessage, RoutingSlot, SupervisedExecutor, policy,
};
pub use types::{
    ActivityDispatchState, ConversationIdProvider, DispatchConversation, DispatchConversationEvent,
    DispatchConversationFactory, DispatchOperation, DispatchOperationKind, DispatchRecorder,
    DispatchRouter, RecordedDispatchOutcome,
};

#[cfg(test)]
mod tests;
