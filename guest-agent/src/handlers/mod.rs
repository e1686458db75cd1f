//! One file per Wayland protocol the agent serves (smithay's smallvil layout).

mod compositor;
mod cursor_shape;
mod data_device;
mod output;
mod seat;
mod shm;
mod viewporter;
mod xdg_decoration;
pub mod xdg_shell;
