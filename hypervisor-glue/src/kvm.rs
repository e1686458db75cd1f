//! Access to `/dev/kvm`: open it, check that it has what we rely on, and read the CPUID the
//! host can give a guest.

use kvm_bindings::{CpuId, KVM_MAX_CPUID_ENTRIES};
use kvm_ioctls::{Cap, Kvm};

/// Errors opening or querying KVM.
#[derive(Debug, thiserror::Error)]
pub enum KvmError {
    /// `/dev/kvm` could not be opened.
    #[error("cannot open /dev/kvm (is the kvm module loaded, and may this user open it?)")]
    Open(#[source] kvm_ioctls::Error),
    /// An API version other than the stable 12.
    #[error("KVM API version {0}, expected 12")]
    ApiVersion(i32),
    /// A capability the VMM needs is absent.
    #[error("KVM lacks a capability we need: {0:?}")]
    MissingCap(Cap),
    /// `KVM_GET_SUPPORTED_CPUID` failed.
    #[error("cannot read supported CPUID")]
    Cpuid(#[source] kvm_ioctls::Error),
}

/// Capabilities every qube needs.
const REQUIRED_CAPS: [Cap; 8] = [
    Cap::Irqchip,
    Cap::UserMemory,
    Cap::SetTssAddr,
    Cap::Pit2,
    Cap::PitState2,
    Cap::Ioeventfd,
    Cap::Irqfd,
    Cap::ExtCpuid,
];

/// An open, checked `/dev/kvm`.
#[derive(Debug)]
pub struct KvmContext {
    kvm: Kvm,
}

impl KvmContext {
    /// Opens `/dev/kvm` and checks it.
    pub fn new() -> Result<Self, KvmError> {
        let kvm = Kvm::new().map_err(KvmError::Open)?;
        let version = kvm.get_api_version();
        if version != 12 {
            return Err(KvmError::ApiVersion(version));
        }
        if let Some(cap) = REQUIRED_CAPS.into_iter().find(|c| !kvm.check_extension(*c)) {
            return Err(KvmError::MissingCap(cap));
        }
        Ok(Self { kvm })
    }

    /// The underlying handle.
    pub fn kvm(&self) -> &Kvm {
        &self.kvm
    }

    /// Most vCPUs one VM may have.
    pub fn max_vcpus(&self) -> usize {
        self.kvm.get_max_vcpus()
    }

    /// The CPUID leaves KVM can expose.
    pub fn supported_cpuid(&self) -> Result<CpuId, KvmError> {
        self.kvm
            .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
            .map_err(KvmError::Cpuid)
    }
}
