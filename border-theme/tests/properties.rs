//! Property tests: hostile titles, colours and theme files.

use bulkhead_border_theme::{
    Label, MIN_TEXT_CONTRAST, QubeName, Rgb, Theme, contrast_ratio, format_title_with_limit,
    is_invisible, sanitize_title,
};
use proptest::prelude::*;

/// Characters a spoofing guest would reach for, mixed with ordinary text.
fn hostile_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>(),
        2 => prop::sample::select(vec![
            '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200e}', '\u{200f}', '\u{061c}', '\u{200b}', '\u{200c}',
            '\u{200d}', '\u{2060}', '\u{feff}', '\u{00ad}', '\u{034f}', '\u{fe0f}', '\u{3164}',
            '\u{e0041}', '\u{0}', '\n', '\r', '\t', '\u{1b}', '\u{7f}', '\u{85}', '\u{9b}',
            '\u{2028}', '\u{2029}', '\u{a0}', '\u{3000}', ' ', '[', ']', '\u{301}', '\u{fffe}',
        ]),
        3 => prop::char::range('a', 'z'),
    ]
}

fn hostile_title() -> impl Strategy<Value = String> {
    prop::collection::vec(hostile_char(), 0..200).prop_map(|v| v.into_iter().collect())
}

fn qube_name() -> impl Strategy<Value = QubeName> {
    "[a-zA-Z][a-zA-Z0-9_-]{0,30}".prop_map(|s| QubeName::new(&s).unwrap())
}

fn forbidden(c: char) -> bool {
    c.is_control() || is_invisible(c) || (c.is_whitespace() && c != ' ')
}

proptest! {
    #[test]
    fn sanitized_titles_are_clean_and_short(title in hostile_title(), max in 0usize..160) {
        let out = sanitize_title(&title, max);
        prop_assert!(out.chars().count() <= max);
        prop_assert!(!out.chars().any(forbidden), "{:?}", out);
        for c in ['\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}', '\u{200b}', '\u{200d}', '\u{feff}'] {
            prop_assert!(!out.contains(c));
        }
        prop_assert!(!out.contains("  ") && !out.starts_with(' ') && !out.ends_with(' '));
        // Sanitising is idempotent when nothing needs cutting.
        prop_assert_eq!(sanitize_title(&out, max), out.clone());
    }

    #[test]
    fn formatted_titles_start_with_the_real_prefix(
        qube in qube_name(),
        title in hostile_title(),
        max in 0usize..160,
    ) {
        let out = format_title_with_limit(&qube, &title, max);
        let prefix = format!("[{qube}]");
        prop_assert!(out.starts_with(&prefix), "{:?}", out);
        let rest = &out[prefix.len()..];
        if !rest.is_empty() {
            let title = rest.strip_prefix(' ').expect("a space after the prefix");
            prop_assert!(!title.is_empty() && title.chars().count() <= max);
            prop_assert!(!title.chars().any(forbidden), "{:?}", out);
        }
    }

    #[test]
    fn qube_names_parse_only_when_valid(s in "\\PC{0,40}") {
        let valid = (1..=31).contains(&s.chars().count())
            && s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        prop_assert_eq!(QubeName::new(&s).is_ok(), valid);
    }

    #[test]
    fn text_is_readable_on_any_color(r: u8, g: u8, b: u8) {
        let bg = Rgb::new(r, g, b);
        let text = bg.text_color();
        prop_assert!(text == Rgb::BLACK || text == Rgb::WHITE);
        prop_assert!(contrast_ratio(bg, text) >= MIN_TEXT_CONTRAST.max(4.58));
        let other = if text == Rgb::BLACK { Rgb::WHITE } else { Rgb::BLACK };
        prop_assert!(contrast_ratio(bg, text) >= contrast_ratio(bg, other));
    }

    #[test]
    fn hex_round_trips(r: u8, g: u8, b: u8) {
        let c = Rgb::new(r, g, b);
        prop_assert_eq!(c.to_string().parse::<Rgb>(), Ok(c));
        prop_assert_eq!(c.to_string().to_uppercase().replace('X', "x").parse::<Rgb>(), Ok(c));
        prop_assert_eq!(c.to_argb8888(), 0xff00_0000 | u32::from(r) << 16 | u32::from(g) << 8 | u32::from(b));
    }

    #[test]
    fn hex_parser_never_panics(s in "\\PC{0,12}") {
        if let Ok(c) = s.parse::<Rgb>() {
            prop_assert_eq!(c.to_string(), s.to_lowercase());
        }
    }

    #[test]
    fn valid_themes_round_trip_and_stay_readable(
        colors in prop::collection::vec(any::<(u8, u8, u8)>(), 8),
        border in 1u32..=32,
        popup in 1u32..=32,
        title in 12u32..=96,
    ) {
        let mut text = format!(
            "border_width = {border}\npopup_border_width = {popup}\ntitle_height = {title}\n[colors]\n"
        );
        for (label, (r, g, b)) in Label::ALL.into_iter().zip(colors) {
            text += &format!("{label} = \"{}\"\n", Rgb::new(r, g, b));
        }
        match Theme::from_toml_str(&text) {
            Ok(theme) => {
                prop_assert_eq!(Theme::from_toml_str(&theme.to_toml_string()).unwrap(), theme.clone());
                for label in Label::ALL {
                    prop_assert!(contrast_ratio(theme.color(label), theme.text_color(label)) >= MIN_TEXT_CONTRAST);
                    for other in Label::ALL {
                        prop_assert!(label == other || theme.color(label) != theme.color(other));
                    }
                }
            }
            Err(e) => prop_assert!(e.to_string().contains("every label needs its own colour"), "{}", e),
        }
    }

    #[test]
    fn theme_parser_never_panics(text in "\\PC{0,200}") {
        let _ = Theme::from_toml_str(&text);
    }
}
