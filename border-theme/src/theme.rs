//! The theme: one colour per label, border widths and title bar height, optionally read from
//! a TOML file.

use std::fmt::Write as _;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use crate::color::Rgb;
use crate::label::Label;
use crate::quoted;

/// Default border width of toplevel windows, in pixels.
pub const DEFAULT_BORDER_WIDTH: u32 = 3;
/// Default border width of popups (menus, tooltips), in pixels, as Qubes draws them.
pub const DEFAULT_POPUP_BORDER_WIDTH: u32 = 2;
/// Default title bar height, in pixels.
pub const DEFAULT_TITLE_HEIGHT: u32 = 24;
/// Allowed border widths (toplevel and popup), in pixels.
pub const BORDER_WIDTH_RANGE: RangeInclusive<u32> = 1..=32;
/// Allowed title bar heights, in pixels.
pub const TITLE_HEIGHT_RANGE: RangeInclusive<u32> = 12..=96;

/// The top-level keys of a theme file.
const TOP_LEVEL_KEYS: &str = "border_width, popup_border_width, title_height, colors";

impl Label {
    /// The label's colour in Qubes OS, used unless a theme overrides it.
    pub const fn default_color(self) -> Rgb {
        match self {
            Label::Red => Rgb::new(0xcc, 0x00, 0x00),
            Label::Orange => Rgb::new(0xf5, 0x79, 0x00),
            Label::Yellow => Rgb::new(0xed, 0xd4, 0x00),
            Label::Green => Rgb::new(0x73, 0xd2, 0x16),
            Label::Gray => Rgb::new(0x55, 0x55, 0x55),
            Label::Blue => Rgb::new(0x34, 0x65, 0xa4),
            Label::Purple => Rgb::new(0x75, 0x50, 0x7b),
            Label::Black => Rgb::new(0x00, 0x00, 0x00),
        }
    }
}

/// How dom0 draws trust frames: a colour per label, border widths and the title bar height.
///
/// Every `Theme` value is valid: widths are in range and no two labels share a colour (two
/// trust levels that look alike would defeat the point). Only *exact* duplicates are refused;
/// colours that are merely close are the theme author's responsibility. Title text is black or
/// white, whichever contrasts more, and that always reaches WCAG AA (≥ 4.5:1, see
/// [`Rgb::text_color`]), so no colour is refused for legibility.
///
/// # Theme file
///
/// Every key is optional; what is left out keeps its default. Unknown keys are errors.
///
/// ```toml
/// border_width = 4        # toplevel windows, 1..=32 px (default 3)
/// popup_border_width = 2  # popups, 1..=32 px (default 2)
/// title_height = 24       # 12..=96 px (default 24)
///
/// [colors]                # any of red, orange, yellow, green, gray, blue, purple, black
/// red = "#dd0000"
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    colors: [Rgb; 8],
    border_width: u32,
    popup_border_width: u32,
    title_height: u32,
}

impl Default for Theme {
    /// Qubes OS' colours, 3 px borders (2 px on popups), a 24 px title bar.
    fn default() -> Theme {
        Theme {
            colors: Label::ALL.map(Label::default_color),
            border_width: DEFAULT_BORDER_WIDTH,
            popup_border_width: DEFAULT_POPUP_BORDER_WIDTH,
            title_height: DEFAULT_TITLE_HEIGHT,
        }
    }
}

/// Why a theme was refused. Messages name the offending key (`colors.red`, `border_width`)
/// and what is allowed; a caller reading a file adds its path.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    /// The theme file could not be read.
    #[error("cannot read theme file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid TOML.
    #[error("TOML syntax error{}: {message}", at(*.position))]
    Syntax {
        /// 1-based line and column (in characters) where the parser stopped, if it said.
        position: Option<(usize, usize)>,
        /// The parser's message.
        message: String,
    },
    /// A key this format does not have.
    #[error("{key}: unknown key (expected one of {TOP_LEVEL_KEYS})")]
    UnknownKey {
        /// The key.
        key: String,
    },
    /// A key under `[colors]` that is not a label name.
    #[error("{key}: unknown label (expected one of {})", Label::expected_list())]
    UnknownLabel {
        /// The key, e.g. `colors.purpel`.
        key: String,
    },
    /// A value of the wrong TOML type.
    #[error("{key}: expected {expected}, found {found}")]
    WrongType {
        /// The key.
        key: String,
        /// What the key takes, e.g. `an integer`.
        expected: &'static str,
        /// The TOML type found, e.g. `string`.
        found: &'static str,
    },
    /// A number outside its allowed range.
    #[error("{key}: {value} is out of range {}..={}", range.start(), range.end())]
    OutOfRange {
        /// The key.
        key: String,
        /// The value found.
        value: i64,
        /// The allowed range.
        range: RangeInclusive<u32>,
    },
    /// A colour that is not `#rrggbb`.
    #[error("{key}: {} is not a #rrggbb colour", quoted(value))]
    BadColor {
        /// The key, e.g. `colors.red`.
        key: String,
        /// The value found.
        value: String,
    },
    /// Two labels would have the same colour.
    #[error("{key}: {color} is already the colour of {other}; every label needs its own colour")]
    DuplicateColor {
        /// The key that set the colour, e.g. `colors.red`.
        key: String,
        /// The other label's key, with ` (default)` when the file did not set it.
        other: String,
        /// The shared colour.
        color: Rgb,
    },
}

