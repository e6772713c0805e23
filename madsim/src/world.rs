//! The user's handle on a madsim world that hosts vigil pools: calls, pools, node kills.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use madsim::task::NodeId;
use vigil_core::pool::WorkerContext;
use vigil_core::rt::{self, RawLock};

use crate::scheduler::{MadsimScheduler, Moment};

/// One world's pools and the node that hosts their tasks. Cheap to clone.
///
/// Create it inside a madsim runtime (`#[madsim::test]` or `Runtime::block_on`). It adds a
/// node named `vigil-pool` that hosts every task of the pool; give every blocking pool call
/// to [`Handle::call`] from whichever node makes it.
#[derive(Clone, Debug)]
pub struct Handle {
    scheduler: Arc<MadsimScheduler>,
}

impl Handle {
    /// Starts hosting pools in the current madsim world.
    ///
    /// Also installs the world's scheduler on the calling thread for the rest of the thread's
    /// life (madsim runs a whole world on one thread), so pool code reached from plain async
    /// code by mistake fails with advice instead of blocking the simulator's only thread.
    pub fn new() -> Handle {
        let home = madsim::runtime::Handle::current()
            .create_node()
            .name("vigil-pool")
            .build();
        let scheduler = MadsimScheduler::new(home);
        std::mem::forget(rt::enter(scheduler.clone()));
        Handle { scheduler }
    }

    /// A new, empty pool in this world.
    pub fn context(&self) -> WorkerContext {
        let context = WorkerContext::new();
        self.scheduler.adopt(context.clone());
        context
    }

    /// Runs `work` as a pool task acting for the calling madsim node and waits for its result.
    ///
    /// Processes `work` spawns (a registration's worker, monitor and subscriber) belong to the
    /// calling node: [`Handle::kill`] ends them. The task itself runs on the pool's node, so
    /// it finishes even if the caller's node dies meanwhile; whatever it spawns after that
    /// death is ended when it returns.
    pub fn call<R, F>(&self, work: F) -> Call<R>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        let slot: Arc<RawLock<Slot<R>>> = Arc::new(RawLock::new(Slot::default()));
        let filled = slot.clone();
        let owner = self.scheduler.owner_of(madsim::plugin::node());
        let body = move || {
            let value = work();
            let waker = filled.with(|slot| {
                slot.value = Some(value);
                slot.waker.take()
            });
            if let Some(waker) = waker {
                waker.wake();
            }
        };
        self.scheduler.spawn_owned("call", owner, Box::new(body));
        Call { slot }
    }

    /// Starts `work` as a pool task acting for the calling madsim node, without waiting for
    /// it: for a worker that holds its registration for as long as it serves. Values a node
    /// keeps in the pool (registrations) belong in such a task rather than in the node's own
    /// futures, because madsim drops a killed node's futures and a registration's drop is
    /// blocking pool work.
    pub fn spawn<F>(&self, name: &str, work: F)
    where
        F: FnOnce() + Send + 'static,
    {
        let owner = self.scheduler.owner_of(madsim::plugin::node());
        self.scheduler.spawn_owned(name, owner, Box::new(work));
    }

    /// Kills madsim node `node` and ends every pool process it owned with reason `Killed`,
    /// so the pool's link monitors see a crash. Use this instead of madsim's own
    /// `Handle::kill`, which ends the node's futures but cannot reach the pool's processes.
    pub fn kill(&self, node: NodeId) {
        madsim::runtime::Handle::current().kill(node);
        self.end_incarnation(node);
    }

    /// Restarts madsim node `node` (its init runs again) after ending its pool processes as
    /// [`Handle::kill`] does. The node's workers are back once its init registers them again.
    pub fn restart(&self, node: NodeId) {
        self.end_incarnation(node);
        madsim::runtime::Handle::current().restart(node);
    }

    fn end_incarnation(&self, node: NodeId) {
        if let Some(owner) = self.scheduler.retire(node) {
            self.scheduler.reap(owner);
        }
    }

    /// Runs `check` after every step of every pool task (every scheduling point, park and
    /// task end), as `vigil-sim`'s observers do. A check only looks (`peek_*` methods, no
    /// locks); the first violation is kept for [`Handle::violation`].
    pub fn check_every_step<F>(&self, name: &str, check: F)
    where
        F: Fn(&Moment) -> Result<(), String> + Send + Sync + 'static,
    {
        self.scheduler.add_check(name, Box::new(check));
    }

    /// The first violation a step check reported: (check name, message).
    pub fn violation(&self) -> Option<(String, String)> {
        self.scheduler.violation()
    }

    /// Panics inside pool tasks, as (task name, message), in the order they happened.
    pub fn panics(&self) -> Vec<(String, String)> {
        self.scheduler.panics()
    }
}

impl Default for Handle {
    fn default() -> Self {
        Handle::new()
    }
}

struct Slot<R> {
    value: Option<R>,
    waker: Option<Waker>,
}

impl<R> Default for Slot<R> {
    fn default() -> Self {
        Slot {
            value: None,
            waker: None,
        }
    }
}

/// The result of [`Handle::call`], once its task returns.
#[must_use = "the call runs anyway; await it for the result"]
#[derive(Debug)]
pub struct Call<R> {
    slot: Arc<RawLock<Slot<R>>>,
}

impl<R> std::fmt::Debug for Slot<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("ready", &self.value.is_some())
            .finish()
    }
}

impl<R> Future for Call<R> {
    type Output = R;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R> {
        self.slot.with(|slot| match slot.value.take() {
            Some(value) => Poll::Ready(value),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}
