//! Keeps an idle monitor small. Most of the binary's code and read-only
//! data it touched (argument parsing, JSON, the sandbox) is never needed
//! again, yet stays mapped and counts as resident; so does each burst of
//! relaying, since the kernel maps file pages around every fault (whole
//! folios of the page cache). Mappings that are clean and never written
//! can be dropped from our page tables at any time: the kernel faults back
//! in, from the page cache, whatever the next wake-up uses. The stack
//! below the current frame and the heap start-up freed go back too.

use std::time::{Duration, Instant};

/// At most ten trims a second: each costs a few dozen syscalls (~50 µs)
/// and the next wake-up a few dozen minor faults, so a chatty container's
/// monitor spends well under 1% of a CPU on it. Short, so a monitor woken
/// once a second trims right after each wake-up, not just before the next.
const TRIM_INTERVAL: Duration = Duration::from_millis(100);
/// Left alone below the stack pointer: the frames of the calls the loop
/// makes next (poll, the syscall wrappers).
const STACK_KEPT: usize = 16 << 10;
const PAGE: usize = 4096;

pub struct Trimmer {
    /// Clean, read-only, private file mappings.
    clean: Vec<(usize, usize)>,
    /// The main thread's stack mapping.
    stack: Option<(usize, usize)>,
    last: Option<Instant>,
    /// `/proc/self/maps`, read into the same buffer each time.
    maps: Vec<u8>,
    /// What one trim drops, found before anything is dropped.
    to_drop: Vec<(usize, usize)>,
    /// The loop worked since the last trim.
    pending: bool,
}

/// One mapping of `/proc/self/smaps`: range, whether it may be dropped,
/// whether it is the stack.
struct Mapping {
    start: usize,
    end: usize,
    eligible: bool,
    stack: bool,
    dirty_kb: u64,
}

