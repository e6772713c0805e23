//! `DispatchContext`: the six seams dispatch calls, and the default wiring.

use std::fmt;
use std::sync::Arc;

use crate::pool::{DispatchWorkerPool, WorkerContext, default_worker_context};
use crate::rt;

use super::process::ProcessConversationFactory;
use super::recorder::NoopRecorder;
use super::router::{RoutingFunctionDispatchRouter, policy};
use super::types::{
    ConversationIdProvider, DispatchConversationFactory, DispatchRecorder, DispatchRouter,
};

/// The workflow id used when a context's own is empty.
pub const DEFAULT_WORKFLOW_ID: &str = "aion-dispatch";

/// Everything dispatch talks to. Clones share the seams.
#[derive(Clone, Debug)]
pub struct DispatchContext {
    pub workflow_id: String,
    pub worker_pool: Arc<dyn DispatchWorkerPool>,
    pub router: Arc<dyn DispatchRouter>,
    pub conversations: Arc<dyn DispatchConversationFactory>,
    pub recorder: Arc<dyn DispatchRecorder>,
    pub ids: Arc<dyn ConversationIdProvider>,
}

impl DispatchContext {
    /// Dispatch on `pool`: routing by `router`, conversations on the pool's own node, no
    /// recording, random conversation ids.
    pub fn for_pool(pool: &WorkerContext, router: Arc<dyn DispatchRouter>) -> Self {
        DispatchContext {
            workflow_id: DEFAULT_WORKFLOW_ID.to_owned(),
            worker_pool: Arc::new(pool.clone()),
            router,
            conversations: Arc::new(ProcessConversationFactory::new(pool)),
            recorder: Arc::new(NoopRecorder),
            ids: Arc::new(RandomConversationIds),
        }
    }

    /// The stored workflow id, or [`DEFAULT_WORKFLOW_ID`] when it is empty.
    pub fn effective_workflow_id(&self) -> &str {
        if self.workflow_id.is_empty() {
            DEFAULT_WORKFLOW_ID
        } else {
            &self.workflow_id
        }
    }
}

impl Default for DispatchContext {
    /// The default pool ([`default_worker_context`]) routed first-with-capacity. The original
    /// wired an empty pool and a router that never selects, so `dispatch_activity` always
    /// failed; here a worker registered with `register_dispatch_worker` on the default pool is
    /// reachable through `dispatch_activity` (see ARCHITECTURE.md).
    fn default() -> Self {
        let router = RoutingFunctionDispatchRouter::new(policy::first_with_capacity());
        DispatchContext::for_pool(&default_worker_context(), Arc::new(router))
    }
}

/// UUIDv4 conversation ids drawn from the scheduler's random source (so a simulated run
/// draws the same ids for the same seed).
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomConversationIds;

impl ConversationIdProvider for RandomConversationIds {
    fn next_conversation_id(&self) -> String {
        let high = rt::random_u64();
        let low = rt::random_u64();
        // Version 4 in the high word's third group, variant 10 in the low word's top bits.
        let high = (high & !0xF000) | 0x4000;
        let low = (low & !(0b11 << 62)) | (0b10 << 62);
        Uuid(high, low).to_string()
    }
}

struct Uuid(u64, u64);

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Uuid(high, low) = *self;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            high >> 32,
            (high >> 16) & 0xFFFF,
            high & 0xFFFF,
            low >> 48,
            low & 0xFFFF_FFFF_FFFF
        )
    }
}
