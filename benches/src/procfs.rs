//! What the process costs, read from Linux's `/proc/self`: resident memory, thread count and
//! CPU time. Used by the soak example and the memory bench; `None` where `/proc` is missing.

use std::fs;

/// The page size `/proc/self/statm` counts in. 4 KiB on the x86-64 and most arm64 Linux
/// machines this runs on; reading it properly would need `sysconf` and a libc dependency.
pub const PAGE_BYTES: u64 = 4096;

/// Clock ticks per second in `/proc/self/stat` (`USER_HZ`, 100 on every mainstream kernel).
pub const TICKS_PER_SECOND: u64 = 100;

/// Resident memory in bytes (`/proc/self/statm`, second field, times the page size).
pub fn resident_bytes() -> Option<u64> {
    let statm = fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * PAGE_BYTES)
}

/// The number of threads (`Threads:` in `/proc/self/status`).
pub fn thread_count() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))?
        .trim()
        .parse()
        .ok()
}

/// User plus system CPU time of the whole process, in clock ticks (`/proc/self/stat` fields
/// 14 and 15).
pub fn cpu_ticks() -> Option<u64> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; the fields after it start past its ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    // `rest` starts at field 3, so utime (14) and stime (15) are its 12th and 13th.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Mebibytes, for printing.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
