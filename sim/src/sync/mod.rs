//! A `std::sync`-shaped facade over `vigil_core::sync`, so models written for loom or shuttle
//! run under vigil by changing their `use` lines.
//!
//! Every lock, atomic access, send, receive, notify and wait is a scheduling point of the
//! current scheduler, and so is an unlock another task could tell apart (one with a waiter, or
//! after a critical section with no point inside): under `vigil_sim::run` the executor
//! interleaves them; outside a simulation the same code runs on OS threads through
//! `vigil_core`'s production scheduler.
//!
//! # Example
//!
//! std's own `Condvar` example with only its `use` lines changed, explored by the runner:
//!
//! ```
//! use vigil_sim::sync::{Arc, Condvar, Mutex};
//! use vigil_sim::thread;
//! use vigil_sim::{Config, Random, run};
//!
//! let mut config = Config::default();
//! config.executions = 100;
//! let report = run(&config, &mut Random::new(config.seed), || {
//!     let pair = Arc::new((Mutex::new(false), Condvar::new()));
//!     let pair2 = Arc::clone(&pair);
//!     let child = thread::spawn(move || {
//!         let (lock, cvar) = &*pair2;
//!         *lock.lock().unwrap() = true;
//!         cvar.notify_one();
//!     });
//!     let (lock, cvar) = &*pair;
//!     let mut started = lock.lock().unwrap();
//!     while !*started {
//!         started = cvar.wait(started).unwrap();
//!     }
//!     drop(started);
//!     child.join().unwrap();
//! });
//! assert!(report.failure().is_none());
//! ```
//!
//! # Differences from `std::sync`
//!
//! - Locks never poison: a guard dropped while unwinding releases the lock, so every
//!   [`LockResult`] and [`TryLockResult`] is `Ok` unless the lock is held
//!   ([`TryLockError::WouldBlock`]). The std error types are re-exported so matching on them
//!   compiles unchanged.
//! - [`Condvar`] never wakes spuriously: a wait returns only after a notify or its timeout.
//!   Code that loops on its predicate (as it must for std) behaves the same either way. Which
//!   waiter a `notify_one` wakes is a scheduling choice, explored like any other.
//! - Under simulation every execution is sequentially consistent: atomics accept any
//!   [`atomic::Ordering`] but weak-memory reorderings are not explored.
//! - [`Arc`] and [`Weak`] are std's own types: reference counting is not a scheduling point.
//! - Every simulated execution starts with [`Once`], [`OnceLock`] and [`LazyLock`]
//!   uninitialised, `static` ones included (a `static` `OnceLock` keeps earlier executions'
//!   values allocated, since references to them may live on); [`LazyLock`] needs an `Fn`
//!   initialiser, which it calls again in each execution.
//! - Locking a [`Mutex`] the task already holds panics with "tried to lock a mutex it already
//!   holds" (an [`RwLock`]: "tried to lock RwLock ... it already holds"), where std may
//!   deadlock.

pub mod atomic;
mod barrier;
mod condvar;
pub mod mpsc;
mod mutex;
mod notify;
mod once;
mod rendezvous;
mod rwlock;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard};
pub use notify::Notify;
pub use once::{LazyLock, Once, OnceLock, OnceState};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use std::sync::{Arc, LockResult, PoisonError, TryLockError, TryLockResult, Weak};
