//! Every limit of the wire contract, and the checks that enforce them.
//!
//! The decoder enforces all of these except [`MAX_WINDOWS_PER_QUBE`], which needs state.

use crate::error::MalformedReason;

/// Largest clipboard payload a qube may send or receive, in bytes (4 MiB).
pub const MAX_CLIPBOARD_BYTES: usize = 4 * 1024 * 1024;
/// Bytes in every message header.
pub const HEADER_LEN: usize = 12;
/// Largest payload of any message: a full clipboard transfer plus its fields.
pub const MAX_PAYLOAD_LEN: usize = MAX_CLIPBOARD_BYTES + 4096;
/// Largest encoded message (header plus payload). Transports size their buffers by this.
pub const MAX_MESSAGE_LEN: usize = HEADER_LEN + MAX_PAYLOAD_LEN;

/// Largest window or buffer width, in pixels (16384). Sizes are at least 1.
pub const MAX_WINDOW_WIDTH: u32 = 16384;
/// Largest window or buffer height, in pixels (6144). Sizes are at least 1.
pub const MAX_WINDOW_HEIGHT: u32 = 6144;
/// Largest output (screen) width and height in `OutputInfo`, in pixels (16384).
pub const MAX_OUTPUT_DIMENSION: u32 = 16384;
/// Bytes per pixel of every [`PixelFormat`](crate::PixelFormat) (4).
pub const BYTES_PER_PIXEL: u32 = 4;
/// Largest buffer stride in bytes: one row of a maximal-width buffer (65536).
pub const MAX_STRIDE: u32 = MAX_WINDOW_WIDTH * BYTES_PER_PIXEL;
/// Alignment of buffer offsets in the pixel arena, in bytes (4096, one page).
pub const ARENA_ALIGN: u64 = 4096;
/// Largest buffer offset in the pixel arena (1 TiB). Bounds `offset + stride × height` far
/// below `u64::MAX`; the real arena is much smaller and dom0 checks against its actual size.
pub const MAX_ARENA_OFFSET: u64 = 1 << 40;

/// Longest window title in bytes of UTF-8 (255). No control characters.
pub const MAX_TITLE_BYTES: usize = 255;
/// Longest app id in bytes (127). Printable ASCII `0x20..=0x7e` only.
pub const MAX_APP_ID_BYTES: usize = 127;
/// Longest MIME type in bytes (127). Printable ASCII `0x21..=0x7e`, form `type/subtype`.
pub const MAX_MIME_BYTES: usize = 127;
/// Longest xkb keymap text in bytes (1 MiB). Valid UTF-8 without NUL.
pub const MAX_KEYMAP_BYTES: usize = 1024 * 1024;
/// Most damage rectangles in one `Damage` message (256). At least one is required.
pub const MAX_DAMAGE_RECTS: usize = 256;
/// Most windows one qube may have at once (4096). The decoder sees one message at a time
/// and cannot count: the compositor enforces this on `CreateWindow`.
pub const MAX_WINDOWS_PER_QUBE: usize = 4096;

