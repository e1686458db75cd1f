//! The MC146818 real-time clock and CMOS RAM at ports 0x70/0x71.
mod device;
pub use device::{CMOS_PORT, Cmos};
