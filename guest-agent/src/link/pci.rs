//! VM mode: the agent's end of the GUI channel is a PCI function of the qube's VMM
//! (`hypervisor-glue`, vendor `b1c4`, device `0010`), driven through stock Linux interfaces
//! only (no guest kernel module of ours):
//!
//! * the function is bound to `uio_pci_generic` (`new_id` when it is not yet);
//! * BAR 0 is the shm-transport region, mapped through sysfs `resource0` (uncached: the
//!   rings) and again through `resource0_wc` (write-combining: the pixel arena);
//! * BAR 2 holds registers (`resource2`): the doorbell at `0x0` (a write wakes dom0 through a
//!   KVM ioeventfd), the magic `"BKGU"` at `0x4`, the version at `0x8`, the region's length
//!   (u64) at `0x10`;
//! * dom0's doorbell arrives as INTx, read from `/dev/uioN`. `uio_pci_generic` masks INTx in
//!   its handler (the command register's INTx-disable bit); [`UioDoorbell::acknowledge`]
//!   unmasks it again after each interrupt, through `/dev/uioN` when the driver supports that
//!   and otherwise through the function's sysfs `config` file (Debian 12's 6.1 kernel refuses
//!   writes to `/dev/uioN` for this driver, as [`UioDoorbell::open`] finds and logs).
//!
//! Everything read from the registers is checked before use; the region's header is then
//! validated by `bulkhead-shm-transport` exactly as in host mode.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bulkhead_shm_transport::{
    Config, Endpoint, IncomingDoorbell, RegisterDoorbell, SetupError, SharedMemory,
};

pub use bulkhead_shm_transport::gui_device::{
    DEVICE_ID, REG_DOORBELL, REG_MAGIC, REG_REGION_LEN, REG_VERSION, REGS_LEN, REGS_MAGIC,
    REGS_VERSION, VENDOR_ID,
};

const PAGE: u64 = 4096;
/// The command register's INTx-disable bit, in its high byte (config offset 5).
const INTX_DISABLE_HIGH: u8 = 1 << 2;
/// Config space offset of the command register's high byte.
const COMMAND_HIGH: u64 = 5;
/// How long binding the driver may take to produce `/dev/uioN`.
const BIND_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the GUI channel device could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum PciError {
    /// No such PCI function: not in a Bulkhead VM, or the VMM has no GUI channel.
    #[error(
        "no GUI channel PCI device ({VENDOR_ID:04x}:{DEVICE_ID:04x}) under {0}: is this a \
         Bulkhead VM started with a GUI socket?"
    )]
    NotFound(PathBuf),
    /// Another driver owns the function.
    #[error("{device} is bound to driver {driver}, not uio_pci_generic: unbind it first")]
    OtherDriver {
        /// The function's sysfs directory.
        device: PathBuf,
        /// The driver's name.
        driver: String,
    },
    /// `uio_pci_generic` is not loaded.
    #[error("the uio_pci_generic driver is not loaded: run `modprobe uio_pci_generic`")]
    NoDriver,
    /// Binding produced no uio device.
    #[error("{0} got no /dev/uioN after binding uio_pci_generic (see the kernel log)")]
    NoUio(PathBuf),
    /// The registers are not what this agent speaks.
    #[error("the GUI channel's registers are wrong: {0}")]
    BadRegisters(String),
    /// A sysfs or device file failed.
    #[error("{what} {path}")]
    Io {
        /// What we tried.
        what: &'static str,
        /// On which file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The region's header is invalid.
    #[error("opening the shared region")]
    Setup(#[from] SetupError),
}

fn io_error(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PciError + use<> {
    let path = path.to_path_buf();
    move |source| PciError::Io { what, path, source }
}

/// Reads a sysfs id file (`0xb1c4\n`).
fn read_id(path: &Path) -> Option<u16> {
    let text = std::fs::read_to_string(path).ok()?;
    u16::from_str_radix(text.trim().trim_start_matches("0x"), 16).ok()
}

/// The GUI channel's sysfs directory under `sysfs` (normally `/sys`).
pub fn find_device(sysfs: &Path) -> Result<PathBuf, PciError> {
    let devices = sysfs.join("bus/pci/devices");
    let entries = std::fs::read_dir(&devices).map_err(|_| PciError::NotFound(devices.clone()))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|dev| {
            read_id(&dev.join("vendor")) == Some(VENDOR_ID)
                && read_id(&dev.join("device")) == Some(DEVICE_ID)
        })
        .collect();
    found.sort();
    found.into_iter().next().ok_or(PciError::NotFound(devices))
}

/// The name of the driver bound to `device`, if any.
fn bound_driver(device: &Path) -> Option<String> {
    let target = std::fs::read_link(device.join("driver")).ok()?;
    Some(target.file_name()?.to_string_lossy().into_owned())
}

/// The `uioN` name of a bound device, if it has one yet.
fn uio_name(device: &Path) -> Option<String> {
    let mut names: Vec<String> = std::fs::read_dir(device.join("uio"))
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("uio"))
        .collect();
    names.sort();
    names.into_iter().next()
}

