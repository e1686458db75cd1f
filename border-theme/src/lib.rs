//! Qube labels, their trust colours, and how dom0 frames a qube's windows.
//!
//! Every qube wears one of eight [`Label`]s. The dom0 compositor draws a border and a title bar
//! around each of the qube's windows in the label's colour ([`Theme::color`]), with the title
//! text `[qube] title` ([`format_title`]) in black or white, whichever reads better on it
//! ([`Theme::text_color`], always at least 4.5:1). A [`Theme`] can override colours and sizes
//! from a TOML file and is validated so that no two labels look alike.
//!
//! Rules for callers:
//! - A missing or unparsable label is drawn as red, the least trusted: [`Label::parse_or_red`].
//! - A guest's title is hostile: show it only through [`format_title`] (or
//!   [`sanitize_title`]), which strips bidi controls and invisible characters and keeps the
//!   `[qube]` prefix first.
//!
//! The crate is pure: its only I/O is [`Theme::load`], which reads one file.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod color;
mod label;
mod theme;
mod title;

pub use color::{BadColor, MIN_TEXT_CONTRAST, Rgb, contrast_ratio};
pub use label::{Label, UnknownLabel};
pub use theme::{
    BORDER_WIDTH_RANGE, DEFAULT_BORDER_WIDTH, DEFAULT_POPUP_BORDER_WIDTH, DEFAULT_TITLE_HEIGHT,
    TITLE_HEIGHT_RANGE, Theme, ThemeError,
};
pub use title::{
    ELLIPSIS, MAX_QUBE_NAME_LEN, MAX_TITLE_CHARS, QubeName, QubeNameError, format_title,
    format_title_with_limit, is_invisible, sanitize_title,
};

/// Longest part of a rejected input that an error message repeats.
const QUOTE_LIMIT: usize = 40;

/// `input` for an error message: quoted, escaped (no control, bidi or invisible characters
/// reach a log) and cut to [`QUOTE_LIMIT`] characters.
fn quoted(input: &str) -> String {
    match input.char_indices().nth(QUOTE_LIMIT) {
        Some((cut, _)) => format!("{:?}…", &input[..cut]),
        None => format!("{input:?}"),
    }
}
