//! Scripted doubles of the dispatch seams (spec f.2): a pool that counts calls, the recording
//! router, a conversation scripted from a FIFO that logs links, sends and closes, a recorder
//! that can fail at one kind of operation, and a fixed conversation id.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::aion::{
    ActivityRequest, ActivityResult, AionSurfaceError, ChannelName, DispatchRequest,
    DispatchResponse, Payload,
};
use crate::dispatch::*;
use crate::pool::{DispatchWorker, DispatchWorkerPool};
use crate::process::Pid;
use crate::sync::Mutex;

pub(super) const CONVERSATION_ID: &str = "conversation-1";

pub(super) fn request() -> ActivityRequest {
    ActivityRequest {
        activity_type: "send-email".into(),
        input: Payload {
            data: b"{}".to_vec(),
            content_type: "application/json".into(),
        },
        task_queue: "email".into(),
        schedule_to_close_timeout: None,
        start_to_close_timeout: None,
    }
}

pub(super) fn completed(text: &str) -> ActivityResult {
    ActivityResult::Completed {
        output: Payload {
            data: text.as_bytes().to_vec(),
            content_type: "text/plain".into(),
        },
    }
}

pub(super) fn worker(id: &str) -> DispatchWorker {
    let pid = 100 + id.bytes().map(u64::from).sum::<u64>();
    DispatchWorker::new(id, Pid(pid))
}

pub(super) fn response(worker_id: &str, result: ActivityResult) -> DispatchConversationEvent {
    DispatchConversationEvent::Response(DispatchResponse {
        worker_id: worker_id.into(),
        result,
    })
}

pub(super) fn exited(worker_id: &str) -> DispatchConversationEvent {
    DispatchConversationEvent::WorkerExited {
        worker_id: worker_id.into(),
        message: "worker process exited: error".into(),
    }
}

pub(super) fn failed(message: &str) -> AionSurfaceError {
    AionSurfaceError::DispatchFailed {
        channel_name: "double".into(),
        workflow_id: "double".into(),
        message: message.into(),
    }
}

#[derive(Debug, Default)]
pub(super) struct CountingPool {
    pub(super) workers: Mutex<Vec<DispatchWorker>>,
    pub(super) calls: AtomicUsize,
}

impl CountingPool {
    pub(super) fn with(workers: Vec<DispatchWorker>) -> Arc<Self> {
        let pool = CountingPool::default();
        *pool.workers.lock() = workers;
        Arc::new(pool)
    }
}

impl DispatchWorkerPool for CountingPool {
    fn workers_for(
        &self,
        _channel: &ChannelName,
        _request: &ActivityRequest,
    ) -> Result<Vec<DispatchWorker>, AionSurfaceError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(self.workers.lock().clone())
    }
}

/// Records (candidate ids, excluded ids) per call and pops one scripted decision: `Some(id)`
/// picks the first non-excluded candidate with that id, `None` or an empty script the first
/// non-excluded candidate.
#[derive(Debug, Default)]
pub(super) struct RecordingRouter {
    pub(super) script: Mutex<VecDeque<Option<String>>>,
    pub(super) calls: Mutex<Vec<(Vec<String>, Vec<String>)>>,
}

impl RecordingRouter {
    pub(super) fn scripted(script: &[Option<&str>]) -> Arc<Self> {
        let router = RecordingRouter::default();
        *router.script.lock() = script.iter().map(|s| s.map(str::to_owned)).collect();
        Arc::new(router)
    }

    pub(super) fn calls(&self) -> Vec<(Vec<String>, Vec<String>)> {
        self.calls.lock().clone()
    }
}

impl DispatchRouter for RecordingRouter {
    fn select_worker(
        &self,
        _workflow_id: &str,
        _channel: &ChannelName,
        _request: &ActivityRequest,
        candidates: &[DispatchWorker],
        excluded_ids: &[String],
    ) -> Result<Option<DispatchWorker>, AionSurfaceError> {
        let ids = candidates.iter().map(|w| w.worker_id.to_string()).collect();
        self.calls.lock().push((ids, excluded_ids.to_vec()));
        let wanted = self.script.lock().pop_front().flatten();
        let eligible = |w: &&DispatchWorker| !excluded_ids.iter().any(|id| *id == w.worker_id);
        Ok(candidates
            .iter()
            .filter(eligible)
            .find(|w| wanted.as_ref().is_none_or(|id| *id == w.worker_id))
            .cloned())
    }
}

/// What the scripted conversations of one factory did.
#[derive(Debug, Default)]
pub(super) struct ConversationLog {
    pub(super) opens: Vec<(String, String, String)>,
    pub(super) links: Vec<String>,
    pub(super) sends: Vec<DispatchRequest>,
    pub(super) closes: usize,
}

#[derive(Debug, Default)]
pub(super) struct ScriptedFactory {
    pub(super) events: Mutex<VecDeque<Result<DispatchConversationEvent, AionSurfaceError>>>,
    pub(super) log: Arc<Mutex<ConversationLog>>,
    pub(super) open_error: Option<AionSurfaceError>,
    pub(super) link_error: Option<AionSurfaceError>,
    pub(super) send_error: Option<AionSurfaceError>,
    pub(super) close_error: Option<AionSurfaceError>,
}

