//! Copying damaged rectangles of a flattened frame into a window buffer in the arena.
//!
//! Only the damaged rows and columns are written: a 64×64 rectangle in a 1000×1000 window
//! is 64 writes of 256 bytes, never a whole-window copy.

use crate::link::{BufferDesc, DomLink, LinkError, Rect};

/// Bytes per ARGB8888 pixel.
pub const BYTES_PER_PIXEL: u32 = 4;

/// Clips `rect` to a `width × height` buffer; `None` if nothing is left.
pub fn clip(rect: Rect, width: u32, height: u32) -> Option<Rect> {
    let x2 = rect.x.saturating_add(rect.w).min(width);
    let y2 = rect.y.saturating_add(rect.h).min(height);
    (rect.x < x2 && rect.y < y2).then(|| Rect {
        x: rect.x,
        y: rect.y,
        w: x2 - rect.x,
        h: y2 - rect.y,
    })
}

/// Writes `rect` of a frame into `dst`.
///
/// `src` holds exactly the rectangle's pixels: `rect.h` rows of `src_stride` bytes,
/// each starting with `rect.w` pixels. Returns the number of pixel bytes written.
pub fn copy_rect(
    link: &mut dyn DomLink,
    dst: &BufferDesc,
    rect: Rect,
    src: &[u8],
    src_stride: usize,
) -> Result<usize, LinkError> {
    let Some(clipped) = clip(rect, dst.width, dst.height) else {
        return Ok(0);
    };
    let row_bytes = (clipped.w * BYTES_PER_PIXEL) as usize;
    let mut written = 0;
    for row in 0..clipped.h {
        let src_start = row as usize * src_stride;
        let Some(line) = src.get(src_start..src_start + row_bytes) else {
            // The source is shorter than promised: a bug in the caller, not bad input.
            tracing::error!(
                ?rect,
                src_len = src.len(),
                "frame source shorter than its rectangle"
            );
            break;
        };
        let offset = dst.offset
            + u64::from(clipped.y + row) * u64::from(dst.stride)
            + u64::from(clipped.x * BYTES_PER_PIXEL);
        link.write_arena(offset, line)?;
        written += row_bytes;
    }
    Ok(written)
}

/// Total pixel count of `rects` (overlaps counted twice).
pub fn area(rects: &[Rect]) -> u64 {
    rects.iter().map(|r| u64::from(r.w) * u64::from(r.h)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::{AgentMessage, PixelFormat};

    /// Records every arena write.
    #[derive(Debug, Default)]
    struct Recorder {
        writes: Vec<(u64, usize)>,
        arena: Vec<u8>,
    }

    impl DomLink for Recorder {
        fn send(&mut self, _: AgentMessage) -> Result<(), LinkError> {
            Ok(())
        }
        fn arena_len(&self) -> u64 {
            self.arena.len() as u64
        }
        fn write_arena(&mut self, offset: u64, data: &[u8]) -> Result<(), LinkError> {
            self.writes.push((offset, data.len()));
            let start = usize::try_from(offset).unwrap();
            self.arena[start..start + data.len()].copy_from_slice(data);
            Ok(())
        }
    }

    #[test]
    fn a_64x64_damage_copies_64_rows_of_64_pixels() {
        let dst = BufferDesc {
            offset: 8192,
            width: 1000,
            height: 1000,
            stride: 4000,
            format: PixelFormat::Argb8888,
        };
        let mut link = Recorder {
            arena: vec![0; 8192 + 4000 * 1000],
            ..Recorder::default()
        };
        let rect = Rect {
            x: 100,
            y: 200,
            w: 64,
            h: 64,
        };
        let src: Vec<u8> = (0..64 * 64 * 4).map(|i| (i % 251) as u8).collect();
        let written = copy_rect(&mut link, &dst, rect, &src, 64 * 4).unwrap();
        assert_eq!(written, 64 * 64 * 4);
        assert_eq!(link.writes.len(), 64);
        assert!(link.writes.iter().all(|&(_, len)| len == 256));
        assert_eq!(link.writes[0].0, 8192 + 200 * 4000 + 100 * 4);
        assert_eq!(link.writes[63].0, 8192 + 263 * 4000 + 100 * 4);
        // The pixels landed where they belong, and nothing else changed.
        let row5 = 8192 + 205 * 4000 + 400;
        assert_eq!(&link.arena[row5..row5 + 256], &src[5 * 256..6 * 256]);
        assert_eq!(link.arena[row5 - 1], 0);
        assert_eq!(link.arena[row5 + 256], 0);
    }

    #[test]
    fn rectangles_are_clipped_to_the_buffer() {
        let dst = BufferDesc {
            offset: 0,
            width: 10,
            height: 10,
            stride: 48,
            format: PixelFormat::Argb8888,
        };
        let mut link = Recorder {
            arena: vec![0; 480],
            ..Recorder::default()
        };
        let rect = Rect {
            x: 8,
            y: 8,
            w: 5,
            h: 5,
        };
        let src = vec![0xab; 5 * 5 * 4];
        assert_eq!(
            copy_rect(&mut link, &dst, rect, &src, 20).unwrap(),
            2 * 2 * 4
        );
        assert_eq!(link.writes, vec![(8 * 48 + 32, 8), (9 * 48 + 32, 8)]);
        let outside = Rect {
            x: 10,
            y: 0,
            w: 5,
            h: 5,
        };
        assert_eq!(copy_rect(&mut link, &dst, outside, &src, 20).unwrap(), 0);
    }

    #[test]
    fn clip_handles_overflowing_rectangles() {
        let r = Rect {
            x: u32::MAX - 1,
            y: 0,
            w: u32::MAX,
            h: 1,
        };
        assert_eq!(clip(r, 10, 10), None);
    }
}
