//! The routing-function router of spec (e.2): a hot-swappable slot holding a routing function,
//! a supervised executor that turns a panicking or overrunning function into an error, and
//! three ready policies.

use std::collections::BTreeMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use crate::aion::{ActivityRequest, AionSurfaceError, ChannelName};
use crate::pool::DispatchWorker;
use crate::routing::{ConsumerId, ConsumerStateView};
use crate::rt;
use crate::sync::Mutex;
use crate::thread::panic_message;

use super::types::DispatchRouter;

/// One field of a [`RoutingMessage`].
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    Text(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Null,
}

/// What a routing function sees of a request: field name to value, in name order.
pub type RoutingMessage = BTreeMap<String, FieldValue>;

/// A routing function's answer: the consumer to send to, or none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoutingDecision {
    pub selected: Option<ConsumerId>,
}

type RouteFn = dyn Fn(&RoutingMessage, &[ConsumerStateView]) -> RoutingDecision + Send + Sync;

/// A named routing closure with a content hash (FNV-1a over its `bytecode`, which is hashed
/// but never executed: it identifies a deployment).
#[derive(Clone)]
pub struct RoutingFunction {
    name: String,
    hash: u64,
    route: Arc<RouteFn>,
}

impl RoutingFunction {
    pub fn new(
        name: impl Into<String>,
        bytecode: &[u8],
        route: impl Fn(&RoutingMessage, &[ConsumerStateView]) -> RoutingDecision + Send + Sync + 'static,
    ) -> Self {
        RoutingFunction {
            name: name.into(),
            hash: fnv1a(bytecode),
            route: Arc::new(route),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn hash(&self) -> u64 {
        self.hash
    }
}

impl fmt::Debug for RoutingFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoutingFunction")
            .field("name", &self.name)
            .field("hash", &format_args!("{:016x}", self.hash))
            .finish()
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Holds the active routing function; `deploy` swaps it for every later call.
#[derive(Debug)]
pub struct RoutingSlot {
    active: Mutex<RoutingFunction>,
}

impl RoutingSlot {
    pub fn new(function: RoutingFunction) -> Self {
        RoutingSlot {
            active: Mutex::named("routing.slot", function),
        }
    }

    /// The active function (a clone: a deployment during a call does not affect that call).
    pub fn current(&self) -> RoutingFunction {
        self.active.lock().clone()
    }

    /// Makes `function` the active one (hot deployment).
    pub fn deploy(&self, function: RoutingFunction) {
        *self.active.lock() = function;
    }
}

/// Why a supervised routing call produced no decision.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FunctionError {
    #[error("routing function '{name}' panicked during execution: {message}")]
    Crashed { name: String, message: String },
    #[error(
        "routing function '{name}' exceeded the supervision timeout of {timeout:?} \
         (ran for {elapsed:?})"
    )]
    TimedOut {
        name: String,
        timeout: Duration,
        elapsed: Duration,
    },
}

/// Runs routing functions with panics caught and time measured on the scheduler's clock.
///
/// The call runs on the caller's task: a Rust closure cannot be preempted (the original's
/// beamr process could not preempt a native closure either), so an overrun is detected when
/// the function returns and its decision is discarded. Because the clock is the scheduler's,
/// a simulated overrun (a function that sleeps) is deterministic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SupervisedExecutor {
    pub timeout: Duration,
}

impl SupervisedExecutor {
    /// The original's default supervision timeout.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

    pub fn execute(
        &self,
        function: &RoutingFunction,
        message: &RoutingMessage,
        views: &[ConsumerStateView],
    ) -> Result<RoutingDecision, FunctionError> {
        let started = rt::now();
        let decision = catch_unwind(AssertUnwindSafe(|| (function.route)(message, views)));
        let elapsed = rt::now().saturating_duration_since(started);
        let decision = decision.map_err(|payload| FunctionError::Crashed {
            name: function.name.clone(),
            message: panic_message(payload.as_ref()),
        })?;
        if elapsed > self.timeout {
            return Err(FunctionError::TimedOut {
                name: function.name.clone(),
                timeout: self.timeout,
                elapsed,
            });
        }
        Ok(decision)
    }
}

