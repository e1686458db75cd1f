//! The mediated clipboard, decided purely (DESIGN.md: data moves between qubes only by the
//! user's gesture in dom0, through a dom0 buffer, under a policy, with a visible notice).
//!
//! - Ctrl+Shift+C in a qube's window: [`Clipboard::copy_gesture`] wipes the buffer and
//!   returns a fresh serial; dom0 sends `ClipboardRequest{serial}` to that qube.
//! - The qube answers: [`Clipboard::answer`] accepts it only from that qube, with the latest
//!   serial, once, and within the policy's size limit. Anything else (unasked, stale after a
//!   newer gesture, from another qube, a second answer) is dropped.
//! - Ctrl+Shift+V in a qube's window: [`Clipboard::paste`] hands the buffer out if the
//!   policy allows source → target, and the buffer is then empty; the caller wipes its copy
//!   after sending it.
//!
//! Wiping overwrites the bytes with zeros before the memory is freed (best effort: safe
//! Rust cannot rule out copies a reallocation left behind, so buffers are never grown).

pub mod policy;
pub mod shell;

use crate::desktop::QubeId;
pub use policy::ClipboardPolicy;

/// Overwrites `data` with zeros and empties it.
pub fn wipe(data: &mut Vec<u8>) {
    data.fill(0);
    std::hint::black_box(&data);
    data.clear();
}

/// What dom0's buffer holds.
#[derive(Debug, PartialEq, Eq)]
pub struct Held {
    /// The qube it was copied from.
    pub source: QubeId,
    /// Its MIME type, as the source said (checked by the protocol decoder).
    pub mime: String,
    data: Vec<u8>,
}

impl Held {
    /// How many bytes.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        wipe(&mut self.data);
    }
}

/// The result of a qube's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Accepted into the buffer.
    Copied {
        /// Bytes.
        len: usize,
        /// MIME type.
        mime: String,
    },
    /// The qube had no selection.
    Empty,
    /// Over the policy's size limit: dropped.
    TooLarge {
        /// Bytes sent.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Not an answer to the latest gesture's request from this qube: dropped unread.
    Unasked,
}

/// The result of a paste gesture.
#[derive(Debug, PartialEq, Eq)]
pub enum Paste {
    /// Send this to the target; the buffer is now empty. The caller wipes `data` after.
    Send {
        /// The source qube.
        source: QubeId,
        /// MIME type.
        mime: String,
        /// The bytes.
        data: Vec<u8>,
    },
    /// Nothing to paste (no copy, or it was already pasted).
    Empty,
    /// The policy forbids source → target; the buffer is kept.
    Refused {
        /// The source qube.
        source: QubeId,
    },
}

/// The clipboard's state.
#[derive(Debug, Default)]
pub struct Clipboard {
    /// The policy in force.
    pub policy: ClipboardPolicy,
    next_serial: u32,
    pending: Option<(QubeId, u32)>,
    held: Option<Held>,
}

impl Clipboard {
    /// An empty clipboard under `policy`.
    pub fn new(policy: ClipboardPolicy) -> Clipboard {
        Clipboard {
            policy,
            ..Clipboard::default()
        }
    }

    /// What the buffer holds (never the bytes).
    pub fn held(&self) -> Option<&Held> {
        self.held.as_ref()
    }

    /// The request waiting for an answer.
    pub fn pending(&self) -> Option<(QubeId, u32)> {
        self.pending
    }

    /// The copy gesture in `qube`'s window: the old buffer is wiped, older requests become
    /// stale. Returns the serial to send in `ClipboardRequest`.
    pub fn copy_gesture(&mut self, qube: QubeId) -> u32 {
        self.held = None;
        self.next_serial = self.next_serial.wrapping_add(1).max(1);
        self.pending = Some((qube, self.next_serial));
        self.next_serial
    }

    /// A qube's `ClipboardData` (`Some`) or `ClipboardEmpty` (`None`).
    pub fn answer(&mut self, qube: QubeId, serial: u32, data: Option<(String, Vec<u8>)>) -> Answer {
        if self.pending != Some((qube, serial)) {
            if let Some((_, mut d)) = data {
                wipe(&mut d);
            }
            return Answer::Unasked;
        }
        self.pending = None;
        match data {
            None => Answer::Empty,
            Some((_, mut d)) if d.len() > self.policy.max_bytes => {
                let len = d.len();
                wipe(&mut d);
                Answer::TooLarge {
                    len,
                    limit: self.policy.max_bytes,
                }
            }
            Some((mime, data)) => {
                let answer = Answer::Copied {
                    len: data.len(),
                    mime: mime.clone(),
                };
                self.held = Some(Held {
                    source: qube,
                    mime,
                    data,
                });
                answer
            }
        }
    }

