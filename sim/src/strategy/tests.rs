//! Unit tests of the strategy module.

use super::*;
