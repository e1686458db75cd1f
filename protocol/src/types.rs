//! Value types carried by messages, with their wire layout and validity rules.

use std::fmt;
use std::num::NonZeroU32;
use std::ops::BitOr;

use crate::error::MalformedReason;
use crate::limits::{
    ARENA_ALIGN, BYTES_PER_PIXEL, MAX_ARENA_OFFSET, MAX_OUTPUT_DIMENSION, MAX_REFRESH_MHZ,
    MAX_SCALE_120, MAX_STRIDE, MAX_WINDOW_HEIGHT, MAX_WINDOW_WIDTH, MIN_SCALE_120, check_range,
};
use crate::wire::{Reader, Writer};

/// A window's id, chosen by the agent, unique within its qube, never 0.
///
/// On the wire it is the header's `u32` window field (or a `u32` field such as a popup's
/// parent); 0 there means "no window".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WindowId(NonZeroU32);

impl WindowId {
    /// The id `raw`, or `None` for 0.
    pub const fn new(raw: u32) -> Option<Self> {
        match NonZeroU32::new(raw) {
            Some(id) => Some(WindowId(id)),
            None => None,
        }
    }

    /// The raw, non-zero id.
    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

impl fmt::Display for WindowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A width and height in pixels. Wire: `u32 width, u32 height` (8 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Size {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Size {
    /// A size from its parts.
    pub const fn new(width: u32, height: u32) -> Self {
        Size { width, height }
    }

    /// Window limits: `1..=MAX_WINDOW_WIDTH` × `1..=MAX_WINDOW_HEIGHT`.
    pub(crate) fn check_window(self, field: &'static str) -> Result<(), MalformedReason> {
        if self.width == 0 || self.height == 0 {
            return Err(MalformedReason::ZeroSize { field });
        }
        if self.width > MAX_WINDOW_WIDTH || self.height > MAX_WINDOW_HEIGHT {
            return Err(MalformedReason::SizeTooLarge {
                field,
                width: self.width,
                height: self.height,
                max_width: MAX_WINDOW_WIDTH,
                max_height: MAX_WINDOW_HEIGHT,
            });
        }
        Ok(())
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, MalformedReason> {
        Ok(Size {
            width: r.u32()?,
            height: r.u32()?,
        })
    }

    pub(crate) fn write(self, w: &mut Writer<'_>) {
        w.u32(self.width);
        w.u32(self.height);
    }
}

/// A damaged rectangle of a buffer, in buffer pixels.
/// Wire: `u32 x, u32 y, u32 w, u32 h` (16 bytes).
///
/// Valid when `w > 0`, `h > 0`, `x + w <= buffer width` and `y + h <= buffer height`
/// (computed without overflow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width, at least 1.
    pub w: u32,
    /// Height, at least 1.
    pub h: u32,
}

impl Rect {
    /// Bytes of one rectangle on the wire.
    pub(crate) const WIRE_LEN: usize = 16;

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, MalformedReason> {
        Ok(Rect {
            x: r.u32()?,
            y: r.u32()?,
            w: r.u32()?,
            h: r.u32()?,
        })
    }

    pub(crate) fn write(self, w: &mut Writer<'_>) {
        w.u32(self.x);
        w.u32(self.y);
        w.u32(self.w);
        w.u32(self.h);
    }
}

/// The layout of a buffer's pixels: 32 bits per pixel, little-endian words, premultiplied
/// alpha, codes as in `wl_shm` (wire: `u32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// `0`: alpha, red, green, blue (`wl_shm` argb8888).
    Argb8888,
    /// `1`: unused byte, red, green, blue (`wl_shm` xrgb8888).
    Xrgb8888,
}

impl PixelFormat {
    /// The wire code.
    pub const fn code(self) -> u32 {
        match self {
            PixelFormat::Argb8888 => 0,
            PixelFormat::Xrgb8888 => 1,
        }
    }

    /// The format with this wire code.
    pub const fn from_code(code: u32) -> Option<Self> {
        match code {
            0 => Some(PixelFormat::Argb8888),
            1 => Some(PixelFormat::Xrgb8888),
            _ => None,
        }
    }
}

/// Where a frame's pixels are in the shared-memory pixel arena.
///
/// Wire: `u64 offset, u32 width, u32 height, u32 stride, u32 format` (24 bytes).
///
/// Valid when `offset` is a multiple of [`ARENA_ALIGN`] and at most [`MAX_ARENA_OFFSET`],
/// the size is within window limits, and `width × 4 <= stride <= MAX_STRIDE` with `stride`
/// a multiple of 4. The decoder does not know the arena's size: dom0 (the transport) must
/// check `offset + byte_len()` against it before reading pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BufferDesc {
    /// Byte offset of the first row in the pixel arena.
    pub offset: u64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes from one row to the next.
    pub stride: u32,
    /// Pixel layout.
    pub format: PixelFormat,
}

impl BufferDesc {
    /// Bytes of the arena the buffer covers: `stride × height`. Computed in `u64`, which a
    /// product of two `u32` cannot overflow.
    pub const fn byte_len(&self) -> u64 {
        self.stride as u64 * self.height as u64
    }

