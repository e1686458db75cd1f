//! wp_cursor_shape_v1: clients name their pointer shape; dom0 draws it from its own theme
//! (a qube never sends cursor images). The shape reaches dom0 from `handlers::seat`.

use smithay::delegate_cursor_shape;
use smithay::wayland::tablet_manager::TabletSeatHandler;

use crate::state::Agent;

/// Required by the cursor-shape global; the agent offers no tablets, so there are no
/// tablet tool images to take.
impl TabletSeatHandler for Agent {}

delegate_cursor_shape!(Agent);
