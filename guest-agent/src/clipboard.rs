//! The qube's side of dom0's mediated clipboard (DESIGN.md: only the user's gesture in
//! dom0 moves data between qubes).
//!
//! `ClipboardRequest` (the user copied in one of this qube's windows): the agent reads the
//! qube's current selection from the client that owns it and answers `ClipboardData`, or
//! `ClipboardEmpty` when there is nothing, it is too large, or the owner is too slow.
//! `ClipboardPaste` (the user pasted into this qube): the data becomes the qube's
//! selection, served by the agent to whichever client pastes. Transfers run on short-lived
//! threads so a client that never reads or writes cannot stall the agent.

use std::fs::File;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use bulkhead_protocol::{MAX_CLIPBOARD_BYTES, MAX_MIME_BYTES};
use smithay::reexports::calloop::channel::Sender;
use smithay::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay::wayland::selection::data_device::{
    current_data_device_selection_userdata, request_data_device_client_selection,
    set_data_device_selection,
};

use crate::link::AgentMessage;
use crate::state::Agent;

/// How long the selection's owner has to hand over its data.
const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// Data dom0 pasted into the qube: the selection the agent itself offers.
#[derive(Debug)]
pub struct Pasted {
    /// Its MIME type.
    pub mime: String,
    /// The bytes.
    pub data: Vec<u8>,
}

/// What a reader thread found.
#[derive(Debug)]
pub struct Reply {
    serial: u32,
    mime: String,
    data: Option<Vec<u8>>,
}

/// Clipboard bookkeeping.
#[derive(Debug)]
pub struct ClipboardState {
    /// MIME types of the selection a client offers now (empty: none, or the agent's own).
    pub offered: Vec<String>,
    /// The request being answered.
    pending: Option<u32>,
    replies: Sender<Reply>,
}

impl ClipboardState {
    /// Replies from reader threads go to `replies`.
    pub fn new(replies: Sender<Reply>) -> Self {
        ClipboardState {
            offered: Vec::new(),
            pending: None,
            replies,
        }
    }
}

/// True if `mime` passes the wire's rule: printable ASCII without spaces, `type/subtype`.
pub fn valid_mime(mime: &str) -> bool {
    mime.len() <= MAX_MIME_BYTES
        && mime.bytes().all(|b| (0x21..=0x7e).contains(&b))
        && mime
            .split_once('/')
            .is_some_and(|(ty, sub)| !ty.is_empty() && !sub.is_empty())
}

/// The MIME type to ask for among `offered`: UTF-8 text first, then any text, then the
/// first valid one.
pub fn preferred_mime(offered: &[String]) -> Option<&str> {
    let valid = || offered.iter().map(String::as_str).filter(|m| valid_mime(m));
    valid()
        .find(|m| m.eq_ignore_ascii_case("text/plain;charset=utf-8"))
        .or_else(|| valid().find(|m| *m == "text/plain"))
        .or_else(|| valid().find(|m| m.starts_with("text/")))
        .or_else(|| valid().next())
}

/// The MIME types the agent offers for data of type `mime` (text gets the usual aliases).
pub fn offered_for(mime: &str) -> Vec<String> {
    let mut mimes = vec![mime.to_owned()];
    if mime.starts_with("text/plain") {
        for alias in [
            "text/plain;charset=utf-8",
            "text/plain",
            "UTF8_STRING",
            "STRING",
            "TEXT",
        ] {
            if !mimes.iter().any(|m| m == alias) {
                mimes.push(alias.to_owned());
            }
        }
    }
    mimes
}

/// Reads at most `MAX_CLIPBOARD_BYTES`; `None` if there is more (or the read fails).
fn read_limited(file: File) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let limit = u64::try_from(MAX_CLIPBOARD_BYTES).unwrap_or(u64::MAX) + 1;
    file.take(limit).read_to_end(&mut data).ok()?;
    (data.len() <= MAX_CLIPBOARD_BYTES).then_some(data)
}

