//! Node kills and restarts reach the pool through its own link monitors.

use std::time::Duration;

use madsim::runtime::{Handle as Madsim, NodeHandle};
use madsim::time::sleep;
use vigil_core::aion::{WorkerCapacity, dispatch_channel};
use vigil_core::pool::WorkerContext;
use vigil_core::rt;
use vigil_madsim::Handle;

/// What an observer sees of one pool: registered workers, and those whose process is dead.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    visible: usize,
    dead_visible: usize,
}

/// `visible` workers, none of them dead.
fn live(visible: usize) -> Seen {
    Seen {
        visible,
        dead_visible: 0,
    }
}

/// Looks at the pool once no task holds the locks the look needs: under madsim a pool task
/// can be suspended inside a critical section while the test's own task runs.
async fn look(context: &WorkerContext) -> Seen {
    loop {
        if let Some(seen) = try_look(context) {
            return seen;
        }
        madsim::task::yield_now().await;
    }
}

fn try_look(context: &WorkerContext) -> Option<Seen> {
    let Some(supervisor) = context.peek_supervisor() else {
        return Some(Seen {
            visible: 0,
            dead_visible: 0,
        });
    };
    let node = supervisor.node();
    let participants: Vec<_> = context.peek_channels(|channels| {
        channels
            .iter()
            .flat_map(|channel| channel.entries.iter().flatten())
            .filter(|entry| entry.active)
            .map(|entry| entry.participant)
            .collect()
    })?;
    let mut dead_visible = 0;
    for pid in &participants {
        if !node.peek_alive(*pid)? {
            dead_visible += 1;
        }
    }
    Some(Seen {
        visible: participants.len(),
        dead_visible,
    })
}

/// A worker that holds its registration until its process dies, checking every 10 ms.
fn serve(context: WorkerContext) {
    let capacity = WorkerCapacity {
        max_concurrent: 1,
        activity_types: vec!["echo".into()],
    };
    let registration = context
        .register_worker("shop", "orders", capacity)
        .expect("the channel name is valid");
    let node = context
        .peek_supervisor()
        .expect("registration made one")
        .node()
        .clone();
    while node.is_alive(registration.participant()) {
        rt::sleep(Duration::from_millis(10));
    }
}

/// A madsim node whose init starts `workers` workers in `context`.
fn worker_node(world: &Handle, context: &WorkerContext, name: &str, workers: usize) -> NodeHandle {
    let (world, context) = (world.clone(), context.clone());
    Madsim::current()
        .create_node()
        .name(name)
        .init(move || {
            let (world, context) = (world.clone(), context.clone());
            async move {
                for _ in 0..workers {
                    let context = context.clone();
                    world.spawn("worker", move || serve(context));
                }
            }
        })
        .build()
}

#[madsim::test]
async fn a_killed_node_takes_its_workers_out_of_the_pool() {
    let world = Handle::new();
    let context = world.context();
    let doomed = worker_node(&world, &context, "doomed", 3);
    let _spared = worker_node(&world, &context, "spared", 2);
    sleep(Duration::from_secs(1)).await;
    assert_eq!(look(&context).await, live(5));

    world.kill(doomed.id());
    sleep(Duration::from_secs(1)).await;
    assert_eq!(look(&context).await, live(2));
    assert_eq!(world.panics(), Vec::new());
}

#[madsim::test]
async fn a_restarted_node_brings_its_workers_back() {
    let world = Handle::new();
    let context = world.context();
    let node = worker_node(&world, &context, "flaky", 2);
    sleep(Duration::from_secs(1)).await;
    assert_eq!(look(&context).await, live(2));

    world.restart(node.id());
    sleep(Duration::from_secs(1)).await;
    assert_eq!(look(&context).await, live(2));
    // The workers are new registrations, not the old ones kept alive.
    let channel = dispatch_channel("shop", "orders").unwrap();
    let workers = world
        .call({
            let context = context.clone();
            move || context.workers_for_channel(&channel).unwrap()
        })
        .await;
    assert_eq!(workers.len(), 2);
    assert_eq!(world.panics(), Vec::new());
}

#[madsim::test]
async fn pool_code_called_from_async_code_fails_with_advice() {
    let world = Handle::new();
    let context = world.context();
    let capacity = WorkerCapacity {
        max_concurrent: 1,
        activity_types: Vec::new(),
    };
    let misuse = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        context.register_worker("shop", "orders", capacity)
    }));
    let payload = misuse.expect_err("a registration blocks, which async code cannot");
    let message = vigil_core::thread::panic_message(payload.as_ref());
    assert!(message.contains("vigil_madsim::Handle::call"), "{message}");
}