    /// One past the buffer's last byte in the arena: `offset + byte_len()`, or `None` on
    /// overflow (impossible for a decoded buffer, whose offset is at most
    /// [`MAX_ARENA_OFFSET`]).
    pub const fn end(&self) -> Option<u64> {
        self.offset.checked_add(self.byte_len())
    }

    /// Whether `rect` is non-empty and lies inside the buffer.
    pub fn contains(&self, rect: &Rect) -> bool {
        let inside = |start: u32, len: u32, limit: u32| {
            start.checked_add(len).is_some_and(|end| end <= limit)
        };
        rect.w > 0
            && rect.h > 0
            && inside(rect.x, rect.w, self.width)
            && inside(rect.y, rect.h, self.height)
    }

    pub(crate) fn check(&self) -> Result<(), MalformedReason> {
        Size::new(self.width, self.height).check_window("buffer size")?;
        if self.offset % ARENA_ALIGN != 0 {
            return Err(MalformedReason::UnalignedOffset {
                offset: self.offset,
            });
        }
        if self.offset > MAX_ARENA_OFFSET {
            return Err(MalformedReason::OffsetTooLarge {
                offset: self.offset,
            });
        }
        // width <= MAX_WINDOW_WIDTH, so width * 4 cannot overflow.
        let row = self.width.saturating_mul(BYTES_PER_PIXEL);
        if self.stride < row || self.stride > MAX_STRIDE || self.stride % BYTES_PER_PIXEL != 0 {
            return Err(MalformedReason::BadStride {
                stride: self.stride,
                width: self.width,
            });
        }
        Ok(())
    }