impl Agent {
    /// dom0 asks for the qube's selection (the user's copy gesture).
    pub(crate) fn clipboard_request(&mut self, serial: u32) {
        if let Some(old) = self.clipboard.pending.take() {
            self.send(AgentMessage::ClipboardEmpty { serial: old });
        }
        // The selection may be the agent's own (pasted from dom0 earlier).
        let own = current_data_device_selection_userdata(&self.wayland.seat)
            .map(|pasted| (pasted.mime.clone(), pasted.data.clone()));
        if let Some((mime, data)) = own {
            self.send(AgentMessage::ClipboardData { serial, mime, data });
            return;
        }
        let Some(mime) = preferred_mime(&self.clipboard.offered).map(str::to_owned) else {
            self.send(AgentMessage::ClipboardEmpty { serial });
            return;
        };
        let (read, write) = match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) {
            Ok(pipe) => pipe,
            Err(err) => {
                tracing::error!(%err, "cannot create a pipe for the clipboard");
                self.send(AgentMessage::ClipboardEmpty { serial });
                return;
            }
        };
        if let Err(err) =
            request_data_device_client_selection(&self.wayland.seat, mime.clone(), write)
        {
            tracing::debug!(%err, "the selection went away");
            self.send(AgentMessage::ClipboardEmpty { serial });
            return;
        }
        self.clipboard.pending = Some(serial);
        let replies = self.clipboard.replies.clone();
        std::thread::spawn(move || {
            let data = read_limited(File::from(read));
            // The agent may be gone; nothing to do then.
            let _ = replies.send(Reply { serial, mime, data });
        });
        let armed = self.runtime.handle.insert_source(
            Timer::from_duration(READ_TIMEOUT),
            move |_, _, agent| {
                if agent.clipboard.pending == Some(serial) {
                    tracing::warn!("the selection's owner did not hand over its data in time");
                    agent.clipboard.pending = None;
                    agent.send(AgentMessage::ClipboardEmpty { serial });
                }
                TimeoutAction::Drop
            },
        );
        if let Err(err) = armed {
            tracing::error!(%err, "cannot arm the clipboard timer");
        }
    }

    /// A reader thread finished.
    pub fn clipboard_reply(&mut self, reply: Reply) {
        if self.clipboard.pending != Some(reply.serial) {
            return;
        }
        self.clipboard.pending = None;
        let serial = reply.serial;
        match reply.data {
            Some(data) => self.send(AgentMessage::ClipboardData {
                serial,
                mime: reply.mime,
                data,
            }),
            None => {
                tracing::warn!("the selection is unreadable or over the size limit");
                self.send(AgentMessage::ClipboardEmpty { serial });
            }
        }
    }

    /// dom0 pastes into the qube (the user's paste gesture): the data becomes the
    /// qube's selection.
    pub(crate) fn clipboard_paste(&mut self, mime: String, data: Vec<u8>) {
        let mimes = offered_for(&mime);
        self.clipboard.offered.clear();
        set_data_device_selection(
            &self.wayland.display,
            &self.wayland.seat,
            mimes,
            Arc::new(Pasted { mime, data }),
        );
    }

    /// A client pastes the agent's own selection: write it on a thread.
    pub(crate) fn serve_pasted(&self, pasted: Arc<Pasted>, fd: std::os::fd::OwnedFd) {
        std::thread::spawn(move || {
            let mut file = File::from(fd);
            if let Err(err) = file.write_all(&pasted.data) {
                tracing::debug!(%err, "a client stopped reading the clipboard");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_types_are_checked_and_text_is_preferred() {
        assert!(valid_mime("text/plain;charset=utf-8"));
        assert!(!valid_mime("text plain/x"));
        assert!(!valid_mime("UTF8_STRING"));
        assert!(!valid_mime("/plain"));
        let offered: Vec<String> = ["UTF8_STRING", "image/png", "text/plain", "text/html"]
            .map(String::from)
            .to_vec();
        assert_eq!(preferred_mime(&offered), Some("text/plain"));
        assert_eq!(preferred_mime(&offered[1..2]), Some("image/png"));
        assert_eq!(preferred_mime(&offered[..1]), None);
        assert!(offered_for("text/plain").contains(&"UTF8_STRING".to_owned()));
        assert_eq!(offered_for("image/png"), vec!["image/png".to_owned()]);
    }
}
