//! The dispatch algorithm of spec (e.1), step by step.
//!
//! Ordering rules, each one a planted mutant in `mutants/`: the replay gate runs before any
//! side effect; every record follows the effect it reports; the exclusion list lives for the
//! whole dispatch and only grows; every path that opened (and recorded the open) closes once,
//! and a close error replaces whatever the attempts produced.

use crate::aion::{ActivityRequest, ActivityResult, AionSurfaceError, ChannelName};
use crate::aion::{DispatchRequest, dispatch_channel};

use super::context::DispatchContext;
use super::types::{
    ActivityDispatchState, DispatchConversation, DispatchConversationEvent, DispatchOperation,
    DispatchOperationKind as Kind, RecordedDispatchOutcome,
};

/// The message of the `DispatchFailed` error returned when the router selects nobody.
pub const NO_WORKERS_AVAILABLE: &str = "NoWorkersAvailable: no dispatch workers are available";

/// Dispatches on [`DispatchContext::default`]: the default pool, first-with-capacity routing.
pub fn dispatch_activity(
    namespace: &str,
    task_queue: &str,
    request: ActivityRequest,
) -> Result<ActivityResult, AionSurfaceError> {
    dispatch_activity_with_context(&DispatchContext::default(), namespace, task_queue, request)
}

/// Dispatches `request` on the channel `aion.dispatch.<namespace>.<task_queue>` through the
/// seams of `ctx` (spec e.1).
pub fn dispatch_activity_with_context(
    ctx: &DispatchContext,
    namespace: &str,
    task_queue: &str,
    request: ActivityRequest,
) -> Result<ActivityResult, AionSurfaceError> {
    let channel = dispatch_channel(namespace, task_queue)?;
    if let Some(outcome) = ctx.recorder.replay_outcome(channel.as_str(), &request)? {
        return outcome.result;
    }
    let id = ctx.ids.next_conversation_id();
    let workflow_id = ctx.effective_workflow_id();
    let mut conversation = ctx.conversations.open(workflow_id, &channel, &id)?;
    let run = Run {
        ctx,
        channel: &channel,
        id: &id,
        workflow_id,
    };
    run.record(
        run.operation(Kind::ConversationOpened)
            .state(ActivityDispatchState::ActivityScheduled),
    )?;
    let attempts = run.attempts(conversation.as_mut(), &request);
    let closed = conversation.close();
    let closed = match closed {
        Ok(()) => run.record(run.operation(Kind::ConversationClosed)),
        Err(error) => Err(error),
    };
    let result = match (attempts, closed) {
        (_, Err(error)) | (Err(error), Ok(())) => Err(error),
        (Ok(result), Ok(())) => Ok(result),
    };
    let outcome = RecordedDispatchOutcome { result };
    ctx.recorder
        .record_outcome(channel.as_str(), &request, &outcome)?;
    outcome.result
}

/// What one dispatch's steps share.
struct Run<'a> {
    ctx: &'a DispatchContext,
    channel: &'a ChannelName,
    id: &'a str,
    workflow_id: &'a str,
}

impl Run<'_> {
    fn operation(&self, kind: Kind) -> DispatchOperation {
        DispatchOperation::new(kind, self.id, self.channel.as_str())
    }

    fn record(&self, operation: DispatchOperation) -> Result<(), AionSurfaceError> {
        self.ctx.recorder.record(operation)
    }

    fn failed(&self, message: impl Into<String>) -> AionSurfaceError {
        AionSurfaceError::DispatchFailed {
            channel_name: self.channel.to_string(),
            workflow_id: self.workflow_id.to_owned(),
            message: message.into(),
        }
    }

    /// Step 6: select, link, send, receive, until a response, an error or no selection.
    fn attempts(
        &self,
        conversation: &mut dyn DispatchConversation,
        request: &ActivityRequest,
    ) -> Result<ActivityResult, AionSurfaceError> {
        let mut excluded: Vec<String> = Vec::new();
        loop {
            let candidates = self.ctx.worker_pool.workers_for(self.channel, request)?;
            let selected = self.ctx.router.select_worker(
                self.workflow_id,
                self.channel,
                request,
                &candidates,
                &excluded,
            )?;
            let Some(selected) = selected else {
                return Err(self.failed(NO_WORKERS_AVAILABLE));
            };
            conversation.link_worker(&selected)?;
            self.record(
                self.operation(Kind::WorkerSelected)
                    .worker(selected.worker_id.as_str())
                    .state(ActivityDispatchState::ActivityStarted),
            )?;
            conversation.send(DispatchRequest {
                conversation_id: self.id.to_owned(),
                request: request.clone(),
            })?;
            self.record(
                self.operation(Kind::MessageSent)
                    .worker(selected.worker_id.as_str()),
            )?;
            match conversation.receive()? {
                DispatchConversationEvent::Response(response) => {
                    return self.answered(response);
                }
                DispatchConversationEvent::WorkerExited { worker_id, message } => {
                    self.record(
                        self.operation(Kind::WorkerExited)
                            .worker(worker_id.clone())
                            .state(ActivityDispatchState::ActivityFailed {
                                retry_eligible: true,
                            })
                            .message(message),
                    )?;
                    excluded.push(worker_id);
                }
            }
        }
    }

    /// Step 6.7, a response: record it, then map it to the dispatch result.
    fn answered(
        &self,
        response: crate::aion::DispatchResponse,
    ) -> Result<ActivityResult, AionSurfaceError> {
        let received = self
            .operation(Kind::MessageReceived)
            .worker(response.worker_id.clone())
            .result(response.result.clone());
        let received = match &response.result {
            ActivityResult::Completed { .. } => {
                received.state(ActivityDispatchState::ActivityCompleted)
            }
            ActivityResult::Failed { error } => received
                .state(ActivityDispatchState::ActivityFailed {
                    retry_eligible: false,
                })
                .message(error.to_string()),
        };
        self.record(received)?;
        match response.result {
            ActivityResult::Completed { output } => Ok(ActivityResult::Completed { output }),
            ActivityResult::Failed { error } => Err(self.failed(format!(
                "worker '{}' failed activity: {error}",
                response.worker_id
            ))),
        }
    }
}
