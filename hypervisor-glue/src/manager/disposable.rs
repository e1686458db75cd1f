//! Disposable qubes: `run --disposable` makes a fresh `dispN` for one program, on an unnamed
//! overlay of its template and without a private volume, and removes it with everything it
//! had when the program's windows have all closed, its VM ends, or on Ctrl-C.

use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::qube::{self, Mode, QubeConfig, Running};
use super::{Manager, ManagerError, check_argv, now_unix};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    INTERRUPTED.store(true, Ordering::Release);
}

impl Manager {
    /// `run --disposable`: a fresh qube for one program, gone with everything it wrote when
    /// the program's last window closes, its VM stops, or on Ctrl-C. Blocks until then and
    /// returns the qube's name.
    pub fn run_disposable(
        &mut self,
        template: &str,
        label: &str,
        argv: &[String],
        timeout: Duration,
    ) -> Result<String, ManagerError> {
        check_argv(argv)?;
        qube::check_label(label)?;
        for sig in [libc::SIGINT, libc::SIGTERM] {
            vmm_sys_util::signal::register_signal_handler(sig, on_interrupt)
                .map_err(|e| ManagerError::Build(format!("cannot catch signal {sig}: {e}")))?;
        }
        let (config, running, mut child) = {
            let _lock = self.lock()?;
            let name = (1..10_000u32)
                .map(|n| format!("disp{n}"))
                .find(|n| !self.qube_dir(n).exists())
                .ok_or_else(|| {
                    ManagerError::Build("9999 disposable qubes exist; remove some".into())
                })?;
            let config = QubeConfig {
                name,
                label: label.to_owned(),
                template: template.to_owned(),
                mem_mib: qube::DEFAULT_MEM_MIB,
                vcpus: qube::DEFAULT_VCPUS,
                private_mib: 0,
                disposable: true,
                created_unix: now_unix(),
            };
            config.check()?;
            if self.settings.mode == Mode::Vm {
                self.template(&config.template)?;
            }
            self.put_in_place(&config)?;
            match self.launch(&config) {
                Ok((running, child)) => (config, running, child),
                Err(e) => {
                    let _ = self.delete_qube_dir(&config.name);
                    return Err(e);
                }
            }
        };
        let name = config.name.clone();
        let child_ref = &mut child;
        let result = (|| {
            // wait_connected consumes the child handle only to reap it; keep ours.
            self.wait_disposable_connected(&config, &running, child_ref, timeout)?;
            self.dom0.run(&name, argv)?;
            self.notes.push(format!(
                "disposable qube {name} runs {}; it goes when its last window closes (or Ctrl-C)",
                argv[0]
            ));
            self.watch_disposable(&config, &running, child_ref, timeout, &argv[0])
        })();
        let _lock = self.lock();
        if running.process.is_alive() {
            self.stop_process(&config, &running, Duration::ZERO, Some(&mut child))?;
        } else if self.qube_dir(&name).exists() {
            self.cleanup_stopped(&config)?;
        }
        result.map(|()| name)
    }

    fn wait_disposable_connected(
        &mut self,
        config: &QubeConfig,
        running: &Running,
        child: &mut Child,
        timeout: Duration,
    ) -> Result<(), ManagerError> {
        let end = Instant::now() + timeout;
        loop {
            let _ = child.try_wait();
            if !running.process.is_alive() {
                return Err(self.start_failed(config, running.mode));
            }
            if self.dom0.qube(&config.name)?.is_some_and(|q| q.connected) {
                return Ok(());
            }
            if INTERRUPTED.load(Ordering::Acquire) {
                return Err(ManagerError::Build("interrupted".into()));
            }
            if Instant::now() >= end {
                return Err(ManagerError::BootTimeout {
                    name: config.name.clone(),
                    secs: timeout.as_secs(),
                    log: self.log_of(config, running.mode),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Until the disposable should go: its windows all closed (after it had one), its
    /// process ended, the compositor forgot it, or Ctrl-C.
    fn watch_disposable(
        &mut self,
        config: &QubeConfig,
        running: &Running,
        child: &mut Child,
        timeout: Duration,
        program: &str,
    ) -> Result<(), ManagerError> {
        let started = Instant::now();
        let mut had_window = false;
        let mut empty_since: Option<Instant> = None;
        loop {
            let _ = child.try_wait();
            if INTERRUPTED.load(Ordering::Acquire) || !running.process.is_alive() {
                return Ok(());
            }
            let Some(q) = self.dom0.qube(&config.name)? else {
                return Ok(());
            };
            if q.windows > 0 {
                had_window = true;
                empty_since = None;
            } else if had_window {
                let since = *empty_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= Duration::from_secs(1) {
                    return Ok(());
                }
            } else if started.elapsed() >= timeout {
                return Err(ManagerError::NoWindow {
                    program: program.to_owned(),
                    name: config.name.clone(),
                    secs: timeout.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
