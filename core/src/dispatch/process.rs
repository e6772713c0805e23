//! Dispatch on the process substrate: a real conversation (a trapping process on the pool's
//! node, linked to one selected worker at a time) and the worker loop that serves requests.
//!
//! The request goes to the selected worker's participant process only, never through the
//! channel's broadcast. The participant hands it to the worker's loop task, which runs the
//! activity handler and sends the answer to the conversation's process. A worker's death
//! reaches the conversation as an exit signal through the link; a link to a worker that is
//! already gone counts as that worker exiting at once (Erlang's `noproc` exit), so dispatch
//! excludes it and selects again (spec d.3 item 12; the original failed the dispatch).

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use crate::SharedStr;
use crate::aion::{
    ActivityRequest, ActivityResult, AionSurfaceError, ChannelName, DispatchRequest,
    DispatchResponse, WorkerCapacity,
};
use crate::pool::{DispatchWorker, InFlightCounter, WorkerContext, WorkerRegistration};
use crate::process::ProcessError;
use crate::process::{Behaviour, ExitReason, Message, Node, Outcome, Pid, ProcessContext};
use crate::thread::{self, JoinHandle, panic_message};

use super::mailbox::{MailboxReader, MailboxWriter, mailbox};
use super::types::{DispatchConversation, DispatchConversationEvent, DispatchConversationFactory};

/// Runs one activity; a panic is caught and answered as `Failed`.
pub type ActivityHandler = Arc<dyn Fn(&ActivityRequest) -> ActivityResult + Send + Sync>;

/// What a conversation sends to a worker's participant.
struct Delivery {
    attempt: u64,
    reply_to: Pid,
    request: DispatchRequest,
}

/// A worker's answer to one attempt.
struct Answer {
    attempt: u64,
    response: DispatchResponse,
}

/// What a conversation's process passes on to the dispatching task.
enum Inbound {
    Exited { from: Pid, reason: ExitReason },
    Answer(Answer),
}

/// The conversation's process body: trapping, it forwards exits and answers.
struct ConversationInbox {
    writer: MailboxWriter<Inbound>,
}

impl Behaviour for ConversationInbox {
    fn handle(&mut self, _ctx: &ProcessContext<'_>, message: Message) -> Outcome {
        match message {
            Message::Exit { from, reason } => self.writer.push(Inbound::Exited { from, reason }),
            Message::User(payload) => {
                if let Ok(answer) = payload.downcast::<Answer>() {
                    self.writer.push(Inbound::Answer(*answer));
                }
            }
        }
        Outcome::Wait
    }
}

/// Opens conversations as processes on a pool's node.
#[derive(Clone, Debug)]
pub struct ProcessConversationFactory {
    pool: WorkerContext,
}

impl ProcessConversationFactory {
    pub fn new(pool: &WorkerContext) -> Self {
        ProcessConversationFactory { pool: pool.clone() }
    }
}

impl DispatchConversationFactory for ProcessConversationFactory {
    fn open(
        &self,
        workflow_id: &str,
        channel: &ChannelName,
        conversation_id: &str,
    ) -> Result<Box<dyn DispatchConversation>, AionSurfaceError> {
        let node = self.pool.supervisor_for(channel)?.node().clone();
        let (writer, reader) = mailbox("conversation.inbox");
        let failed = |message: String| AionSurfaceError::DispatchFailed {
            channel_name: channel.to_string(),
            workflow_id: workflow_id.to_owned(),
            message,
        };
        let pid = node
            .spawn(
                "dispatch-conversation",
                Box::new(ConversationInbox { writer }),
                true,
            )
            .map_err(|error| failed(format!("cannot open conversation: {error}")))?;
        Ok(Box::new(ProcessConversation {
            node,
            pid,
            inbox: reader,
            channel: channel.to_string(),
            workflow_id: workflow_id.to_owned(),
            conversation_id: conversation_id.to_owned(),
            linked: None,
            attempt: 0,
            exited_on_link: None,
            closed: false,
        }))
    }
}

/// The worker a conversation is linked to in the current attempt.
#[derive(Debug)]
struct Linked {
    worker_id: SharedStr,
    participant: Pid,
}

