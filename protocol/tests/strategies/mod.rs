//! proptest strategies that generate only valid messages, covering every variant and the
//! edges of every limit.
#![allow(dead_code)]

use bulkhead_protocol::*;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

/// Values in `lo..=hi`, with the two ends generated often.
pub fn edgy_u32(lo: u32, hi: u32) -> impl Strategy<Value = u32> {
    prop_oneof![1 => Just(lo), 1 => Just(hi), 4 => lo..=hi]
}

/// Values in `-max..=max`, with the ends and 0 generated often.
pub fn edgy_i32(max: i32) -> impl Strategy<Value = i32> {
    prop_oneof![1 => Just(-max), 1 => Just(max), 1 => Just(0), 4 => -max..=max]
}

pub fn window_id() -> impl Strategy<Value = WindowId> {
    prop_oneof![Just(1u32), Just(u32::MAX), 1..=u32::MAX]
        .prop_map(|raw| WindowId::new(raw).expect("non-zero"))
}

pub fn window_size() -> impl Strategy<Value = Size> {
    (
        edgy_u32(1, MAX_WINDOW_WIDTH),
        edgy_u32(1, MAX_WINDOW_HEIGHT),
    )
        .prop_map(|(w, h)| Size::new(w, h))
}

pub fn version() -> impl Strategy<Value = Version> {
    (any::<u16>(), any::<u16>()).prop_map(|(major, minor)| Version::new(major, minor))
}

pub fn capabilities() -> impl Strategy<Value = Capabilities> {
    any::<u64>().prop_map(Capabilities::from_bits)
}

/// Titles up to the byte limit, from any non-control characters (bidi overrides included).
pub fn title() -> impl Strategy<Value = String> {
    let ch = any::<char>().prop_filter("no control characters", |c| !c.is_control());
    prop_oneof![
        vec(ch, 0..100).prop_map(|chars| {
            let mut s = String::new();
            for c in chars {
                if s.len() + c.len_utf8() > MAX_TITLE_BYTES {
                    break;
                }
                s.push(c);
            }
            s
        }),
        Just("t".repeat(MAX_TITLE_BYTES)),
    ]
}

pub fn app_id() -> impl Strategy<Value = String> {
    "[ -~]{0,127}"
}

pub fn mime() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("text/plain;charset=utf-8".to_owned()),
        "[!-.0-~]{1,60}/[!-~]{1,66}",
    ]
}

pub fn blob() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..600)
}

pub fn keymap() -> impl Strategy<Value = String> {
    vec(any::<char>().prop_filter("no NUL", |c| *c != '\0'), 0..300)
        .prop_map(|chars| chars.into_iter().collect())
}

pub fn buffer() -> impl Strategy<Value = BufferDesc> {
    (
        window_size(),
        prop_oneof![
            Just(0u64),
            Just(MAX_ARENA_OFFSET / ARENA_ALIGN),
            0..=MAX_ARENA_OFFSET / ARENA_ALIGN
        ],
        any::<u32>(),
        select(vec![PixelFormat::Argb8888, PixelFormat::Xrgb8888]),
    )
        .prop_map(|(size, page, pad, format)| {
            let row = size.width * 4;
            let spare = (MAX_STRIDE - row) / 4;
            let stride = row + 4 * if spare == 0 { 0 } else { pad % (spare + 1) };
            BufferDesc {
                offset: page * ARENA_ALIGN,
                width: size.width,
                height: size.height,
                stride,
                format,
            }
        })
}

fn rect_in(width: u32, height: u32) -> impl Strategy<Value = Rect> {
    (0..width, 0..height, any::<u32>(), any::<u32>()).prop_map(move |(x, y, w, h)| Rect {
        x,
        y,
        w: 1 + w % (width - x),
        h: 1 + h % (height - y),
    })
}

pub fn buffer_and_rects() -> impl Strategy<Value = (BufferDesc, Vec<Rect>)> {
    buffer().prop_flat_map(|b| {
        let count = prop_oneof![1 => Just(MAX_DAMAGE_RECTS), 1 => Just(1usize), 4 => 1..=8usize];
        (
            Just(b),
            count.prop_flat_map(move |n| vec(rect_in(b.width, b.height), n)),
        )
    })
}

pub fn window_kind(window: WindowId) -> impl Strategy<Value = WindowKind> {
    prop_oneof![
        Just(WindowKind::Toplevel),
        (
            window_id().prop_filter("not its own parent", move |p| *p != window),
            edgy_i32(MAX_POPUP_OFFSET_X),
            edgy_i32(MAX_POPUP_OFFSET_Y),
        )
            .prop_map(|(parent, x, y)| WindowKind::Popup { parent, x, y }),
    ]
}

pub fn size_hints() -> impl Strategy<Value = (Option<Size>, Option<Size>)> {
    (
        proptest::option::of(window_size()),
        proptest::option::of(window_size()),
    )
        .prop_map(|(a, b)| match (a, b) {
            (Some(a), Some(b)) => (
                Some(Size::new(a.width.min(b.width), a.height.min(b.height))),
                Some(Size::new(a.width.max(b.width), a.height.max(b.height))),
            ),
            other => other,
        })
}

