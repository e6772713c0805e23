//! Unit tests of dispatch: the spec's (f.2) tests against scripted doubles, the algorithm's
//! error paths, the routing-function router, and dispatch on the real process substrate.

mod doubles;
mod malformed;
mod real;
mod routing;
mod spec;
