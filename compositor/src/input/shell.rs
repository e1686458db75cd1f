//! The thin shell around [`super::route`]: feeds real and injected input through the same
//! decisions and sends what they decided over the qubes' connections.

use bulkhead_protocol::{Axis, Dom0Message};

use super::BTN_LEFT;
use super::keyboard::{Keyboard, Mods};
use super::route::{Effect, RawInput, XKB_OFFSET, route};
use crate::control::{MAX_TYPE_CHARS, Request, Response};
use crate::desktop::Point;
use crate::state::State;

/// evdev code of the left Shift key.
const KEY_LEFTSHIFT: u32 = 42;

/// `Modifiers` for a qube.
pub fn modifiers_message(m: Mods) -> Dom0Message {
    Dom0Message::Modifiers {
        depressed: m.depressed,
        latched: m.latched,
        locked: m.locked,
        group: m.group,
    }
}

impl State {
    /// One input event, real (a backend) or injected (the control socket): decided by
    /// [`route`], then carried out.
    pub fn input(&mut self, input: RawInput) {
        // dom0's own modifier state follows every key it receives.
        let mods_changed = match (input, &mut self.dom0.keyboard) {
            (RawInput::Key { keycode, pressed }, Some(k)) => k.update(keycode, pressed),
            _ => false,
        };
        let effects = route(&mut self.dom0.desktop, &mut self.dom0.input, input);
        self.apply_effects(effects);
        // The focused qube follows the modifiers (also when the key itself was not its:
        // a Ctrl pressed while another qube had the focus is released here), except while
        // Super is held: a Super chord's keys are all dom0's, the qube learns the masks
        // held once Super is let go.
        let state = &mut self.dom0.input;
        let tell = if state.super_held() {
            state.mods_withheld |= mods_changed;
            false
        } else {
            mods_changed | std::mem::take(&mut state.mods_withheld)
        };
        if let (true, Some(qube), Some(k)) =
            (tell, self.dom0.desktop.focused_qube(), &self.dom0.keyboard)
        {
            if let Err(v) = self.qubes.send(qube, &modifiers_message(k.mods())) {
                self.disconnect(qube, &v);
            }
        }
    }

    /// Carries out what [`route`] decided.
    pub(crate) fn apply_effects(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Send(qube, event) => {
                    let time = self.dom0.now_ms();
                    if let Err(v) = self.qubes.send_input(qube, &event, time) {
                        self.disconnect(qube, &v);
                    }
                }
                Effect::ClipboardCopy(qube) => self.clipboard_copy(qube),
                Effect::ClipboardPaste(qube) => self.clipboard_paste(qube),
                Effect::Redraw => self.dom0.needs_redraw = true,
                Effect::SwitchVt(vt) => self.backend.switch_vt(vt),
                Effect::Quit => match &self.dom0.stop {
                    Some(stop) => {
                        tracing::info!("Ctrl+Alt+Backspace: ending the session");
                        stop.stop();
                    }
                    None => tracing::debug!("Ctrl+Alt+Backspace: no loop to stop"),
                },
            }
        }
    }

    /// Injected input from the control socket.
    pub(crate) fn inject(&mut self, request: Request) -> Response {
        match request {
            Request::Key { keycode, pressed } => match keycode.checked_add(XKB_OFFSET) {
                Some(keycode) => self.input(RawInput::Key { keycode, pressed }),
                None => return Response::error("keycode out of range"),
            },
            Request::Type { text } => return self.type_text(&text),
            Request::Keymap { layout, variant } => {
                match Keyboard::new("", "", &layout, &variant, None) {
                    Ok(k) => self.set_keyboard(k),
                    Err(e) => return Response::error(e.to_string()),
                }
            }
            Request::Pointer { x, y } => self.input(RawInput::PointerTo(Point::new(x, y))),
            Request::Button { button, pressed } => self.input(RawInput::Button { button, pressed }),
            Request::Click { x, y, button } => {
                let button = button.unwrap_or(BTN_LEFT);
                self.input(RawInput::PointerTo(Point::new(x, y)));
                self.input(RawInput::Button {
                    button,
                    pressed: true,
                });
                self.input(RawInput::Button {
                    button,
                    pressed: false,
                });
            }
            Request::Scroll { detents } => self.input(RawInput::Axis {
                axis: Axis::Vertical,
                value: detents.clamp(-100, 100) * 15 * 256,
                discrete_120: detents.clamp(-100, 100) * 120,
            }),
            other => return Response::error(format!("not an input request: {other:?}")),
        }
        Response {
            ok: true,
            ..Response::default()
        }
    }

    /// Replaces dom0's keymap: every connected qube gets the new one, and fresh (empty)
    /// modifiers.
    pub fn set_keyboard(&mut self, keyboard: Keyboard) {
        let keymap = Dom0Message::Keymap {
            xkb_text: keyboard.keymap_text().to_owned(),
        };
        let mods = modifiers_message(keyboard.mods());
        self.dom0.keyboard = Some(keyboard);
        let broken = self.qubes.broadcast(&[keymap, mods]);
        self.disconnect_all(broken);
    }

    /// Types `text` through dom0's keymap (all or nothing).
    fn type_text(&mut self, text: &str) -> Response {
        if text.chars().count() > MAX_TYPE_CHARS {
            return Response::error(format!("more than {MAX_TYPE_CHARS} characters"));
        }
        let Some(keyboard) = &self.dom0.keyboard else {
            return Response::error("dom0 has no keymap");
        };
        let mut keys = Vec::new();
        for c in text.chars() {
            match keyboard.key_for_char(c) {
                Some(k) => keys.push(k),
                None => return Response::error(format!("the keymap cannot type {c:?}")),
            }
        }
        let press = |state: &mut State, code: u32, pressed| {
            state.input(RawInput::Key {
                keycode: code + XKB_OFFSET,
                pressed,
            });
        };
        for k in keys {
            if k.shift {
                press(self, KEY_LEFTSHIFT, true);
            }
            press(self, k.keycode, true);
            press(self, k.keycode, false);
            if k.shift {
                press(self, KEY_LEFTSHIFT, false);
            }
        }
        Response {
            ok: true,
            ..Response::default()
        }
    }
}
