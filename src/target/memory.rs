//! Memory that is exactly as resident as a knob says.
//!
//! The target's leak and sawtooth knobs are the ground truth of the leak tests,
//! so they bypass the allocator: a block is an anonymous `mmap` whose every page
//! is written (so it is resident, not merely reserved), and dropping it
//! `munmap`s it (so RSS really falls back, which a heap might not do).

use std::ptr::NonNull;

use crate::probe::procfs::page_size;

pub struct ResidentBlock {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the block is plain memory owned by this value alone.
unsafe impl Send for ResidentBlock {}
unsafe impl Sync for ResidentBlock {}

impl ResidentBlock {
    /// Map `bytes` (rounded up to whole pages) and touch every page.
    /// Returns `None` when the kernel refuses the mapping.
    pub fn new(bytes: usize) -> Option<ResidentBlock> {
        let page = page_size() as usize;
        let len = bytes.div_ceil(page).max(1) * page;
        // SAFETY: an anonymous private mapping with no address hint has no
        // preconditions; the result is checked against MAP_FAILED.
        let raw = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return None;
        }
        let ptr = NonNull::new(raw.cast::<u8>())?;
        for offset in (0..len).step_by(page) {
            // SAFETY: offset < len, inside the mapping we own.
            unsafe { ptr.as_ptr().add(offset).write_volatile(0xA5) };
        }
        Some(ResidentBlock { ptr, len })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for ResidentBlock {
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly what mmap returned and nothing else refers to it.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::procfs::read_rss_bytes;

    #[test]
    fn blocks_are_resident_until_dropped() {
        let me = std::process::id();
        let before = read_rss_bytes(me).unwrap();
        let block = ResidentBlock::new(64 * 1024 * 1024).unwrap();
        let during = read_rss_bytes(me).unwrap();
        drop(block);
        let after = read_rss_bytes(me).unwrap();
        let grew_mb = (during as f64 - before as f64) / 1048576.0;
        assert!((62.0..70.0).contains(&grew_mb), "grew {grew_mb} MB");
        assert!(during - after > 60 * 1024 * 1024, "did not fall back");
    }
}
