//! Unit tests of the runner module.

use super::*;