impl ScriptedFactory {
    pub(super) fn scripted(events: Vec<DispatchConversationEvent>) -> Self {
        let factory = ScriptedFactory::default();
        *factory.events.lock() = events.into_iter().map(Ok).collect();
        factory
    }
}

#[derive(Debug)]
struct ScriptedConversation {
    events: VecDeque<Result<DispatchConversationEvent, AionSurfaceError>>,
    log: Arc<Mutex<ConversationLog>>,
    link_error: Option<AionSurfaceError>,
    send_error: Option<AionSurfaceError>,
    close_error: Option<AionSurfaceError>,
}

impl DispatchConversationFactory for ScriptedFactory {
    fn open(
        &self,
        workflow_id: &str,
        channel: &ChannelName,
        conversation_id: &str,
    ) -> Result<Box<dyn DispatchConversation>, AionSurfaceError> {
        if let Some(error) = &self.open_error {
            return Err(error.clone());
        }
        self.log.lock().opens.push((
            workflow_id.into(),
            channel.to_string(),
            conversation_id.into(),
        ));
        Ok(Box::new(ScriptedConversation {
            events: std::mem::take(&mut *self.events.lock()),
            log: self.log.clone(),
            link_error: self.link_error.clone(),
            send_error: self.send_error.clone(),
            close_error: self.close_error.clone(),
        }))
    }
}

impl DispatchConversation for ScriptedConversation {
    fn link_worker(&mut self, worker: &DispatchWorker) -> Result<(), AionSurfaceError> {
        if let Some(error) = &self.link_error {
            return Err(error.clone());
        }
        self.log.lock().links.push(worker.worker_id.to_string());
        Ok(())
    }

    fn send(&mut self, request: DispatchRequest) -> Result<(), AionSurfaceError> {
        if let Some(error) = &self.send_error {
            return Err(error.clone());
        }
        self.log.lock().sends.push(request);
        Ok(())
    }

    fn receive(&mut self) -> Result<DispatchConversationEvent, AionSurfaceError> {
        self.events
            .pop_front()
            .unwrap_or_else(|| Err(failed("script exhausted")))
    }

    fn close(&mut self) -> Result<(), AionSurfaceError> {
        self.log.lock().closes += 1;
        match &self.close_error {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }
}

/// A [`MemoryRecorder`] that fails when asked to record `fail_at`.
#[derive(Debug, Default)]
pub(super) struct TestRecorder {
    pub(super) inner: MemoryRecorder,
    pub(super) fail_at: Option<DispatchOperationKind>,
    pub(super) replay: Option<RecordedDispatchOutcome>,
    pub(super) replay_calls: AtomicUsize,
}

impl DispatchRecorder for TestRecorder {
    fn replay_outcome(
        &self,
        _channel: &str,
        _request: &ActivityRequest,
    ) -> Result<Option<RecordedDispatchOutcome>, AionSurfaceError> {
        self.replay_calls.fetch_add(1, Ordering::SeqCst);
        Ok(self.replay.clone())
    }

    fn record(&self, operation: DispatchOperation) -> Result<(), AionSurfaceError> {
        if self.fail_at == Some(operation.kind) {
            return Err(failed("recorder refused"));
        }
        self.inner.record(operation)
    }
}

impl TestRecorder {
    pub(super) fn kinds(&self) -> Vec<DispatchOperationKind> {
        self.inner.operations().iter().map(|op| op.kind).collect()
    }

    pub(super) fn states(&self) -> Vec<ActivityDispatchState> {
        self.inner
            .operations()
            .iter()
            .filter_map(|op| op.activity_state)
            .collect()
    }
}

#[derive(Debug)]
pub(super) struct FixedId;

impl ConversationIdProvider for FixedId {
    fn next_conversation_id(&self) -> String {
        CONVERSATION_ID.into()
    }
}

/// The doubles of one test, and the context over them.
pub(super) struct Harness {
    pub(super) pool: Arc<CountingPool>,
    pub(super) router: Arc<RecordingRouter>,
    pub(super) factory: Arc<ScriptedFactory>,
    pub(super) recorder: Arc<TestRecorder>,
}

impl Harness {
    pub(super) fn new(
        pool: Arc<CountingPool>,
        router: Arc<RecordingRouter>,
        factory: ScriptedFactory,
        recorder: TestRecorder,
    ) -> Self {
        Harness {
            pool,
            router,
            factory: Arc::new(factory),
            recorder: Arc::new(recorder),
        }
    }

    pub(super) fn context(&self) -> DispatchContext {
        DispatchContext {
            workflow_id: "wf-1".into(),
            worker_pool: self.pool.clone(),
            router: self.router.clone(),
            conversations: self.factory.clone(),
            recorder: self.recorder.clone(),
            ids: Arc::new(FixedId),
        }
    }

    pub(super) fn dispatch(&self) -> Result<ActivityResult, AionSurfaceError> {
        dispatch_activity_with_context(&self.context(), "prod", "email", request())
    }
}
