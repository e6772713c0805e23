//! vigil-core's integration test binary: tidy checks over the whole workspace.

mod tidy;
