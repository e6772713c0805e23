//! Dispatch steps: the workload's dispatch workers, and one dispatch run through the real
//! `dispatch_activity_with_context` with every seam wrapped so the observers can see what it
//! called. The wrappers only count and record (into the world's journal, through a
//! `RawLock`, which is no scheduling point); they change nothing the dispatch sees.

use std::sync::Arc;
use std::time::Duration;

use vigil_core::aion::{
    ActivityRequest, ActivityResult, AionSurfaceError, ChannelName, DispatchRequest, Payload,
    WorkerCapacity,
};
use vigil_core::dispatch::{
    ActivityHandler, ConversationIdProvider, DispatchContext, DispatchConversation,
    DispatchConversationEvent, DispatchConversationFactory, DispatchRouter, DispatchWorkerHandle,
    MemoryRecorder, ProcessConversationFactory, RoutingDecision, RoutingFunction,
    RoutingFunctionDispatchRouter, RoutingSlot, SupervisedExecutor, dispatch_activity_with_context,
    policy, register_dispatch_worker,
};
use vigil_core::pool::{DispatchWorker, DispatchWorkerPool, WorkerContext};
use vigil_core::process::Pid;
use vigil_core::routing::ConsumerId;
use vigil_core::rt::{self, RawLock};

use super::world::{self, DispatchRun, Event};
use crate::INJECTED_FAULT_MARKER;
use crate::scenario::{DispatchPolicy, RoutingScript};

/// The supervision timeout of scripted routing; the overrunning script sleeps past it.
const ROUTING_TIMEOUT: Duration = Duration::from_millis(10);

/// Registers a pool-owned dispatch worker whose handler completes, or fails when the
/// activity type is `fail`.
pub(super) fn register(
    context: &WorkerContext,
    namespace: &str,
    queue: &str,
    capacity: WorkerCapacity,
) -> Result<DispatchWorkerHandle, AionSurfaceError> {
    let handler: ActivityHandler = Arc::new(|request: &ActivityRequest| {
        if request.activity_type == "fail" {
            ActivityResult::Failed {
                error: AionSurfaceError::DispatchFailed {
                    channel_name: request.task_queue.clone(),
                    workflow_id: "sim".into(),
                    message: "the activity was asked to fail".into(),
                },
            }
        } else {
            ActivityResult::Completed {
                output: Payload {
                    data: b"done".to_vec(),
                    content_type: "text/plain".into(),
                },
            }
        }
    });
    register_dispatch_worker(context, namespace, queue, capacity, handler)
}

/// Runs one dispatch step: the live dispatch, then its replay from the recorded outcome.
pub(super) fn run(
    context: &WorkerContext,
    namespace: &str,
    queue: &str,
    activity_type: &str,
    policy: DispatchPolicy,
    routing: Option<RoutingScript>,
) {
    let Some(dispatch) = world::with(|world| {
        world.dispatches += 1;
        let dispatch = world.dispatches;
        world.events.push(Event::DispatchBegun { dispatch });
        dispatch
    }) else {
        return;
    };
    let request = ActivityRequest {
        activity_type: activity_type.to_owned(),
        input: Payload::default(),
        task_queue: queue.to_owned(),
        schedule_to_close_timeout: None,
        start_to_close_timeout: None,
    };
    let recorder = Arc::new(MemoryRecorder::new());
    let live = Probe::new();
    let ctx = wrapped(context, &live, router(policy, routing), &recorder, dispatch);
    let result = dispatch_activity_with_context(&ctx, namespace, queue, request.clone());
    let live = live.finish(result, recorder.operations());
    recorder.start_replay();
    let replay = Probe::new();
    let recorded = recorder.operations().len();
    let ctx = wrapped(
        context,
        &replay,
        router(policy, routing),
        &recorder,
        dispatch,
    );
    let result = dispatch_activity_with_context(&ctx, namespace, queue, request);
    let replay = replay.finish(result, recorder.operations().split_off(recorded));
    world::with(|world| {
        world.events.push(Event::DispatchReturned {
            dispatch,
            live: Box::new(live),
            replay: Box::new(replay),
        });
    });
}

fn router(policy: DispatchPolicy, routing: Option<RoutingScript>) -> RoutingFunctionDispatchRouter {
    let function = match (routing, policy) {
        (Some(RoutingScript::Panic), _) => RoutingFunction::new("panics", b"panics", |_, _| {
            panic!("{INJECTED_FAULT_MARKER}: scripted routing function panics")
        }),
        (Some(RoutingScript::Overrun), _) => {
            RoutingFunction::new("overruns", b"overruns", |_, views| {
                rt::sleep(ROUTING_TIMEOUT * 2);
                RoutingDecision {
                    selected: views.first().map(|view| view.consumer.clone()),
                }
            })
        }
        (Some(RoutingScript::Unknown), _) => {
            RoutingFunction::new("unknown", b"unknown", |_, _| RoutingDecision {
                selected: Some(ConsumerId("no-such-worker".into())),
            })
        }
        (None, DispatchPolicy::FirstWithCapacity) => policy::first_with_capacity(),
        (None, DispatchPolicy::LeastLoaded) => policy::least_loaded(),
        (None, DispatchPolicy::Affinity) => policy::affinity_by_activity_type(),
    };
    RoutingFunctionDispatchRouter {
        slot: Arc::new(RoutingSlot::new(function)),
        executor: SupervisedExecutor {
            timeout: ROUTING_TIMEOUT,
        },
    }
}