    /// Checks `rect` against this buffer with the specific reason.
    pub(crate) fn check_rect(&self, rect: &Rect) -> Result<(), MalformedReason> {
        if rect.w == 0 || rect.h == 0 {
            Err(MalformedReason::EmptyRect)
        } else if !self.contains(rect) {
            Err(MalformedReason::RectOutsideBuffer)
        } else {
            Ok(())
        }
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, MalformedReason> {
        let offset = r.u64()?;
        let width = r.u32()?;
        let height = r.u32()?;
        let stride = r.u32()?;
        let code = r.u32()?;
        let format = PixelFormat::from_code(code).ok_or(MalformedReason::BadEnum {
            field: "pixel format",
            value: code,
        })?;
        Ok(BufferDesc {
            offset,
            width,
            height,
            stride,
            format,
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.u64(self.offset);
        w.u32(self.width);
        w.u32(self.height);
        w.u32(self.stride);
        w.u32(self.format.code());
    }
}

/// What role a new window has.
///
/// Wire (16 bytes): `u32 kind` (0 toplevel, 1 popup), `u32 parent`, `i32 x`, `i32 y`;
/// for a toplevel the last three must be 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WindowKind {
    /// An application window, framed by dom0.
    Toplevel,
    /// A menu or tooltip placed relative to another window of the same qube. dom0 still
    /// frames and constrains it.
    Popup {
        /// The window it belongs to: non-zero and not the popup itself.
        parent: WindowId,
        /// Offset of the popup's left edge from the parent's, in pixels, within
        /// ±[`MAX_POPUP_OFFSET_X`](crate::MAX_POPUP_OFFSET_X).
        x: i32,
        /// Offset of the popup's top edge from the parent's, in pixels, within
        /// ±[`MAX_POPUP_OFFSET_Y`](crate::MAX_POPUP_OFFSET_Y).
        y: i32,
    },
}

impl WindowKind {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, MalformedReason> {
        let kind = r.u32()?;
        let parent = r.u32()?;
        let x = r.i32()?;
        let y = r.i32()?;
        match kind {
            0 => {
                if parent != 0 {
                    return Err(MalformedReason::OutOfRange {
                        field: "toplevel parent",
                        value: i64::from(parent),
                        min: 0,
                        max: 0,
                    });
                }
                check_range("toplevel x", i64::from(x), 0, 0)?;
                check_range("toplevel y", i64::from(y), 0, 0)?;
                Ok(WindowKind::Toplevel)
            }
            1 => Ok(WindowKind::Popup {
                parent: WindowId::new(parent).ok_or(MalformedReason::OutOfRange {
                    field: "popup parent",
                    value: 0,
                    min: 1,
                    max: i64::from(u32::MAX),
                })?,
                x,
                y,
            }),
            value => Err(MalformedReason::BadEnum {
                field: "window kind",
                value,
            }),
        }
    }

    pub(crate) fn write(self, w: &mut Writer<'_>) {
        match self {
            WindowKind::Toplevel => {
                w.u32(0);
                w.u32(0);
                w.i32(0);
                w.i32(0);
            }
            WindowKind::Popup { parent, x, y } => {
                w.u32(1);
                w.u32(parent.get());
                w.i32(x);
                w.i32(y);
            }
        }
    }
}

macro_rules! cursor_shapes {
    ($($(#[$doc:meta])* $name:ident = $code:literal, $css:literal;)*) => {
        /// A pointer cursor from a fixed set (the CSS / `wp_cursor_shape_v1` names); dom0
        /// draws it from its own theme. Wire: `u32` code; qubes cannot send cursor images.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum CursorShape {
            $($(#[$doc])* $name,)*
        }

        impl CursorShape {
            /// Every shape, in code order.
            pub const ALL: &'static [CursorShape] = &[$(CursorShape::$name,)*];

            /// The wire code.
            pub const fn code(self) -> u32 {
                match self {
                    $(CursorShape::$name => $code,)*
                }
            }

            /// The shape with this wire code.
            pub const fn from_code(code: u32) -> Option<Self> {
                match code {
                    $($code => Some(CursorShape::$name),)*
                    _ => None,
                }
            }

            /// The CSS cursor name (also the xcursor theme name); `"none"` for
            /// [`CursorShape::Hidden`].
            pub const fn css_name(self) -> &'static str {
                match self {
                    $(CursorShape::$name => $css,)*
                }
            }
        }
    };
}

cursor_shapes! {
    /// `0`: the default arrow.
    Default = 0, "default";
    /// `1`: a context menu is available.
    ContextMenu = 1, "context-menu";
    /// `2`: help is available.
    Help = 2, "help";
    /// `3`: a link.
    Pointer = 3, "pointer";
    /// `4`: busy, but still interactive.
    Progress = 4, "progress";
    /// `5`: busy.
    Wait = 5, "wait";
    /// `6`: a table cell.
    Cell = 6, "cell";
    /// `7`: precise selection.
    Crosshair = 7, "crosshair";
    /// `8`: text.
    Text = 8, "text";
    /// `9`: vertical text.
    VerticalText = 9, "vertical-text";
    /// `10`: an alias will be made.
    Alias = 10, "alias";
    /// `11`: a copy will be made.
    Copy = 11, "copy";
    /// `12`: something will be moved.
    Move = 12, "move";
    /// `13`: cannot drop here.
    NoDrop = 13, "no-drop";
    /// `14`: not allowed.
    NotAllowed = 14, "not-allowed";
    /// `15`: can be grabbed.
    Grab = 15, "grab";
    /// `16`: being grabbed.
    Grabbing = 16, "grabbing";
    /// `17`: resize the east edge.
    ResizeE = 17, "e-resize";
    /// `18`: resize the north edge.
    ResizeN = 18, "n-resize";
    /// `19`: resize the north-east corner.
    ResizeNe = 19, "ne-resize";
    /// `20`: resize the north-west corner.
    ResizeNw = 20, "nw-resize";
    /// `21`: resize the south edge.
    ResizeS = 21, "s-resize";
    /// `22`: resize the south-east corner.
    ResizeSe = 22, "se-resize";
    /// `23`: resize the south-west corner.
    ResizeSw = 23, "sw-resize";
    /// `24`: resize the west edge.
    ResizeW = 24, "w-resize";
    /// `25`: resize east–west.
    ResizeEw = 25, "ew-resize";
    /// `26`: resize north–south.
    ResizeNs = 26, "ns-resize";
    /// `27`: resize north-east–south-west.
    ResizeNesw = 27, "nesw-resize";
    /// `28`: resize north-west–south-east.
    ResizeNwse = 28, "nwse-resize";
    /// `29`: resize a column.
    ColResize = 29, "col-resize";
    /// `30`: resize a row.
    RowResize = 30, "row-resize";
    /// `31`: scroll in any direction.
    AllScroll = 31, "all-scroll";
    /// `32`: zoom in.
    ZoomIn = 32, "zoom-in";
    /// `33`: zoom out.
    ZoomOut = 33, "zoom-out";
    /// `34`: no cursor over this window.
    Hidden = 34, "none";
}

/// The states dom0 puts a window in, a `u32` bit set on the wire. Bits not named here are
/// malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct WindowStates(u32);

impl WindowStates {
    /// Bit 0: the window has keyboard focus (draw it active).
    pub const ACTIVATED: WindowStates = WindowStates(1 << 0);
    /// Bit 1: the window is maximized.
    pub const MAXIMIZED: WindowStates = WindowStates(1 << 1);
    /// Bit 2: the window is fullscreen.
    pub const FULLSCREEN: WindowStates = WindowStates(1 << 2);
    /// Every defined bit.
    pub const ALL: WindowStates =
        WindowStates(Self::ACTIVATED.0 | Self::MAXIMIZED.0 | Self::FULLSCREEN.0);

    /// No state.
    pub const fn empty() -> Self {
        WindowStates(0)
    }

    /// The set with these bits, or `None` if any bit is undefined.
    pub const fn from_bits(bits: u32) -> Option<Self> {
        if bits & !Self::ALL.0 == 0 {
            Some(WindowStates(bits))
        } else {
            None
        }
    }

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: WindowStates) -> bool {
        self.0 & other.0 == other.0
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, MalformedReason> {
        let bits = r.u32()?;
        WindowStates::from_bits(bits).ok_or(MalformedReason::UnknownStateBits {
            bits: bits & !Self::ALL.0,
        })
    }
}

impl BitOr for WindowStates {
    type Output = WindowStates;
    fn bitor(self, rhs: Self) -> Self {
        WindowStates(self.0 | rhs.0)
    }
}

/// A scroll axis (wire: `u32`, codes as `wl_pointer.axis`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Axis {
    /// `0`: vertical scroll; positive is down.
    Vertical,
    /// `1`: horizontal scroll; positive is right.
    Horizontal,
}

impl Axis {
    /// The wire code.
    pub const fn code(self) -> u32 {
        match self {
            Axis::Vertical => 0,
            Axis::Horizontal => 1,
        }
    }

    /// The axis with this wire code.
    pub const fn from_code(code: u32) -> Option<Self> {
        match code {
            0 => Some(Axis::Vertical),
            1 => Some(Axis::Horizontal),
            _ => None,
        }
    }
}

/// The output a qube renders for (one virtual output per qube; it never learns the real
/// screen layout). Wire: `u32 width, u32 height, u32 scale_120, u32 refresh_mhz` (16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OutputInfo {
    /// Width in pixels, `1..=MAX_OUTPUT_DIMENSION`.
    pub width: u32,
    /// Height in pixels, `1..=MAX_OUTPUT_DIMENSION`.
    pub height: u32,
    /// Scale × 120, `MIN_SCALE_120..=MAX_SCALE_120` (60..=960, 0.5× to 8×).
    pub scale_120: u32,
    /// Refresh rate in mHz, `0..=MAX_REFRESH_MHZ`; 0 means unknown.
    pub refresh_mhz: u32,
}

impl OutputInfo {
    pub(crate) fn check(&self) -> Result<(), MalformedReason> {
        if self.width == 0 || self.height == 0 {
            return Err(MalformedReason::ZeroSize {
                field: "output size",
            });
        }
        if self.width > MAX_OUTPUT_DIMENSION || self.height > MAX_OUTPUT_DIMENSION {
            return Err(MalformedReason::SizeTooLarge {
                field: "output size",
                width: self.width,
                height: self.height,
                max_width: MAX_OUTPUT_DIMENSION,
                max_height: MAX_OUTPUT_DIMENSION,
            });
        }
        check_range(
            "output scale_120",
            i64::from(self.scale_120),
            i64::from(MIN_SCALE_120),
            i64::from(MAX_SCALE_120),
        )?;
        check_range(
            "output refresh_mhz",
            i64::from(self.refresh_mhz),
            0,
            i64::from(MAX_REFRESH_MHZ),
        )
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, MalformedReason> {
        Ok(OutputInfo {
            width: r.u32()?,
            height: r.u32()?,
            scale_120: r.u32()?,
            refresh_mhz: r.u32()?,
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.u32(self.width);
        w.u32(self.height);
        w.u32(self.scale_120);
        w.u32(self.refresh_mhz);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_codes_are_dense_and_round_trip() {
        for (i, shape) in CursorShape::ALL.iter().enumerate() {
            assert_eq!(u32::try_from(i), Ok(shape.code()));
            assert_eq!(CursorShape::from_code(shape.code()), Some(*shape));
        }
        let count = u32::try_from(CursorShape::ALL.len()).unwrap_or(u32::MAX);
        assert_eq!(CursorShape::from_code(count), None);
    }

    #[test]
    fn byte_len_and_end_of_largest_buffer() {
        let b = BufferDesc {
            offset: MAX_ARENA_OFFSET,
            width: MAX_WINDOW_WIDTH,
            height: MAX_WINDOW_HEIGHT,
            stride: MAX_STRIDE,
            format: PixelFormat::Argb8888,
        };
        assert_eq!(b.check(), Ok(()));
        assert_eq!(b.byte_len(), 65536 * 6144);
        assert_eq!(b.end(), Some(MAX_ARENA_OFFSET + 65536 * 6144));
    }

    #[test]
    fn rect_containment_uses_checked_arithmetic() {
        let b = BufferDesc {
            offset: 0,
            width: 100,
            height: 50,
            stride: 400,
            format: PixelFormat::Xrgb8888,
        };
        assert!(b.contains(&Rect {
            x: 0,
            y: 0,
            w: 100,
            h: 50
        }));
        assert!(!b.contains(&Rect {
            x: 1,
            y: 0,
            w: 100,
            h: 50
        }));
        assert!(!b.contains(&Rect {
            x: u32::MAX,
            y: 0,
            w: 2,
            h: 1
        }));
    }
}