    /// The paste gesture in `target`'s window. `name` gives a qube's name for the policy.
    pub fn paste(&mut self, target: QubeId, name: impl Fn(QubeId) -> Option<String>) -> Paste {
        let Some(held) = &self.held else {
            return Paste::Empty;
        };
        let source = held.source;
        let allowed = match (name(source), name(target)) {
            (Some(from), Some(to)) => self.policy.allows(&from, &to),
            _ => false,
        };
        if !allowed {
            return Paste::Refused { source };
        }
        let Some(mut held) = self.held.take() else {
            return Paste::Empty;
        };
        Paste::Send {
            source,
            mime: std::mem::take(&mut held.mime),
            data: std::mem::take(&mut held.data),
        }
    }

    /// A qube went away: its outstanding request can no longer be answered.
    pub fn qube_gone(&mut self, qube: QubeId) {
        if self.pending.is_some_and(|(q, _)| q == qube) {
            self.pending = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORK: QubeId = QubeId(1);
    const BAD: QubeId = QubeId(2);

    fn names(q: QubeId) -> Option<String> {
        Some(if q == WORK { "work" } else { "untrusted" }.to_owned())
    }

    fn text(s: &str) -> Option<(String, Vec<u8>)> {
        Some(("text/plain".to_owned(), s.as_bytes().to_vec()))
    }

    #[test]
    fn copy_then_paste_moves_the_bytes_once() {
        let mut c = Clipboard::default();
        let s = c.copy_gesture(WORK);
        assert_eq!(
            c.answer(WORK, s, text("hi")),
            Answer::Copied {
                len: 2,
                mime: "text/plain".into()
            }
        );
        assert_eq!(c.held().unwrap().len(), 2);
        assert_eq!(
            c.paste(BAD, names),
            Paste::Send {
                source: WORK,
                mime: "text/plain".into(),
                data: b"hi".to_vec()
            }
        );
        assert!(c.held().is_none(), "wiped after the paste");
        assert_eq!(c.paste(BAD, names), Paste::Empty);
    }

    #[test]
    fn unasked_stale_foreign_and_repeated_answers_are_dropped() {
        let mut c = Clipboard::default();
        assert_eq!(c.answer(WORK, 1, text("unasked")), Answer::Unasked);
        let old = c.copy_gesture(WORK);
        let new = c.copy_gesture(WORK);
        assert_ne!(old, new);
        assert_eq!(c.answer(WORK, old, text("stale")), Answer::Unasked);
        assert_eq!(
            c.answer(BAD, new, text("not asked of you")),
            Answer::Unasked
        );
        assert!(c.held().is_none());
        assert!(matches!(
            c.answer(WORK, new, text("ok")),
            Answer::Copied { .. }
        ));
        assert_eq!(c.answer(WORK, new, text("again")), Answer::Unasked);
        assert_eq!(c.held().unwrap().len(), 2);
        // A new gesture wipes the buffer at once.
        let s = c.copy_gesture(BAD);
        assert!(c.held().is_none());
        assert_eq!(c.answer(BAD, s, None), Answer::Empty);
        assert_eq!(c.paste(WORK, names), Paste::Empty);
    }

    #[test]
    fn size_limit_and_policy() {
        let policy = ClipboardPolicy::parse(
            "max_bytes = 4\n[[rule]]\nfrom = \"untrusted\"\nto = \"work\"\naction = \"deny\"",
        )
        .unwrap();
        let mut c = Clipboard::new(policy);
        let s = c.copy_gesture(BAD);
        assert_eq!(
            c.answer(BAD, s, text("12345")),
            Answer::TooLarge { len: 5, limit: 4 }
        );
        assert!(c.held().is_none());
        let s = c.copy_gesture(BAD);
        c.answer(BAD, s, text("1234"));
        assert_eq!(c.paste(WORK, names), Paste::Refused { source: BAD });
        assert!(c.held().is_some(), "a refused paste keeps the buffer");
        assert!(
            matches!(c.paste(BAD, names), Paste::Send { .. }),
            "same qube"
        );
    }

    #[test]
    fn wipe_zeroes() {
        let mut v = vec![1u8, 2, 3];
        wipe(&mut v);
        assert!(v.is_empty());
    }
}
