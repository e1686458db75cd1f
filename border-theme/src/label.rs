//! The eight trust labels.

use std::fmt;
use std::str::FromStr;

use crate::quoted;

/// A qube's trust label, shown as the colour of its window borders.
///
/// The names and colours are those of Qubes OS. By convention the list runs from least
/// trusted ([`Label::Red`]) to most trusted ([`Label::Black`], which dom0 itself wears), but
/// the order is a convention for humans only: no policy may derive a permission from it, so
/// the type deliberately has no `Ord`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Label {
    /// Least trusted; also the fallback for a missing or garbage label.
    Red,
    /// Orange.
    Orange,
    /// Yellow.
    Yellow,
    /// Green.
    Green,
    /// Gray.
    Gray,
    /// Blue.
    Blue,
    /// Purple.
    Purple,
    /// Most trusted; dom0's own windows.
    Black,
}

impl Label {
    /// Every label, in the conventional order (least to most trusted).
    pub const ALL: [Label; 8] = [
        Label::Red,
        Label::Orange,
        Label::Yellow,
        Label::Green,
        Label::Gray,
        Label::Blue,
        Label::Purple,
        Label::Black,
    ];

    /// The label used when a qube's label is missing or cannot be parsed: red, the least
    /// trusted, as Qubes does. Showing an unknown qube as trusted would be the dangerous error.
    pub const FALLBACK: Label = Label::Red;

    /// The lowercase name, as written in configuration and theme files (`"red"`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Label::Red => "red",
            Label::Orange => "orange",
            Label::Yellow => "yellow",
            Label::Green => "green",
            Label::Gray => "gray",
            Label::Blue => "blue",
            Label::Purple => "purple",
            Label::Black => "black",
        }
    }

    /// Parses a label name, or returns [`Label::FALLBACK`] (red) when the name is missing or
    /// is not exactly one of the lowercase names.
    ///
    /// This is the rule callers should apply whenever a label is needed to draw something:
    /// an unlabelled qube is drawn as the least trusted one, never refused a border.
    pub fn parse_or_red(name: Option<&str>) -> Label {
        name.and_then(|n| n.parse().ok()).unwrap_or(Label::FALLBACK)
    }

    /// Position in [`Label::ALL`].
    pub(crate) const fn index(self) -> usize {
        self as usize
    }

    /// `"red, orange, …, black"`, for error messages.
    pub(crate) fn expected_list() -> String {
        Label::ALL.map(Label::as_str).join(", ")
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not one of the eight lowercase label names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is not a label (expected one of {})", quoted(.input), Label::expected_list())]
pub struct UnknownLabel {
    /// The rejected input (possibly long or hostile; the message shows it escaped and cut).
    pub input: String,
}

impl FromStr for Label {
    type Err = UnknownLabel;

    /// Accepts exactly the lowercase names; `"Red"`, `" red"` and `""` are errors.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Label::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| UnknownLabel {
                input: s.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for label in Label::ALL {
            assert_eq!(label.to_string().parse::<Label>(), Ok(label));
            assert_eq!(label.to_string(), label.as_str());
        }
        let names: Vec<_> = Label::ALL.iter().map(|l| l.as_str()).collect();
        assert_eq!(
            names,
            [
                "red", "orange", "yellow", "green", "gray", "blue", "purple", "black"
            ]
        );
    }

    #[test]
    fn index_matches_position_in_all() {
        for (i, label) in Label::ALL.into_iter().enumerate() {
            assert_eq!(label.index(), i);
        }
    }

    #[test]
    fn parsing_is_strict() {
        for bad in [
            "", "Red", "RED", " red", "red ", "grey", "purpel", "red\0", "röd",
        ] {
            assert!(bad.parse::<Label>().is_err(), "{bad:?} must not parse");
        }
    }

    #[test]
    fn unknown_label_message_lists_the_labels() {
        let err = "purpel".parse::<Label>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"purpel\" is not a label \
             (expected one of red, orange, yellow, green, gray, blue, purple, black)"
        );
    }

    #[test]
    fn unknown_label_message_escapes_and_cuts_hostile_input() {
        let hostile = format!("\u{202e}{}\n", "x".repeat(500));
        let msg = hostile.parse::<Label>().unwrap_err().to_string();
        assert!(!msg.contains('\u{202e}') && !msg.contains('\n'), "{msg:?}");
        assert!(msg.len() < 200, "{msg:?}");
    }

    #[test]
    fn missing_or_garbage_label_falls_back_to_red() {
        assert_eq!(Label::FALLBACK, Label::Red);
        assert_eq!(Label::parse_or_red(None), Label::Red);
        assert_eq!(Label::parse_or_red(Some("")), Label::Red);
        assert_eq!(Label::parse_or_red(Some("Black")), Label::Red);
        assert_eq!(Label::parse_or_red(Some("\u{fffd}garbage")), Label::Red);
        for label in Label::ALL {
            assert_eq!(Label::parse_or_red(Some(label.as_str())), label);
        }
    }
}
