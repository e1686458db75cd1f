//! Every message round-trips; concatenated messages decode in sequence; every strict prefix
//! of a valid encoding is `Incomplete` with the right `needed`.

mod strategies;

use std::fmt::Debug;

use bulkhead_protocol::*;
use proptest::collection::vec;
use proptest::prelude::*;
use strategies::{agent_message, dom0_message};

/// What the generic checks need from either message enum.
trait Message: Sized + PartialEq + Debug {
    const DIRECTION: Direction;
    fn enc(&self, out: &mut Vec<u8>) -> Result<(), EncodeError>;
    fn dec(buf: &[u8]) -> Result<(Self, &[u8]), DecodeError>;
    fn ty(&self) -> u16;
    fn win(&self) -> Option<WindowId>;
}

impl Message for AgentMessage {
    const DIRECTION: Direction = Direction::AgentToDom0;
    fn enc(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.encode(out)
    }
    fn dec(buf: &[u8]) -> Result<(Self, &[u8]), DecodeError> {
        AgentMessage::decode(buf)
    }
    fn ty(&self) -> u16 {
        self.message_type()
    }
    fn win(&self) -> Option<WindowId> {
        self.window()
    }
}

impl Message for Dom0Message {
    const DIRECTION: Direction = Direction::Dom0ToAgent;
    fn enc(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.encode(out)
    }
    fn dec(buf: &[u8]) -> Result<(Self, &[u8]), DecodeError> {
        Dom0Message::decode(buf)
    }
    fn ty(&self) -> u16 {
        self.message_type()
    }
    fn win(&self) -> Option<WindowId> {
        self.window()
    }
}

fn check_round_trip<M: Message>(m: &M, tail: &[u8]) -> Result<(), TestCaseError> {
    let mut wire = vec![0xaa; 3]; // encode appends: existing bytes stay
    m.enc(&mut wire)
        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
    prop_assert_eq!(&wire[..3], &[0xaa; 3]);
    let encoded = wire.split_off(3);

    let header =
        peek_header(&encoded, M::DIRECTION).map_err(|e| TestCaseError::fail(format!("{e}")))?;
    prop_assert_eq!(header.message_type, m.ty());
    prop_assert_eq!(header.window_id(), m.win());
    prop_assert_eq!(header.message_len(), encoded.len());
    prop_assert!(encoded.len() <= MAX_MESSAGE_LEN);

    let mut buf = encoded.clone();
    buf.extend_from_slice(tail);
    let (decoded, rest) = M::dec(&buf).map_err(|e| TestCaseError::fail(format!("{e}")))?;
    prop_assert_eq!(&decoded, m);
    prop_assert_eq!(rest, tail);
    Ok(())
}

fn check_sequence<M: Message>(messages: &[M]) -> Result<(), TestCaseError> {
    let mut wire = Vec::new();
    for m in messages {
        m.enc(&mut wire)
            .map_err(|e| TestCaseError::fail(format!("{e}")))?;
    }
    let mut rest = wire.as_slice();
    for m in messages {
        let (decoded, after) = M::dec(rest).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(&decoded, m);
        rest = after;
    }
    prop_assert!(rest.is_empty());
    prop_assert_eq!(
        M::dec(rest),
        Err(DecodeError::Incomplete { needed: HEADER_LEN })
    );
    Ok(())
}

