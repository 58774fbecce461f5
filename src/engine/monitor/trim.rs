//! Keeps an idle monitor small. After start-up, most of the binary's
//! code and read-only data it touched (argument parsing, JSON, the
//! sandbox) is never needed again, yet stays mapped and counts as
//! resident. Mappings that are clean and never written can be dropped:
//! the kernel faults back in, from the file, whatever the poll loop uses.

/// Gives the heap that start-up freed (the parsed command line, the
/// spec, JSON buffers) back to the kernel, then drops clean, read-only,
/// file-backed pages of this process.
pub fn drop_clean_pages() {
    // SAFETY: malloc_trim only returns free heap memory to the kernel; no
    // allocation is in use by another thread (the monitor has none).
    unsafe { libc::malloc_trim(0) };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let mut current: Option<(usize, usize, bool)> = None;
    let mut dirty = 0u64;
    let flush = |range: Option<(usize, usize, bool)>, dirty: u64| {
        if let Some((start, end, eligible)) = range
            && eligible
            && dirty == 0
        {
            // SAFETY: the range is a whole mapping of ours that is not
            // writable and holds no private modifications, so dropping it
            // only makes later reads fault the same bytes back from the file.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
        }
    };
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or_default();
        if let Some((start, end)) = first.split_once('-')
            && let (Ok(start), Ok(end)) = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            )
        {
            flush(current.take(), dirty);
            dirty = 0;
            let perms = fields.next().unwrap_or_default();
            let inode = fields.nth(2).unwrap_or("0");
            let path = fields.next().unwrap_or_default();
            // File-backed, private, not writable; never the vdso/vvar.
            let eligible = !perms.contains('w')
                && perms.ends_with('p')
                && inode != "0"
                && path.starts_with('/');
            current = Some((start, end, eligible));
        } else if let Some(value) = line
            .strip_prefix("Private_Dirty:")
            .or_else(|| line.strip_prefix("Anonymous:"))
        {
            dirty += value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .unwrap_or(1);
        }
    }
    flush(current, dirty);
}
