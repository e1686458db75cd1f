//! dom0's on-screen notices (what the clipboard moved, from where, to where; what was
//! refused). They are drawn by dom0 in a bar across the top of the output, above every
//! guest window (no guest pixel is ever drawn over them), and fade after a few seconds.
//! Time is passed in, so everything here is pure.

use std::time::{Duration, Instant};

/// How long a notice is fully shown.
pub const SHOW: Duration = Duration::from_secs(4);
/// How long it then takes to fade out.
pub const FADE: Duration = Duration::from_secs(1);
/// How many notices are shown at once (the newest).
pub const MAX_SHOWN: usize = 3;

/// Information or a refusal (drawn in a warning colour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// Something happened.
    Info,
    /// Something was refused.
    Refused,
}

/// One notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The text (dom0's own words; qube names come from dom0's configuration, MIME types
    /// passed the protocol's printable-ASCII check).
    pub text: String,
    /// Its kind.
    pub kind: NoticeKind,
    posted: Instant,
}

/// What the renderer draws for one notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeView {
    /// The text.
    pub text: String,
    /// Its kind.
    pub kind: NoticeKind,
    /// Opacity in tenths (10 = opaque).
    pub opacity: u8,
}

/// The notices on screen.
#[derive(Debug, Clone, Default)]
pub struct Notices {
    items: Vec<Notice>,
}

impl Notices {
    /// Shows a new notice (the oldest beyond [`MAX_SHOWN`] goes).
    pub fn post(&mut self, text: impl Into<String>, kind: NoticeKind, now: Instant) {
        let text = text.into();
        tracing::info!(notice = %text, "dom0 notice");
        self.items.push(Notice {
            text,
            kind,
            posted: now,
        });
        if self.items.len() > MAX_SHOWN {
            self.items.remove(0);
        }
    }

    /// Removes notices that have faded out. Returns whether any are left.
    pub fn expire(&mut self, now: Instant) -> bool {
        self.items
            .retain(|n| now.saturating_duration_since(n.posted) < SHOW + FADE);
        !self.items.is_empty()
    }

    /// The notices, oldest first.
    pub fn items(&self) -> &[Notice] {
        &self.items
    }

    /// Whether none are shown.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// What to draw at `now`, oldest first.
    pub fn views(&self, now: Instant) -> Vec<NoticeView> {
        self.items
            .iter()
            .filter_map(|n| {
                let age = now.saturating_duration_since(n.posted);
                let opacity = if age < SHOW {
                    10
                } else {
                    let left = (SHOW + FADE).checked_sub(age)?;
                    let tenths = left.as_millis() * 10 / FADE.as_millis().max(1);
                    u8::try_from(tenths.min(10)).ok().filter(|t| *t > 0)?
                };
                Some(NoticeView {
                    text: n.text.clone(),
                    kind: n.kind,
                    opacity,
                })
            })
            .collect()
    }
}

/// `12 bytes`, `3.4 KiB`, `1.2 MiB`.
pub fn human_size(len: usize) -> String {
    #[allow(clippy::cast_precision_loss, reason = "a size for people, one decimal")]
    let f = len as f64;
    match len {
        0..1024 => format!("{len} bytes"),
        1024..1_048_576 => format!("{:.1} KiB", f / 1024.0),
        _ => format!("{:.1} MiB", f / 1_048_576.0),
    }
}

/// Most characters of a qube's MIME type a notice shows. The type is the qube's own text:
/// notices name the qubes first and cut the type, so a long type can never push a qube's
/// name out of the notice's cell.
pub const MIME_SHOWN: usize = 32;

/// `mime` as a notice shows it: at most [`MIME_SHOWN`] characters, a cut marked with "…".
pub fn shown_mime(mime: &str) -> String {
    if mime.chars().count() <= MIME_SHOWN {
        return mime.to_owned();
    }
    let mut cut: String = mime.chars().take(MIME_SHOWN - 1).collect();
    cut.push('…');
    cut
}

/// The notice for a copy: `[qube]` first, then what was copied.
pub fn copied_text(from: &str, len: usize, mime: &str) -> String {
    format!(
        "Copied from [{from}]: {} {}",
        human_size(len),
        shown_mime(mime)
    )
}

/// The notice for a paste: both qubes first, then what was pasted.
pub fn pasted_text(from: &str, to: &str, len: usize, mime: &str) -> String {
    format!(
        "Pasted [{from}] → [{to}]: {} {}",
        human_size(len),
        shown_mime(mime)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qube_names_come_before_the_qubes_own_mime_text() {
        let hostile = format!("text/plain;from=[work];{}", "x".repeat(104));
        assert_eq!(hostile.len(), 127, "the protocol's longest MIME type");
        let copied = copied_text("untrusted", 5, &hostile);
        assert!(copied.starts_with("Copied from [untrusted]: 5 bytes text/plain;from=[work]"));
        assert!(copied.ends_with('…'), "{copied}");
        assert_eq!(
            copied.chars().count(),
            "Copied from [untrusted]: 5 bytes ".len() + MIME_SHOWN
        );
        let pasted = pasted_text("untrusted", "work", 5, &hostile);
        assert!(pasted.starts_with("Pasted [untrusted] → [work]: 5 bytes "));
        assert_eq!(shown_mime("image/png"), "image/png");
        assert_eq!(shown_mime(&"a".repeat(MIME_SHOWN)), "a".repeat(MIME_SHOWN));
        assert_eq!(
            shown_mime(&"a".repeat(MIME_SHOWN + 1)).chars().count(),
            MIME_SHOWN
        );
    }

    #[test]
    fn notices_show_fade_and_go() {
        let t0 = Instant::now();
        let mut n = Notices::default();
        n.post("one", NoticeKind::Info, t0);
        assert_eq!(n.views(t0)[0].opacity, 10);
        assert_eq!(n.views(t0 + SHOW + FADE / 2)[0].opacity, 5);
        assert!(n.views(t0 + SHOW + FADE).is_empty());
        assert!(n.expire(t0 + SHOW));
        assert!(!n.expire(t0 + SHOW + FADE));
        for i in 0..5 {
            n.post(format!("{i}"), NoticeKind::Refused, t0);
        }
        assert_eq!(n.items().len(), MAX_SHOWN);
        assert_eq!(n.items()[0].text, "2");
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(12), "12 bytes");
        assert_eq!(human_size(2048), "2.0 KiB");
        assert_eq!(human_size(4 * 1024 * 1024), "4.0 MiB");
    }
}
