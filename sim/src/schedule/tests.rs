//! Unit tests of the schedule module.

use super::*;
