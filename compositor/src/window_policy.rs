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
//! Every qube named must be declared with `--qube` (a typo would otherwise silently grant
//! nothing).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bulkhead_border_theme::QubeName;
use serde::Deserialize;

use crate::desktop::Desktop;

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
    /// A table names a qube dom0 does not know.
    #[error(
        "window policy names qube {0:?}, which is not declared: add `--qube {0}:LABEL` or remove its table"
    )]
    UnknownQube(String),
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

    /// Applies the policy to the qubes `desktop` knows; every named qube must be known.
    pub fn apply(&self, desktop: &mut Desktop) -> Result<(), WindowPolicyError> {
        for (name, policy) in &self.qubes {
            let qube = desktop
                .qube_by_name(name)
                .ok_or_else(|| WindowPolicyError::UnknownQube(name.clone()))?;
            desktop.set_fullscreen_allowed(qube, policy.allow_fullscreen);
            tracing::info!(qube = %name, allow_fullscreen = policy.allow_fullscreen, "window policy");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bulkhead_border_theme::Label;

    use super::*;
    use crate::desktop::{FrameStyle, Size};

    #[test]
    fn parses_applies_and_refuses() {
        let p =
            WindowPolicy::parse("[qube.media]\nallow_fullscreen = true\n[qube.work]\n").unwrap();
        assert!(p.qubes["media"].allow_fullscreen);
        assert!(!p.qubes["work"].allow_fullscreen);
        assert_eq!(WindowPolicy::parse("").unwrap(), WindowPolicy::default());

        let mut d = Desktop::new(Size::new(800, 600), FrameStyle::default());
        let media = d
            .add_qube(QubeName::new("media").unwrap(), Label::Green)
            .unwrap();
        assert!(matches!(
            p.apply(&mut d),
            Err(WindowPolicyError::UnknownQube(n)) if n == "work"
        ));
        d.add_qube(QubeName::new("work").unwrap(), Label::Blue)
            .unwrap();
        p.apply(&mut d).unwrap();
        assert!(d.qube(media).unwrap().allows_fullscreen());

        for bad in [
            "[qube.media]\nallow_fullscreen = \"yes\"\n",
            "[qube.media]\nfullscreen = true\n",
            "allow_fullscreen = true\n",
            "[qube.\"1bad\"]\n",
        ] {
            assert!(WindowPolicy::parse(bad).is_err(), "{bad}");
        }
    }
}
