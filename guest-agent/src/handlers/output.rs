//! wl_output: one output whose size and scale come from dom0.

use smithay::delegate_output;
use smithay::wayland::output::OutputHandler;

use crate::state::Agent;

impl OutputHandler for Agent {}

delegate_output!(Agent);
