//! Activity dispatch (spec sections b.5, c.13, e.1): every attempt takes a fresh snapshot,
//! routes to one worker, links to it and waits for its answer or its exit; an exited worker
//! is excluded and another selected, inside the same conversation.
//!
//! The algorithm lives in [`dispatch_activity_with_context`]; the six seams it calls are the
//! fields of [`DispatchContext`]. [`DispatchContext::default`] wires them to the real pool,
//! the routing-function router, a conversation on the process substrate, a recorder that
//! keeps nothing, and conversation ids drawn from the scheduler's random source.
//!
//! ```
//! use std::sync::Arc;
//! use vigil_core::aion::{ActivityRequest, ActivityResult, Payload, WorkerCapacity};
//! use vigil_core::dispatch::{
//!     DispatchContext, RoutingFunctionDispatchRouter, dispatch_activity_with_context, policy,
//!     register_dispatch_worker,
//! };
//! use vigil_core::pool::WorkerContext;
//!
//! let pool = WorkerContext::new();
//! let capacity = WorkerCapacity { max_concurrent: 2, activity_types: vec!["send-email".into()] };
//! let echo = Arc::new(|request: &ActivityRequest| ActivityResult::Completed {
//!     output: request.input.clone(),
//! });
//! let worker = register_dispatch_worker(&pool, "prod", "email", capacity, echo).unwrap();
//!
//! let router = RoutingFunctionDispatchRouter::new(policy::least_loaded());
//! let ctx = DispatchContext::for_pool(&pool, Arc::new(router));
//! let request = ActivityRequest {
//!     activity_type: "send-email".into(),
//!     input: Payload { data: b"hi".to_vec(), content_type: "text/plain".into() },
//!     task_queue: "email".into(),
//!     schedule_to_close_timeout: None,
//!     start_to_close_timeout: None,
//! };
//! let result = dispatch_activity_with_context(&ctx, "prod", "email", request.clone());
//! assert_eq!(result, Ok(ActivityResult::Completed { output: request.input }));
//! assert_eq!(worker.registration().current_in_flight(), 0);
//! worker.unregister().unwrap();
//! ```

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
