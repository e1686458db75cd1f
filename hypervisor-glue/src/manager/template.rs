//! Templates: a read-only Debian root image with the guest agent, and the kernel and
//! initramfs it boots with. Qubes run on a template through a copy-on-write overlay of
//! their own, so the template itself is never written.
//!
//! ```text
//! <state>/templates/<name>/template.json   what and when (written last, atomically)
//!                          root.img        ext4 root filesystem (/dev/vda in the qube)
//!                          vmlinuz         the template's own kernel
//!                          initrd.img      and its initramfs
//! ```
//!
//! A template is only listed once its `template.json` exists, and a build works in a
//! hidden directory that is renamed into place at the end: a failed build leaves nothing
//! that looks like a template.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::store::{self, StoreError};

/// The files of a template, by role.
pub const ROOT_IMAGE: &str = "root.img";
/// The kernel file.
pub const KERNEL: &str = "vmlinuz";
/// The initramfs file.
pub const INITRD: &str = "initrd.img";
/// The metadata file.
pub const META: &str = "template.json";

/// What `template.json` records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateMeta {
    /// The template's name.
    pub name: String,
    /// What it is, e.g. `Debian 12 (bookworm)`.
    pub description: String,
    /// When it was built (seconds since the Unix epoch).
    pub built_unix: u64,
}

/// A registered template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// Its metadata.
    pub meta: TemplateMeta,
    /// Its directory.
    pub dir: PathBuf,
    /// Bytes its files take on disk (images are sparse).
    pub disk_bytes: u64,
    /// The root image's apparent size.
    pub image_bytes: u64,
}

impl Template {
    /// The root image.
    pub fn root(&self) -> PathBuf {
        self.dir.join(ROOT_IMAGE)
    }
    /// The kernel.
    pub fn kernel(&self) -> PathBuf {
        self.dir.join(KERNEL)
    }
    /// The initramfs.
    pub fn initrd(&self) -> PathBuf {
        self.dir.join(INITRD)
    }

    /// The first of its files that is missing, if any.
    pub fn missing_file(&self) -> Option<&'static str> {
        [ROOT_IMAGE, KERNEL, INITRD]
            .into_iter()
            .find(|f| !self.dir.join(f).is_file())
    }
}

fn disk_usage(path: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).map_or((0, 0), |m| (m.blocks() * 512, m.len()))
}

/// Reads the template in `dir` (`Ok(None)`: no `template.json`, not a template).
pub fn load(dir: &Path) -> Result<Option<Template>, StoreError> {
    let Some(meta) = store::read_json::<TemplateMeta>(&dir.join(META))? else {
        return Ok(None);
    };
    let mut disk_bytes = 0;
    for f in [ROOT_IMAGE, KERNEL, INITRD] {
        disk_bytes += disk_usage(&dir.join(f)).0;
    }
    Ok(Some(Template {
        meta,
        dir: dir.to_owned(),
        disk_bytes,
        image_bytes: disk_usage(&dir.join(ROOT_IMAGE)).1,
    }))
}

/// Every template under `templates`, by name. Hidden directories (builds under way) are
/// skipped.
pub fn list(templates: &Path) -> Result<Vec<Template>, StoreError> {
    let entries = match std::fs::read_dir(templates) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(StoreError::Io {
                what: "cannot read",
                path: templates.to_owned(),
                source,
            });
        }
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if let Some(t) = load(&entry.path())? {
            out.push(t);
        }
    }
    out.sort_by(|a, b| a.meta.name.cmp(&b.meta.name));
    Ok(out)
}

/// Registers the files in `staging` (a hidden directory beside the final one) as template
/// `name`: writes `template.json`, then renames the directory into place.
pub fn register(
    templates: &Path,
    staging: &Path,
    meta: &TemplateMeta,
) -> Result<PathBuf, StoreError> {
    store::write_json(&staging.join(META), meta)?;
    let dir = templates.join(&meta.name);
    std::fs::rename(staging, &dir).map_err(|source| StoreError::Io {
        what: "cannot move the new template into",
        path: dir.clone(),
        source,
    })?;
    store::sync_dir(templates)?;
    Ok(dir)
}

/// `1.2 GiB`, `340 MiB`, `12 KiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    for unit in UNITS {
        value /= 1024.0;
        if value < 1024.0 || unit == "TiB" {
            return if value < 10.0 {
                format!("{value:.1} {unit}")
            } else {
                format!("{value:.0} {unit}")
            };
        }
    }
    unreachable!("the loop returns at TiB")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_appears_only_once_registered() {
        let dir = tempfile::tempdir().unwrap();
        let templates = dir.path().join("templates");
        std::fs::create_dir(&templates).unwrap();
        let staging = templates.join(".build-deb");
        std::fs::create_dir(&staging).unwrap();
        std::fs::write(staging.join(ROOT_IMAGE), vec![1u8; 8192]).unwrap();
        assert!(
            list(&templates).unwrap().is_empty(),
            "a build under way is no template"
        );
        let meta = TemplateMeta {
            name: "deb".into(),
            description: "test".into(),
            built_unix: 1,
        };
        register(&templates, &staging, &meta).unwrap();
        let all = list(&templates).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].meta, meta);
        assert_eq!(all[0].image_bytes, 8192);
        assert_eq!(all[0].missing_file(), Some(KERNEL));
        assert!(!staging.exists());
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_bytes(100), "100 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(700 << 20), "700 MiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }
}
