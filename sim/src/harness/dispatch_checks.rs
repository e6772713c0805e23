//! The dispatch oracle: judges each dispatch the workload ran against spec (e.1), from the
//! operations it recorded and the calls the harness's seam wrappers saw, and looks at the
//! pool once the system is quiet. Like every observer, it reads from outside: the journal
//! and the `peek` views, never the dispatch code's own state.

use vigil_core::aion::{ActivityResult, AionSurfaceError};
use vigil_core::dispatch::{
    ActivityDispatchState, DispatchOperation, DispatchOperationKind as Kind, NO_WORKERS_AVAILABLE,
};

use super::world::{DispatchRun, Event, World};

/// The error messages a dispatch may end with besides a worker's own failure: no worker,
/// or the router's named errors (spec e.2).
const NAMED_ERRORS: [&str; 4] = [
    NO_WORKERS_AVAILABLE,
    "panicked during execution",
    "exceeded the supervision timeout",
    "routing selected unknown worker",
];

/// `dispatch-sequence`: one live dispatch against the table of spec (e.1).
pub(super) fn sequence(dispatch: usize, run: &DispatchRun) -> Result<(), String> {
    let fail = |what: String| {
        Err(format!(
            "dispatch {dispatch}: {what}; operations: {}",
            render(&run.operations)
        ))
    };
    if run.opens != 1 || run.closes != 1 {
        return fail(format!(
            "its conversation was opened {} time(s) and closed {} time(s); each opened \
             conversation must be closed exactly once",
            run.opens, run.closes
        ));
    }
    let ops = &run.operations;
    match ops.first() {
        Some(op)
            if op.kind == Kind::ConversationOpened
                && op.activity_state == Some(ActivityDispatchState::ActivityScheduled) => {}
        _ => return fail("the first operation is not Opened(Scheduled)".into()),
    }
    if ops.last().map(|op| op.kind) != Some(Kind::ConversationClosed) {
        return fail("the last operation is not Closed, though close succeeded".into());
    }
    let body = &ops[1..ops.len() - 1];
    let mut exited: Vec<String> = Vec::new();
    let mut attempts = 0;
    let mut index = 0;
    let mut answer = None;
    while index < body.len() {
        let Some((worker, step)) = attempt(&body[index..]) else {
            return fail(format!(
                "operations from index {} do not form an attempt",
                index + 1
            ));
        };
        if exited.contains(&worker) {
            return fail(format!(
                "worker '{worker}' exited earlier in this dispatch and was selected again"
            ));
        }
        let Some((_, excluded)) = run.router_calls.get(attempts) else {
            return fail(format!("attempt {} has no router call", attempts + 1));
        };
        if *excluded != exited {
            return fail(format!(
                "router call {} was given excluded ids {excluded:?}, but the workers that \
                 exited so far are {exited:?}",
                attempts + 1
            ));
        }
        attempts += 1;
        index += step;
        let last = &body[index - 1];
        match last.kind {
            Kind::WorkerExited => exited.push(last.worker_id.clone().unwrap_or_default()),
            _ if index == body.len() => answer = Some(last),
            _ => return fail("operations follow the worker's answer".into()),
        }
    }
    outcome(run, answer).or_else(fail)
}

/// One attempt at the front of `ops`: Selected(w, Started), Sent(w), then WorkerExited or
/// Received. Returns the selected worker and the attempt's length.
fn attempt(ops: &[DispatchOperation]) -> Option<(String, usize)> {
    let [selected, sent, end, ..] = ops else {
        return None;
    };
    let worker = selected.worker_id.clone()?;
    let started = selected.kind == Kind::WorkerSelected
        && selected.activity_state == Some(ActivityDispatchState::ActivityStarted);
    let sent_same = sent.kind == Kind::MessageSent && sent.worker_id.as_deref() == Some(&worker);
    let ends = match (end.kind, end.activity_state) {
        (Kind::WorkerExited, Some(ActivityDispatchState::ActivityFailed { retry_eligible })) => {
            retry_eligible
        }
        (Kind::MessageReceived, Some(ActivityDispatchState::ActivityCompleted)) => true,
        (Kind::MessageReceived, Some(ActivityDispatchState::ActivityFailed { retry_eligible })) => {
            !retry_eligible
        }
        _ => false,
    };
    (started && sent_same && ends).then_some((worker, 3))
}

