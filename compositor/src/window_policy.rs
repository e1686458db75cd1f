//! The window policy file (`--window-policy FILE`, TOML): what each qube's windows may do
//! beyond the defaults.
//!
//! ```toml
//! # A qube not named here gets the defaults: no fullscreen (a fullscreen request makes the
//! # window maximized below dom0's notice bar, with its border and `[qube] title` bar).
//! [qube.media]
//! # Fullscreen is granted, still below dom0's notice bar and with a thin border and a
//! # label strip with `[media] title` that the guest's pixels never cover.
//! allow_fullscreen = true
//! ```
//!
//! The compositor keeps the policy it loaded for its whole life: a qube gets its entry when
//! it is declared, at startup (`--qube`) or later (the control socket's `add-qube`, the qube
//! manager's normal path), also when it is removed and declared again. A table may name a
//! qube not declared yet (logged at `info`: it applies when such a qube is added). Bad
//! qube names, unknown keys and wrong value types are refused at load, with the line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bulkhead_border_theme::QubeName;
use serde::Deserialize;

use crate::desktop::{Desktop, QubeId};

/// One `[qube.NAME]` table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QubeWindowPolicy {
    /// Whether the qube's fullscreen requests are granted (default false: maximized).
    #[serde(default)]
    pub allow_fullscreen: bool,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowPolicy {
    /// Per qube, by name.
    #[serde(default, rename = "qube")]
    pub qubes: BTreeMap<String, QubeWindowPolicy>,
}

/// The window policy is unusable.
#[derive(Debug, thiserror::Error)]
pub enum WindowPolicyError {
    /// It cannot be read.
    #[error("cannot read the window policy {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not valid TOML of the expected shape.
    #[error("window policy: {0}")]
    Parse(String),
    /// A table names something that is not a qube name.
    #[error("window policy: {0:?} is not a qube name")]
    BadName(String),
}

impl WindowPolicy {
    /// Parses and checks a policy.
    pub fn parse(text: &str) -> Result<WindowPolicy, WindowPolicyError> {
        let policy: WindowPolicy =
            toml::from_str(text).map_err(|e| WindowPolicyError::Parse(e.to_string()))?;
        for name in policy.qubes.keys() {
            QubeName::new(name).map_err(|_| WindowPolicyError::BadName(name.clone()))?;
        }
        Ok(policy)
    }

    /// Loads a policy file.
    pub fn load(path: &Path) -> Result<WindowPolicy, WindowPolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| WindowPolicyError::Read {
            path: path.to_owned(),
            source,
        })?;
        WindowPolicy::parse(&text)
    }

    /// The entry for the qube named `name` (the defaults if the policy has none).
    pub fn for_qube(&self, name: &str) -> QubeWindowPolicy {
        self.qubes.get(name).copied().unwrap_or_default()
    }

    /// Gives `qube` (one `desktop` knows) its entry; its windows follow at once. Returns
    /// `false` for an unknown qube.
    pub fn apply_to(&self, desktop: &mut Desktop, qube: QubeId) -> bool {
        let Some(name) = desktop.qube(qube).map(|q| q.name.to_string()) else {
            return false;
        };
        let policy = self.for_qube(&name);
        if self.qubes.contains_key(&name) {
            tracing::info!(qube = %name, allow_fullscreen = policy.allow_fullscreen, "window policy");
        }
        desktop.set_fullscreen_allowed(qube, policy.allow_fullscreen)
    }

    /// Gives every qube `desktop` knows its entry, and says (at `info`) which named qubes
    /// are not declared yet: their entries apply when they are added ([`Self::apply_to`]).
    pub fn apply(&self, desktop: &mut Desktop) {
        let known: Vec<QubeId> = desktop.qubes().map(|(id, _)| id).collect();
        for qube in known {
            self.apply_to(desktop, qube);
        }
        for name in self.qubes.keys() {
            if desktop.qube_by_name(name).is_none() {
                tracing::info!(
                    qube = %name,
                    "window policy names a qube not declared yet: it applies when such a qube is added"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bulkhead_border_theme::Label;

    use super::*;
    use crate::desktop::{FrameStyle, Size};

    #[test]
    fn parses_and_applies_to_qubes_declared_before_and_after() {
        let p =
            WindowPolicy::parse("[qube.media]\nallow_fullscreen = true\n[qube.work]\n").unwrap();
        assert!(p.qubes["media"].allow_fullscreen);
        assert!(!p.qubes["work"].allow_fullscreen);
        assert!(p.for_qube("media").allow_fullscreen);
        assert!(!p.for_qube("mail").allow_fullscreen, "the defaults");
        assert_eq!(WindowPolicy::parse("").unwrap(), WindowPolicy::default());

        // `work` is named but not declared: accepted, it applies once declared.
        let mut d = Desktop::new(Size::new(800, 600), FrameStyle::default());
        let media = d
            .add_qube(QubeName::new("media").unwrap(), Label::Green)
            .unwrap();
        p.apply(&mut d);
        assert!(d.qube(media).unwrap().allows_fullscreen());
        let mail = d
            .add_qube(QubeName::new("mail").unwrap(), Label::Blue)
            .unwrap();
        assert!(p.apply_to(&mut d, mail));
        assert!(!d.qube(mail).unwrap().allows_fullscreen());

        // Declared again after a removal: the entry applies again.
        d.remove_qube(media);
        assert!(!p.apply_to(&mut d, media), "a removed qube is unknown");
        let media = d
            .add_qube(QubeName::new("media").unwrap(), Label::Green)
            .unwrap();
        assert!(!d.qube(media).unwrap().allows_fullscreen());
        assert!(p.apply_to(&mut d, media));
        assert!(d.qube(media).unwrap().allows_fullscreen());
    }

    #[test]
    fn typos_are_refused_with_what_is_wrong() {
        for (bad, says) in [
            (
                "[qube.media]\nallow_fullscreen = \"yes\"\n",
                "invalid type: string \"yes\", expected a boolean",
            ),
            (
                "[qube.media]\nfullscreen = true\n",
                "unknown field `fullscreen`, expected `allow_fullscreen`",
            ),
            (
                "allow_fullscreen = true\n",
                "unknown field `allow_fullscreen`",
            ),
            ("[qube.\"1bad\"]\n", "\"1bad\" is not a qube name"),
        ] {
            let e = WindowPolicy::parse(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }
}
