//! vigil-benches: criterion benches live in benches/benches.
