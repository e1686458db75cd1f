//! The clipboard policy file (`--clipboard-policy FILE`, TOML):
//!
//! ```toml
//! # Largest copy dom0 accepts, in bytes (at most the protocol's 4 MiB; default 4 MiB).
//! max_bytes = 1048576
//! # Whether a qube may paste its own copy back through dom0 (default true: the data came
//! # from that qube, nothing crosses a boundary).
//! allow_same_qube = true
//! # Pairs not named by a rule: "allow" (default) or "deny".
//! default = "allow"
//! # Rules, first match wins; "*" matches any qube.
//! [[rule]]
//! from = "untrusted"
//! to = "vault"
//! action = "deny"
//! ```
//!
//! Nothing ever pastes into dom0: `to = "dom0"` is refused when the file is loaded, and no
//! rule can allow it.

use std::path::{Path, PathBuf};

use bulkhead_border_theme::QubeName;
use bulkhead_protocol::MAX_CLIPBOARD_BYTES;
use serde::Deserialize;

/// The name no qube may have and no paste may target.
pub const DOM0: &str = "dom0";

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The paste goes ahead.
    Allow,
    /// The paste is refused (with a notice).
    Deny,
}

/// One `[[rule]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Source qube name, or `*`.
    pub from: String,
    /// Target qube name, or `*`.
    pub to: String,
    /// What happens.
    pub action: Action,
}

/// Which source → target pastes are allowed, and how much data a copy may carry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClipboardPolicy {
    /// Largest copy accepted, in bytes.
    #[serde(default = "default_max")]
    pub max_bytes: usize,
    /// Whether a qube may paste its own copy back.
    #[serde(default = "yes")]
    pub allow_same_qube: bool,
    /// For pairs no rule names.
    #[serde(default = "allow")]
    pub default: Action,
    /// First match wins.
    #[serde(default, rename = "rule")]
    pub rules: Vec<Rule>,
}

fn default_max() -> usize {
    MAX_CLIPBOARD_BYTES
}
fn yes() -> bool {
    true
}
fn allow() -> Action {
    Action::Allow
}

impl Default for ClipboardPolicy {
    /// Any qube to any other qube and to itself, never into dom0, up to 4 MiB.
    fn default() -> Self {
        ClipboardPolicy {
            max_bytes: MAX_CLIPBOARD_BYTES,
            allow_same_qube: true,
            default: Action::Allow,
            rules: Vec::new(),
        }
    }
}

/// The policy file is unusable.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// It cannot be read.
    #[error("cannot read the clipboard policy {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It is not valid TOML of the expected shape.
    #[error("clipboard policy: {0}")]
    Parse(String),
    /// `max_bytes` is 0 or above the protocol's limit.
    #[error("clipboard policy: max_bytes must be 1..={MAX_CLIPBOARD_BYTES}, not {0}")]
    MaxBytes(usize),
    /// A rule names something that is not a qube name or `*`.
    #[error("clipboard policy: {0:?} is not a qube name or \"*\"")]
    BadName(String),
    /// A rule would paste into dom0.
    #[error("clipboard policy: nothing may be pasted into dom0")]
    IntoDom0,
}

impl ClipboardPolicy {
    /// Parses and checks a policy.
    pub fn parse(text: &str) -> Result<ClipboardPolicy, PolicyError> {
        let policy: ClipboardPolicy =
            toml::from_str(text).map_err(|e| PolicyError::Parse(e.to_string()))?;
        if policy.max_bytes == 0 || policy.max_bytes > MAX_CLIPBOARD_BYTES {
            return Err(PolicyError::MaxBytes(policy.max_bytes));
        }
        for rule in &policy.rules {
            if rule.to == DOM0 {
                return Err(PolicyError::IntoDom0);
            }
            for name in [&rule.from, &rule.to] {
                if name != "*" && name != DOM0 && QubeName::new(name).is_err() {
                    return Err(PolicyError::BadName(name.clone()));
                }
            }
        }
        Ok(policy)
    }

    /// Loads a policy file.
    pub fn load(path: &Path) -> Result<ClipboardPolicy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.to_owned(),
            source,
        })?;
        ClipboardPolicy::parse(&text)
    }

    /// Whether data copied in `from` may be pasted into `to`.
    pub fn allows(&self, from: &str, to: &str) -> bool {
        if to == DOM0 {
            return false;
        }
        if from == to && !self.allow_same_qube {
            return false;
        }
        let matches = |pat: &str, name: &str| pat == "*" || pat == name;
        let action = self
            .rules
            .iter()
            .find(|r| matches(&r.from, from) && matches(&r.to, to))
            .map_or(self.default, |r| r.action);
        action == Action::Allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_allows_any_pair_but_never_dom0() {
        let p = ClipboardPolicy::default();
        assert!(p.allows("work", "untrusted"));
        assert!(p.allows("untrusted", "work"));
        assert!(p.allows("work", "work"));
        assert!(!p.allows("work", DOM0));
        assert_eq!(p.max_bytes, MAX_CLIPBOARD_BYTES);
        assert_eq!(ClipboardPolicy::parse("").unwrap(), p);
    }

    #[test]
    fn rules_first_match_wins() {
        let p = ClipboardPolicy::parse(
            r#"
            max_bytes = 1000
            allow_same_qube = false
            default = "deny"
            [[rule]]
            from = "untrusted"
            to = "vault"
            action = "deny"
            [[rule]]
            from = "*"
            to = "vault"
            action = "allow"
            [[rule]]
            from = "work"
            to = "*"
            action = "allow"
            "#,
        )
        .unwrap();
        assert_eq!(p.max_bytes, 1000);
        assert!(!p.allows("untrusted", "vault"));
        assert!(p.allows("work", "vault"));
        assert!(p.allows("work", "untrusted"));
        assert!(!p.allows("untrusted", "work"), "default deny");
        assert!(!p.allows("work", "work"), "same qube off");
    }

    #[test]
    fn bad_policies_are_refused() {
        for bad in [
            "max_bytes = 0",
            "max_bytes = 4194305",
            "default = \"maybe\"",
            "colour = 1",
            "[[rule]]\nfrom = \"*\"\nto = \"dom0\"\naction = \"allow\"",
            "[[rule]]\nfrom = \"a b\"\nto = \"*\"\naction = \"allow\"",
            "[[rule]]\nfrom = \"*\"\nto = \"*\"",
        ] {
            assert!(ClipboardPolicy::parse(bad).is_err(), "{bad}");
        }
    }
}
