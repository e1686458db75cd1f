//! Protocol versions and capability negotiation.

use std::fmt;
use std::ops::{BitAnd, BitOr};

use crate::error::VersionError;

/// A protocol version: `major.minor`.
///
/// Peers with different majors cannot talk. Within a major, a higher minor only adds
/// (new message types or capability bits); both sides speak the lower minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version {
    /// Incompatible changes bump this.
    pub major: u16,
    /// Compatible additions bump this.
    pub minor: u16,
}

impl Version {
    /// A version from its parts.
    pub const fn new(major: u16, minor: u16) -> Self {
        Version { major, minor }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The version this crate implements: 1.0.
pub const PROTOCOL_VERSION: Version = Version::new(1, 0);

/// The version two peers speak: same major required, then the lower minor.
///
/// ```
/// use bulkhead_protocol::{Version, negotiate};
/// assert_eq!(negotiate(Version::new(1, 3), Version::new(1, 1)), Ok(Version::new(1, 1)));
/// assert!(negotiate(Version::new(1, 0), Version::new(2, 0)).is_err());
/// ```
pub fn negotiate(ours: Version, theirs: Version) -> Result<Version, VersionError> {
    if ours.major != theirs.major {
        return Err(VersionError::MajorMismatch { ours, theirs });
    }
    Ok(Version::new(ours.major, ours.minor.min(theirs.minor)))
}

/// A set of optional features, a `u64` bit set on the wire.
///
/// Bits this version does not name are allowed on the wire (a newer peer may set them) and
/// dropped by [`negotiate_capabilities`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Capabilities(u64);

impl Capabilities {
    /// The qube takes part in the dom0-mediated clipboard (`ClipboardRequest`,
    /// `ClipboardData`, `ClipboardEmpty`, `ClipboardPaste`).
    pub const CLIPBOARD: Capabilities = Capabilities(1 << 0);
    /// The agent sends `SetCursor` shapes.
    pub const CURSOR_SHAPE: Capabilities = Capabilities(1 << 1);
    /// The agent honours fractional output scales (`scale_120` not a multiple of 120).
    pub const FRACTIONAL_SCALE: Capabilities = Capabilities(1 << 2);
    /// The agent starts programs dom0 asks for (`Launch`, from `bulkhead run`) and answers
    /// each with a `LaunchResult`.
    pub const LAUNCH: Capabilities = Capabilities(1 << 3);
    /// Every capability this version knows.
    pub const KNOWN: Capabilities = Capabilities(
        Self::CLIPBOARD.0 | Self::CURSOR_SHAPE.0 | Self::FRACTIONAL_SCALE.0 | Self::LAUNCH.0,
    );

    /// No capability.
    pub const fn empty() -> Self {
        Capabilities(0)
    }

    /// The set with exactly these bits, unknown ones included.
    pub const fn from_bits(bits: u64) -> Self {
        Capabilities(bits)
    }

    /// The raw bits.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Whether every bit of `other` is in `self`.
    pub const fn contains(self, other: Capabilities) -> bool {
        self.0 & other.0 == other.0
    }

    /// The bits in both sets.
    pub const fn intersection(self, other: Capabilities) -> Self {
        Capabilities(self.0 & other.0)
    }

    /// The bits in either set.
    pub const fn union(self, other: Capabilities) -> Self {
        Capabilities(self.0 | other.0)
    }
}

impl BitOr for Capabilities {
    type Output = Capabilities;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

impl BitAnd for Capabilities {
    type Output = Capabilities;
    fn bitand(self, rhs: Self) -> Self {
        self.intersection(rhs)
    }
}

/// The capabilities two peers use: those both offer and this version knows.
///
/// ```
/// use bulkhead_protocol::{Capabilities, negotiate_capabilities};
/// let ours = Capabilities::CLIPBOARD | Capabilities::CURSOR_SHAPE;
/// let theirs = Capabilities::CLIPBOARD | Capabilities::from_bits(1 << 63);
/// assert_eq!(negotiate_capabilities(ours, theirs), Capabilities::CLIPBOARD);
/// ```
pub fn negotiate_capabilities(ours: Capabilities, theirs: Capabilities) -> Capabilities {
    ours & theirs & Capabilities::KNOWN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_minor_wins_in_both_orders() {
        let a = Version::new(1, 2);
        let b = Version::new(1, 5);
        assert_eq!(negotiate(a, b), Ok(a));
        assert_eq!(negotiate(b, a), Ok(a));
    }

    #[test]
    fn major_mismatch_names_both_versions() {
        let err = negotiate(Version::new(1, 0), Version::new(2, 7)).unwrap_err();
        assert_eq!(
            err,
            VersionError::MajorMismatch {
                ours: Version::new(1, 0),
                theirs: Version::new(2, 7)
            }
        );
        let text = err.to_string();
        assert!(text.contains("1.0") && text.contains("2.7"), "{text}");
    }

    #[test]
    fn unknown_bits_are_dropped_even_if_both_set_them() {
        let unknown = Capabilities::from_bits(1 << 40);
        assert_eq!(
            negotiate_capabilities(unknown, unknown),
            Capabilities::empty()
        );
    }
}
