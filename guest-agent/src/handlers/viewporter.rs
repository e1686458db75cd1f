//! wp_viewporter: smithay applies viewports when surfaces are flattened.

use smithay::delegate_viewporter;

use crate::state::Agent;

delegate_viewporter!(Agent);
