//! Unit tests of the trace module.

use super::*;