/// One open dispatch conversation. Dropping it without `close` still ends its process.
pub struct ProcessConversation {
    node: Arc<Node>,
    pid: Pid,
    inbox: MailboxReader<Inbound>,
    channel: String,
    workflow_id: String,
    conversation_id: String,
    linked: Option<Linked>,
    /// Numbers the attempts, so an answer from an earlier attempt is recognised and dropped.
    attempt: u64,
    /// Set when the link found the worker already gone: its exit, reported by `receive`.
    exited_on_link: Option<String>,
    closed: bool,
}

impl ProcessConversation {
    fn failed(&self, message: String) -> AionSurfaceError {
        AionSurfaceError::DispatchFailed {
            channel_name: self.channel.clone(),
            workflow_id: self.workflow_id.clone(),
            message,
        }
    }

    fn linked(&self) -> Result<&Linked, AionSurfaceError> {
        self.linked
            .as_ref()
            .ok_or_else(|| self.failed("conversation used before a worker was linked".into()))
    }
}

impl DispatchConversation for ProcessConversation {
    fn link_worker(&mut self, worker: &DispatchWorker) -> Result<(), AionSurfaceError> {
        self.attempt += 1;
        self.exited_on_link = None;
        let participant = worker.participant;
        match self.node.link(self.pid, participant) {
            Ok(()) => {}
            Err(ProcessError::NoProc(pid)) if pid == participant && pid != self.pid => {
                self.exited_on_link = Some(format!(
                    "worker process {participant} had already exited when linked (noproc)"
                ));
            }
            Err(error) => return Err(self.failed(format!("cannot link worker: {error}"))),
        }
        self.linked = Some(Linked {
            worker_id: worker.worker_id.clone(),
            participant,
        });
        Ok(())
    }

    fn send(&mut self, request: DispatchRequest) -> Result<(), AionSurfaceError> {
        let participant = self.linked()?.participant;
        if self.exited_on_link.is_some() {
            return Ok(());
        }
        let delivery = Delivery {
            attempt: self.attempt,
            reply_to: self.pid,
            request,
        };
        // A worker that died since the link drops the message, as a dead Erlang process
        // would; its exit signal is already on the way through the link.
        self.node
            .send(participant, Message::User(Box::new(delivery)));
        Ok(())
    }

    fn receive(&mut self) -> Result<DispatchConversationEvent, AionSurfaceError> {
        let (worker_id, participant) = {
            let linked = self.linked()?;
            (linked.worker_id.to_string(), linked.participant)
        };
        if let Some(message) = self.exited_on_link.take() {
            return Ok(DispatchConversationEvent::WorkerExited { worker_id, message });
        }
        loop {
            let Some(inbound) = self.inbox.next() else {
                return Err(self.failed(format!(
                    "conversation '{}' ended before worker '{worker_id}' answered",
                    self.conversation_id
                )));
            };
            match inbound {
                Inbound::Exited { from, reason } if from == participant => {
                    let message = format!("worker process {from} exited: {reason}");
                    return Ok(DispatchConversationEvent::WorkerExited { worker_id, message });
                }
                Inbound::Answer(answer) if answer.attempt == self.attempt => {
                    return Ok(DispatchConversationEvent::Response(answer.response));
                }
                // An exit of a worker linked in an earlier attempt, or a late answer of one.
                Inbound::Exited { .. } | Inbound::Answer(_) => {}
            }
        }
    }

    fn close(&mut self) -> Result<(), AionSurfaceError> {
        if !self.closed {
            self.closed = true;
            // Ending the process drops its links; the worker does not trap exits and ignores
            // a normal one.
            self.node.terminate(self.pid, ExitReason::Normal);
        }
        Ok(())
    }
}

impl Drop for ProcessConversation {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl fmt::Debug for ProcessConversation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessConversation")
            .field("pid", &self.pid)
            .field("conversation_id", &self.conversation_id)
            .field("linked", &self.linked)
            .finish_non_exhaustive()
    }
}

/// A worker's participant process: it hands each delivery to the worker's loop task. It does
/// not trap exits, so it ends with any abnormal exit of a process linked to it.
struct RequestInbox {
    writer: MailboxWriter<Delivery>,
}

