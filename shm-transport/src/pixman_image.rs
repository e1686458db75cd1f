//! Pixman images straight over arena regions (feature `pixman`): dom0 composites a guest
//! window from shared memory without copying it, and the agent flattens surfaces into it.
//!
//! The image holds a reference to the mapping, released by pixman's destroy callback when
//! the image's last reference goes, so the pixels stay mapped exactly as long as pixman can
//! reach them — however long a renderer keeps the image (or a texture made from it).

use std::ffi::c_void;
use std::sync::Arc;

use bulkhead_protocol::PixelFormat;
use pixman::{FormatCode, Image};

use crate::arena::{ArenaRegion, ImageLayout};
use crate::error::ArenaError;
use crate::shared::SharedMemory;

impl ArenaRegion<'_> {
    /// A pixman image of `layout` over this region, in `format`.
    ///
    /// The peer may change the pixels at any time; that only changes the picture. dom0 must
    /// use the image as a composite *source* only (it is mapped writable because the agent
    /// renders into its own regions through the same call).
    pub fn pixman_image(
        &self,
        layout: &ImageLayout,
        format: PixelFormat,
    ) -> Result<Image<'static, 'static>, ArenaError> {
        let unsupported = ArenaError::UnsupportedPixmanImage {
            width: layout.width,
            height: layout.height,
            stride: layout.stride,
        };
        let fits_c_int = |v: u32| i32::try_from(v).is_ok();
        if layout.bytes_per_pixel != 4
            || layout.stride % 4 != 0
            || layout.width == 0
            || layout.height == 0
            || !fits_c_int(layout.width)
            || !fits_c_int(layout.height)
            || !fits_c_int(layout.stride)
        {
            return Err(unsupported);
        }
        layout.check(u64::from(layout.stride), self.len())?;
        let code = match format {
            PixelFormat::Argb8888 => FormatCode::A8R8G8B8,
            PixelFormat::Xrgb8888 => FormatCode::X8R8G8B8,
        };
        let (ptr, _) = self.as_raw();
        // SAFETY: `ptr` points at this region inside the mapping, page-aligned (so u32
        // aligned), and `layout.check` proved stride × (height − 1) + width × 4 bytes from it
        // lie inside the region. The mapping is shared and writable. It outlives the image:
        // the destroy callback installed below holds an `Arc` of it until pixman drops the
        // image. `clear = false`: creating the image writes nothing.
        let image = unsafe {
            Image::from_raw_mut(
                code,
                layout.width as usize,
                layout.height as usize,
                ptr.cast_mut().cast::<u32>(),
                layout.stride as usize,
                false,
            )
        }
        .map_err(|_| ArenaError::PixmanCreate)?;
        let keep_alive = Arc::into_raw(Arc::clone(self.shared_memory()));
        // SAFETY: `image.as_ptr()` is the live image created above, which has no destroy
        // function yet. pixman calls `release_mapping` exactly once, when the image's
        // reference count reaches zero, with `keep_alive` as its data.
        unsafe {
            pixman::ffi::pixman_image_set_destroy_function(
                image.as_ptr(),
                Some(release_mapping),
                keep_alive.cast_mut().cast::<c_void>(),
            );
        }
        Ok(image)
    }
}

/// pixman's destroy callback: drops the mapping reference taken in `pixman_image`.
unsafe extern "C" fn release_mapping(_image: *mut pixman::ffi::pixman_image_t, data: *mut c_void) {
    // SAFETY: `data` came from `Arc::into_raw` in `pixman_image`, and pixman calls this
    // callback once per image, so the reference is reclaimed exactly once.
    drop(unsafe { Arc::from_raw(data.cast_const().cast::<SharedMemory>()) });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, channel_pair};
    use pixman::{Operation, Solid};

    const LAYOUT: ImageLayout = ImageLayout {
        width: 32,
        height: 16,
        stride: 128,
        bytes_per_pixel: 4,
    };

    #[test]
    fn agent_renders_dom0_composites_without_a_copy() {
        let config = Config {
            arena_size: 1 << 16,
            ..Config::default()
        };
        let (dom0, agent) = channel_pair(&config).unwrap();
        // The agent fills its buffer with pixman (as it flattens surfaces).
        let mut target = agent
            .arena()
            .region(4096, 4096)
            .unwrap()
            .pixman_image(&LAYOUT, PixelFormat::Argb8888)
            .unwrap();
        let red = Solid::new([1.0, 0.0, 0.0, 1.0]).unwrap();
        target.composite32(Operation::Src, &red, None, (0, 0), (0, 0), (0, 0), (32, 16));
        drop(target);

        // dom0 builds its image over the same region and composites from it.
        let source = dom0
            .arena()
            .region(4096, 4096)
            .unwrap()
            .pixman_image(&LAYOUT, PixelFormat::Argb8888)
            .unwrap();
        drop((dom0, agent)); // the image keeps the mapping alive on its own
        let mut pixels = vec![0u32; 64];
        let mut screen =
            Image::from_slice_mut(FormatCode::A8R8G8B8, 8, 8, &mut pixels, 32, false).unwrap();
        screen.composite32(
            Operation::Src,
            &source,
            None,
            (4, 4),
            (0, 0),
            (0, 0),
            (8, 8),
        );
        drop((screen, source));
        assert!(pixels.iter().all(|&p| p == 0xffff_0000), "{pixels:x?}");
    }

    #[test]
    fn bad_geometry_is_refused() {
        let (dom0, _agent) = channel_pair(&Config {
            arena_size: 1 << 16,
            ..Config::default()
        })
        .unwrap();
        let region = dom0.arena().region(0, 4096).unwrap();
        let too_big = ImageLayout {
            height: 64,
            ..LAYOUT
        };
        assert!(matches!(
            region.pixman_image(&too_big, PixelFormat::Xrgb8888),
            Err(ArenaError::ImageTooLarge { .. })
        ));
        let odd_stride = ImageLayout {
            stride: 130,
            ..LAYOUT
        };
        assert!(matches!(
            region.pixman_image(&odd_stride, PixelFormat::Xrgb8888),
            Err(ArenaError::UnsupportedPixmanImage { .. })
        ));
    }
}
