//! vigil's pool inside a madsim world: `vigil-core`'s scheduler on madsim's executor.
//!
//! Built only with `RUSTFLAGS="--cfg madsim"` (madsim's simulation mode), in a target
//! directory of its own, so the workspace's default build never compiles madsim:
//!
//! ```text
//! RUSTFLAGS="--cfg madsim" CARGO_TARGET_DIR=target/madsim \
//!     cargo test --manifest-path madsim/Cargo.toml
//! ```
//!
//! A world hosts pools through a [`Handle`]; every blocking pool call goes through
//! [`Handle::call`] (or [`Handle::spawn`] for a worker that serves until it dies), and
//! [`Handle::kill`] / [`Handle::restart`] turn a madsim node's death into the death of every
//! pool process the node owned. [`service`] is a whole example service.
//!
//! ```
//! use std::sync::Arc;
//! use vigil_core::aion::{ActivityRequest, ActivityResult, Payload, WorkerCapacity};
//! use vigil_core::dispatch::{ActivityHandler, DispatchContext, RoutingFunctionDispatchRouter};
//! use vigil_core::dispatch::{dispatch_activity_with_context, policy, register_dispatch_worker};
//!
//! madsim::runtime::Runtime::new().block_on(async {
//!     let world = vigil_madsim::Handle::new();
//!     let pool = world.context();
//!     // A worker node: its worker is a pool task acting for that node.
//!     let node = madsim::runtime::Handle::current().create_node().name("worker").build();
//!     let (on_node, serving) = (world.clone(), pool.clone());
//!     node.spawn(async move {
//!         on_node.spawn("worker", move || {
//!             let echo: ActivityHandler = Arc::new(|request: &ActivityRequest| {
//!                 ActivityResult::Completed { output: request.input.clone() }
//!             });
//!             let capacity = WorkerCapacity { max_concurrent: 1, activity_types: vec![] };
//!             let mut worker =
//!                 register_dispatch_worker(&serving, "shop", "orders", capacity, echo).unwrap();
//!             worker.join_loop_after_exit(); // serves until its process dies
//!         })
//!     })
//!     .await
//!     .unwrap();
//!     madsim::time::sleep(std::time::Duration::from_millis(10)).await;
//!
//!     let router = RoutingFunctionDispatchRouter::new(policy::first_with_capacity());
//!     let dispatch = DispatchContext::for_pool(&pool, Arc::new(router));
//!     let request = ActivityRequest {
//!         activity_type: "echo".into(),
//!         input: Payload::default(),
//!         task_queue: "orders".into(),
//!         schedule_to_close_timeout: None,
//!         start_to_close_timeout: None,
//!     };
//!     let send = request.clone();
//!     let answer = world
//!         .call({
//!             let dispatch = dispatch.clone();
//!             move || dispatch_activity_with_context(&dispatch, "shop", "orders", send)
//!         })
//!         .await;
//!     assert!(matches!(answer, Ok(ActivityResult::Completed { .. })));
//!
//!     // The node dies: its worker's process ends with reason `Killed`, the pool's link
//!     // monitor removes the worker, and dispatch has nobody left to route to.
//!     world.kill(node.id());
//!     madsim::time::sleep(std::time::Duration::from_millis(10)).await;
//!     let answer = world
//!         .call(move || dispatch_activity_with_context(&dispatch, "shop", "orders", request))
//!         .await;
//!     assert!(answer.is_err());
//! });
//! ```

#[cfg(not(madsim))]
compile_error!(
    "vigil-madsim runs only in madsim's simulation mode: build it with RUSTFLAGS=\"--cfg madsim\""
);

#[cfg(madsim)]
mod scheduler;
#[cfg(madsim)]
mod world;

#[cfg(madsim)]
pub mod service;

#[cfg(madsim)]
pub use scheduler::{MadsimScheduler, Moment};
#[cfg(madsim)]
pub use world::{Call, Handle};
