//! The DRM backend's decisions, pure and unit-tested: which connectors to light or put out
//! after a (hot)plug, which CRTC drives a new one, which mode it runs, and how big the
//! desktop is.
//!
//! Every output shows the same desktop (clone mode), sized to the smallest output so that no
//! trust frame is ever off any screen (DESIGN.md: a border cannot be moved off-screen).

use crate::desktop::Size;

/// What to change after the connectors were probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan<C> {
    /// Lit connectors that are gone or disconnected: put them out.
    pub put_out: Vec<C>,
    /// Connected connectors without an output: light them.
    pub light: Vec<C>,
}

/// Compares the lit connectors with the connected ones (those with at least one mode).
pub fn plan<C: Copy + Eq>(lit: &[C], connected: &[C]) -> Plan<C> {
    Plan {
        put_out: lit
            .iter()
            .filter(|c| !connected.contains(c))
            .copied()
            .collect(),
        light: connected
            .iter()
            .filter(|c| !lit.contains(c))
            .copied()
            .collect(),
    }
}

/// The first CRTC among `possible` (those the connector's encoders can use) that no other
/// output drives.
pub fn pick_crtc<K: Copy + Eq>(possible: &[K], used: &[K]) -> Option<K> {
    possible.iter().copied().find(|c| !used.contains(c))
}

/// How the kernel marks a connector's mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModeFlags {
    /// The user chose it (`video=CONNECTOR:WxH` on the kernel command line).
    pub user: bool,
    /// The display prefers it (its EDID).
    pub preferred: bool,
}

/// The index of the mode to run: the user's choice, else the display's preferred mode, else
/// the first (the kernel lists the largest first).
pub fn pick_mode(modes: &[ModeFlags]) -> Option<usize> {
    modes
        .iter()
        .position(|m| m.user)
        .or_else(|| modes.iter().position(|m| m.preferred))
        .or((!modes.is_empty()).then_some(0))
}

/// The desktop of outputs of these sizes: as wide as the narrowest and as tall as the
/// shortest, so every output shows all of it. `None` without outputs.
pub fn desktop_size(outputs: impl IntoIterator<Item = Size>) -> Option<Size> {
    outputs
        .into_iter()
        .reduce(|a, b| Size::new(a.w.min(b.w), a.h.min(b.h)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hotplug_lights_new_connectors_and_puts_out_gone_ones() {
        assert_eq!(
            plan(&[], &[1, 2]),
            Plan {
                put_out: vec![],
                light: vec![1, 2]
            }
        );
        assert_eq!(
            plan(&[1, 2], &[2, 3]),
            Plan {
                put_out: vec![1],
                light: vec![3]
            }
        );
        assert_eq!(
            plan(&[1, 2], &[]),
            Plan {
                put_out: vec![1, 2],
                light: vec![]
            }
        );
        assert_eq!(
            plan(&[1], &[1]),
            Plan {
                put_out: vec![],
                light: vec![]
            }
        );
    }

    #[test]
    fn a_crtc_drives_one_output() {
        assert_eq!(pick_crtc(&[10, 11], &[]), Some(10));
        assert_eq!(pick_crtc(&[10, 11], &[10]), Some(11));
        assert_eq!(pick_crtc(&[10, 11], &[11, 10]), None);
        assert_eq!(pick_crtc::<u32>(&[], &[]), None);
    }

    #[test]
    fn the_users_mode_wins_then_the_displays() {
        let (plain, preferred, user) = (
            ModeFlags::default(),
            ModeFlags {
                preferred: true,
                ..ModeFlags::default()
            },
            ModeFlags {
                user: true,
                ..ModeFlags::default()
            },
        );
        assert_eq!(pick_mode(&[plain, preferred, preferred]), Some(1));
        assert_eq!(pick_mode(&[plain, preferred, user]), Some(2));
        assert_eq!(pick_mode(&[plain, plain]), Some(0));
        assert_eq!(pick_mode(&[]), None);
    }

    #[test]
    fn the_desktop_fits_every_output() {
        assert_eq!(desktop_size([]), None);
        assert_eq!(
            desktop_size([Size::new(1920, 1080)]),
            Some(Size::new(1920, 1080))
        );
        assert_eq!(
            desktop_size([Size::new(1920, 1080), Size::new(1280, 1024)]),
            Some(Size::new(1280, 1024))
        );
    }
}