impl Default for SupervisedExecutor {
    fn default() -> Self {
        SupervisedExecutor {
            timeout: SupervisedExecutor::DEFAULT_TIMEOUT,
        }
    }
}

/// Routes through the function in `slot`, run by `executor` (spec e.2).
#[derive(Clone, Debug)]
pub struct RoutingFunctionDispatchRouter {
    pub slot: Arc<RoutingSlot>,
    pub executor: SupervisedExecutor,
}

impl RoutingFunctionDispatchRouter {
    /// A router with its own slot holding `function` and the default executor.
    pub fn new(function: RoutingFunction) -> Self {
        RoutingFunctionDispatchRouter {
            slot: Arc::new(RoutingSlot::new(function)),
            executor: SupervisedExecutor::default(),
        }
    }
}

impl DispatchRouter for RoutingFunctionDispatchRouter {
    fn select_worker(
        &self,
        workflow_id: &str,
        channel: &ChannelName,
        request: &ActivityRequest,
        candidates: &[DispatchWorker],
        excluded_ids: &[String],
    ) -> Result<Option<DispatchWorker>, AionSurfaceError> {
        let failed = |message: String| AionSurfaceError::DispatchFailed {
            channel_name: channel.to_string(),
            workflow_id: workflow_id.to_owned(),
            message,
        };
        let eligible: Vec<&DispatchWorker> = candidates
            .iter()
            .filter(|worker| !excluded_ids.iter().any(|id| *id == worker.worker_id))
            .collect();
        let views: Vec<ConsumerStateView> = eligible
            .iter()
            .map(|worker| worker.consumer_state.clone())
            .collect();
        let function = self.slot.current();
        let decision = self
            .executor
            .execute(&function, &routing_message(request), &views)
            .map_err(|error| failed(error.to_string()))?;
        let Some(selected) = decision.selected else {
            return Ok(None);
        };
        eligible
            .into_iter()
            .find(|worker| worker.worker_id == selected.0)
            .cloned()
            .map(Some)
            .ok_or_else(|| failed(format!("routing selected unknown worker '{selected}'")))
    }
}

/// The three text fields a routing function sees (spec e.2 step 4).
fn routing_message(request: &ActivityRequest) -> RoutingMessage {
    [
        ("activity_type", &request.activity_type),
        ("task_queue", &request.task_queue),
        ("input_content_type", &request.input.content_type),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), FieldValue::Text(value.clone())))
    .collect()
}

/// Ready routing functions. Each is a pure function of the message and the ordered views.
pub mod policy {
    use super::{ConsumerStateView, FieldValue, RoutingDecision, RoutingFunction};

    fn pick(view: Option<&ConsumerStateView>) -> RoutingDecision {
        RoutingDecision {
            selected: view.map(|view| view.consumer.clone()),
        }
    }

    /// The first consumer with a free slot.
    pub fn first_with_capacity() -> RoutingFunction {
        RoutingFunction::new(
            "first-with-capacity",
            b"first-with-capacity/1",
            |_, views| pick(views.iter().find(|view| view.has_capacity())),
        )
    }

    /// The consumer with the most free slots; the earliest wins a tie. None when all are full.
    pub fn least_loaded() -> RoutingFunction {
        RoutingFunction::new("least-loaded", b"least-loaded/1", |_, views| {
            let best =
                views
                    .iter()
                    .fold(None, |best: Option<&ConsumerStateView>, view| match best {
                        Some(best) if best.available_capacity() >= view.available_capacity() => {
                            Some(best)
                        }
                        _ => Some(view),
                    });
            pick(best.filter(|view| view.has_capacity()))
        })
    }

    /// The first consumer with a free slot that declares the request's activity type.
    pub fn affinity_by_activity_type() -> RoutingFunction {
        RoutingFunction::new(
            "affinity",
            b"affinity-by-activity-type/1",
            |message, views| {
                let Some(FieldValue::Text(activity)) = message.get("activity_type") else {
                    return RoutingDecision::default();
                };
                pick(
                    views
                        .iter()
                        .find(|view| view.has_capacity() && view.has_affinity(activity)),
                )
            },
        )
    }
}
