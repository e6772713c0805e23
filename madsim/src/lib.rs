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
//! [`Handle::call`], and [`Handle::kill`] / [`Handle::restart`] turn a madsim node's death
//! into the death of every pool process the node owned.

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
