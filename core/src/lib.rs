//! vigil-core: a worker pool with crash-detecting link monitors, on a pluggable scheduler.
//!
//! Workers register on a dispatch channel with a capacity; a link monitor watches each
//! worker's process, and a process that ends takes its worker out of the pool. Everything
//! that spawns, blocks, reads time or draws a random number goes through [`rt::Scheduler`]:
//! the production scheduler (OS threads, real time) by default, or `vigil-sim`'s
//! deterministic one under simulation.
//!
//! ```
//! use vigil_core::aion::{WorkerCapacity, dispatch_channel};
//! use vigil_core::pool::WorkerContext;
//!
//! let pool = WorkerContext::new();
//! let capacity = WorkerCapacity { max_concurrent: 4, activity_types: vec!["send-email".into()] };
//! let worker = pool.register_worker("prod", "email", capacity).unwrap();
//! let channel = dispatch_channel("prod", "email").unwrap();
//!
//! let snapshot = pool.workers_for_channel(&channel).unwrap();
//! assert_eq!(snapshot[0].worker_id, "worker-1");
//! assert_eq!(snapshot[0].consumer_state.max_in_flight, 4);
//!
//! worker.unregister().unwrap();
//! assert!(pool.workers_for_channel(&channel).unwrap().is_empty());
//! ```

pub mod aion;
pub mod census;
pub mod channel;
pub mod conversation;
pub mod dispatch;
mod liminal_error;
pub mod pool;
pub mod process;
pub mod routing;
pub mod rt;
pub mod sync;
mod text;
pub mod thread;

pub use liminal_error::LiminalError;
pub use text::SharedStr;
