//! One file per Wayland protocol the agent serves (smithay's smallvil layout).

mod compositor;
mod data_device;
mod output;
mod seat;
mod shm;
mod viewporter;
mod xdg_decoration;
pub mod xdg_shell;
