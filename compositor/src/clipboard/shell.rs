//! The clipboard's thin shell: the gestures send requests and pastes over the qubes'
//! connections, the answers come in from them, and every step shows a dom0 notice.

use std::time::{Duration, Instant};

use bulkhead_protocol::Dom0Message;
use smithay::reexports::calloop::timer::{TimeoutAction, Timer};

use super::{Answer, Paste, wipe};
use crate::desktop::QubeId;
use crate::notice::{NoticeKind, copied_text, human_size, pasted_text};
use crate::state::{Dom0, State};

/// How often fading notices are redrawn.
const FADE_TICK: Duration = Duration::from_millis(100);

impl Dom0 {
    /// A qube's answer to a copy request (`data: None` for `ClipboardEmpty`), straight from
    /// its connection. Unasked or stale answers are dropped (logged, no notice).
    pub fn clipboard_answer(&mut self, qube: QubeId, serial: u32, data: Option<(String, Vec<u8>)>) {
        let name = self.qube_name(qube);
        let now = Instant::now();
        match self.clipboard.answer(qube, serial, data) {
            Answer::Copied { len, mime } => {
                self.notices
                    .post(copied_text(&name, len, &mime), NoticeKind::Info, now)
            }
            Answer::Empty => self.notices.post(
                format!("Nothing to copy in [{name}]"),
                NoticeKind::Info,
                now,
            ),
            Answer::TooLarge { len, limit } => {
                tracing::warn!(?qube, len, limit, "clipboard data over the limit dropped");
                self.notices.post(
                    format!(
                        "Copy from [{name}] refused: {} is over the {} limit",
                        human_size(len),
                        human_size(limit)
                    ),
                    NoticeKind::Refused,
                    now,
                );
            }
            Answer::Unasked => {
                tracing::warn!(?qube, serial, "clipboard answer nobody asked for dropped");
                return;
            }
        }
        self.needs_redraw = true;
    }
}

impl State {
    /// Ctrl+Shift+C in `qube`'s window: ask it for its selection.
    pub fn clipboard_copy(&mut self, qube: QubeId) {
        let serial = self.dom0.clipboard.copy_gesture(qube);
        tracing::debug!(?qube, serial, "clipboard copy gesture");
        if let Err(v) = self
            .qubes
            .send(qube, &Dom0Message::ClipboardRequest { serial })
        {
            self.disconnect(qube, &v);
        }
    }

    /// Ctrl+Shift+V in `target`'s window: hand it dom0's buffer if the policy allows, then
    /// wipe every copy dom0 made.
    pub fn clipboard_paste(&mut self, target: QubeId) {
        let d = &mut self.dom0;
        let names = |q| d.desktop.qube(q).map(|q| q.name.to_string());
        let outcome = d.clipboard.paste(target, names);
        let to = d.qube_name(target);
        let now = Instant::now();
        match outcome {
            Paste::Send { source, mime, data } => {
                let from = d.qube_name(source);
                let len = data.len();
                let mut message = Dom0Message::ClipboardPaste {
                    mime: mime.clone(),
                    data,
                };
                let sent = self.qubes.send_secret(target, &message);
                if let Dom0Message::ClipboardPaste { data, .. } = &mut message {
                    wipe(data);
                }
                let d = &mut self.dom0;
                match sent {
                    Ok(()) => {
                        d.notices
                            .post(pasted_text(&from, &to, len, &mime), NoticeKind::Info, now)
                    }
                    Err(v) => {
                        d.notices.post(
                            format!("Paste into [{to}] failed"),
                            NoticeKind::Refused,
                            now,
                        );
                        self.disconnect(target, &v);
                    }
                }
            }
            Paste::Empty => d.notices.post(
                "Nothing to paste: copy with Ctrl+Shift+C first",
                NoticeKind::Refused,
                now,
            ),
            Paste::Refused { source } => {
                let from = d.qube_name(source);
                tracing::info!(%from, %to, "paste refused by policy");
                d.notices.post(
                    format!("Paste from [{from}] into [{to}] refused by policy"),
                    NoticeKind::Refused,
                    now,
                );
            }
        }
        self.dom0.needs_redraw = true;
    }

    /// While notices are shown, a timer redraws them as they fade and removes them.
    pub(crate) fn arm_notice_timer(&mut self) {
        if self.dom0.notice_timer || self.dom0.notices.is_empty() {
            return;
        }
        let Some(handle) = self.qubes.loop_handle() else {
            return;
        };
        let armed = handle.insert_source(Timer::from_duration(FADE_TICK), |_, _, state| {
            state.dom0.needs_redraw = true;
            if state.dom0.notices.expire(Instant::now()) {
                TimeoutAction::ToDuration(FADE_TICK)
            } else {
                state.dom0.notice_timer = false;
                TimeoutAction::Drop
            }
        });
        match armed {
            Ok(_) => self.dom0.notice_timer = true,
            Err(e) => tracing::error!(error = %e, "cannot arm the notice timer"),
        }
    }
}