/// The result against the operations: completed, failed by its worker, or a named error.
fn outcome(run: &DispatchRun, answer: Option<&DispatchOperation>) -> Result<(), String> {
    let result = run.result.as_ref().ok_or("the dispatch never returned")?;
    match (answer.and_then(|op| op.result.as_ref()), result) {
        (Some(ActivityResult::Completed { .. }), Ok(ActivityResult::Completed { .. })) => Ok(()),
        (
            Some(ActivityResult::Failed { .. }),
            Err(AionSurfaceError::DispatchFailed { message, .. }),
        ) if message.starts_with("worker '") && message.contains("failed activity") => Ok(()),
        (None, Err(AionSurfaceError::DispatchFailed { message, .. }))
            if NAMED_ERRORS.iter().any(|named| message.contains(named)) =>
        {
            let no_selection = run.selections.last().is_some_and(Option::is_none);
            if message == NO_WORKERS_AVAILABLE && !no_selection {
                return Err("NoWorkersAvailable although the router selected a worker".into());
            }
            Ok(())
        }
        (answer, result) => Err(format!(
            "the activity was lost: the worker answered {answer:?}, but the dispatch returned \
             {result:?}, which is neither that answer nor a named error"
        )),
    }
}

/// `dispatch-replay`: the replay returned the live outcome without touching anything.
pub(super) fn replay(
    dispatch: usize,
    live: &DispatchRun,
    replay: &DispatchRun,
) -> Result<(), String> {
    let touched = replay.pool_calls > 0
        || !replay.router_calls.is_empty()
        || replay.opens > 0
        || replay.closes > 0
        || !replay.operations.is_empty();
    if touched {
        return Err(format!(
            "dispatch {dispatch}: its replay made {} pool call(s), {} router call(s), {} \
             open(s), {} close(s) and recorded {}; a replay must have no side effect",
            replay.pool_calls,
            replay.router_calls.len(),
            replay.opens,
            replay.closes,
            render(&replay.operations)
        ));
    }
    if replay.result != live.result {
        return Err(format!(
            "dispatch {dispatch}: the replay returned {:?}, but the live dispatch returned {:?}",
            replay.result, live.result
        ));
    }
    Ok(())
}

/// `dispatch-idle`, once the system is quiet: every dispatch returned, no conversation
/// process is left, and in-flight counts are back to zero.
pub(super) fn idle(world: &World) -> Result<(), String> {
    let lost: Vec<usize> = world
        .events
        .iter()
        .filter_map(|event| match event {
            Event::DispatchBegun { dispatch } => Some(*dispatch),
            _ => None,
        })
        .filter(|begun| {
            !world.events.iter().any(|event| {
                matches!(event, Event::DispatchReturned { dispatch, .. } if dispatch == begun)
            })
        })
        .collect();
    if !lost.is_empty() {
        return Err(format!(
            "dispatches {lost:?} began but never returned once the system is quiet: activities lost"
        ));
    }
    let Some(node) = world.node() else {
        return Ok(());
    };
    let open = node.peek_processes().map(|processes| {
        processes
            .iter()
            .filter(|(_, name)| *name == "dispatch-conversation")
            .count()
    });
    if let Some(open) = open.filter(|open| *open > 0) {
        return Err(format!(
            "{open} dispatch conversation process(es) are left once the system is quiet"
        ));
    }
    let busy = world.context.peek_channels(|channels| {
        channels
            .iter()
            .flat_map(|channel| channel.entries.iter().flatten())
            .filter(|entry| entry.active && entry.in_flight > 0)
            .filter(|entry| {
                world
                    .by_id(entry.registration)
                    .is_some_and(|state| state.in_flight_writes == 0)
            })
            .map(|entry| (entry.worker_id.clone(), entry.in_flight))
            .collect::<Vec<_>>()
    });
    match busy {
        Some(busy) if !busy.is_empty() => Err(format!(
            "in-flight counts are not back to zero once the system is quiet: {busy:?}"
        )),
        _ => Ok(()),
    }
}

fn render(ops: &[DispatchOperation]) -> String {
    let parts: Vec<String> = ops
        .iter()
        .map(|op| match &op.worker_id {
            Some(worker) => format!("{}({worker})", op.kind.as_str()),
            None => op.kind.as_str().to_owned(),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

#[cfg(test)]
mod tests;
