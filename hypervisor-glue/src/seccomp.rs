//! The VMM's seccomp filter, installed on every thread once the VM is set up: from then on the
//! process can run vCPUs, move bytes through descriptors it already holds, manage its own
//! memory and threads, and nothing else. In particular it cannot open files, create sockets,
//! or issue any `ioctl` but `KVM_RUN` and `KVM_IRQFD` (the GUI channel re-attaching its
//! interrupt).

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// `KVM_RUN`: `_IO(0xae, 0x80)`.
pub const KVM_RUN: u64 = 0xae80;
/// `KVM_IRQFD`: `_IOW(0xae, 0x76, struct kvm_irqfd)` (32 bytes).
pub const KVM_IRQFD: u64 = 0x4020_ae76;

/// How strict to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SeccompLevel {
    /// No filter (debugging only).
    Off,
    /// Allow everything, but log what the filter would have refused (kernel audit log).
    Log,
    /// Kill the VMM on any syscall outside the list.
    #[default]
    Enforce,
}

/// Errors building or installing the filter.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// The rules did not compile.
    #[error("cannot build the seccomp filter")]
    Build(#[from] seccompiler::BackendError),
    /// The kernel refused the filter.
    #[error("cannot install the seccomp filter")]
    Install(#[from] seccompiler::Error),
}

/// Syscalls allowed with any arguments.
const ALLOWED: &[i64] = &[
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_readv,
    libc::SYS_writev,
    libc::SYS_pread64,
    libc::SYS_pwrite64,
    libc::SYS_lseek,
    libc::SYS_fstat,
    libc::SYS_newfstatat,
    libc::SYS_statx,
    libc::SYS_fsync,
    libc::SYS_fdatasync,
    libc::SYS_close,
    libc::SYS_poll,
    libc::SYS_ppoll,
    libc::SYS_futex,
    libc::SYS_sched_yield,
    libc::SYS_nanosleep,
    libc::SYS_clock_nanosleep,
    libc::SYS_clock_gettime,
    libc::SYS_gettimeofday,
    libc::SYS_brk,
    libc::SYS_mmap,
    libc::SYS_munmap,
    libc::SYS_mremap,
    libc::SYS_madvise,
    // Finding the resident guest pages to wipe when the VM ends.
    libc::SYS_mincore,
    libc::SYS_mprotect,
    libc::SYS_rt_sigreturn,
    libc::SYS_rt_sigprocmask,
    libc::SYS_sigaltstack,
    libc::SYS_tgkill,
    libc::SYS_getpid,
    libc::SYS_gettid,
    libc::SYS_getrandom,
    libc::SYS_exit,
    libc::SYS_exit_group,
];

fn ioctl_rule(request: u64) -> Result<SeccompRule, seccompiler::BackendError> {
    SeccompRule::new(vec![SeccompCondition::new(
        1,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::Eq,
        request,
    )?])
}

/// Compiles the filter for `level` (`None` for [`SeccompLevel::Off`]).
pub fn filter(level: SeccompLevel) -> Result<Option<BpfProgram>, SeccompError> {
    let mismatch = match level {
        SeccompLevel::Off => return Ok(None),
        SeccompLevel::Log => SeccompAction::Log,
        SeccompLevel::Enforce => SeccompAction::KillProcess,
    };
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        ALLOWED.iter().map(|nr| (*nr, Vec::new())).collect();
    rules.insert(
        libc::SYS_ioctl,
        vec![ioctl_rule(KVM_RUN)?, ioctl_rule(KVM_IRQFD)?],
    );
    // `fcntl(fd, F_GETFD)` only: Rust's std checks that a descriptor is open before it
    // closes one (in builds with debug assertions); it changes nothing.
    rules.insert(
        libc::SYS_fcntl,
        vec![SeccompRule::new(vec![SeccompCondition::new(
            1,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Eq,
            libc::F_GETFD as u64,
        )?])?],
    );
    let filter = SeccompFilter::new(rules, mismatch, SeccompAction::Allow, TargetArch::x86_64)?;
    Ok(Some(filter.try_into()?))
}

/// Installs the filter for `level` on every thread of the process.
pub fn install(level: SeccompLevel) -> Result<(), SeccompError> {
    if let Some(program) = filter(level)? {
        seccompiler::apply_filter_all_threads(&program)?;
        tracing::debug!(?level, "seccomp filter installed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `_IOC(dir, type, nr, size)` as in the kernel's `ioctl.h`.
    fn ioc(dir: u64, kind: u64, nr: u64, size: u64) -> u64 {
        (dir << 30) | (size << 16) | (kind << 8) | nr
    }

    #[test]
    fn ioctl_numbers() {
        assert_eq!(KVM_RUN, ioc(0, 0xae, 0x80, 0));
        assert_eq!(
            KVM_IRQFD,
            ioc(1, 0xae, 0x76, size_of::<kvm_bindings::kvm_irqfd>() as u64)
        );
    }

    #[test]
    fn filters_compile() {
        assert!(filter(SeccompLevel::Off).unwrap().is_none());
        assert!(!filter(SeccompLevel::Enforce).unwrap().unwrap().is_empty());
        assert!(!filter(SeccompLevel::Log).unwrap().unwrap().is_empty());
    }

    #[test]
    fn enforced_filter_blocks_open_in_a_child() {
        // Fork-free check: run the filter in a thread of a subprocess would be heavier; here
        // a forked child installs it and tries openat, and must die by SIGSYS.
        let program = filter(SeccompLevel::Enforce).unwrap().unwrap();
        // SAFETY: the child only calls async-signal-safe functions (prctl via seccompiler's
        // raw syscall, open, _exit) before exiting; the parent waits for it.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let code = if seccompiler::apply_filter(&program).is_ok() {
                // SAFETY: a valid NUL-terminated path; the call is the one under test.
                let fd = unsafe { libc::open(c"/proc/self/status".as_ptr(), libc::O_RDONLY) };
                if fd >= 0 { 0 } else { 2 }
            } else {
                3
            };
            // SAFETY: ends the child at once, without running the parent's destructors.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: `pid` is our child; `status` is a valid out-pointer.
        let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(waited, pid);
        assert!(libc::WIFSIGNALED(status), "status {status:#x}");
        assert_eq!(libc::WTERMSIG(status), libc::SIGSYS);
    }
}
