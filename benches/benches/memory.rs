//! Memory per registered worker: heap bytes counted by a global allocator, and resident
//! memory from `/proc/self/statm`, for pools of 1,000 and 10,000 workers.
//!
//!     cargo bench -p vigil-benches --bench memory
//!
//! Prints one `memory workers=N heap_bytes_per_worker=B rss_bytes_per_worker=R` line per
//! size. The heap figure counts every live allocation made while registering (entry, view,
//! snapshot cell and slot, subscription and subscriber process, monitor actor and its core,
//! the listener's watch-list entry and exit notifier); the resident figure also includes the
//! allocator's own overhead. No worker has a thread or a stack of its own: the context's one
//! listener task serves them all.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use vigil_benches::pool_with;
use vigil_benches::procfs::resident_bytes;

/// Counts live heap bytes; forwards to the system allocator.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards to `System` with the caller's own arguments, so `System`'s
// guarantees are passed through unchanged; the counter is only arithmetic on the sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System` through `alloc` or `realloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: as for `dealloc`, and the caller upholds `realloc`'s size rules.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    for workers in [1_000usize, 10_000] {
        let heap_before = LIVE_BYTES.load(Ordering::Relaxed);
        let rss_before = resident_bytes().unwrap_or(0);
        let (context, registrations) = pool_with(workers);
        let heap = LIVE_BYTES.load(Ordering::Relaxed) - heap_before;
        let rss = resident_bytes().unwrap_or(0).saturating_sub(rss_before);
        println!(
            "memory workers={workers} heap_bytes_per_worker={} rss_bytes_per_worker={}",
            heap / workers as isize,
            rss / workers as u64
        );
        drop(registrations);
        drop(context);
    }
}