/// Largest popup offset from its parent along x, in pixels: ±(2 × [`MAX_WINDOW_WIDTH`]) =
/// ±32768, inclusive.
pub const MAX_POPUP_OFFSET_X: i32 = 2 * MAX_WINDOW_WIDTH as i32;
/// Largest popup offset from its parent along y, in pixels: ±(2 × [`MAX_WINDOW_HEIGHT`]) =
/// ±12288, inclusive.
pub const MAX_POPUP_OFFSET_Y: i32 = 2 * MAX_WINDOW_HEIGHT as i32;
/// Units per pixel of fixed-point pointer coordinates and scroll values (256, as `wl_fixed`).
pub const FIXED_ONE: i32 = 256;
/// Largest pointer x in fixed-point units (1/256 px): ±(2 × 16384 × 256) = ±8388608.
pub const MAX_POINTER_X: i32 = MAX_POPUP_OFFSET_X * FIXED_ONE;
/// Largest pointer y in fixed-point units (1/256 px): ±(2 × 6144 × 256) = ±3145728.
pub const MAX_POINTER_Y: i32 = MAX_POPUP_OFFSET_Y * FIXED_ONE;
/// Largest scroll value in one `PointerAxis` event, in 1/256 px: ±8388608 (32768 px).
pub const MAX_AXIS_VALUE: i32 = MAX_POINTER_X;
/// Largest discrete scroll in one `PointerAxis` event, in 1/120 of a wheel detent:
/// ±30720 (256 detents).
pub const MAX_AXIS_DISCRETE_120: i32 = 120 * 256;
/// Largest evdev key code in `Key` (`KEY_MAX`, 0x2ff).
pub const MAX_KEYCODE: u32 = 0x2ff;
/// Smallest evdev button code in `PointerButton` (`BTN_MISC`, 0x100).
pub const MIN_BUTTON: u32 = 0x100;
/// Largest evdev button code in `PointerButton` (`KEY_MAX`, 0x2ff).
pub const MAX_BUTTON: u32 = 0x2ff;
/// Smallest output scale, as scale × 120 (60 = 0.5×), as in `wp_fractional_scale_v1`.
pub const MIN_SCALE_120: u32 = 60;
/// Largest output scale, as scale × 120 (960 = 8×).
pub const MAX_SCALE_120: u32 = 960;
/// Largest output refresh rate in mHz (1 000 000 = 1000 Hz); 0 means unknown.
pub const MAX_REFRESH_MHZ: u32 = 1_000_000;

/// Most arguments (program included) in one `Launch` (64).
pub const MAX_LAUNCH_ARGS: usize = 64;
/// Longest argument of a `Launch`, in bytes of UTF-8 (1024). No NUL.
pub const MAX_LAUNCH_ARG_BYTES: usize = 1024;
/// Largest error number a `LaunchResult` may carry (4095, Linux's `MAX_ERRNO`); 0 means
/// the program started.
pub const MAX_LAUNCH_ERRNO: u32 = 4095;

/// `value` must lie in `min..=max`.
pub(crate) fn check_range(
    field: &'static str,
    value: i64,
    min: i64,
    max: i64,
) -> Result<(), MalformedReason> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(MalformedReason::OutOfRange {
            field,
            value,
            min,
            max,
        })
    }
}

/// `value` must lie in `-max..=max`.
pub(crate) fn check_symmetric(
    field: &'static str,
    value: i32,
    max: i32,
) -> Result<(), MalformedReason> {
    check_range(field, i64::from(value), -i64::from(max), i64::from(max))
}

/// A title: at most [`MAX_TITLE_BYTES`], no `char::is_control` character.
pub(crate) fn check_title(title: &str) -> Result<(), MalformedReason> {
    if title.len() > MAX_TITLE_BYTES {
        return Err(MalformedReason::TitleTooLong { len: title.len() });
    }
    match title.chars().find(|c| c.is_control()) {
        Some(c) => Err(MalformedReason::ControlCharacter {
            field: "title",
            code: u32::from(c),
        }),
        None => Ok(()),
    }
}

/// An app id: at most [`MAX_APP_ID_BYTES`], bytes `0x20..=0x7e` only.
pub(crate) fn check_app_id(app_id: &str) -> Result<(), MalformedReason> {
    if app_id.len() > MAX_APP_ID_BYTES {
        return Err(MalformedReason::AppIdTooLong { len: app_id.len() });
    }
    match app_id.bytes().find(|b| !(0x20..=0x7e).contains(b)) {
        Some(byte) => Err(MalformedReason::NotPrintableAscii {
            field: "app id",
            byte,
        }),
        None => Ok(()),
    }
}

/// A MIME type: at most [`MAX_MIME_BYTES`], bytes `0x21..=0x7e` only, a non-empty type,
/// `/`, and a non-empty rest.
pub(crate) fn check_mime(mime: &str) -> Result<(), MalformedReason> {
    if mime.len() > MAX_MIME_BYTES {
        return Err(MalformedReason::MimeTooLong { len: mime.len() });
    }
    if let Some(byte) = mime.bytes().find(|b| !(0x21..=0x7e).contains(b)) {
        return Err(MalformedReason::NotPrintableAscii {
            field: "MIME type",
            byte,
        });
    }
    match mime.split_once('/') {
        Some((ty, subtype)) if !ty.is_empty() && !subtype.is_empty() => Ok(()),
        _ => Err(MalformedReason::BadMimeType),
    }
}

