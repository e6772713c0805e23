//! Unit tests of the DPOR strategy (models that run under the executor are in sim/tests/it).