/// What the wrappers of one run saw.
#[derive(Debug)]
struct Probe(RawLock<DispatchRun>);

impl Probe {
    fn new() -> Arc<Probe> {
        Arc::new(Probe(RawLock::new(DispatchRun::default())))
    }

    fn note(&self, f: impl FnOnce(&mut DispatchRun)) {
        self.0.with(f);
    }

    fn finish(
        &self,
        result: Result<ActivityResult, AionSurfaceError>,
        operations: Vec<vigil_core::dispatch::DispatchOperation>,
    ) -> DispatchRun {
        self.0.with(|run| {
            run.result = Some(result);
            run.operations = operations;
            run.clone()
        })
    }
}

fn wrapped(
    context: &WorkerContext,
    probe: &Arc<Probe>,
    router: RoutingFunctionDispatchRouter,
    recorder: &Arc<MemoryRecorder>,
    dispatch: usize,
) -> DispatchContext {
    DispatchContext {
        workflow_id: "sim".into(),
        worker_pool: Arc::new(Pool {
            context: context.clone(),
            probe: probe.clone(),
        }),
        router: Arc::new(Router {
            inner: router,
            probe: probe.clone(),
        }),
        conversations: Arc::new(Factory {
            inner: ProcessConversationFactory::new(context),
            probe: probe.clone(),
        }),
        recorder: recorder.clone(),
        ids: Arc::new(Ids(dispatch)),
    }
}

/// The real pool, less the workers whose process the workload supplied: those are idle
/// processes that never answer a request (they serve the pool tests, not dispatch).
#[derive(Debug)]
struct Pool {
    context: WorkerContext,
    probe: Arc<Probe>,
}

impl DispatchWorkerPool for Pool {
    fn workers_for(
        &self,
        channel: &ChannelName,
        request: &ActivityRequest,
    ) -> Result<Vec<DispatchWorker>, AionSurfaceError> {
        self.probe.note(|run| run.pool_calls += 1);
        let mut workers = self.context.workers_for(channel, request)?;
        let supplied: Vec<Pid> = world::with(|world| world.spawned.clone()).unwrap_or_default();
        workers.retain(|worker| !supplied.contains(&worker.participant));
        Ok(workers)
    }
}

#[derive(Debug)]
struct Router {
    inner: RoutingFunctionDispatchRouter,
    probe: Arc<Probe>,
}

impl DispatchRouter for Router {
    fn select_worker(
        &self,
        workflow_id: &str,
        channel: &ChannelName,
        request: &ActivityRequest,
        candidates: &[DispatchWorker],
        excluded_ids: &[String],
    ) -> Result<Option<DispatchWorker>, AionSurfaceError> {
        let ids = candidates
            .iter()
            .map(|worker| worker.worker_id.to_string())
            .collect();
        self.probe
            .note(|run| run.router_calls.push((ids, excluded_ids.to_vec())));
        let selected =
            self.inner
                .select_worker(workflow_id, channel, request, candidates, excluded_ids);
        let id = selected
            .as_ref()
            .ok()
            .and_then(|worker| worker.as_ref().map(|worker| worker.worker_id.to_string()));
        self.probe.note(|run| run.selections.push(id));
        selected
    }
}

#[derive(Debug)]
struct Factory {
    inner: ProcessConversationFactory,
    probe: Arc<Probe>,
}

impl DispatchConversationFactory for Factory {
    fn open(
        &self,
        workflow_id: &str,
        channel: &ChannelName,
        conversation_id: &str,
    ) -> Result<Box<dyn DispatchConversation>, AionSurfaceError> {
        let inner = self.inner.open(workflow_id, channel, conversation_id)?;
        self.probe.note(|run| run.opens += 1);
        Ok(Box::new(Conversation {
            inner,
            probe: self.probe.clone(),
        }))
    }
}

#[derive(Debug)]
struct Conversation {
    inner: Box<dyn DispatchConversation>,
    probe: Arc<Probe>,
}

impl DispatchConversation for Conversation {
    fn link_worker(&mut self, worker: &DispatchWorker) -> Result<(), AionSurfaceError> {
        self.inner.link_worker(worker)
    }

    fn send(&mut self, request: DispatchRequest) -> Result<(), AionSurfaceError> {
        self.inner.send(request)
    }

    fn receive(&mut self) -> Result<DispatchConversationEvent, AionSurfaceError> {
        self.inner.receive()
    }

    fn close(&mut self) -> Result<(), AionSurfaceError> {
        self.probe.note(|run| run.closes += 1);
        self.inner.close()
    }
}

#[derive(Debug)]
struct Ids(usize);

impl ConversationIdProvider for Ids {
    fn next_conversation_id(&self) -> String {
        format!("dispatch-{}", self.0)
    }
}
