//! A hostile qube against the real compositor process, over the real shared-memory
//! connection: it pushes clipboard data nobody asked for (even at the size limit), races
//! to answer another qube's request with a guessed serial, and watches for input meant for
//! others. Stand-in agents speak the protocol directly, so every message is observed.
//! Afterwards: nothing crossed without the gesture, the gesture's C and V never reached a
//! qube, keys went only to the focused qube, and the paste arrived byte for byte.

mod common;

use std::time::Duration;

use bulkhead_compositor::control::Request;
use bulkhead_protocol::{AgentMessage, Capabilities, Dom0Message, MAX_CLIPBOARD_BYTES};
use common::standin::{Compositor, StandIn, TIMEOUT};

/// Connects a stand-in for `qube`, says hello (offering the clipboard) and shows one 64×48
/// window, without waiting for dom0's answers.
fn connect(c: &Compositor, qube: &str) -> StandIn {
    let mut s = StandIn::connect(&c.socket(qube));
    s.send_hello(Capabilities::CLIPBOARD);
    s.window(1, 64, 48, 0);
    s
}

fn keys_of(messages: &[Dom0Message]) -> Vec<(u32, bool)> {
    messages
        .iter()
        .filter_map(|m| match m {
            Dom0Message::Key {
                keycode, pressed, ..
            } => Some((*keycode, *pressed)),
            _ => None,
        })
        .collect()
}

fn is_input(m: &Dom0Message) -> bool {
    matches!(
        m,
        Dom0Message::Key { .. }
            | Dom0Message::Modifiers { .. }
            | Dom0Message::PointerEnter { .. }
            | Dom0Message::PointerMotion { .. }
            | Dom0Message::PointerButton { .. }
            | Dom0Message::PointerAxis { .. }
            | Dom0Message::ClipboardRequest { .. }
            | Dom0Message::ClipboardPaste { .. }
            | Dom0Message::FocusIn { .. }
    )
}

#[test]
fn a_hostile_qube_gets_no_data_and_no_input_without_the_gesture() {
    let c = Compositor::start(&[]);
    let mut good = connect(&c, "good");
    let mut bad = connect(&c, "bad");
    let quiet = Duration::from_millis(300);
    let hello = good.drain(quiet);
    assert!(matches!(hello[0], Dom0Message::HelloAck { .. }));
    assert!(
        matches!(&hello[1], Dom0Message::Keymap { xkb_text } if xkb_text.starts_with("xkb_keymap")),
        "dom0's keymap follows HelloAck: {:?}",
        hello.get(1).map(Dom0Message::message_type)
    );
    bad.drain(quiet);

    // Unasked data, up to the limit: dropped, the qube stays connected, no notice.
    for serial in [0, 1, 2, u32::MAX] {
        bad.send(&AgentMessage::ClipboardData {
            serial,
            mime: "text/plain".into(),
            data: b"pushed".to_vec(),
        });
    }
    let big = AgentMessage::ClipboardData {
        serial: 1,
        mime: "text/plain".into(),
        data: vec![7; MAX_CLIPBOARD_BYTES],
    };
    let _ = bad.ep.send_blocking(&big.encode_to_vec().unwrap(), TIMEOUT);
    bad.drain(quiet);
    assert_eq!(c.clipboard().source, None);
    assert_eq!(c.notices(), Vec::<String>::new());

    // The user copies in good's window.
    c.click_qube("good", false);
    c.keys(&[
        (29, true),
        (42, true),
        (46, true),
        (46, false),
        (42, false),
        (29, false),
    ]);
    let to_good = good.drain(quiet);
    let serial = to_good
        .iter()
        .find_map(|m| match m {
            Dom0Message::ClipboardRequest { serial } => Some(*serial),
            _ => None,
        })
        .expect("a clipboard request for good");
    assert_eq!(
        keys_of(&to_good),
        [(29, true), (42, true), (42, false), (29, false)],
        "C of the gesture never reached the qube"
    );
    assert!(
        to_good
            .iter()
            .any(|m| matches!(m, Dom0Message::Modifiers { depressed: 5, .. })),
        "Ctrl+Shift held"
    );
    let to_bad = bad.drain(quiet);
    assert!(
        !to_bad.iter().any(is_input),
        "input or a request for the unfocused qube: {to_bad:?}"
    );

    // bad races with the serial it guesses; then good answers (twice).
    bad.send(&AgentMessage::ClipboardData {
        serial,
        mime: "text/plain".into(),
        data: b"forged".to_vec(),
    });
    bad.drain(quiet);
    assert_eq!(
        c.clipboard().source,
        None,
        "another qube's answer was taken"
    );
    let image: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    good.send(&AgentMessage::ClipboardData {
        serial,
        mime: "image/png".into(),
        data: image.clone(),
    });
    good.send(&AgentMessage::ClipboardData {
        serial,
        mime: "text/plain".into(),
        data: b"second answer".to_vec(),
    });
    good.drain(quiet);
    let info = c.clipboard();
    assert_eq!(info.source.as_deref(), Some("good"));
    assert_eq!(
        (info.mime.as_deref(), info.bytes),
        (Some("image/png"), image.len())
    );

    // The user pastes in bad's window: bad gets exactly the bytes, good nothing.
    c.click_qube("bad", true);
    c.keys(&[
        (29, true),
        (42, true),
        (47, true),
        (47, false),
        (42, false),
        (29, false),
    ]);
    let to_bad = bad.drain(quiet);
    let pasted: Vec<_> = to_bad
        .iter()
        .filter_map(|m| match m {
            Dom0Message::ClipboardPaste { mime, data } => Some((mime.clone(), data.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(pasted, [("image/png".to_owned(), image)]);
    assert_eq!(
        keys_of(&to_bad),
        [(29, true), (42, true), (42, false), (29, false)]
    );
    let to_good = good.drain(quiet);
    assert!(
        !to_good.iter().any(|m| matches!(
            m,
            Dom0Message::Key { .. } | Dom0Message::ClipboardPaste { .. }
        )),
        "{to_good:?}"
    );
    assert_eq!(
        c.clipboard().bytes,
        0,
        "dom0's buffer is empty after the paste"
    );
    assert_eq!(
        c.control(Request::ListWindows).windows.unwrap().len(),
        2,
        "both connected"
    );
}