impl Behaviour for RequestInbox {
    fn handle(&mut self, _ctx: &ProcessContext<'_>, message: Message) -> Outcome {
        if let Message::User(payload) = message
            && let Ok(delivery) = payload.downcast::<Delivery>()
        {
            self.writer.push(*delivery);
        }
        Outcome::Wait
    }
}

/// A registered worker that serves dispatch requests with an [`ActivityHandler`] on its own
/// loop task. Unregistering (or dropping) ends its process, which ends the loop.
pub struct DispatchWorkerHandle {
    registration: Option<WorkerRegistration>,
    worker_loop: Option<JoinHandle<()>>,
}

/// Registers a worker on `pool` whose process takes dispatch requests and whose loop task
/// answers them with `handler`. In flight goes up when the loop accepts a request and down
/// once it has answered.
pub fn register_dispatch_worker(
    pool: &WorkerContext,
    namespace: &str,
    task_queue: &str,
    capacity: WorkerCapacity,
    handler: ActivityHandler,
) -> Result<DispatchWorkerHandle, AionSurfaceError> {
    let (writer, reader) = mailbox("worker.inbox");
    let registration = pool.register_worker_running(
        namespace,
        task_queue,
        capacity,
        Box::new(RequestInbox { writer }),
    )?;
    let channel = registration.channel_name().clone();
    let node = pool.supervisor_for(&channel)?.node().clone();
    let worker = WorkerLoop {
        worker_id: registration.worker_id().to_owned(),
        in_flight: registration.in_flight_counter(),
        node,
        handler,
        requests: reader,
    };
    let name = format!("dispatch-worker-{}", registration.worker_id());
    let worker_loop = thread::spawn(&name, move || worker.run());
    Ok(DispatchWorkerHandle {
        registration: Some(registration),
        worker_loop: Some(worker_loop),
    })
}

struct WorkerLoop {
    worker_id: String,
    in_flight: InFlightCounter,
    node: Arc<Node>,
    handler: ActivityHandler,
    requests: MailboxReader<Delivery>,
}

impl WorkerLoop {
    fn run(self) {
        while let Some(delivery) = self.requests.next() {
            self.in_flight.accept();
            let request = &delivery.request.request;
            let result = catch_unwind(AssertUnwindSafe(|| (self.handler)(request))).unwrap_or_else(
                |payload| ActivityResult::Failed {
                    error: AionSurfaceError::WorkerCrashed {
                        channel_name: String::new(),
                        workflow_id: delivery.request.conversation_id.clone(),
                        worker_id: self.worker_id.clone(),
                        message: format!(
                            "activity handler panicked: {}",
                            panic_message(payload.as_ref())
                        ),
                    },
                },
            );
            let answer = Answer {
                attempt: delivery.attempt,
                response: DispatchResponse {
                    worker_id: self.worker_id.clone(),
                    result,
                },
            };
            // Down before the answer leaves: whoever receives it sees the slot free again.
            self.in_flight.answer();
            self.node
                .send(delivery.reply_to, Message::User(Box::new(answer)));
        }
    }
}

impl DispatchWorkerHandle {
    pub fn registration(&self) -> &WorkerRegistration {
        self.registration
            .as_ref()
            .expect("[internal bug] a dispatch worker handle lost its registration")
    }

    /// Waits for the loop task to end. The loop ends once the worker's process is gone (it
    /// crashed, or was ended from outside), so call this only after that; on a live worker
    /// it waits until the worker is unregistered elsewhere, which cannot happen.
    pub fn join_loop_after_exit(&mut self) {
        if let Some(worker_loop) = self.worker_loop.take() {
            let _ = worker_loop.join();
        }
    }

    /// Leaves the pool, then waits for the loop to finish the request it is serving.
    pub fn unregister(mut self) -> Result<(), AionSurfaceError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), AionSurfaceError> {
        let unregistered = match self.registration.take() {
            Some(registration) => registration.unregister(),
            None => Ok(()),
        };
        if let Some(worker_loop) = self.worker_loop.take() {
            let _ = worker_loop.join();
        }
        unregistered
    }
}

impl Drop for DispatchWorkerHandle {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

impl fmt::Debug for DispatchWorkerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DispatchWorkerHandle")
            .field("registration", &self.registration)
            .finish_non_exhaustive()
    }
}