fn at(position: Option<(usize, usize)>) -> String {
    position.map_or_else(String::new, |(line, column)| {
        format!(" at line {line}, column {column}")
    })
}

impl ThemeError {
    fn syntax(input: &str, err: &toml::de::Error) -> ThemeError {
        let position = err.span().map(|span| {
            let before = input.get(..span.start).unwrap_or(input);
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let line = before.matches('\n').count() + 1;
            (line, before[line_start..].chars().count() + 1)
        });
        let message = err
            .message()
            .trim()
            .split('\n')
            .collect::<Vec<_>>()
            .join("; ");
        ThemeError::Syntax { position, message }
    }
}

impl Theme {
    /// Parses and validates a theme file's text; keys left out keep their defaults.
    pub fn from_toml_str(text: &str) -> Result<Theme, ThemeError> {
        let table: toml::Table = text.parse().map_err(|e| ThemeError::syntax(text, &e))?;
        let mut theme = Theme::default();
        let mut overridden = [false; 8];
        for (key, value) in &table {
            match key.as_str() {
                "border_width" => theme.border_width = int(key, value, BORDER_WIDTH_RANGE)?,
                "popup_border_width" => {
                    theme.popup_border_width = int(key, value, BORDER_WIDTH_RANGE)?;
                }
                "title_height" => theme.title_height = int(key, value, TITLE_HEIGHT_RANGE)?,
                "colors" => {
                    let colors = value
                        .as_table()
                        .ok_or_else(|| wrong_type(key, "a table", value))?;
                    for (name, value) in colors {
                        let key = format!("colors.{}", toml_key(name));
                        let label: Label = name
                            .parse()
                            .map_err(|_| ThemeError::UnknownLabel { key: key.clone() })?;
                        let text = value
                            .as_str()
                            .ok_or_else(|| wrong_type(&key, "a string", value))?;
                        let color = Rgb::from_hex(text).map_err(|_| ThemeError::BadColor {
                            key: key.clone(),
                            value: text.to_owned(),
                        })?;
                        theme.colors[label.index()] = color;
                        overridden[label.index()] = true;
                    }
                }
                _ => return Err(ThemeError::UnknownKey { key: toml_key(key) }),
            }
        }
        theme.check_distinct(&overridden)?;
        Ok(theme)
    }

    /// Reads and validates a theme file (the crate's only I/O).
    pub fn load(path: impl AsRef<Path>) -> Result<Theme, ThemeError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ThemeError::Read {
            path: path.to_owned(),
            source,
        })?;
        Theme::from_toml_str(&text)
    }

    /// The theme as a complete theme file that [`Theme::from_toml_str`] reads back unchanged.
    pub fn to_toml_string(&self) -> String {
        let mut out = format!(
            "border_width = {}\npopup_border_width = {}\ntitle_height = {}\n\n[colors]\n",
            self.border_width, self.popup_border_width, self.title_height
        );
        for label in Label::ALL {
            // Writing to a String cannot fail.
            let _ = writeln!(out, "{label} = \"{}\"", self.color(label));
        }
        out
    }

    /// The border and title bar colour of windows of a qube with this label.
    pub fn color(&self, label: Label) -> Rgb {
        self.colors[label.index()]
    }

    /// The title text colour on this label's bar: black or white, at least 4.5:1.
    pub fn text_color(&self, label: Label) -> Rgb {
        self.color(label).text_color()
    }

    /// Border width of toplevel windows, in pixels (in [`BORDER_WIDTH_RANGE`]).
    pub fn border_width(&self) -> u32 {
        self.border_width
    }

    /// Border width of popups, in pixels (in [`BORDER_WIDTH_RANGE`]).
    pub fn popup_border_width(&self) -> u32 {
        self.popup_border_width
    }

    /// Title bar height, in pixels (in [`TITLE_HEIGHT_RANGE`]).
    pub fn title_height(&self) -> u32 {
        self.title_height
    }

    /// Refuses two labels with the same colour, naming the key the file set first (in label
    /// order) and the label it collides with.
    fn check_distinct(&self, overridden: &[bool; 8]) -> Result<(), ThemeError> {
        for a in Label::ALL.into_iter().filter(|a| overridden[a.index()]) {
            let color = self.color(a);
            if let Some(b) = Label::ALL
                .into_iter()
                .find(|&b| b != a && self.color(b) == color)
            {
                let default = if overridden[b.index()] {
                    ""
                } else {
                    " (default)"
                };
                return Err(ThemeError::DuplicateColor {
                    key: format!("colors.{a}"),
                    other: format!("colors.{b}{default}"),
                    color,
                });
            }
        }
        Ok(())
    }
}