pub fn agent_message() -> impl Strategy<Value = AgentMessage> {
    use AgentMessage as M;
    prop_oneof![
        (version(), capabilities()).prop_map(|(version, capabilities)| M::Hello {
            version,
            capabilities
        }),
        window_id().prop_flat_map(|window| (window_kind(window), window_size())
            .prop_map(move |(kind, size)| M::CreateWindow { window, kind, size })),
        (window_id(), title()).prop_map(|(window, title)| M::SetTitle { window, title }),
        (window_id(), app_id()).prop_map(|(window, app_id)| M::SetAppId { window, app_id }),
        window_id().prop_map(|window| M::Map { window }),
        window_id().prop_map(|window| M::Unmap { window }),
        window_id().prop_map(|window| M::Destroy { window }),
        (window_id(), size_hints()).prop_map(|(window, (min, max))| M::SizeHints {
            window,
            min,
            max
        }),
        (window_id(), any::<u32>(), buffer_and_rects()).prop_map(
            |(window, serial, (buffer, rects))| M::Damage {
                window,
                serial,
                buffer,
                rects
            }
        ),
        (window_id(), any::<bool>()).prop_map(|(window, on)| M::SetFullscreen { window, on }),
        (window_id(), any::<bool>()).prop_map(|(window, on)| M::SetMaximized { window, on }),
        window_id().prop_map(|window| M::Minimize { window }),
        window_id().prop_map(|window| M::Attention { window }),
        (window_id(), select(CursorShape::ALL))
            .prop_map(|(window, shape)| M::SetCursor { window, shape }),
        (any::<u32>(), mime(), blob()).prop_map(|(serial, mime, data)| M::ClipboardData {
            serial,
            mime,
            data
        }),
        any::<u32>().prop_map(|serial| M::ClipboardEmpty { serial }),
        (any::<u32>(), edgy_u32(0, MAX_LAUNCH_ERRNO))
            .prop_map(|(launch, errno)| M::LaunchResult { launch, errno }),
    ]
}

pub fn output() -> impl Strategy<Value = OutputInfo> {
    (
        edgy_u32(1, MAX_OUTPUT_DIMENSION),
        edgy_u32(1, MAX_OUTPUT_DIMENSION),
        edgy_u32(MIN_SCALE_120, MAX_SCALE_120),
        edgy_u32(0, MAX_REFRESH_MHZ),
    )
        .prop_map(|(width, height, scale_120, refresh_mhz)| OutputInfo {
            width,
            height,
            scale_120,
            refresh_mhz,
        })
}

pub fn dom0_message() -> impl Strategy<Value = Dom0Message> {
    use Dom0Message as M;
    prop_oneof![
        (version(), capabilities(), output()).prop_map(|(version, capabilities, output)| {
            M::HelloAck {
                version,
                capabilities,
                output,
            }
        }),
        output().prop_map(|output| M::OutputChange { output }),
        keymap().prop_map(|xkb_text| M::Keymap { xkb_text }),
        (
            window_id(),
            any::<u32>(),
            edgy_u32(0, MAX_WINDOW_WIDTH),
            edgy_u32(0, MAX_WINDOW_HEIGHT),
            0..=WindowStates::ALL.bits(),
        )
            .prop_map(|(window, serial, width, height, bits)| M::Configure {
                window,
                serial,
                width,
                height,
                states: WindowStates::from_bits(bits).expect("defined bits"),
            }),
        window_id().prop_map(|window| M::Close { window }),
        (window_id(), any::<u32>()).prop_map(|(window, serial)| M::FrameDone { window, serial }),
        (any::<u32>(), edgy_u32(0, MAX_KEYCODE), any::<bool>()).prop_map(
            |(time_ms, keycode, pressed)| M::Key {
                time_ms,
                keycode,
                pressed
            }
        ),
        any::<[u32; 4]>().prop_map(|[depressed, latched, locked, group]| M::Modifiers {
            depressed,
            latched,
            locked,
            group
        }),
        window_id().prop_map(|window| M::FocusIn { window }),
        window_id().prop_map(|window| M::FocusOut { window }),
        (
            window_id(),
            edgy_i32(MAX_POINTER_X),
            edgy_i32(MAX_POINTER_Y)
        )
            .prop_map(|(window, x, y)| M::PointerEnter { window, x, y }),
        window_id().prop_map(|window| M::PointerLeave { window }),
        (
            window_id(),
            any::<u32>(),
            edgy_i32(MAX_POINTER_X),
            edgy_i32(MAX_POINTER_Y)
        )
            .prop_map(|(window, time_ms, x, y)| M::PointerMotion {
                window,
                time_ms,
                x,
                y
            }),
        (
            window_id(),
            any::<u32>(),
            edgy_u32(MIN_BUTTON, MAX_BUTTON),
            any::<bool>()
        )
            .prop_map(|(window, time_ms, button, pressed)| M::PointerButton {
                window,
                time_ms,
                button,
                pressed
            }),
        (
            window_id(),
            any::<u32>(),
            select(vec![Axis::Vertical, Axis::Horizontal]),
            edgy_i32(MAX_AXIS_VALUE),
            edgy_i32(MAX_AXIS_DISCRETE_120),
        )
            .prop_map(
                |(window, time_ms, axis, value, discrete_120)| M::PointerAxis {
                    window,
                    time_ms,
                    axis,
                    value,
                    discrete_120
                }
            ),
        any::<u32>().prop_map(|serial| M::ClipboardRequest { serial }),
        (mime(), blob()).prop_map(|(mime, data)| M::ClipboardPaste { mime, data }),
        (any::<u32>(), argv()).prop_map(|(launch, argv)| M::Launch { launch, argv }),
    ]
}

/// Command lines: a non-empty program, then arguments of any valid length (empty ones
/// included), up to the limits.
pub fn argv() -> impl Strategy<Value = Vec<String>> {
    let arg = prop_oneof![
        4 => "[^\\x00]{0,40}",
        1 => Just("x".repeat(MAX_LAUNCH_ARG_BYTES)),
        1 => Just(String::new()),
    ];
    ("[^\\x00]{1,40}", vec(arg, 0..=MAX_LAUNCH_ARGS - 1))
        .prop_map(|(program, rest)| std::iter::once(program).chain(rest).collect())
}
