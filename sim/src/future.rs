//! `block_on` for models with futures: polls a future on the calling task, parking it between
//! polls until the future's waker unparks it.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::thread::{self, Thread};

/// Wakes the task that blocks on the future.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` to completion on the calling task. Between polls the task parks, so a
/// future that waits for another task (through a waker that task wakes) lets it run; a
/// spurious wakeup of `park` only costs an extra poll. A future that never wakes its waker
/// leaves the task parked, which the simulation reports as a deadlock naming it.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        thread::park();
    }
}
