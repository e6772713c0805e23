//! vigil-sim

pub mod scenario;
