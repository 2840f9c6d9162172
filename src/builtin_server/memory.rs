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
        let block = ResidentBlock::reserve(bytes)?;
        block.touch(0..block.len);
        Some(block)
    }

    /// Map `bytes` (rounded up to whole pages) without touching them: nothing
    /// is resident until [`ResidentBlock::touch`].
    fn reserve(bytes: usize) -> Option<ResidentBlock> {
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
        // Transparent huge pages (`enabled = always` on some hosts) would make
        // the first byte written fault in 2 MB: a 2 KB leak would read as 2 MB.
        // SAFETY: the range is exactly the mapping just made; a kernel without
        // THP answers EINVAL, which changes nothing.
        unsafe { libc::madvise(raw, len, libc::MADV_NOHUGEPAGE) };
        let ptr = NonNull::new(raw.cast::<u8>())?;
        Some(ResidentBlock { ptr, len })
    }

    /// Make the pages under `range` resident by writing one byte in each.
    fn touch(&self, range: std::ops::Range<usize>) {
        let page = page_size() as usize;
        let end = range.end.min(self.len);
        let mut offset = range.start / page * page;
        while offset < end {
            // SAFETY: offset < len, inside the mapping we own.
            unsafe { self.ptr.as_ptr().add(offset).write_volatile(0xA5) };
            offset += page;
        }
    }

    pub fn len(&self) -> usize {
        self.len
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

/// Memory kept for good, in amounts that need not be whole pages: KB are
/// carved from big reserved chunks, and pages become resident as the cursor
/// reaches them, so RSS grows by exactly what was asked, 2 KB at a time if need be.
#[derive(Default)]
pub struct Arena {
    chunks: Vec<ResidentBlock>,
    /// Bytes used in the last chunk.
    used: usize,
}

/// Size of the chunks an arena reserves.
const ARENA_CHUNK: usize = 8 * 1024 * 1024;

impl Arena {
    /// Keep `bytes` more. Returns false when the kernel refuses memory.
    pub fn keep(&mut self, mut bytes: usize) -> bool {
        while bytes > 0 {
            let room = self.chunks.last().map_or(0, |c| c.len() - self.used);
            if room == 0 {
                let Some(chunk) = ResidentBlock::reserve(ARENA_CHUNK.max(bytes)) else {
                    return false;
                };
                self.chunks.push(chunk);
                self.used = 0;
                continue;
            }
            let take = room.min(bytes);
            if let Some(chunk) = self.chunks.last() {
                chunk.touch(self.used..self.used + take);
            }
            self.used += take;
            bytes -= take;
        }
        true
    }

    /// Bytes kept so far.
    pub fn kept(&self) -> usize {
        let full: usize = self
            .chunks
            .iter()
            .rev()
            .skip(1)
            .map(ResidentBlock::len)
            .sum();
        full + self.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::procfs::OWN_RSS_TEST_LOCK;

    /// Resident bytes of `[start, start + len)`, from the kernel's page table
    /// (`mincore`): the pages that count in RSS, read for this range alone, so
    /// tests allocating in parallel in the same process cannot move the
    /// figure. `None` once the range is not mapped (mincore: ENOMEM).
    fn resident_in(start: usize, len: usize) -> Option<usize> {
        let page = page_size() as usize;
        let mut pages = vec![0u8; len.div_ceil(page)];
        // SAFETY: mincore only reads the page tables into `pages` (one byte per
        // page); an unmapped range is an error, not undefined behaviour.
        let status = unsafe { libc::mincore(start as *mut libc::c_void, len, pages.as_mut_ptr()) };
        (status == 0).then(|| pages.iter().filter(|&&p| p & 1 == 1).count() * page)
    }

    fn resident_bytes(block: &ResidentBlock) -> usize {
        resident_in(block.ptr.as_ptr() as usize, block.len).expect("a live block is mapped")
    }

    #[test]
    fn blocks_are_resident_until_dropped() {
        // Tests reading this process's own RSS must not see 64 MB come and go.
        let _alone = OWN_RSS_TEST_LOCK.lock();
        let block = ResidentBlock::new(64 * 1024 * 1024).unwrap();
        assert_eq!(resident_bytes(&block), 64 * 1024 * 1024);
        let (start, len) = (block.ptr.as_ptr() as usize, block.len);
        drop(block);
        // Unmapped: its pages are freed. (A test running in parallel may map
        // memory of its own there by now, but not 64 MB already resident.)
        let after = resident_in(start, len);
        assert!(
            after.is_none_or(|bytes| bytes < len),
            "still resident after drop: {after:?}"
        );
    }

    #[test]
    fn an_arena_keeps_exactly_what_is_asked_even_below_a_page() {
        let _alone = OWN_RSS_TEST_LOCK.lock();
        let mut arena = Arena::default();
        // 16384 × 2 KB = 32 MB: with whole pages per call it would be 64 MB.
        for _ in 0..16384 {
            assert!(arena.keep(2048));
        }
        assert_eq!(arena.kept(), 32 * 1024 * 1024);
        let resident: usize = arena.chunks.iter().map(resident_bytes).sum();
        assert_eq!(resident, 32 * 1024 * 1024, "resident pages of the arena");
        // A page is resident as soon as the cursor enters it: 2 KB more is one
        // more page, not a chunk.
        assert!(arena.keep(2048));
        let resident: usize = arena.chunks.iter().map(resident_bytes).sum();
        assert_eq!(resident, 32 * 1024 * 1024 + page_size() as usize);
    }
}
