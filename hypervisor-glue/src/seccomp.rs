//! The VMM's seccomp filter, installed on every thread once the VM is set up: from then on the
//! process can run vCPUs, move bytes through descriptors it already holds, manage its own
//! memory and threads, and nothing else. In particular it cannot open files, create sockets,
//! or issue any `ioctl` but `KVM_RUN`, `KVM_IRQFD` (the GUI channel re-attaching its
//! interrupt) and the read-only `KVM_GET_REGS`/`KVM_GET_SREGS` (where a guest that
//! triple-faulted was, for the log).
//!
//! Any syscall outside the list kills the process, except opening a file, which fails with
//! `EACCES` (a second filter; the kernel takes the stricter answer of the two): libraries
//! probe files lazily and cope when they cannot — glibc's malloc reads
//! `/proc/sys/vm/overcommit_memory` the first time it shrinks a thread's heap, which happens
//! as the VM is torn down, and that used to kill the VMM before it could report how the
//! guest ended.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// `KVM_RUN`: `_IO(0xae, 0x80)`.
pub const KVM_RUN: u64 = 0xae80;
/// `KVM_IRQFD`: `_IOW(0xae, 0x76, struct kvm_irqfd)` (32 bytes).
pub const KVM_IRQFD: u64 = 0x4020_ae76;
/// `KVM_GET_REGS`: `_IOR(0xae, 0x81, struct kvm_regs)` (144 bytes).
pub const KVM_GET_REGS: u64 = 0x8090_ae81;
/// `KVM_GET_SREGS`: `_IOR(0xae, 0x83, struct kvm_sregs)` (312 bytes).
pub const KVM_GET_SREGS: u64 = 0x8138_ae83;

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
    // The kernel's own continuation of a sleep, poll or futex wait that a stop (SIGSTOP,
    // a debugger attaching) interrupted: without it, `strace -p` on a running VMM kills it.
    libc::SYS_restart_syscall,
    libc::SYS_rt_sigprocmask,
    libc::SYS_sigaltstack,
    libc::SYS_tgkill,
    libc::SYS_getpid,
    libc::SYS_gettid,
    libc::SYS_getrandom,
    libc::SYS_exit,
    libc::SYS_exit_group,
];

/// Syscalls that fail with `EACCES` instead of killing the VMM (see the module docs): the
/// file is not opened either way.
const REFUSED: &[i64] = &[libc::SYS_open, libc::SYS_openat, libc::SYS_openat2];

fn ioctl_rule(request: u64) -> Result<SeccompRule, seccompiler::BackendError> {
    SeccompRule::new(vec![SeccompCondition::new(
        1,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::Eq,
        request,
    )?])
}

