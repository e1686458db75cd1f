//! The bundled KVM VMM that boots each qube (one process per qube) and exposes the GUI
//! shared memory to it as a PCI device, and the qube manager ([`manager`], the `bulkhead`
//! CLI).
//!
//! Layout, in the manner of Firecracker and cloud-hypervisor: [`kvm`] opens and checks
//! `/dev/kvm`, [`memory`] owns guest RAM and the guest-physical map, [`boot`] loads the kernel
//! and writes the boot structures, [`vcpu`] sets up and runs vCPUs, [`vm`] ties it together
//! and reports a typed [`vm::VmExit`]; [`devices`] has one folder per emulated device.
#![allow(unsafe_code)]

pub mod boot;
pub mod devices;
pub mod kvm;
pub mod manager;
pub mod memory;
pub mod metrics;
pub mod pci;
pub mod seccomp;
pub mod vcpu;
pub mod vm;

pub use vm::{Console, VmConfig, VmError, VmExit, VmReport};