/// Makes sure `device` is driven by `uio_pci_generic` and returns its `uioN`.
pub fn bind_uio(sysfs: &Path, device: &Path) -> Result<String, PciError> {
    match bound_driver(device) {
        Some(driver) if driver == "uio_pci_generic" => {}
        Some(driver) => {
            return Err(PciError::OtherDriver {
                device: device.to_path_buf(),
                driver,
            });
        }
        None => {
            let driver = sysfs.join("bus/pci/drivers/uio_pci_generic");
            if !driver.is_dir() {
                return Err(PciError::NoDriver);
            }
            let new_id = driver.join("new_id");
            let written = OpenOptions::new()
                .write(true)
                .open(&new_id)
                .and_then(|mut f| {
                    f.write_all(format!("{VENDOR_ID:04x} {DEVICE_ID:04x}").as_bytes())
                });
            match written {
                Ok(()) => {}
                // The id is known already (an earlier agent added it): bind directly.
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    let name = device.file_name().map(|n| n.to_string_lossy().into_owned());
                    std::fs::write(driver.join("bind"), name.unwrap_or_default())
                        .map_err(io_error("binding through", &driver.join("bind")))?;
                }
                Err(e) => return Err(io_error("writing", &new_id)(e)),
            }
            tracing::info!(device = %device.display(), "bound uio_pci_generic");
        }
    }
    let deadline = Instant::now() + BIND_TIMEOUT;
    loop {
        if let Some(name) = uio_name(device) {
            return Ok(name);
        }
        if Instant::now() >= deadline {
            return Err(PciError::NoUio(device.to_path_buf()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What the register BAR says, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registers {
    /// The region's length in bytes.
    pub region_len: u64,
}

/// Checks the identification registers against what this agent speaks and against the
/// size of BAR 0 (`bar0_len`).
pub fn check_registers(
    magic: u32,
    version: u32,
    region_len: u64,
    bar0_len: u64,
) -> Result<Registers, PciError> {
    if magic != REGS_MAGIC {
        return Err(PciError::BadRegisters(format!(
            "magic {magic:#010x}, expected {REGS_MAGIC:#010x}"
        )));
    }
    if version != REGS_VERSION {
        return Err(PciError::BadRegisters(format!(
            "version {version}, this agent speaks {REGS_VERSION}"
        )));
    }
    if region_len == 0 || region_len % PAGE != 0 || region_len > bar0_len {
        return Err(PciError::BadRegisters(format!(
            "region of {region_len:#x} bytes in a BAR of {bar0_len:#x}"
        )));
    }
    Ok(Registers { region_len })
}

/// dom0's doorbell as the guest sees it: interrupts counted by `/dev/uioN`.
#[derive(Debug)]
pub struct UioDoorbell {
    uio: File,
    config: File,
    config_path: PathBuf,
    /// Whether `/dev/uioN` accepts the unmask write (else the config file is used).
    uio_unmask: bool,
}

impl UioDoorbell {
    /// Opens `/dev/<uio>` and the function's `config` file, finds how to unmask INTx, and
    /// unmasks it (an interrupt that came before this agent opened the device left it
    /// masked).
    pub fn open(dev_dir: &Path, uio: &str, device: &Path) -> Result<Self, PciError> {
        let uio_path = dev_dir.join(uio);
        let uio = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(i32::try_from(rustix::fs::OFlags::NONBLOCK.bits()).unwrap_or(0))
            .open(&uio_path)
            .map_err(io_error("opening", &uio_path))?;
        let config_path = device.join("config");
        let config = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&config_path)
            .map_err(io_error("opening", &config_path))?;
        let uio_unmask = (&uio).write_all(&1u32.to_ne_bytes()).is_ok();
        tracing::info!(
            unmask = if uio_unmask {
                "/dev/uioN"
            } else {
                "config space"
            },
            "GUI channel interrupts through {}",
            uio_path.display()
        );
        let doorbell = Self {
            uio,
            config,
            config_path,
            uio_unmask,
        };
        doorbell.unmask()?;
        Ok(doorbell)
    }

    /// Clears INTx-disable so the next ring can interrupt.
    fn unmask(&self) -> Result<(), PciError> {
        if self.uio_unmask {
            return (&self.uio)
                .write_all(&1u32.to_ne_bytes())
                .map_err(io_error("unmasking through", Path::new("/dev/uioN")));
        }
        let mut high = [0u8; 1];
        self.config
            .read_exact_at(&mut high, COMMAND_HIGH)
            .map_err(io_error(
                "reading the command register of",
                &self.config_path,
            ))?;
        if high[0] & INTX_DISABLE_HIGH != 0 {
            self.config
                .write_all_at(&[high[0] & !INTX_DISABLE_HIGH], COMMAND_HIGH)
                .map_err(io_error(
                    "writing the command register of",
                    &self.config_path,
                ))?;
        }
        Ok(())
    }
}

impl AsFd for UioDoorbell {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.uio.as_fd()
    }
}

impl IncomingDoorbell for UioDoorbell {
    fn acknowledge(&self) -> std::io::Result<()> {
        let mut count = [0u8; 4];
        match (&self.uio).read(&mut count) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        self.unmask().map_err(std::io::Error::other)
    }
}

/// Finds the GUI channel under `sysfs`, binds it, maps it, and opens the agent's endpoint.
/// `dev_dir` is where `uioN` device nodes live (`/dev`).
pub fn open_endpoint(sysfs: &Path, dev_dir: &Path) -> Result<Endpoint, PciError> {
    let device = find_device(sysfs)?;
    let uio = bind_uio(sysfs, &device)?;
    let regs_path = device.join("resource2");
    let regs_file = File::options()
        .read(true)
        .write(true)
        .open(&regs_path)
        .map_err(io_error("opening", &regs_path))?;
    let regs =
        SharedMemory::map(&regs_file, 0, REGS_LEN).map_err(io_error("mapping", &regs_path))?;
    let low = u64::from(regs.load_u32(REG_REGION_LEN));
    let high = u64::from(regs.load_u32(REG_REGION_LEN + 4));
    let bar0_path = device.join("resource0");
    let bar0 = File::options()
        .read(true)
        .write(true)
        .open(&bar0_path)
        .map_err(io_error("opening", &bar0_path))?;
    let bar0_len = bar0
        .metadata()
        .map_err(io_error("measuring", &bar0_path))?
        .len();
    let registers = check_registers(
        regs.load_u32(REG_MAGIC),
        regs.load_u32(REG_VERSION),
        low | high << 32,
        bar0_len,
    )?;
    let region_len = usize::try_from(registers.region_len).map_err(|_| {
        PciError::BadRegisters(format!("region of {:#x} bytes", registers.region_len))
    })?;
    let region =
        SharedMemory::map(&bar0, 0, region_len).map_err(io_error("mapping", &bar0_path))?;
    let peer = RegisterDoorbell::new(regs, REG_DOORBELL).map_err(io_error("using", &regs_path))?;
    let incoming = UioDoorbell::open(dev_dir, &uio, &device)?;
    let mut endpoint = Endpoint::open_agent_mapping(
        region,
        &Config::default(),
        Box::new(peer),
        Box::new(incoming),
    )?;
    let caching = map_arena_write_combining(&device, region_len, &mut endpoint)?;
    tracing::info!(
        device = %device.display(),
        %uio,
        region_len,
        pixels = caching,
        "GUI channel PCI device mapped"
    );
    Ok(endpoint)
}

/// Maps the region again through `resource0_wc` for the pixels, when Linux offers it (the
/// BAR is prefetchable): `resource0` is mapped uncached, and under KVM on AMD (where the
/// guest's page attributes count) every pixel store would then be a separate bus write.
/// Write-combining stores are weakly ordered; the endpoint fences before each message.
/// Returns how the pixels are mapped, for the log.
fn map_arena_write_combining(
    device: &Path,
    region_len: usize,
    endpoint: &mut Endpoint,
) -> Result<&'static str, PciError> {
    let path = device.join("resource0_wc");
    let file = match File::options().read(true).write(true).open(&path) {
        Ok(file) => file,
        Err(err) if err.kind() == ErrorKind::NotFound => {
            tracing::warn!(
                "no {}: the pixels go through the uncached mapping (slow on real hardware)",
                path.display()
            );
            return Ok("uncached");
        }
        Err(err) => return Err(io_error("opening", &path)(err)),
    };
    let wc = SharedMemory::map(&file, 0, region_len).map_err(io_error("mapping", &path))?;
    endpoint.use_arena_mapping(wc)?;
    Ok("write-combining")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_device(sysfs: &Path, name: &str, vendor: &str, device: &str) -> PathBuf {
        let dir = sysfs.join("bus/pci/devices").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("vendor"), format!("{vendor}\n")).unwrap();
        std::fs::write(dir.join("device"), format!("{device}\n")).unwrap();
        dir
    }

    #[test]
    fn finds_only_the_gui_function() {
        let sysfs = tempfile::tempdir().unwrap();
        assert!(matches!(
            find_device(sysfs.path()),
            Err(PciError::NotFound(_))
        ));
        fake_device(sysfs.path(), "0000:00:00.0", "0xb1c4", "0x0001");
        fake_device(sysfs.path(), "0000:00:01.0", "0x1af4", "0x1042");
        assert!(matches!(
            find_device(sysfs.path()),
            Err(PciError::NotFound(_))
        ));
        let gui = fake_device(sysfs.path(), "0000:00:02.0", "0xb1c4", "0x0010");
        assert_eq!(find_device(sysfs.path()).unwrap(), gui);
    }

    #[test]
    fn binding_needs_the_driver_and_refuses_a_foreign_one() {
        let sysfs = tempfile::tempdir().unwrap();
        let gui = fake_device(sysfs.path(), "0000:00:02.0", "0xb1c4", "0x0010");
        assert!(matches!(
            bind_uio(sysfs.path(), &gui),
            Err(PciError::NoDriver)
        ));
        let other = sysfs.path().join("bus/pci/drivers/virtio-pci");
        std::fs::create_dir_all(&other).unwrap();
        std::os::unix::fs::symlink(&other, gui.join("driver")).unwrap();
        let err = bind_uio(sysfs.path(), &gui).unwrap_err();
        assert!(err.to_string().contains("virtio-pci"), "{err}");
    }

    #[test]
    fn an_already_bound_device_gives_its_uio() {
        let sysfs = tempfile::tempdir().unwrap();
        let gui = fake_device(sysfs.path(), "0000:00:02.0", "0xb1c4", "0x0010");
        let driver = sysfs.path().join("bus/pci/drivers/uio_pci_generic");
        std::fs::create_dir_all(&driver).unwrap();
        std::os::unix::fs::symlink(&driver, gui.join("driver")).unwrap();
        std::fs::create_dir_all(gui.join("uio/uio3")).unwrap();
        assert_eq!(bind_uio(sysfs.path(), &gui).unwrap(), "uio3");
    }

    #[test]
    fn registers_are_checked() {
        let mb = 1 << 20;
        assert_eq!(
            check_registers(REGS_MAGIC, 1, 5 * mb, 8 * mb).unwrap(),
            Registers { region_len: 5 * mb }
        );
        for (magic, version, len, bar) in [
            (0, 1, mb, mb),
            (REGS_MAGIC, 2, mb, mb),
            (REGS_MAGIC, 1, 0, mb),
            (REGS_MAGIC, 1, mb + 1, 2 * mb),
            (REGS_MAGIC, 1, 2 * mb, mb),
            (REGS_MAGIC, 1, !0xfff, mb),
        ] {
            assert!(
                check_registers(magic, version, len, bar).is_err(),
                "{magic:#x} {version} {len:#x} {bar:#x}"
            );
        }
    }
}