/// An integer key within `range`.
fn int(key: &str, value: &toml::Value, range: RangeInclusive<u32>) -> Result<u32, ThemeError> {
    let n = value
        .as_integer()
        .ok_or_else(|| wrong_type(key, "an integer", value))?;
    u32::try_from(n)
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| ThemeError::OutOfRange {
            key: key.to_owned(),
            value: n,
            range,
        })
}

fn wrong_type(key: &str, expected: &'static str, found: &toml::Value) -> ThemeError {
    ThemeError::WrongType {
        key: key.to_owned(),
        expected,
        found: found.type_str(),
    }
}

/// A key as written in TOML: bare when it can be, else quoted and escaped.
fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare { key.to_owned() } else { quoted(key) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::color::{MIN_TEXT_CONTRAST, contrast_ratio};

    fn err(text: &str) -> String {
        Theme::from_toml_str(text).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_qubes_values() {
        let theme = Theme::default();
        let expected = [
            (Label::Red, "#cc0000"),
            (Label::Orange, "#f57900"),
            (Label::Yellow, "#edd400"),
            (Label::Green, "#73d216"),
            (Label::Gray, "#555555"),
            (Label::Blue, "#3465a4"),
            (Label::Purple, "#75507b"),
            (Label::Black, "#000000"),
        ];
        for (label, hex) in expected {
            assert_eq!(theme.color(label).to_string(), hex, "{label}");
        }
        assert_eq!(theme.border_width(), 3);
        assert_eq!(theme.popup_border_width(), 2);
        assert_eq!(theme.title_height(), 24);
        assert_eq!(Theme::from_toml_str("").unwrap(), theme);
    }

    #[test]
    fn default_text_colors_reach_aa() {
        let theme = Theme::default();
        for label in Label::ALL {
            let ratio = contrast_ratio(theme.color(label), theme.text_color(label));
            assert!(ratio >= MIN_TEXT_CONTRAST, "{label}: {ratio}");
        }
        let white = [
            Label::Red,
            Label::Gray,
            Label::Blue,
            Label::Purple,
            Label::Black,
        ];
        for label in Label::ALL {
            let text = if white.contains(&label) {
                Rgb::WHITE
            } else {
                Rgb::BLACK
            };
            assert_eq!(theme.text_color(label), text, "{label}");
        }
    }

    #[test]
    fn overrides_apply_and_the_rest_stays_default() {
        let theme = Theme::from_toml_str(
            "border_width = 4\npopup_border_width = 1\ntitle_height = 30\n\
             [colors]\nred = \"#DD0000\"\nblue = \"#3465a4\"\n",
        )
        .unwrap();
        assert_eq!(theme.border_width(), 4);
        assert_eq!(theme.popup_border_width(), 1);
        assert_eq!(theme.title_height(), 30);
        assert_eq!(theme.color(Label::Red), Rgb::new(0xdd, 0, 0));
        assert_eq!(theme.color(Label::Green), Label::Green.default_color());
    }

    #[test]
    fn range_limits() {
        for (key, lo, hi) in [
            ("border_width", 1, 32),
            ("popup_border_width", 1, 32),
            ("title_height", 12, 96),
        ] {
            assert!(Theme::from_toml_str(&format!("{key} = {lo}")).is_ok());
            assert!(Theme::from_toml_str(&format!("{key} = {hi}")).is_ok());
            for bad in [lo - 1, hi + 1, -1, i64::from(u32::MAX) + 1] {
                assert_eq!(
                    err(&format!("{key} = {bad}")),
                    format!("{key}: {bad} is out of range {lo}..={hi}")
                );
            }
        }
        assert_eq!(
            err("border_width = 0"),
            "border_width: 0 is out of range 1..=32"
        );
    }

    #[test]
    fn wrong_types_name_the_key() {
        assert_eq!(
            err("border_width = \"3\""),
            "border_width: expected an integer, found string"
        );
        assert_eq!(
            err("title_height = 24.0"),
            "title_height: expected an integer, found float"
        );
        assert_eq!(err("colors = 1"), "colors: expected a table, found integer");
        assert_eq!(
            err("[colors]\nred = 0xcc0000"),
            "colors.red: expected a string, found integer"
        );
        assert_eq!(
            err("[colors]\nred = [1]"),
            "colors.red: expected a string, found array"
        );
    }

    #[test]
    fn unknown_keys_and_labels() {
        assert_eq!(
            err("border = 3"),
            "border: unknown key (expected one of border_width, popup_border_width, title_height, colors)"
        );
        assert_eq!(
            err("[colours]\nred = \"#cc0000\""),
            "colours: unknown key (expected one of border_width, popup_border_width, title_height, colors)"
        );
        assert_eq!(
            err("[colors]\npurpel = \"#75507b\""),
            "colors.purpel: unknown label \
             (expected one of red, orange, yellow, green, gray, blue, purple, black)"
        );
        assert!(err("[colors]\nRed = \"#cc0000\"").starts_with("colors.Red: unknown label"));
        assert!(
            err("[colors]\n\"r d\" = \"#cc0000\"").starts_with("colors.\"r d\": unknown label")
        );
        assert!(err("\"\u{202e}x\" = 1").starts_with("\"\\u{202e}x\": unknown key"));
    }

    #[test]
    fn bad_colors_name_the_key() {
        assert_eq!(
            err("[colors]\nred = \"#12345\""),
            "colors.red: \"#12345\" is not a #rrggbb colour"
        );
        assert_eq!(
            err("[colors]\nblue = \"blue\""),
            "colors.blue: \"blue\" is not a #rrggbb colour"
        );
        assert_eq!(
            err("[colors]\nblue = \"#fff\""),
            "colors.blue: \"#fff\" is not a #rrggbb colour"
        );
    }

    #[test]
    fn duplicate_colors_name_both_keys() {
        assert_eq!(
            err("[colors]\nred = \"#3465a4\""),
            "colors.red: #3465a4 is already the colour of colors.blue (default); \
             every label needs its own colour"
        );
        assert_eq!(
            err("[colors]\ngreen = \"#123456\"\nyellow = \"#123456\""),
            "colors.yellow: #123456 is already the colour of colors.green; \
             every label needs its own colour"
        );
        // Swapping two colours is fine: they stay distinct.
        let swapped =
            Theme::from_toml_str("[colors]\nred = \"#3465a4\"\nblue = \"#cc0000\"").unwrap();
        assert_eq!(swapped.color(Label::Red), Label::Blue.default_color());
        // Upper and lower case are the same colour.
        assert!(err("[colors]\nred = \"#000000\"").contains("colors.black (default)"));
        assert!(err("[colors]\nred = \"#3465A4\"").contains("colors.blue (default)"));
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let e = Theme::from_toml_str("border_width = 3\ntitle_height = = 4\n").unwrap_err();
        let ThemeError::Syntax { position, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(position.map(|(line, _)| line), Some(2), "{e}");
        assert!(
            e.to_string()
                .starts_with("TOML syntax error at line 2, column "),
            "{e}"
        );
        assert!(!e.to_string().contains('\n'), "{e}");
        let dup = err("border_width = 3\nborder_width = 4");
        assert!(dup.starts_with("TOML syntax error at line 2"), "{dup}");
    }

    #[test]
    fn round_trip() {
        let theme = Theme::default();
        assert_eq!(
            Theme::from_toml_str(&theme.to_toml_string()).unwrap(),
            theme
        );
        let custom = Theme::from_toml_str(
            "border_width = 7\ntitle_height = 40\n[colors]\nred = \"#ff1010\"\nblack = \"#101010\"",
        )
        .unwrap();
        let text = custom.to_toml_string();
        assert!(text.contains("red = \"#ff1010\"\n"), "{text}");
        assert_eq!(Theme::from_toml_str(&text).unwrap(), custom);
    }

    #[test]
    fn example_theme_file_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/theme.toml");
        let theme = Theme::load(&path).unwrap();
        assert_ne!(theme, Theme::default());
        for label in Label::ALL {
            assert!(
                contrast_ratio(theme.color(label), theme.text_color(label)) >= MIN_TEXT_CONTRAST
            );
        }
    }

    #[test]
    fn missing_file_names_the_path() {
        let e = Theme::load("/nonexistent/bulkhead/theme.toml").unwrap_err();
        assert!(matches!(e, ThemeError::Read { .. }));
        assert_eq!(
            e.to_string(),
            "cannot read theme file /nonexistent/bulkhead/theme.toml"
        );
    }
}
