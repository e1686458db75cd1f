//! The bundled KVM VMM that boots each qube (one process per qube) and exposes the GUI
//! shared memory to it as a PCI device, plus the qube manager. Built by the VMM issue;
//! today this crate holds nothing else.
#![allow(unsafe_code)]
