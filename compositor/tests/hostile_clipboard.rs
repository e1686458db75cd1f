//! A hostile qube against the clipboard's entry point (`Dom0::clipboard_answer`, which the
//! connection handler calls for every `ClipboardData`/`ClipboardEmpty`): data pushed
//! unasked, answers to another qube's request, stale serials after a newer gesture, second
//! answers, oversized data and floods are all dropped; only the user's gestures move data.

use bulkhead_border_theme::{Label, QubeName, Theme};
use bulkhead_compositor::backend::{Backend, Headless};
use bulkhead_compositor::clipboard::{Clipboard, ClipboardPolicy};
use bulkhead_compositor::desktop::{QubeId, Size};
use bulkhead_compositor::qube::QubeLinks;
use bulkhead_compositor::render::text::TitleFont;
use bulkhead_compositor::state::{Dom0, State};

fn setup(policy: &str) -> (State, QubeId, QubeId) {
    let backend = Backend::Headless(Box::new(Headless::new(Size::new(800, 600)).unwrap()));
    let font = TitleFont::load_default().expect("fonts-dejavu-core must be installed");
    let mut dom0 = Dom0::new(&backend, Theme::default(), font, false);
    dom0.clipboard = Clipboard::new(ClipboardPolicy::parse(policy).unwrap());
    let work = dom0
        .desktop
        .add_qube(QubeName::new("work").unwrap(), Label::Blue)
        .unwrap();
    let bad = dom0
        .desktop
        .add_qube(QubeName::new("untrusted").unwrap(), Label::Red)
        .unwrap();
    let state = State {
        backend,
        dom0,
        qubes: QubeLinks::default(),
    };
    (state, work, bad)
}

fn data(n: usize) -> Option<(String, Vec<u8>)> {
    Some(("text/plain".to_owned(), vec![b'x'; n]))
}

fn nothing_held(s: &State) {
    assert!(
        s.dom0.clipboard.held().is_none(),
        "data crossed without a gesture"
    );
}

#[test]
fn unasked_and_foreign_answers_are_dropped() {
    let (mut s, work, bad) = setup("");
    // Pushed with no gesture at all, with every plausible serial.
    for serial in [0, 1, 2, u32::MAX] {
        s.dom0.clipboard_answer(bad, serial, data(10));
        s.dom0.clipboard_answer(bad, serial, None);
    }
    nothing_held(&s);
    assert!(s.dom0.notices.is_empty(), "no notice for dropped data");

    // The user copies in work; untrusted races to answer work's request.
    s.clipboard_copy(work);
    let (_, serial) = s.dom0.clipboard.pending().unwrap();
    s.dom0.clipboard_answer(bad, serial, data(5));
    nothing_held(&s);
    s.dom0
        .clipboard_answer(work, serial.wrapping_add(1), data(5));
    nothing_held(&s);

    // A newer gesture makes the old serial stale.
    s.clipboard_copy(work);
    s.dom0.clipboard_answer(work, serial, data(6));
    nothing_held(&s);
    let (_, newer) = s.dom0.clipboard.pending().unwrap();
    s.dom0.clipboard_answer(work, newer, data(7));
    assert_eq!(s.dom0.clipboard.held().unwrap().len(), 7);
    // A second answer to the same request changes nothing.
    s.dom0.clipboard_answer(work, newer, data(8));
    assert_eq!(s.dom0.clipboard.held().unwrap().len(), 7);

    // The paste empties dom0's buffer.
    s.clipboard_paste(bad);
    nothing_held(&s);
    let texts: Vec<&str> = s
        .dom0
        .notices
        .items()
        .iter()
        .map(|n| n.text.as_str())
        .collect();
    assert_eq!(
        texts,
        [
            "Copied from [work]: 7 bytes text/plain",
            "Pasted [work] → [untrusted]: 7 bytes text/plain"
        ]
    );
}

#[test]
fn oversized_data_and_floods_are_refused() {
    let (mut s, work, bad) = setup("max_bytes = 1000");
    s.clipboard_copy(bad);
    let (_, serial) = s.dom0.clipboard.pending().unwrap();
    s.dom0.clipboard_answer(bad, serial, data(1001));
    nothing_held(&s);
    assert!(s.dom0.notices.items()[0].text.contains("refused"));
    for i in 0..10_000u32 {
        s.dom0.clipboard_answer(bad, i, data(100));
    }
    nothing_held(&s);
    assert_eq!(s.dom0.notices.items().len(), 1, "floods make no notices");
    // Nothing to paste: a notice, nothing sent.
    s.clipboard_paste(work);
    nothing_held(&s);
}

#[test]
fn a_denied_pair_keeps_the_buffer_and_moves_nothing() {
    let (mut s, work, bad) = setup("default = \"deny\"\nallow_same_qube = false");
    s.clipboard_copy(work);
    let (_, serial) = s.dom0.clipboard.pending().unwrap();
    s.dom0.clipboard_answer(work, serial, data(3));
    s.clipboard_paste(bad);
    s.clipboard_paste(work);
    assert_eq!(s.dom0.clipboard.held().unwrap().len(), 3);
    assert!(
        s.dom0
            .notices
            .items()
            .iter()
            .any(|n| n.text == "Paste from [work] into [untrusted] refused by policy")
    );
}
