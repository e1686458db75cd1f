//! A qube's configuration (`qube.json`) and its running record (`running.json`), with every
//! rule a value must meet. A file edited by hand is checked as strictly as a command line.

use std::path::PathBuf;

use bulkhead_border_theme::{Label, QubeName};
use serde::{Deserialize, Serialize};

use super::ManagerError;
use super::process::ProcessRecord;

/// Smallest memory a qube may have, in MiB (Debian with systemd and the agent).
pub const MIN_MEM_MIB: u64 = 256;
/// Largest memory a qube may have, in MiB.
pub const MAX_MEM_MIB: u64 = 65536;
/// Smallest private volume, in MiB.
pub const MIN_PRIVATE_MIB: u64 = 64;
/// Largest private volume, in MiB (1 TiB; the image is sparse).
pub const MAX_PRIVATE_MIB: u64 = 1 << 20;
/// Memory of a new qube unless told otherwise, in MiB.
pub const DEFAULT_MEM_MIB: u64 = 1024;
/// vCPUs of a new qube unless told otherwise.
pub const DEFAULT_VCPUS: u8 = 2;
/// Private volume of a new qube unless told otherwise, in MiB.
pub const DEFAULT_PRIVATE_MIB: u64 = 2048;
/// The template qubes use unless told otherwise.
pub const DEFAULT_TEMPLATE: &str = "debian-12";

/// How a qube runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// In its own KVM virtual machine (`bulkhead-vmm`).
    Vm,
    /// Its agent as a host process: development and tests only, isolates nothing.
    Host,
}

/// What `qube.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QubeConfig {
    /// Its name (border-theme's rules).
    pub name: String,
    /// Its label, the colour of its frames.
    pub label: String,
    /// The template its root filesystem comes from.
    pub template: String,
    /// Guest memory in MiB.
    pub mem_mib: u64,
    /// vCPUs.
    pub vcpus: u8,
    /// Size of its private volume (`/home`, kept across restarts) in MiB; 0 for a
    /// disposable, which has none.
    pub private_mib: u64,
    /// A disposable qube: removed with everything it wrote when it stops.
    #[serde(default)]
    pub disposable: bool,
    /// When it was created (seconds since the Unix epoch).
    pub created_unix: u64,
}

/// What `running.json` holds while a qube runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Running {
    /// The VMM (or host agent) process.
    pub process: ProcessRecord,
    /// How it runs.
    pub mode: Mode,
    /// The compositor socket it was given.
    pub socket: PathBuf,
    /// When it started (seconds since the Unix epoch).
    pub started_unix: u64,
}

/// Names the manager keeps for itself: `dom0` (the compositor's own clients) and `dispN`
/// (disposable qubes).
pub fn is_reserved(name: &str) -> bool {
    name == "dom0"
        || name
            .strip_prefix("disp")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A valid qube or template name.
pub fn check_name(name: &str) -> Result<QubeName, ManagerError> {
    QubeName::new(name).map_err(|reason| ManagerError::InvalidName {
        name: name.to_owned(),
        reason,
    })
}

/// A valid label.
pub fn check_label(label: &str) -> Result<Label, ManagerError> {
    label.parse::<Label>().map_err(ManagerError::InvalidLabel)
}

/// `value` within `min..=max`.
pub fn check_range(what: &'static str, value: u64, min: u64, max: u64) -> Result<(), ManagerError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ManagerError::OutOfRange {
            what,
            value,
            min,
            max,
        })
    }
}

impl QubeConfig {
    /// Checks every rule (also for a file edited by hand).
    pub fn check(&self) -> Result<(), ManagerError> {
        check_name(&self.name)?;
        check_label(&self.label)?;
        check_name(&self.template)?;
        check_range("memory (MiB)", self.mem_mib, MIN_MEM_MIB, MAX_MEM_MIB)?;
        check_range(
            "vCPUs",
            u64::from(self.vcpus),
            1,
            u64::from(crate::vm::MAX_VCPUS),
        )?;
        if !self.disposable {
            check_range(
                "private volume (MiB)",
                self.private_mib,
                MIN_PRIVATE_MIB,
                MAX_PRIVATE_MIB,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> QubeConfig {
        QubeConfig {
            name: "work".into(),
            label: "blue".into(),
            template: "debian-12".into(),
            mem_mib: 1024,
            vcpus: 2,
            private_mib: 2048,
            disposable: false,
            created_unix: 0,
        }
    }

    #[test]
    fn reserved_names() {
        for n in ["dom0", "disp1", "disp42"] {
            assert!(is_reserved(n), "{n}");
        }
        for n in ["disp", "display", "disp1a", "work", "dom01"] {
            assert!(!is_reserved(n), "{n}");
        }
    }

    #[test]
    fn every_rule_is_checked_with_a_message() {
        assert!(config().check().is_ok());
        let cases: Vec<(QubeConfig, &str)> = vec![
            (
                QubeConfig {
                    name: "1x".into(),
                    ..config()
                },
                "must start with an ASCII letter",
            ),
            (
                QubeConfig {
                    label: "pink".into(),
                    ..config()
                },
                "not a label",
            ),
            (
                QubeConfig {
                    template: "a b".into(),
                    ..config()
                },
                "only ASCII letters",
            ),
            (
                QubeConfig {
                    mem_mib: 64,
                    ..config()
                },
                "memory (MiB) 64 is out of range 256..=65536",
            ),
            (
                QubeConfig {
                    vcpus: 0,
                    ..config()
                },
                "vCPUs 0 is out of range 1..=32",
            ),
            (
                QubeConfig {
                    vcpus: 33,
                    ..config()
                },
                "vCPUs 33",
            ),
            (
                QubeConfig {
                    private_mib: 1,
                    ..config()
                },
                "private volume (MiB) 1",
            ),
        ];
        for (c, msg) in cases {
            let err = c.check().unwrap_err().to_string();
            assert!(err.contains(msg), "{err:?} should contain {msg:?}");
        }
        let disposable = QubeConfig {
            private_mib: 0,
            disposable: true,
            ..config()
        };
        assert!(disposable.check().is_ok());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let mut v = serde_json::to_value(config()).unwrap();
        v["colour"] = "red".into();
        assert!(serde_json::from_value::<QubeConfig>(v).is_err());
    }
}
