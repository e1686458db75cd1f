//! Qube names and the title text dom0 draws in a window's title bar.
//!
//! The title bar shows `[qube] title`. The qube name comes from dom0 and is validated as a
//! [`QubeName`]; the title comes from the guest and is hostile, so [`sanitize_title`] strips
//! everything that could reorder, hide or fake text before it reaches the text renderer.
//!
//! Because a qube name starts with an ASCII letter, the first strong character of the whole
//! line is left-to-right, so the `[qube]` prefix stays at the left under the Unicode
//! bidirectional algorithm. Renderers should still shape the line with a forced
//! left-to-right base direction.

use std::fmt;
use std::str::FromStr;

use crate::quoted;

/// Longest qube name, in characters (as Qubes OS).
pub const MAX_QUBE_NAME_LEN: usize = 31;

/// The number of guest title characters [`format_title`] keeps (after sanitising, counting
/// the ellipsis).
pub const MAX_TITLE_CHARS: usize = 128;

/// The character that marks a cut title.
pub const ELLIPSIS: char = '…';

/// Most combining marks [`sanitize_title`] keeps on one base character: enough for real
/// scripts, too few to stack "Zalgo" text out of the title bar.
const MAX_COMBINING_RUN: usize = 2;

/// A valid qube name: 1 to 31 ASCII letters, digits, `-` or `_`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QubeName(String);

/// Why a string is not a [`QubeName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QubeNameError {
    /// The name is empty.
    #[error("qube name is empty")]
    Empty,
    /// The name has more than [`MAX_QUBE_NAME_LEN`] characters.
    #[error("qube name has {len} characters, at most {MAX_QUBE_NAME_LEN} are allowed")]
    TooLong {
        /// Its length in characters.
        len: usize,
    },
    /// The first character is not an ASCII letter.
    #[error("qube name must start with an ASCII letter, not {}", quoted(&.found.to_string()))]
    BadStart {
        /// The first character.
        found: char,
    },
    /// A character other than an ASCII letter, digit, `-` or `_`.
    #[error(
        "qube name has {} at position {position}; only ASCII letters, digits, '-' and '_' are allowed",
        quoted(&.found.to_string())
    )]
    BadChar {
        /// The offending character.
        found: char,
        /// Its position, counted in characters from 0.
        position: usize,
    },
}

