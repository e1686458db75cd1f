//! dom0's keyboard: one xkb keymap (from the usual `XKB_DEFAULT_*` variables, else `us`)
//! and the modifier state, tracked by dom0 itself from every key it receives.
//!
//! Qubes get the keymap as text (after `HelloAck`), evdev key codes, and the modifier
//! masks; the Super modifier (Mod4) is never in the masks a qube gets, as the Super keys
//! never reach a qube.

use std::collections::HashMap;

use smithay::input::keyboard::xkb;

/// The modifier state as `wl_keyboard.modifiers` carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mods {
    /// Held modifiers.
    pub depressed: u32,
    /// Latched modifiers.
    pub latched: u32,
    /// Locked modifiers.
    pub locked: u32,
    /// Effective layout.
    pub group: u32,
}

/// The keymap could not be compiled.
#[derive(Debug, thiserror::Error)]
#[error("cannot compile the xkb keymap {layout:?} (is xkb-data installed?)")]
pub struct KeymapError {
    /// The layout asked for.
    pub layout: String,
}

/// A key that produces a character: its evdev code and whether Shift is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CharKey {
    /// evdev key code.
    pub keycode: u32,
    /// Shift must be held.
    pub shift: bool,
}

/// dom0's keymap and modifier state.
pub struct Keyboard {
    state: xkb::State,
    text: String,
    chars: HashMap<char, CharKey>,
    logo_mask: u32,
}

impl std::fmt::Debug for Keyboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyboard")
            .field("keymap_bytes", &self.text.len())
            .field("mods", &self.mods())
            .finish_non_exhaustive()
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

impl Keyboard {
    /// The keymap named by `XKB_DEFAULT_RULES`/`MODEL`/`LAYOUT`/`VARIANT`/`OPTIONS`
    /// (empty means xkb's defaults: `evdev`, `pc105`, `us`).
    pub fn from_env() -> Result<Keyboard, KeymapError> {
        let options = std::env::var("XKB_DEFAULT_OPTIONS").ok();
        Keyboard::new(
            &env("XKB_DEFAULT_RULES"),
            &env("XKB_DEFAULT_MODEL"),
            &env("XKB_DEFAULT_LAYOUT"),
            &env("XKB_DEFAULT_VARIANT"),
            options,
        )
    }

    /// A keymap from RMLVO names.
    pub fn new(
        rules: &str,
        model: &str,
        layout: &str,
        variant: &str,
        options: Option<String>,
    ) -> Result<Keyboard, KeymapError> {
        let context = xkb::Context::new(xkb::CONTEXT_NO_FLAGS);
        let keymap = xkb::Keymap::new_from_names(
            &context,
            rules,
            model,
            layout,
            variant,
            options,
            xkb::KEYMAP_COMPILE_NO_FLAGS,
        )
        .ok_or_else(|| KeymapError {
            layout: layout.to_owned(),
        })?;
        let text = keymap.get_as_string(xkb::KEYMAP_FORMAT_TEXT_V1);
        let logo = keymap.mod_get_index(xkb::MOD_NAME_LOGO);
        let logo_mask = if logo < 32 { 1 << logo } else { 0 };
        let chars = char_table(&keymap);
        Ok(Keyboard {
            state: xkb::State::new(&keymap),
            text,
            chars,
            logo_mask,
        })
    }

    /// The keymap as xkb text (format v1), as qubes are sent it.
    pub fn keymap_text(&self) -> &str {
        &self.text
    }

    /// Feeds one key (xkb code) into the modifier state. Returns whether the masks a qube
    /// sees changed.
    pub fn update(&mut self, xkb_keycode: u32, pressed: bool) -> bool {
        let before = self.mods();
        let dir = if pressed {
            xkb::KeyDirection::Down
        } else {
            xkb::KeyDirection::Up
        };
        self.state.update_key(xkb_keycode.into(), dir);
        self.mods() != before
    }

    /// The modifier masks a qube gets (never Super).
    pub fn mods(&self) -> Mods {
        let m = |c| self.state.serialize_mods(c) & !self.logo_mask;
        Mods {
            depressed: m(xkb::STATE_MODS_DEPRESSED),
            latched: m(xkb::STATE_MODS_LATCHED),
            locked: m(xkb::STATE_MODS_LOCKED),
            group: self.state.serialize_layout(xkb::STATE_LAYOUT_EFFECTIVE),
        }
    }

    /// The key that types `c` on the first layout (level 1, or level 2 with Shift).
    /// Newline is Return, tab is Tab.
    pub fn key_for_char(&self, c: char) -> Option<CharKey> {
        match c {
            '\n' | '\r' => Some(CharKey {
                keycode: 28,
                shift: false,
            }),
            '\t' => Some(CharKey {
                keycode: 15,
                shift: false,
            }),
            _ => self.chars.get(&c).copied(),
        }
    }
}

/// Every character the first layout types at level 1 or 2, with its key; the lowest key
/// code and the unshifted level win.
fn char_table(keymap: &xkb::Keymap) -> HashMap<char, CharKey> {
    let mut chars = HashMap::new();
    let (min, max) = (keymap.min_keycode().raw(), keymap.max_keycode().raw());
    for level in 0..2u32 {
        for code in min..=max.min(255) {
            let Some(evdev) = code.checked_sub(8) else {
                continue;
            };
            for sym in keymap.key_get_syms_by_level(code.into(), 0, level) {
                let Some(c) = char::from_u32(xkb::keysym_to_utf32(*sym)) else {
                    continue;
                };
                if c == '\0' || c.is_control() {
                    continue;
                }
                chars.entry(c).or_insert(CharKey {
                    keycode: evdev,
                    shift: level == 1,
                });
            }
        }
    }
    chars
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us() -> Keyboard {
        Keyboard::new("", "", "us", "", None).expect("xkb-data installed")
    }

    #[test]
    fn ascii_maps_to_us_keys() {
        let k = us();
        let key = |c| k.key_for_char(c).unwrap();
        assert_eq!(
            key('a'),
            CharKey {
                keycode: 30,
                shift: false
            }
        );
        assert_eq!(
            key('A'),
            CharKey {
                keycode: 30,
                shift: true
            }
        );
        assert_eq!(
            key('1'),
            CharKey {
                keycode: 2,
                shift: false
            }
        );
        assert_eq!(
            key('!'),
            CharKey {
                keycode: 2,
                shift: true
            }
        );
        assert_eq!(key(' ').keycode, 57);
        assert_eq!(key('\n').keycode, 28);
        for c in (0x20u8..0x7f).map(char::from) {
            assert!(k.key_for_char(c).is_some(), "{c:?}");
        }
        assert_eq!(k.key_for_char('é'), None);
        assert!(k.keymap_text().starts_with("xkb_keymap"));
    }

    #[test]
    fn shift_is_tracked_and_super_is_hidden() {
        let mut k = us();
        assert_eq!(k.mods(), Mods::default());
        assert!(k.update(42 + 8, true), "left shift");
        assert_eq!(k.mods().depressed, 1);
        assert!(k.update(42 + 8, false));
        assert!(!k.update(125 + 8, true), "Super is never shown to a qube");
        assert_eq!(k.mods(), Mods::default());
        k.update(125 + 8, false);
        k.update(58 + 8, true);
        k.update(58 + 8, false);
        assert_eq!(k.mods().locked, 2, "caps lock");
    }
}