/// Every strict prefix (all of them for short messages, a sample for long ones) is
/// `Incomplete`, with `needed` = 12 until the header is complete and the exact length after.
fn check_prefixes<M: Message>(m: &M, picks: &[prop::sample::Index]) -> Result<(), TestCaseError> {
    let mut wire = Vec::new();
    m.enc(&mut wire)
        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
    let full = wire.len();
    let lens: Vec<usize> = if full <= 300 {
        (0..full).collect()
    } else {
        let mut lens: Vec<usize> = picks.iter().map(|i| i.index(full)).collect();
        lens.extend([0, HEADER_LEN - 1, HEADER_LEN, full - 1]);
        lens
    };
    for len in lens {
        let expected = if len < HEADER_LEN { HEADER_LEN } else { full };
        prop_assert_eq!(
            M::dec(&wire[..len]),
            Err(DecodeError::Incomplete { needed: expected }),
            "prefix of {} bytes out of {}",
            len,
            full
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn agent_messages_round_trip(m in agent_message(), tail in vec(any::<u8>(), 0..20)) {
        check_round_trip(&m, &tail)?;
    }

    #[test]
    fn dom0_messages_round_trip(m in dom0_message(), tail in vec(any::<u8>(), 0..20)) {
        check_round_trip(&m, &tail)?;
    }

    #[test]
    fn agent_messages_decode_in_sequence(ms in vec(agent_message(), 0..8)) {
        check_sequence(&ms)?;
    }

    #[test]
    fn dom0_messages_decode_in_sequence(ms in vec(dom0_message(), 0..8)) {
        check_sequence(&ms)?;
    }

    #[test]
    fn agent_prefixes_are_incomplete(m in agent_message(), picks in vec(any::<prop::sample::Index>(), 16)) {
        check_prefixes(&m, &picks)?;
    }

    #[test]
    fn dom0_prefixes_are_incomplete(m in dom0_message(), picks in vec(any::<prop::sample::Index>(), 16)) {
        check_prefixes(&m, &picks)?;
    }
}

#[test]
fn largest_clipboard_and_keymap_round_trip() {
    let data = vec![0x5a; MAX_CLIPBOARD_BYTES];
    let m = AgentMessage::ClipboardData {
        serial: 7,
        mime: format!("a/{}", "b".repeat(MAX_MIME_BYTES - 2)),
        data: data.clone(),
    };
    let wire = m.encode_to_vec().expect("valid");
    assert_eq!(
        wire.len(),
        HEADER_LEN + 4 + 2 + MAX_MIME_BYTES + 4 + MAX_CLIPBOARD_BYTES
    );
    assert!(wire.len() <= MAX_MESSAGE_LEN);
    assert_eq!(AgentMessage::decode(&wire), Ok((m, &[][..])));

    let paste = Dom0Message::ClipboardPaste {
        mime: "text/plain".into(),
        data,
    };
    let wire = paste.encode_to_vec().expect("valid");
    assert_eq!(Dom0Message::decode(&wire), Ok((paste, &[][..])));

    let keymap = Dom0Message::Keymap {
        xkb_text: "k".repeat(MAX_KEYMAP_BYTES),
    };
    let wire = keymap.encode_to_vec().expect("valid");
    assert_eq!(Dom0Message::decode(&wire), Ok((keymap, &[][..])));
}

/// The exact bytes of the documented layouts, so the docs and the code cannot drift.
#[test]
fn golden_bytes_match_the_documented_layout() {
    let hello = AgentMessage::Hello {
        version: PROTOCOL_VERSION,
        capabilities: Capabilities::CLIPBOARD | Capabilities::FRACTIONAL_SCALE,
    };
    assert_eq!(
        hello.encode_to_vec().expect("valid"),
        [
            0x01, 0x00, 0x00, 0x00, // type HELLO, reserved
            0x00, 0x00, 0x00, 0x00, // window 0
            0x0c, 0x00, 0x00, 0x00, // payload length 12
            0x01, 0x00, 0x00, 0x00, // version 1.0
            0x05, 0, 0, 0, 0, 0, 0, 0, // capabilities
        ]
    );

    let damage = AgentMessage::Damage {
        window: WindowId::new(0x0102_0304).expect("non-zero"),
        serial: 9,
        buffer: BufferDesc {
            offset: 0x2000,
            width: 2,
            height: 3,
            stride: 8,
            format: PixelFormat::Xrgb8888,
        },
        rects: vec![Rect {
            x: 1,
            y: 2,
            w: 1,
            h: 1,
        }],
    };
    assert_eq!(
        damage.encode_to_vec().expect("valid"),
        [
            0x20, 0x00, 0x00, 0x00, // type DAMAGE, reserved
            0x04, 0x03, 0x02, 0x01, // window
            0x30, 0x00, 0x00, 0x00, // payload length 48
            0x09, 0x00, 0x00, 0x00, // serial
            0x00, 0x20, 0, 0, 0, 0, 0, 0, // offset
            0x02, 0, 0, 0, 0x03, 0, 0, 0, 0x08, 0, 0, 0, // width, height, stride
            0x01, 0, 0, 0, // format xrgb8888
            0x01, 0, 0, 0, // one rectangle
            0x01, 0, 0, 0, 0x02, 0, 0, 0, 0x01, 0, 0, 0, 0x01, 0, 0, 0,
        ]
    );

    let key = Dom0Message::Key {
        time_ms: 0x10,
        keycode: 30,
        pressed: true,
    };
    assert_eq!(
        key.encode_to_vec().expect("valid"),
        [
            0x20, 0x80, 0, 0, 0, 0, 0, 0, 0x09, 0, 0, 0, // header
            0x10, 0, 0, 0, 30, 0, 0, 0, 1,
        ]
    );

    let popup = AgentMessage::CreateWindow {
        window: WindowId::new(2).expect("non-zero"),
        kind: WindowKind::Popup {
            parent: WindowId::new(1).expect("non-zero"),
            x: -1,
            y: 5,
        },
        size: Size::new(10, 20),
    };
    assert_eq!(
        popup.encode_to_vec().expect("valid"),
        [
            0x10, 0, 0, 0, 2, 0, 0, 0, 24, 0, 0, 0, // header
            1, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 5, 0, 0, 0, // popup of 1 at -1,5
            10, 0, 0, 0, 20, 0, 0, 0,
        ]
    );
}