/// Reads `/proc/self/maps` into `buf` (its capacity reused) with plain
/// syscalls: the trim's own code should be all it touches, as every page
/// of code it runs stays resident afterwards.
fn read_maps(buf: &mut Vec<u8>) {
    buf.clear();
    // SAFETY: a NUL-terminated path; the fd is closed below.
    let fd = unsafe {
        libc::open(
            c"/proc/self/maps".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return;
    }
    loop {
        if buf.capacity() - buf.len() < PAGE {
            buf.reserve(PAGE * 4);
        }
        let spare = buf.capacity() - buf.len();
        // SAFETY: reads at most `spare` bytes into the vector's spare
        // capacity, then grows its length by exactly what was read.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().add(buf.len()).cast(), spare) };
        if n <= 0 {
            break;
        }
        // SAFETY: `n` bytes were just initialised by read(2).
        unsafe { buf.set_len(buf.len() + n as usize) };
    }
    // SAFETY: our own fd.
    unsafe { libc::close(fd) };
}

/// The address ranges of a `maps` text, parsed byte by byte (see
/// `read_maps` for why not with `str` methods).
fn mapped_ranges(maps: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    maps.split(|&b| b == b'\n').filter_map(|line| {
        let hex = |bytes: &[u8]| -> Option<usize> {
            let mut value = 0usize;
            for &b in bytes {
                let digit = (b as char).to_digit(16)?;
                value = value.checked_mul(16)?.checked_add(digit as usize)?;
            }
            (!bytes.is_empty()).then_some(value)
        };
        let dash = line.iter().position(|&b| b == b'-')?;
        let space = line.iter().position(|&b| b == b' ')?;
        Some((hex(&line[..dash])?, hex(line.get(dash + 1..space)?)?))
    })
}

/// The address range a `maps`/`smaps` mapping line starts with.
fn range_of(line: &str) -> Option<(usize, usize)> {
    let (start, end) = line.split_whitespace().next()?.split_once('-')?;
    Some((
        usize::from_str_radix(start, 16).ok()?,
        usize::from_str_radix(end, 16).ok()?,
    ))
}

fn mappings(smaps: &str) -> Vec<Mapping> {
    let mut out: Vec<Mapping> = Vec::new();
    for line in smaps.lines() {
        if let Some((start, end)) = range_of(line) {
            let mut fields = line.split_whitespace().skip(1);
            let perms = fields.next().unwrap_or_default();
            let inode = fields.nth(2).unwrap_or("0");
            let path = fields.next().unwrap_or_default();
            out.push(Mapping {
                start,
                end,
                // File-backed, private, not writable; never the vdso/vvar.
                eligible: !perms.contains('w')
                    && perms.ends_with('p')
                    && inode != "0"
                    && path.starts_with('/'),
                stack: path == "[stack]",
                dirty_kb: 0,
            });
        } else if let Some(value) = line
            .strip_prefix("Private_Dirty:")
            .or_else(|| line.strip_prefix("Anonymous:"))
            && let Some(current) = out.last_mut()
        {
            current.dirty_kb += value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .unwrap_or(1);
        }
    }
    out
}

impl Trimmer {
    /// Reads our mappings once; they do not change afterwards (the monitor
    /// loads no libraries and maps no files).
    pub fn new() -> Trimmer {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
        let all = mappings(&smaps);
        // A mapping with private changes (relocated read-only data) would
        // lose them: only wholly clean ones qualify.
        let clean: Vec<(usize, usize)> = all
            .iter()
            .filter(|m| m.eligible && m.dirty_kb == 0)
            .map(|m| (m.start, m.end))
            .collect();
        Trimmer {
            to_drop: Vec::with_capacity(clean.len()),
            clean,
            stack: all.iter().find(|m| m.stack).map(|m| (m.start, m.end)),
            last: None,
            maps: Vec::with_capacity(smaps.len().min(64 << 10)),
            pending: true,
        }
    }

    /// Trims now. Everything is decided first, and the syscalls come last
    /// in one tight loop: code that runs after the binary's own pages are
    /// dropped faults them straight back in.
    pub fn trim(&mut self) {
        self.last = Some(Instant::now());
        self.pending = false;
        // malloc_trim gives free heap pages (between live blocks too) back
        // to the kernel.
        // SAFETY: malloc_trim only returns free heap memory to the kernel;
        // the monitor has no other thread that could be allocating.
        unsafe { libc::malloc_trim(0) };
        // Only ranges that are still the same mappings: one unmapped since
        // could now hold something else (a heap arena) that must not be
        // dropped. The buffers are reused, so trimming allocates nothing.
        read_maps(&mut self.maps);
        self.to_drop.clear();
        for range in &self.clean {
            if mapped_ranges(&self.maps).any(|m| m == *range) {
                self.to_drop.push(*range);
            }
        }
        let marker = 0u8;
        let sp = std::ptr::addr_of!(marker) as usize;
        let below = sp.saturating_sub(STACK_KEPT) & !(PAGE - 1);
        // Only on the main thread's stack (another thread's lies elsewhere,
        // and then nothing below it is ours to drop).
        if let Some((start, end)) = self.stack
            && (start..end).contains(&sp)
            && below > start
        {
            self.to_drop.push((start, below));
        }
        for &(start, end) in &self.to_drop {
            // SAFETY: each range is either a whole mapping of ours that is
            // not writable and holds no private modifications (dropping it
            // only makes later reads fault the same bytes back from the
            // file), or the stack below the current frame minus STACK_KEPT,
            // which holds only dead frames (they read as zeros if touched).
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
        }
    }

    /// The loop woke up and worked: what that touched is to be trimmed.
    pub fn note_activity(&mut self) {
        self.pending = true;
    }

    /// Trims if there was work since the last trim and that was
    /// `TRIM_INTERVAL` or more ago: for the idle loop, before it sleeps.
    pub fn trim_if_due(&mut self) {
        if self.pending && self.last.is_none_or(|t| t.elapsed() >= TRIM_INTERVAL) {
            self.trim();
        }
    }

    /// When the loop must wake up to trim (work is pending but a trim ran
    /// just now), so a monitor that falls idle always ends up trimmed.
    pub fn due_at(&self) -> Option<Instant> {
        self.pending
            .then(|| self.last.map(|t| t + TRIM_INTERVAL))
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_clean_read_only_file_mappings_and_the_stack_are_found() {
        let smaps = "\
5612cb4bc000-5612cb6c0000 r--p 00000000 08:01 123 /usr/bin/skiff
Rss:                  64 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
5612cbd65000-5612cbdc3000 r--p 008a9000 08:01 123 /usr/bin/skiff
Private_Dirty:       376 kB
Anonymous:           376 kB
5612cbdc3000-5612cbdc5000 rw-p 00907000 08:01 123 /usr/bin/skiff
Private_Dirty:         8 kB
7ffc27197000-7ffc271b8000 rw-p 00000000 00:00 0 [stack]
Private_Dirty:        72 kB
7ffc271f0000-7ffc271f2000 r-xp 00000000 00:00 0 [vdso]
Private_Dirty:         0 kB
";
        let found = mappings(smaps);
        assert_eq!(found.len(), 5);
        let droppable: Vec<bool> = found
            .iter()
            .map(|m| m.eligible && m.dirty_kb == 0)
            .collect();
        assert_eq!(droppable, [true, false, false, false, false]);
        assert!(found[3].stack);
        let ranges: Vec<_> = mapped_ranges(smaps.as_bytes()).collect();
        assert_eq!(ranges.len(), 5);
        assert_eq!(ranges[0], (0x5612cb4bc000, 0x5612cb6c0000));
    }

    #[test]
    fn trimming_this_process_keeps_it_working() {
        let mut trimmer = Trimmer::new();
        assert!(!trimmer.clean.is_empty(), "the test binary maps clean code");
        trimmer.trim();
        // Code and data fault back in: the process still computes, and
        // gets the same answers (10 one-digit, 90 two-digit and 900
        // three-digit numbers; their digit sum).
        let text: String = (0..1000).map(|i| i.to_string()).collect();
        assert_eq!(text.len(), 10 + 90 * 2 + 900 * 3);
        let digit_sum: u32 = text.bytes().map(|b| u32::from(b - b'0')).sum();
        assert_eq!(digit_sum, 13_500);
        // And a second trim, of pages that just came back, is as safe.
        trimmer.trim();
        assert_eq!(format!("{:x}", u64::MAX), "ffffffffffffffff");
    }
}
