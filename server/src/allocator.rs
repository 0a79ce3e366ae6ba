//! The global allocator `redrock-server` installs: mimalloc, as Redis ships jemalloc (with
//! glibc's malloc, its free-list consolidation was 11% of a pipelined SET's profile).
//!
//! Not the `mimalloc` crate's `MiMalloc`, which passes every allocation to
//! `mi_malloc_aligned`. mimalloc 3 serves that from its fast path only for sizes up to 1 KiB
//! whose page has a free block at hand; anything else (a write group's batch, a reply buffer,
//! a record past 1 KiB) whose size class is not a power of two took the over-allocating
//! path, and marked its page so that every free on it took the slow path too: 200
//! instructions of a pipelined SET's 5.7 k (callgrind). A Rust allocation asks for at most
//! the alignment of its size, which C's `malloc` already gives up to 16 bytes; only larger
//! alignments go to `mi_malloc_aligned`, as std's `System` does with glibc.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The alignment `mi_malloc` gives every block of this size or larger (`MI_MAX_ALIGN_SIZE`,
/// C's `max_align_t`); smaller blocks are aligned to their size class, a multiple of 8.
const MALLOC_ALIGN_BYTES: usize = 16;

pub struct MiMalloc;

/// Whether `mi_malloc(size)` is aligned enough for `align`.
fn malloc_suffices(align: usize, size: usize) -> bool {
    align <= MALLOC_ALIGN_BYTES && align <= size
}

// SAFETY: mimalloc is thread-safe and returns null on failure; every pointer freed or
// reallocated here came from it.
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if malloc_suffices(layout.align(), layout.size()) {
            mi::mi_malloc(layout.size()).cast()
        } else {
            mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if malloc_suffices(layout.align(), layout.size()) {
            mi::mi_zalloc(layout.size()).cast()
        } else {
            mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        mi::mi_free(ptr.cast::<c_void>());
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if malloc_suffices(layout.align(), new_size) {
            mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
        } else {
            mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aligned(p: *mut u8, align: usize) -> bool {
        (p as usize).is_multiple_of(align)
    }

    /// Every size and alignment a Rust type can ask for, up to a page: the block is aligned,
    /// writable, survives growing and shrinking, and is zeroed when asked.
    #[test]
    fn blocks_are_aligned_as_asked() {
        let allocator = MiMalloc;
        for align in [1, 2, 4, 8, 16, 32, 64, 128, 4096] {
            for size in (1..=5000).filter(|size| size % align == 0) {
                let layout = Layout::from_size_align(size, align).unwrap();
                unsafe {
                    let p = allocator.alloc(layout);
                    assert!(!p.is_null() && aligned(p, align), "size {size} align {align}");
                    p.write_bytes(0xAB, size);
                    let grown = allocator.realloc(p, layout, size * 3);
                    assert!(aligned(grown, align) && *grown.add(size - 1) == 0xAB);
                    let shrunk = allocator.realloc(grown, Layout::from_size_align(size * 3, align).unwrap(), size);
                    assert!(aligned(shrunk, align) && *shrunk == 0xAB);
                    allocator.dealloc(shrunk, layout);
                    let z = allocator.alloc_zeroed(layout);
                    assert!(aligned(z, align) && (0..size).all(|i| *z.add(i) == 0));
                    allocator.dealloc(z, layout);
                }
            }
        }
    }
}
