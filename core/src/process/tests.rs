//! Tests of the process substrate.