impl QubeName {
    /// Validates a qube name.
    pub fn new(name: &str) -> Result<QubeName, QubeNameError> {
        let len = name.chars().count();
        let first = name.chars().next().ok_or(QubeNameError::Empty)?;
        if len > MAX_QUBE_NAME_LEN {
            return Err(QubeNameError::TooLong { len });
        }
        if !first.is_ascii_alphabetic() {
            return Err(QubeNameError::BadStart { found: first });
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if let Some((position, found)) = name.chars().enumerate().find(|&(_, c)| !allowed(c)) {
            return Err(QubeNameError::BadChar { found, position });
        }
        Ok(QubeName(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for QubeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for QubeName {
    type Err = QubeNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        QubeName::new(s)
    }
}

impl TryFrom<&str> for QubeName {
    type Error = QubeNameError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        QubeName::new(s)
    }
}

impl AsRef<str> for QubeName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The title bar text: `[qube] title`, or `[qube]` alone when the sanitised title is empty.
/// The guest's title is cleaned by [`sanitize_title`] and cut to [`MAX_TITLE_CHARS`].
pub fn format_title(qube: &QubeName, title: &str) -> String {
    format_title_with_limit(qube, title, MAX_TITLE_CHARS)
}

/// As [`format_title`], keeping at most `max_title_chars` characters of the guest's title
/// (the `[qube] ` prefix is never cut and does not count).
pub fn format_title_with_limit(qube: &QubeName, title: &str, max_title_chars: usize) -> String {
    let title = sanitize_title(title, max_title_chars);
    if title.is_empty() {
        format!("[{qube}]")
    } else {
        format!("[{qube}] {title}")
    }
}

/// Cleans a guest-supplied title for display and cuts it to at most `max_chars` characters.
///
/// - Control characters (C0, DEL, C1) and all whitespace (including U+2028/U+2029 and
///   no-break spaces) become a space; runs of spaces collapse to one; leading and trailing
///   spaces go.
/// - Removed: bidirectional marks, embeddings, overrides and isolates (U+200E, U+200F,
///   U+202A–U+202E, U+2066–U+2069, U+061C), zero-width characters (U+200B–U+200D, U+2060,
///   U+FEFF), every other Unicode format (Cf) character, the remaining default-ignorable
///   code points (variation selectors, Hangul fillers, U+034F, …), which render as nothing
///   and so can hide or fake text, and noncharacters. Emoji that rely on ZWJ or variation
///   selectors fall apart into their parts: legibility of who is who beats pretty titles.
/// - Runs of common combining marks are limited to two, and a title cannot start with one
///   (it would attach to the separator dom0 draws before it).
/// - A result longer than `max_chars` is cut to `max_chars - 1` characters plus `…`.
pub fn sanitize_title(title: &str, max_chars: usize) -> String {
    let mut cleaned: Vec<char> = Vec::new();
    let mut combining_run = 0;
    for c in title.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if is_invisible(c) {
            continue;
        }
        if c == ' ' {
            if cleaned.last().is_some_and(|&last| last != ' ') {
                cleaned.push(' ');
            }
            combining_run = 0;
            continue;
        }
        if is_combining_mark(c) {
            // A mark with no base (start of title or after a space) is dropped.
            if combining_run >= MAX_COMBINING_RUN || cleaned.last().is_none_or(|&l| l == ' ') {
                continue;
            }
            combining_run += 1;
        } else {
            combining_run = 0;
        }
        cleaned.push(c);
    }
    if cleaned.last() == Some(&' ') {
        cleaned.pop();
    }
    if cleaned.len() > max_chars {
        cleaned.truncate(max_chars.saturating_sub(1));
        while cleaned.last() == Some(&' ') {
            cleaned.pop();
        }
        if max_chars > 0 {
            cleaned.push(ELLIPSIS);
        }
    }
    cleaned.into_iter().collect()
}

/// Characters that draw nothing (or reorder what is around them) and so can spoof: Unicode
/// format characters (general category Cf), the other default-ignorable code points, and
/// noncharacters.
pub fn is_invisible(c: char) -> bool {
    let cp = u32::from(c);
    matches!(
        cp,
        // Cf, Unicode 16.
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            // Other code points that draw nothing (default-ignorable, fillers, U+1D159).
            | 0x034F
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFFA0
            | 0x1D159
            | 0xE0000..=0xE0FFF // language tags, tag characters, variation selectors
            // Noncharacters.
            | 0xFDD0..=0xFDEF
    ) || cp & 0xFFFE == 0xFFFE
}

/// The common combining-mark blocks (enough to stop mark stacking; not every Mn character).
fn is_combining_mark(c: char) -> bool {
    matches!(
        u32::from(c),
        0x0300..=0x036F | 0x0483..=0x0489 | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF
            | 0xFE20..=0xFE2F
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qube(s: &str) -> QubeName {
        QubeName::new(s).unwrap()
    }

    #[test]
    fn valid_qube_names() {
        for ok in [
            "a",
            "work",
            "sys-net",
            "vault_2",
            "Personal",
            &"x".repeat(31),
        ] {
            assert_eq!(QubeName::new(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn qube_name_errors_say_why() {
        let cases = [
            ("", QubeNameError::Empty, "qube name is empty"),
            (
                &"x".repeat(32),
                QubeNameError::TooLong { len: 32 },
                "qube name has 32 characters, at most 31 are allowed",
            ),
            (
                "2work",
                QubeNameError::BadStart { found: '2' },
                "qube name must start with an ASCII letter, not \"2\"",
            ),
            (
                "-work",
                QubeNameError::BadStart { found: '-' },
                "qube name must start with an ASCII letter, not \"-\"",
            ),
            (
                "wörk",
                QubeNameError::BadChar {
                    found: 'ö',
                    position: 1,
                },
                "qube name has \"ö\" at position 1; only ASCII letters, digits, '-' and '_' are allowed",
            ),
            (
                "work]",
                QubeNameError::BadChar {
                    found: ']',
                    position: 4,
                },
                "qube name has \"]\" at position 4; only ASCII letters, digits, '-' and '_' are allowed",
            ),
            (
                "a\u{202e}",
                QubeNameError::BadChar {
                    found: '\u{202e}',
                    position: 1,
                },
                "qube name has \"\\u{202e}\" at position 1; only ASCII letters, digits, '-' and '_' are allowed",
            ),
        ];
        for (input, err, msg) in cases {
            assert_eq!(QubeName::new(input), Err(err.clone()), "{input:?}");
            assert_eq!(err.to_string(), msg);
        }
        assert!("a b".parse::<QubeName>().is_err());
        assert!(QubeName::try_from("ok").is_ok());
    }

    #[test]
    fn format_title_shapes() {
        let q = qube("work");
        assert_eq!(format_title(&q, "Mail"), "[work] Mail");
        assert_eq!(format_title(&q, ""), "[work]");
        assert_eq!(format_title(&q, " \u{200b}\t "), "[work]");
        assert_eq!(format_title(&q, "  a \n\n b  "), "[work] a b");
    }

    #[test]
    fn bidi_and_invisible_characters_go() {
        let spoof = "\u{202e}txt.exe\u{202c} \u{2066}x\u{2069}\u{200e}\u{200f}\u{061c}";
        assert_eq!(sanitize_title(spoof, 100), "txt.exe x");
        let zero_width = "a\u{200b}b\u{200c}c\u{200d}d\u{2060}e\u{feff}f\u{00ad}g\u{e0041}h";
        assert_eq!(sanitize_title(zero_width, 100), "abcdefgh");
        assert_eq!(
            sanitize_title("\u{3164}\u{115f}x\u{fe0f}\u{fffe}", 100),
            "x"
        );
    }

    #[test]
    fn controls_and_whitespace_collapse() {
        assert_eq!(sanitize_title("a\u{7}\u{1b}[31mb", 100), "a [31mb");
        assert_eq!(sanitize_title("a\u{85}\u{2028}\u{a0}\u{3000}b", 100), "a b");
        assert_eq!(sanitize_title("\r\n a\tb \u{7f}", 100), "a b");
    }

    #[test]
    fn combining_marks_are_limited() {
        assert_eq!(sanitize_title("e\u{301}", 10), "e\u{301}");
        assert_eq!(
            sanitize_title("e\u{301}\u{302}\u{303}\u{304}", 10),
            "e\u{301}\u{302}"
        );
        assert_eq!(sanitize_title("\u{301}x \u{301}y", 10), "x y");
    }

    #[test]
    fn truncation_adds_an_ellipsis() {
        assert_eq!(sanitize_title("abcdef", 6), "abcdef");
        assert_eq!(sanitize_title("abcdefg", 6), "abcde…");
        assert_eq!(sanitize_title("abcd efg", 6), "abcd…");
        assert_eq!(sanitize_title("ab", 1), "…");
        assert_eq!(sanitize_title("ab", 0), "");
        assert_eq!(sanitize_title("ééééé", 3), "éé…");
        let q = qube("vault");
        let long = "x".repeat(1000);
        let shown = format_title(&q, &long);
        assert_eq!(shown.chars().count(), "[vault] ".len() + MAX_TITLE_CHARS);
        assert!(shown.starts_with("[vault] xxx") && shown.ends_with('…'));
    }

    #[test]
    fn a_guest_cannot_push_its_fake_prefix_first() {
        let q = qube("untrusted");
        let shown = format_title(&q, "\u{202e}]tluav[\u{202c} [vault] passwords");
        assert!(shown.starts_with("[untrusted] "), "{shown}");
        assert_eq!(shown, "[untrusted] ]tluav[ [vault] passwords");
    }
}
