//! Integration tests of vigil-madsim: the pool's real code inside madsim worlds.

mod pool;
mod service;
