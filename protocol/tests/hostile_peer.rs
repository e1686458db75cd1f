//! A hostile peer: arbitrary and mutated bytes, and one test per malformed reason.

mod strategies;

use bulkhead_protocol::*;
use proptest::collection::vec;
use proptest::prelude::*;
use strategies::{agent_message, dom0_message};

fn raw(ty: u16, window: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("short test payload");
    let mut out = Vec::new();
    out.extend_from_slice(&ty.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&window.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(payload);
    out
}

fn agent_err(buf: &[u8]) -> MalformedReason {
    match AgentMessage::decode(buf) {
        Err(DecodeError::Malformed(reason)) => reason,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

fn dom0_err(buf: &[u8]) -> MalformedReason {
    match Dom0Message::decode(buf) {
        Err(DecodeError::Malformed(reason)) => reason,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

fn le(fields: &[u32]) -> Vec<u8> {
    fields.iter().flat_map(|f| f.to_le_bytes()).collect()
}

fn win(raw: u32) -> WindowId {
    WindowId::new(raw).expect("non-zero")
}

/// A damage payload for `w`×`h` at offset 0, stride `w*4`, with these rects.
fn damage_payload(w: u32, h: u32, rects: &[[u32; 4]]) -> Vec<u8> {
    let mut p = le(&[1]); // serial
    p.extend_from_slice(&0u64.to_le_bytes());
    p.extend(le(&[w, h, w * 4, 0]));
    p.extend(le(&[u32::try_from(rects.len()).expect("few")]));
    for r in rects {
        p.extend(le(r));
    }
    p
}

/// Decoding that returned a message consumed exactly its canonical encoding.
fn check_canonical<M: PartialEq + std::fmt::Debug>(
    buf: &[u8],
    decoded: Result<(M, &[u8]), DecodeError>,
    encode: impl Fn(&M) -> Result<Vec<u8>, EncodeError>,
) -> Result<(), TestCaseError> {
    match decoded {
        Ok((m, rest)) => {
            let consumed = buf.len() - rest.len();
            let again = encode(&m).map_err(|e| TestCaseError::fail(format!("{e}")))?;
            prop_assert_eq!(&again[..], &buf[..consumed]);
        }
        Err(DecodeError::Incomplete { needed }) => {
            prop_assert!(needed > buf.len());
            prop_assert!((HEADER_LEN..=MAX_MESSAGE_LEN).contains(&needed));
        }
        Err(DecodeError::Malformed(_)) => {}
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(buf in vec(any::<u8>(), 0..200)) {
        check_canonical(&buf, AgentMessage::decode(&buf), AgentMessage::encode_to_vec)?;
        check_canonical(&buf, Dom0Message::decode(&buf), Dom0Message::encode_to_vec)?;
    }

    /// Arbitrary payloads behind every valid header, so the payload parsers are reached.
    #[test]
    fn arbitrary_payloads_never_panic(
        ty in prop_oneof![0x0000u16..0x0040, 0x8000u16..0x8050],
        window in prop_oneof![Just(0u32), Just(1), any::<u32>()],
        payload in vec(any::<u8>(), 0..120),
    ) {
        let buf = raw(ty, window, &payload);
        check_canonical(&buf, AgentMessage::decode(&buf), AgentMessage::encode_to_vec)?;
        check_canonical(&buf, Dom0Message::decode(&buf), Dom0Message::encode_to_vec)?;
    }

    /// Valid messages with bytes overwritten: never a panic, and anything accepted is the
    /// canonical encoding of what was decoded.
    #[test]
    fn mutated_agent_messages(m in agent_message(), edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut buf = m.encode_to_vec().map_err(|e| TestCaseError::fail(format!("{e}")))?;
        for (i, b) in &edits {
            let i = i.index(buf.len());
            buf[i] = *b;
        }
        check_canonical(&buf, AgentMessage::decode(&buf), AgentMessage::encode_to_vec)?;
    }

    #[test]
    fn mutated_dom0_messages(m in dom0_message(), edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut buf = m.encode_to_vec().map_err(|e| TestCaseError::fail(format!("{e}")))?;
        for (i, b) in &edits {
            let i = i.index(buf.len());
            buf[i] = *b;
        }
        check_canonical(&buf, Dom0Message::decode(&buf), Dom0Message::encode_to_vec)?;
    }

    /// The other direction's valid messages are always unknown types.
    #[test]
    fn wrong_direction_is_unknown_type(a in agent_message(), d in dom0_message()) {
        let a_wire = a.encode_to_vec().map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let d_wire = d.encode_to_vec().map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(
            Dom0Message::decode(&a_wire),
            Err(DecodeError::Malformed(MalformedReason::UnknownType(a.message_type())))
        );
        prop_assert_eq!(
            AgentMessage::decode(&d_wire),
            Err(DecodeError::Malformed(MalformedReason::UnknownType(d.message_type())))
        );
    }
}

// ---- Header ----

#[test]
fn unknown_type() {
    assert_eq!(
        agent_err(&raw(0x7777, 0, &[])),
        MalformedReason::UnknownType(0x7777)
    );
    assert_eq!(
        agent_err(&raw(0x0000, 0, &[])),
        MalformedReason::UnknownType(0)
    );
    assert_eq!(
        dom0_err(&raw(0x8000, 0, &[])),
        MalformedReason::UnknownType(0x8000)
    );
    assert_eq!(
        dom0_err(&raw(0xffff, 0, &[])),
        MalformedReason::UnknownType(0xffff)
    );
}

#[test]
fn wrong_direction() {
    let ack = raw(msg_type::CLIPBOARD_REQUEST, 0, &le(&[1]));
    assert!(Dom0Message::decode(&ack).is_ok());
    assert_eq!(agent_err(&ack), MalformedReason::UnknownType(0x8040));
    let empty = raw(msg_type::CLIPBOARD_EMPTY, 0, &le(&[1]));
    assert!(AgentMessage::decode(&empty).is_ok());
    assert_eq!(dom0_err(&empty), MalformedReason::UnknownType(0x0031));
}

#[test]
fn reserved_bits() {
    let mut buf = raw(msg_type::MAP, 1, &[]);
    buf[3] = 0x80;
    assert_eq!(agent_err(&buf), MalformedReason::ReservedNotZero(0x8000));
}

#[test]
fn window_id_rules() {
    assert_eq!(
        agent_err(&raw(msg_type::MAP, 0, &[])),
        MalformedReason::WindowIdMissing { ty: msg_type::MAP }
    );
    assert_eq!(
        agent_err(&raw(msg_type::CLIPBOARD_EMPTY, 5, &le(&[1]))),
        MalformedReason::UnexpectedWindowId {
            ty: msg_type::CLIPBOARD_EMPTY,
            window: 5
        }
    );
    assert_eq!(
        dom0_err(&raw(msg_type::KEY, 3, &[0; 9])),
        MalformedReason::UnexpectedWindowId {
            ty: msg_type::KEY,
            window: 3
        }
    );
}

#[test]
fn declared_length_over_limit_is_malformed_from_the_header_alone() {
    // Only the 12 header bytes are supplied.
    let mut header = raw(msg_type::SET_TITLE, 1, &[]);
    header[8..12].copy_from_slice(&258u32.to_le_bytes());
    assert_eq!(header.len(), HEADER_LEN);
    assert_eq!(
        agent_err(&header),
        MalformedReason::PayloadTooLong {
            ty: msg_type::SET_TITLE,
            len: 258,
            max: 257
        }
    );
    assert_eq!(
        peek_header(&header, Direction::AgentToDom0),
        Err(DecodeError::Malformed(MalformedReason::PayloadTooLong {
            ty: msg_type::SET_TITLE,
            len: 258,
            max: 257
        }))
    );

    let mut huge = raw(msg_type::CLIPBOARD_DATA, 0, &[]);
    huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        agent_err(&huge),
        MalformedReason::PayloadTooLong { len: u32::MAX, .. }
    ));

    // At the limit it is merely incomplete.
    header[8..12].copy_from_slice(&257u32.to_le_bytes());
    assert_eq!(
        AgentMessage::decode(&header),
        Err(DecodeError::Incomplete { needed: 12 + 257 })
    );
}

#[test]
fn fixed_size_messages_need_their_exact_length() {
    let mut header = raw(msg_type::MAP, 1, &[]);
    header[8] = 1;
    assert_eq!(
        agent_err(&header),
        MalformedReason::PayloadTooLong {
            ty: msg_type::MAP,
            len: 1,
            max: 0
        }
    );
    assert_eq!(
        dom0_err(&raw(msg_type::CONFIGURE, 1, &[0; 12])),
        MalformedReason::PayloadLengthMismatch {
            ty: msg_type::CONFIGURE,
            len: 12,
            expected: 16
        }
    );
}

#[test]
fn trailing_bytes_in_payload() {
    // Title of 1 byte, but the payload has one more.
    let buf = raw(msg_type::SET_TITLE, 1, &[1, 0, b'a', b'b']);
    assert_eq!(agent_err(&buf), MalformedReason::TrailingBytes { count: 1 });
}

#[test]
fn field_past_the_payload_end_is_truncated_not_incomplete() {
    // Title declares 10 bytes, the payload holds 2; more bytes after it do not help.
    let mut buf = raw(msg_type::SET_TITLE, 1, &[10, 0, b'a', b'b']);
    buf.extend_from_slice(b"cdefghij");
    assert_eq!(agent_err(&buf), MalformedReason::Truncated);
}

// ---- Text ----

#[test]
fn over_long_title() {
    let mut payload = vec![0x00, 0x01]; // 256
    payload.extend([b'a'; 255]);
    assert_eq!(
        agent_err(&raw(msg_type::SET_TITLE, 1, &payload)),
        MalformedReason::TitleTooLong { len: 256 }
    );
    let m = AgentMessage::SetTitle {
        window: win(1),
        title: "a".repeat(256),
    };
    let mut out = vec![1, 2, 3];
    assert_eq!(
        m.encode(&mut out),
        Err(EncodeError::Invalid(MalformedReason::TitleTooLong {
            len: 256
        }))
    );
    assert_eq!(out, [1, 2, 3], "a refused message appends nothing");
}

#[test]
fn control_characters_in_title() {
    for (text, code) in [
        ("a\u{7}", 7),
        ("\u{7f}", 0x7f),
        ("x\u{85}y", 0x85),
        ("\n", 10),
    ] {
        let mut payload = u16::try_from(text.len())
            .expect("short")
            .to_le_bytes()
            .to_vec();
        payload.extend_from_slice(text.as_bytes());
        assert_eq!(
            agent_err(&raw(msg_type::SET_TITLE, 1, &payload)),
            MalformedReason::ControlCharacter {
                field: "title",
                code
            }
        );
    }
}

#[test]
fn bidi_overrides_in_titles_are_left_to_dom0() {
    let m = AgentMessage::SetTitle {
        window: win(1),
        title: "invoice\u{202e}fdp.exe".into(),
    };
    let wire = m
        .encode_to_vec()
        .expect("format characters are not control characters");
    assert_eq!(AgentMessage::decode(&wire), Ok((m, &[][..])));
}

#[test]
fn invalid_utf8() {
    let buf = raw(msg_type::SET_TITLE, 1, &[2, 0, 0xc3, 0x28]);
    assert_eq!(
        agent_err(&buf),
        MalformedReason::InvalidUtf8 { field: "title" }
    );
    let buf = raw(msg_type::KEYMAP, 0, &[1, 0, 0, 0, 0xff]);
    assert_eq!(
        dom0_err(&buf),
        MalformedReason::InvalidUtf8 { field: "keymap" }
    );
}

#[test]
fn app_id_rules() {
    let buf = raw(msg_type::SET_APP_ID, 1, &[3, 0, b'a', 0x1b, b'b']);
    assert_eq!(
        agent_err(&buf),
        MalformedReason::NotPrintableAscii {
            field: "app id",
            byte: 0x1b
        }
    );
    let mut payload = vec![128, 0];
    payload.extend([b'a'; 127]);
    assert_eq!(
        agent_err(&raw(msg_type::SET_APP_ID, 1, &payload)),
        MalformedReason::AppIdTooLong { len: 128 }
    );
}

#[test]
fn mime_rules() {
    let mut payload = le(&[1]);
    payload.extend([4, 0]);
    payload.extend(b"text");
    payload.extend(le(&[0]));
    assert_eq!(
        agent_err(&raw(msg_type::CLIPBOARD_DATA, 0, &payload)),
        MalformedReason::BadMimeType
    );
    let paste = Dom0Message::ClipboardPaste {
        mime: "text/plain; charset=utf-8".into(),
        data: vec![],
    };
    assert!(matches!(
        paste.encode_to_vec(),
        Err(EncodeError::Invalid(MalformedReason::NotPrintableAscii {
            byte: b' ',
            ..
        }))
    ));
}

#[test]
fn keymap_with_nul() {
    let buf = raw(msg_type::KEYMAP, 0, &[3, 0, 0, 0, b'a', 0, b'b']);
    assert_eq!(dom0_err(&buf), MalformedReason::NulInKeymap);
}

#[test]
fn over_long_clipboard() {
    let mut payload = le(&[1]);
    payload.extend([3, 0]);
    payload.extend(b"a/b");
    payload.extend(le(&[u32::try_from(MAX_CLIPBOARD_BYTES + 1).expect("fits")]));
    payload.resize(payload.len() + MAX_CLIPBOARD_BYTES + 1, 0);
    assert_eq!(
        agent_err(&raw(msg_type::CLIPBOARD_DATA, 0, &payload)),
        MalformedReason::ClipboardTooLong {
            len: MAX_CLIPBOARD_BYTES + 1
        }
    );
}

// ---- Launch ----

/// Launch id 9, then the arguments.
fn launch_payload(args: &[&[u8]]) -> Vec<u8> {
    let mut p = le(&[9, u32::try_from(args.len()).expect("few")]);
    for a in args {
        p.extend(u16::try_from(a.len()).expect("short").to_le_bytes());
        p.extend_from_slice(a);
    }
    p
}

#[test]
fn launch_round_trips_at_its_limits() {
    let argv = vec!["a".repeat(MAX_LAUNCH_ARG_BYTES); MAX_LAUNCH_ARGS];
    let m = Dom0Message::Launch {
        launch: u32::MAX,
        argv,
    };
    let wire = m.encode_to_vec().expect("largest launch encodes");
    assert_eq!(wire.len(), HEADER_LEN + 65672, "the documented maximum");
    assert_eq!(Dom0Message::decode(&wire), Ok((m, &[][..])));
    let buf = raw(msg_type::LAUNCH, 0, &launch_payload(&[b"foot", b"", b"-e"]));
    let (decoded, _) = Dom0Message::decode(&buf).expect("empty arguments after the program");
    assert_eq!(
        decoded,
        Dom0Message::Launch {
            launch: 9,
            argv: vec!["foot".into(), String::new(), "-e".into()]
        }
    );
}

#[test]
fn launch_rules() {
    assert_eq!(
        dom0_err(&raw(msg_type::LAUNCH, 0, &launch_payload(&[]))),
        MalformedReason::NoProgram
    );
    assert_eq!(
        dom0_err(&raw(msg_type::LAUNCH, 0, &launch_payload(&[b"", b"x"]))),
        MalformedReason::NoProgram
    );
    let many: Vec<&[u8]> = vec![b"x"; MAX_LAUNCH_ARGS + 1];
    assert_eq!(
        dom0_err(&raw(msg_type::LAUNCH, 0, &launch_payload(&many))),
        MalformedReason::TooManyArgs {
            count: u32::try_from(MAX_LAUNCH_ARGS + 1).expect("small")
        }
    );
    // A huge declared count is refused before anything is allocated or read.
    assert_eq!(
        dom0_err(&raw(msg_type::LAUNCH, 0, &le(&[1, u32::MAX]))),
        MalformedReason::TooManyArgs { count: u32::MAX }
    );
    let long = vec![b'a'; MAX_LAUNCH_ARG_BYTES + 1];
    assert_eq!(
        dom0_err(&raw(msg_type::LAUNCH, 0, &launch_payload(&[b"sh", &long]))),
        MalformedReason::ArgTooLong {
            len: MAX_LAUNCH_ARG_BYTES + 1
        }
    );
    assert_eq!(
        dom0_err(&raw(
            msg_type::LAUNCH,
            0,
            &launch_payload(&[b"sh", b"a\0b"])
        )),
        MalformedReason::NulInArg
    );
    assert_eq!(
        dom0_err(&raw(
            msg_type::LAUNCH,
            0,
            &launch_payload(&[b"sh", b"\xff"])
        )),
        MalformedReason::InvalidUtf8 { field: "argument" }
    );
    // The count promises more arguments than the payload holds.
    assert_eq!(
        dom0_err(&raw(msg_type::LAUNCH, 0, &le(&[1, 2, 0x0061_0001]))),
        MalformedReason::Truncated
    );
    assert_eq!(
        dom0_err(&raw(msg_type::LAUNCH, 7, &launch_payload(&[b"sh"]))),
        MalformedReason::UnexpectedWindowId {
            ty: msg_type::LAUNCH,
            window: 7
        }
    );
    // The encoder refuses what the decoder would refuse.
    for argv in [
        vec![],
        vec![String::new()],
        vec!["sh".into(), "a\0".into()],
        vec!["x".into(); MAX_LAUNCH_ARGS + 1],
    ] {
        assert!(
            Dom0Message::Launch { launch: 1, argv }
                .encode_to_vec()
                .is_err()
        );
    }
    // An agent cannot send it: it is a dom0 → agent type.
    assert_eq!(
        agent_err(&raw(msg_type::LAUNCH, 0, &launch_payload(&[b"sh"]))),
        MalformedReason::UnknownType(msg_type::LAUNCH)
    );
}

// ---- Windows ----

fn create(window: u32, kind: [u32; 4], w: u32, h: u32) -> Vec<u8> {
    let mut p = le(&kind);
    p.extend(le(&[w, h]));
    raw(msg_type::CREATE_WINDOW, window, &p)
}

#[test]
fn zero_size_window() {
    assert_eq!(
        agent_err(&create(1, [0; 4], 0, 100)),
        MalformedReason::ZeroSize {
            field: "window size"
        }
    );
}

#[test]
fn window_too_wide_or_tall() {
    assert!(AgentMessage::decode(&create(1, [0; 4], 16384, 6144)).is_ok());
    assert_eq!(
        agent_err(&create(1, [0; 4], 16385, 100)),
        MalformedReason::SizeTooLarge {
            field: "window size",
            width: 16385,
            height: 100,
            max_width: MAX_WINDOW_WIDTH,
            max_height: MAX_WINDOW_HEIGHT
        }
    );
    assert!(matches!(
        agent_err(&create(1, [0; 4], 100, 6145)),
        MalformedReason::SizeTooLarge { height: 6145, .. }
    ));
}

#[test]
fn popup_rules() {
    assert_eq!(
        agent_err(&create(4, [1, 4, 0, 0], 10, 10)),
        MalformedReason::PopupParentIsSelf
    );
    assert!(matches!(
        agent_err(&create(4, [1, 0, 0, 0], 10, 10)),
        MalformedReason::OutOfRange {
            field: "popup parent",
            ..
        }
    ));
    assert!(matches!(
        agent_err(&create(4, [0, 3, 0, 0], 10, 10)),
        MalformedReason::OutOfRange {
            field: "toplevel parent",
            ..
        }
    ));
    let x = u32::from_le_bytes((-32769i32).to_le_bytes());
    assert_eq!(
        agent_err(&create(4, [1, 3, x, 0], 10, 10)),
        MalformedReason::OutOfRange {
            field: "popup x",
            value: -32769,
            min: -32768,
            max: 32768
        }
    );
    assert!(AgentMessage::decode(&create(4, [1, 3, 32768, 12288], 10, 10)).is_ok());
    assert_eq!(
        agent_err(&create(4, [2, 3, 0, 0], 10, 10)),
        MalformedReason::BadEnum {
            field: "window kind",
            value: 2
        }
    );
}

#[test]
fn size_hints_rules() {
    let hints = |v: [u32; 4]| raw(msg_type::SIZE_HINTS, 1, &le(&v));
    assert_eq!(
        agent_err(&hints([200, 10, 100, 100])),
        MalformedReason::MinAboveMax
    );
    assert_eq!(
        agent_err(&hints([0, 10, 0, 0])),
        MalformedReason::ZeroSize {
            field: "minimum size"
        }
    );
    assert_eq!(
        AgentMessage::decode(&hints([0, 0, 100, 100])),
        Ok((
            AgentMessage::SizeHints {
                window: win(1),
                min: None,
                max: Some(Size::new(100, 100))
            },
            &[][..]
        ))
    );
    let present_zero = AgentMessage::SizeHints {
        window: win(1),
        min: Some(Size::new(0, 0)),
        max: None,
    };
    assert!(
        present_zero.encode_to_vec().is_err(),
        "Some(0x0) would decode as None"
    );
}

#[test]
fn bool_must_be_0_or_1() {
    assert_eq!(
        agent_err(&raw(msg_type::SET_FULLSCREEN, 1, &[2])),
        MalformedReason::BadBool {
            field: "fullscreen",
            value: 2
        }
    );
    let mut key = le(&[0, 30]);
    key.push(0xff);
    assert_eq!(
        dom0_err(&raw(msg_type::KEY, 0, &key)),
        MalformedReason::BadBool {
            field: "key pressed",
            value: 0xff
        }
    );
}

#[test]
fn unknown_cursor_shape() {
    let count = u32::try_from(CursorShape::ALL.len()).expect("few");
    assert_eq!(
        agent_err(&raw(msg_type::SET_CURSOR, 1, &le(&[count]))),
        MalformedReason::BadEnum {
            field: "cursor shape",
            value: count
        }
    );
}

// ---- Damage ----

#[test]
fn too_many_rects() {
    let mut p = damage_payload(10, 10, &[]);
    let count_at = p.len() - 4;
    p[count_at..].copy_from_slice(&257u32.to_le_bytes());
    p.extend(le(&[0, 0, 1, 1]).repeat(256)); // stays within the payload limit
    assert_eq!(
        agent_err(&raw(msg_type::DAMAGE, 1, &p)),
        MalformedReason::TooManyRects { count: 257 }
    );
    p[count_at..count_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        agent_err(&raw(msg_type::DAMAGE, 1, &p)),
        MalformedReason::TooManyRects { count: u32::MAX }
    );
}

#[test]
fn no_rects_and_empty_rect() {
    assert_eq!(
        agent_err(&raw(msg_type::DAMAGE, 1, &damage_payload(10, 10, &[]))),
        MalformedReason::NoRects
    );
    assert_eq!(
        agent_err(&raw(
            msg_type::DAMAGE,
            1,
            &damage_payload(10, 10, &[[0, 0, 0, 5]])
        )),
        MalformedReason::EmptyRect
    );
}

#[test]
fn rect_outside_buffer() {
    let ok = raw(
        msg_type::DAMAGE,
        1,
        &damage_payload(10, 10, &[[0, 0, 10, 10]]),
    );
    assert!(AgentMessage::decode(&ok).is_ok());
    for rect in [[1, 0, 10, 10], [0, 9, 1, 2], [10, 0, 1, 1]] {
        assert_eq!(
            agent_err(&raw(msg_type::DAMAGE, 1, &damage_payload(10, 10, &[rect]))),
            MalformedReason::RectOutsideBuffer,
            "{rect:?}"
        );
    }
}

#[test]
fn rect_overflowing_u32() {
    for rect in [
        [u32::MAX, 0, 2, 1],
        [0, u32::MAX, 1, u32::MAX],
        [1, 1, u32::MAX, 1],
    ] {
        assert_eq!(
            agent_err(&raw(msg_type::DAMAGE, 1, &damage_payload(10, 10, &[rect]))),
            MalformedReason::RectOutsideBuffer,
            "{rect:?}"
        );
    }
}

fn damage_with(buffer: BufferDesc) -> AgentMessage {
    AgentMessage::Damage {
        window: win(1),
        serial: 0,
        buffer,
        rects: vec![Rect {
            x: 0,
            y: 0,
            w: 1,
            h: 1,
        }],
    }
}

const GOOD_BUFFER: BufferDesc = BufferDesc {
    offset: 3 * ARENA_ALIGN,
    width: 100,
    height: 50,
    stride: 400,
    format: PixelFormat::Argb8888,
};

/// Encodes a valid damage message, then patches the buffer bytes to `buffer` and decodes.
fn decode_patched_buffer(buffer: BufferDesc) -> MalformedReason {
    let mut wire = damage_with(GOOD_BUFFER).encode_to_vec().expect("valid");
    let mut patched = Vec::new();
    patched.extend_from_slice(&buffer.offset.to_le_bytes());
    patched.extend(le(&[
        buffer.width,
        buffer.height,
        buffer.stride,
        buffer.format.code(),
    ]));
    wire[HEADER_LEN + 4..HEADER_LEN + 28].copy_from_slice(&patched);
    let reason = agent_err(&wire);
    assert_eq!(
        damage_with(buffer).encode_to_vec(),
        Err(EncodeError::Invalid(reason.clone())),
        "encoder and decoder agree"
    );
    reason
}

#[test]
fn unaligned_arena_offset() {
    assert_eq!(
        decode_patched_buffer(BufferDesc {
            offset: 4097,
            ..GOOD_BUFFER
        }),
        MalformedReason::UnalignedOffset { offset: 4097 }
    );
    assert_eq!(
        decode_patched_buffer(BufferDesc {
            offset: MAX_ARENA_OFFSET + ARENA_ALIGN,
            ..GOOD_BUFFER
        }),
        MalformedReason::OffsetTooLarge {
            offset: MAX_ARENA_OFFSET + ARENA_ALIGN
        }
    );
}

#[test]
fn bad_strides() {
    for stride in [396, MAX_STRIDE + 4, 402, 0] {
        assert_eq!(
            decode_patched_buffer(BufferDesc {
                stride,
                ..GOOD_BUFFER
            }),
            MalformedReason::BadStride { stride, width: 100 }
        );
    }
}

#[test]
fn zero_size_buffer() {
    assert_eq!(
        decode_patched_buffer(BufferDesc {
            height: 0,
            ..GOOD_BUFFER
        }),
        MalformedReason::ZeroSize {
            field: "buffer size"
        }
    );
}

#[test]
fn unknown_pixel_format() {
    let mut wire = damage_with(GOOD_BUFFER).encode_to_vec().expect("valid");
    wire[HEADER_LEN + 24] = 2;
    assert_eq!(
        agent_err(&wire),
        MalformedReason::BadEnum {
            field: "pixel format",
            value: 2
        }
    );
}

// ---- Dom0 → agent ----

#[test]
fn configure_rules() {
    let configure =
        |w: u32, h: u32, states: u32| raw(msg_type::CONFIGURE, 1, &le(&[0, w, h, states]));
    assert!(Dom0Message::decode(&configure(0, 0, 7)).is_ok());
    assert!(matches!(
        dom0_err(&configure(16385, 0, 0)),
        MalformedReason::SizeTooLarge { width: 16385, .. }
    ));
    assert_eq!(
        dom0_err(&configure(10, 10, 8 | 1)),
        MalformedReason::UnknownStateBits { bits: 8 }
    );
}

#[test]
fn output_rules() {
    let output = |v: [u32; 4]| raw(msg_type::OUTPUT_CHANGE, 0, &le(&v));
    assert!(Dom0Message::decode(&output([1920, 1080, 120, 60_000])).is_ok());
    assert!(matches!(
        dom0_err(&output([1920, 1080, 59, 60_000])),
        MalformedReason::OutOfRange {
            field: "output scale_120",
            value: 59,
            ..
        }
    ));
    assert_eq!(
        dom0_err(&output([0, 1080, 120, 0])),
        MalformedReason::ZeroSize {
            field: "output size"
        }
    );
    assert!(matches!(
        dom0_err(&output([16385, 1080, 120, 0])),
        MalformedReason::SizeTooLarge { .. }
    ));
    assert!(matches!(
        dom0_err(&output([1920, 1080, 120, MAX_REFRESH_MHZ + 1])),
        MalformedReason::OutOfRange {
            field: "output refresh_mhz",
            ..
        }
    ));
}

#[test]
fn input_ranges() {
    let mut key = le(&[0, MAX_KEYCODE + 1]);
    key.push(1);
    assert!(matches!(
        dom0_err(&raw(msg_type::KEY, 0, &key)),
        MalformedReason::OutOfRange {
            field: "keycode",
            ..
        }
    ));
    let mut button = le(&[0, 0xff]);
    button.push(1);
    assert!(matches!(
        dom0_err(&raw(msg_type::POINTER_BUTTON, 1, &button)),
        MalformedReason::OutOfRange {
            field: "button",
            value: 0xff,
            ..
        }
    ));
    let far = u32::from_le_bytes((MAX_POINTER_Y + 1).to_le_bytes());
    assert!(matches!(
        dom0_err(&raw(msg_type::POINTER_ENTER, 1, &le(&[0, far]))),
        MalformedReason::OutOfRange {
            field: "pointer y",
            ..
        }
    ));
    assert_eq!(
        dom0_err(&raw(msg_type::POINTER_AXIS, 1, &le(&[0, 2, 0, 0]))),
        MalformedReason::BadEnum {
            field: "axis",
            value: 2
        }
    );
    let big = u32::from_le_bytes((MAX_AXIS_DISCRETE_120 + 1).to_le_bytes());
    assert!(matches!(
        dom0_err(&raw(msg_type::POINTER_AXIS, 1, &le(&[0, 0, 0, big]))),
        MalformedReason::OutOfRange {
            field: "axis discrete_120",
            ..
        }
    ));
}

// ---- Versions ----

#[test]
fn version_major_mismatch() {
    // Any version decodes; negotiation refuses a different major, naming both.
    let hello = AgentMessage::Hello {
        version: Version::new(2, 0),
        capabilities: Capabilities::empty(),
    };
    let wire = hello.encode_to_vec().expect("valid");
    let (decoded, _) = AgentMessage::decode(&wire).expect("decodes");
    let AgentMessage::Hello { version, .. } = decoded else {
        panic!("not a hello: {decoded:?}");
    };
    let err = negotiate(PROTOCOL_VERSION, version).expect_err("majors differ");
    assert_eq!(
        err,
        VersionError::MajorMismatch {
            ours: PROTOCOL_VERSION,
            theirs: Version::new(2, 0)
        }
    );
    assert_eq!(
        err.to_string(),
        "incompatible protocol versions: ours is 1.0, theirs is 2.0 (major versions differ)"
    );
}

// ---- LaunchResult ----

#[test]
fn launch_result_rules() {
    for (launch, errno) in [(0, 0), (7, 2), (u32::MAX, MAX_LAUNCH_ERRNO)] {
        let buf = raw(msg_type::LAUNCH_RESULT, 0, &le(&[launch, errno]));
        assert_eq!(
            AgentMessage::decode(&buf),
            Ok((AgentMessage::LaunchResult { launch, errno }, &[][..]))
        );
    }
    // Beyond Linux's error numbers: not an errno, refused rather than passed on.
    for errno in [MAX_LAUNCH_ERRNO + 1, u32::MAX] {
        assert_eq!(
            agent_err(&raw(msg_type::LAUNCH_RESULT, 0, &le(&[1, errno]))),
            MalformedReason::OutOfRange {
                field: "launch errno",
                value: i64::from(errno),
                min: 0,
                max: i64::from(MAX_LAUNCH_ERRNO)
            }
        );
        assert!(
            AgentMessage::LaunchResult { launch: 1, errno }
                .encode_to_vec()
                .is_err()
        );
    }
    assert_eq!(
        agent_err(&raw(msg_type::LAUNCH_RESULT, 0, &le(&[1]))),
        MalformedReason::PayloadLengthMismatch {
            ty: msg_type::LAUNCH_RESULT,
            len: 4,
            expected: 8
        }
    );
    assert_eq!(
        agent_err(&raw(msg_type::LAUNCH_RESULT, 3, &le(&[1, 0]))),
        MalformedReason::UnexpectedWindowId {
            ty: msg_type::LAUNCH_RESULT,
            window: 3
        }
    );
    // dom0 cannot send it: it is an agent → dom0 type.
    assert_eq!(
        dom0_err(&raw(msg_type::LAUNCH_RESULT, 0, &le(&[1, 0]))),
        MalformedReason::UnknownType(msg_type::LAUNCH_RESULT)
    );
}
