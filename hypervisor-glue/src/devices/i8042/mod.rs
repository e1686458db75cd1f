//! The bare minimum of the i8042 keyboard controller: the reset line.
mod device;
pub use device::{I8042, I8042_COMMAND_PORT, I8042_DATA_PORT};
