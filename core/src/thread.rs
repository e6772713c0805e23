//! Task spawn and join on the scheduler seam, with panics caught and handed to `join`.

use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use crate::rt::{self, Object, Op, RawLock, Site, TaskId};

/// The task panicked; carries the panic message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("task '{task_name}' panicked: {message}")]
pub struct JoinError {
    pub task_name: String,
    pub message: String,
}

struct JoinState<T> {
    result: Option<Result<T, String>>,
    joiner: Option<TaskId>,
}

/// Owns a spawned task; `join` waits for it. Dropping the handle detaches the task.
pub struct JoinHandle<T> {
    id: TaskId,
    name: String,
    state: Arc<RawLock<JoinState<T>>>,
}

/// Spawns `body` as a task named `name` on the current scheduler.
pub fn spawn<T, F>(name: &str, body: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // Not a scheduling point: only the new task can observe its own creation, and its first
    // step is a point of its own.
    let scheduler = rt::current();
    let state = Arc::new(RawLock::new(JoinState {
        result: None,
        joiner: None,
    }));
    let task_state = state.clone();
    let id = scheduler.spawn(
        name,
        Box::new(move || {
            let outcome = catch_unwind(AssertUnwindSafe(body)).map_err(|payload| {
                let message = panic_message(payload.as_ref());
                let scheduler = rt::current();
                scheduler.task_panicked(scheduler.current(), &message);
                message
            });
            let joiner = task_state.with(|state| {
                state.result = Some(outcome);
                state.joiner.take()
            });
            if let Some(joiner) = joiner {
                rt::current().unpark(joiner);
            }
        }),
    );
    JoinHandle {
        id,
        name: name.to_owned(),
        state,
    }
}

/// The text of a panic payload (`&str` or `String`), or a placeholder.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

impl<T> JoinHandle<T> {
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// Waits for the task to finish; `Err` when it panicked.
    pub fn join(self) -> Result<T, JoinError> {
        let scheduler = rt::current();
        let site = Site::new("thread", Op::Join);
        // Not a scheduling point: a join changes nothing another task can see, and it parks
        // (a switch) while the task it waits for is still running.
        scheduler.access(site, Object::Task(self.id));
        let me = scheduler.current();
        loop {
            let result = self.state.with(|state| {
                let result = state.result.take();
                if result.is_none() {
                    state.joiner = Some(me);
                }
                result
            });
            match result {
                Some(Ok(value)) => return Ok(value),
                Some(Err(message)) => {
                    return Err(JoinError {
                        task_name: self.name,
                        message,
                    });
                }
                None => scheduler.park(site, None),
            }
        }
    }

    /// Whether the task has finished, without a scheduling point.
    pub fn is_finished(&self) -> bool {
        self.state.with(|state| state.result.is_some())
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish()
    }
}