/// Compiles the filters for `level`, to be installed together and in order (none for
/// [`SeccompLevel::Off`]; with [`SeccompLevel::Log`] everything is allowed and what
/// `Enforce` would refuse, opening files included, is logged).
pub fn filters(level: SeccompLevel) -> Result<Vec<BpfProgram>, SeccompError> {
    let mismatch = match level {
        SeccompLevel::Off => return Ok(Vec::new()),
        SeccompLevel::Log => SeccompAction::Log,
        SeccompLevel::Enforce => SeccompAction::KillProcess,
    };
    let enforce = level == SeccompLevel::Enforce;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = ALLOWED
        .iter()
        .chain(if enforce { REFUSED } else { &[] })
        .map(|nr| (*nr, Vec::new()))
        .collect();
    rules.insert(
        libc::SYS_ioctl,
        [KVM_RUN, KVM_IRQFD, KVM_GET_REGS, KVM_GET_SREGS]
            .into_iter()
            .map(ioctl_rule)
            .collect::<Result<_, _>>()?,
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
    let main = SeccompFilter::new(rules, mismatch, SeccompAction::Allow, TargetArch::x86_64)?;
    // The main filter goes last: once it is on, installing another would be refused.
    let mut programs = Vec::new();
    if enforce {
        let refused = SeccompFilter::new(
            REFUSED.iter().map(|nr| (*nr, Vec::new())).collect(),
            SeccompAction::Allow,
            SeccompAction::Errno(libc::EACCES as u32),
            TargetArch::x86_64,
        )?;
        programs.push(refused.try_into()?);
    }
    programs.push(main.try_into()?);
    Ok(programs)
}

/// Installs the filters for `level` on every thread of the process.
pub fn install(level: SeccompLevel) -> Result<(), SeccompError> {
    for program in filters(level)? {
        seccompiler::apply_filter_all_threads(&program)?;
    }
    tracing::debug!(?level, "seccomp filters installed");
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
        assert_eq!(
            KVM_GET_REGS,
            ioc(2, 0xae, 0x81, size_of::<kvm_bindings::kvm_regs>() as u64)
        );
        assert_eq!(
            KVM_GET_SREGS,
            ioc(2, 0xae, 0x83, size_of::<kvm_bindings::kvm_sregs>() as u64)
        );
    }

    #[test]
    fn filters_compile() {
        assert!(filters(SeccompLevel::Off).unwrap().is_empty());
        let enforce = filters(SeccompLevel::Enforce).unwrap();
        assert_eq!(enforce.len(), 2);
        assert!(enforce.iter().all(|p| !p.is_empty()));
        assert_eq!(filters(SeccompLevel::Log).unwrap().len(), 1);
    }

    /// In a forked child: installs the enforced filters, runs `attempt`, and exits with its
    /// code. Returns how the child ended (`waitpid` status).
    fn in_filtered_child(attempt: fn() -> i32) -> i32 {
        let programs = filters(SeccompLevel::Enforce).unwrap();
        // SAFETY: the child only makes raw syscalls (prctl/seccomp through seccompiler, the
        // attempt, _exit) before exiting; the parent waits for it.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let code = if programs
                .iter()
                .all(|p| seccompiler::apply_filter(p).is_ok())
            {
                attempt()
            } else {
                100
            };
            // SAFETY: ends the child at once, without running the parent's destructors.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: `pid` is our child; `status` is a valid out-pointer.
        let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(waited, pid);
        status
    }

    #[test]
    fn enforced_filters_refuse_opening_a_file_without_killing() {
        let status = in_filtered_child(|| {
            // SAFETY: a valid NUL-terminated path; the call is the one under test.
            let fd = unsafe { libc::open(c"/proc/self/status".as_ptr(), libc::O_RDONLY) };
            let errno = std::io::Error::last_os_error().raw_os_error();
            match (fd, errno) {
                (-1, Some(libc::EACCES)) => 0,
                (-1, _) => 1,
                _ => 2,
            }
        });
        assert!(libc::WIFEXITED(status), "status {status:#x}");
        assert_eq!(
            libc::WEXITSTATUS(status),
            0,
            "open was not refused with EACCES"
        );
    }

    /// `ioctl(0, request, buffer)`: exits 0 if the call returned (fd 0 is no vCPU, so the
    /// kernel answers ENOTTY or EBADF without writing).
    fn ioctl_on_stdin(request: u64) -> i32 {
        let mut buf = [0u8; 512];
        // SAFETY: `buf` is larger than any structure these requests name; the call is the
        // one under test.
        let r = unsafe { libc::ioctl(0, request as _, buf.as_mut_ptr()) };
        if r == -1 { 0 } else { 1 }
    }

    /// The vCPU thread reads a triple-faulted guest's registers for the log: those ioctls
    /// pass the filter; any other ioctl (here `KVM_GET_MP_STATE`) kills.
    #[test]
    fn enforced_filters_let_the_register_reads_through() {
        fn get_regs() -> i32 {
            ioctl_on_stdin(KVM_GET_REGS)
        }
        fn get_sregs() -> i32 {
            ioctl_on_stdin(KVM_GET_SREGS)
        }
        for attempt in [get_regs as fn() -> i32, get_sregs] {
            let status = in_filtered_child(attempt);
            assert!(libc::WIFEXITED(status), "status {status:#x}");
            assert_eq!(libc::WEXITSTATUS(status), 0);
        }
        let status = in_filtered_child(|| ioctl_on_stdin(0x8004_ae98));
        assert!(libc::WIFSIGNALED(status), "status {status:#x}");
        assert_eq!(libc::WTERMSIG(status), libc::SIGSYS);
    }

    #[test]
    fn enforced_filters_kill_on_a_syscall_outside_the_list() {
        let status = in_filtered_child(|| {
            // SAFETY: socket(2) has no memory effects; the call is the one under test.
            let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) };
            if fd >= 0 { 0 } else { 1 }
        });
        assert!(libc::WIFSIGNALED(status), "status {status:#x}");
        assert_eq!(libc::WTERMSIG(status), libc::SIGSYS);
    }
}