/// Keymap text: at most [`MAX_KEYMAP_BYTES`], no NUL.
pub(crate) fn check_keymap(text: &str) -> Result<(), MalformedReason> {
    if text.len() > MAX_KEYMAP_BYTES {
        return Err(MalformedReason::KeymapTooLong { len: text.len() });
    }
    if text.as_bytes().contains(&0) {
        return Err(MalformedReason::NulInKeymap);
    }
    Ok(())
}

/// A command line: 1 to [`MAX_LAUNCH_ARGS`] arguments, each at most
/// [`MAX_LAUNCH_ARG_BYTES`] without NUL, the program (the first) not empty.
pub(crate) fn check_argv(argv: &[String]) -> Result<(), MalformedReason> {
    let Some(program) = argv.first() else {
        return Err(MalformedReason::NoProgram);
    };
    if argv.len() > MAX_LAUNCH_ARGS {
        return Err(MalformedReason::TooManyArgs {
            count: u32::try_from(argv.len()).unwrap_or(u32::MAX),
        });
    }
    if program.is_empty() {
        return Err(MalformedReason::NoProgram);
    }
    for arg in argv {
        if arg.len() > MAX_LAUNCH_ARG_BYTES {
            return Err(MalformedReason::ArgTooLong { len: arg.len() });
        }
        if arg.as_bytes().contains(&0) {
            return Err(MalformedReason::NulInArg);
        }
    }
    Ok(())
}

/// Clipboard contents: at most [`MAX_CLIPBOARD_BYTES`].
pub(crate) fn check_clipboard(data: &[u8]) -> Result<(), MalformedReason> {
    if data.len() > MAX_CLIPBOARD_BYTES {
        return Err(MalformedReason::ClipboardTooLong { len: data.len() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_arithmetic_is_what_the_docs_say() {
        assert_eq!(MAX_STRIDE, 65536);
        assert_eq!(MAX_POPUP_OFFSET_X, 32768);
        assert_eq!(MAX_POPUP_OFFSET_Y, 12288);
        assert_eq!(MAX_POINTER_X, 8_388_608);
        assert_eq!(MAX_POINTER_Y, 3_145_728);
        // The largest buffer end still fits comfortably in u64.
        let end = MAX_ARENA_OFFSET + u64::from(MAX_STRIDE) * u64::from(MAX_WINDOW_HEIGHT);
        assert!(end < u64::MAX / 2);
    }

    #[test]
    fn mime_rules() {
        assert_eq!(check_mime("text/plain;charset=utf-8"), Ok(()));
        assert_eq!(check_mime("image/png"), Ok(()));
        assert_eq!(check_mime("UTF8_STRING"), Err(MalformedReason::BadMimeType));
        assert_eq!(check_mime("/plain"), Err(MalformedReason::BadMimeType));
        assert_eq!(check_mime("text/"), Err(MalformedReason::BadMimeType));
        assert_eq!(
            check_mime("text/plain; charset=utf-8"),
            Err(MalformedReason::NotPrintableAscii {
                field: "MIME type",
                byte: b' '
            })
        );
        assert_eq!(
            check_mime(&format!("a/{}", "b".repeat(126))),
            Err(MalformedReason::MimeTooLong { len: 128 })
        );
    }

    #[test]
    fn app_id_allows_spaces_but_not_controls() {
        assert_eq!(check_app_id("org.example App"), Ok(()));
        assert_eq!(
            check_app_id("a\tb"),
            Err(MalformedReason::NotPrintableAscii {
                field: "app id",
                byte: b'\t'
            })
        );
        assert!(check_app_id("é").is_err());
    }

    #[test]
    fn title_rejects_c1_and_del_but_allows_bidi_controls() {
        assert!(check_title("a\u{7f}").is_err());
        assert!(check_title("a\u{85}").is_err());
        // Bidi overrides are format characters, not control characters: dom0 sanitises them.
        assert_eq!(check_title("a\u{202e}b"), Ok(()));
    }

    #[test]
    fn keymap_rejects_nul() {
        assert_eq!(check_keymap("xkb_keymap {\n};\n"), Ok(()));
        assert_eq!(check_keymap("a\0b"), Err(MalformedReason::NulInKeymap));
    }
}
