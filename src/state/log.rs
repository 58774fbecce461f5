//! A container's log in podman's `k8s-file` format, one entry per line:
//! `<RFC3339Nano UTC time> <stdout|stderr> <F|P> <bytes>`. `F` marks the end
//! of an output line (its '\n' is not stored), `P` a piece that the next
//! entries of the same stream continue. The container's monitor appends with
//! [`LogWriter`] (rotating to `<path>.1` at a size limit); `skiff logs` reads
//! with [`read_log`] or [`LogFollower`].

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

mod timestamp;

pub use timestamp::{format_timestamp, parse_time_bound};
use timestamp::{from_nanos, parse_datetime};

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid time \"{value}\": {reason}")]
    InvalidTime { value: String, reason: &'static str },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> LogError + '_ {
    move |source| LogError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    pub time: SystemTime,
    pub stream: Stream,
    pub partial: bool,
    pub bytes: Vec<u8>,
}

/// Where the previous generation of the log at `path` is kept after rotation.
pub fn rotated_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}

/// Appends container output to the log; owned by the container's monitor.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    /// Bytes in the current file, kept here to avoid an fstat per chunk.
    size: u64,
    max_size: Option<u64>,
    /// A failed write may have left half an entry; the next write must first
    /// end that line, or the next entry would be glued onto it.
    maybe_torn: bool,
}

impl LogWriter {
    /// Opens (appending) the log at `path`. With `max_size`, when the file
    /// would grow past it, `path` is renamed to `path.1` (replacing an older
    /// one) and a new empty `path` is started, so at most 2 * `max_size`
    /// bytes are kept (as long as `max_size` is larger than an entry header,
    /// about 45 bytes).
    pub fn open(path: &Path, max_size: Option<u64>) -> Result<LogWriter, LogError> {
        let mut writer = LogWriter {
            path: path.to_path_buf(),
            file: open_for_append(path)?,
            size: 0,
            max_size,
            // The previous monitor may have crashed mid-entry.
            maybe_torn: true,
        };
        writer.end_torn_line()?;
        Ok(writer)
    }

    /// Appends a chunk read from the container's stdout/stderr (or its
    /// terminal, as `Stdout`): each complete line becomes an `F` entry, a
    /// trailing piece without newline a `P` entry. The whole chunk goes out
    /// in one write(2) unless the log rotates in the middle of it.
    pub fn write(&mut self, stream: Stream, chunk: &[u8]) -> Result<(), LogError> {
        self.write_at(stream, chunk, SystemTime::now())
    }

    fn write_at(&mut self, stream: Stream, chunk: &[u8], time: SystemTime) -> Result<(), LogError> {
        if chunk.is_empty() {
            return Ok(());
        }
        if self.maybe_torn {
            self.end_torn_line()?;
        }
        // The whole chunk arrived at once, so its entries share one timestamp.
        let header = format!("{} {} ", format_timestamp(time), stream.name());
        let entry_overhead = header.len() + b"F \n".len();
        // A line longer than the size limit is split into P pieces, so that
        // no single entry can push a file past `max_size`.
        let max_piece = match self.max_size {
            None => usize::MAX,
            Some(max) => usize::try_from(max.saturating_sub(entry_overhead as u64))
                .unwrap_or(usize::MAX)
                .max(1),
        };
        let mut buf = Vec::with_capacity(chunk.len() + entry_overhead * 2);
        for line in chunk.split_inclusive(|&b| b == b'\n') {
            let (mut rest, complete) = match line.strip_suffix(b"\n") {
                Some(text) => (text, true),
                None => (line, false),
            };
            loop {
                let (piece, tail) = rest.split_at(rest.len().min(max_piece));
                let entry_len = (entry_overhead + piece.len()) as u64;
                let used = self.size + buf.len() as u64;
                if self
                    .max_size
                    .is_some_and(|max| used > 0 && used + entry_len > max)
                {
                    self.append(&buf)?;
                    buf.clear();
                    self.rotate()?;
                }
                let partial = !complete || !tail.is_empty();
                buf.extend_from_slice(header.as_bytes());
                buf.extend_from_slice(if partial { b"P " } else { b"F " });
                buf.extend_from_slice(piece);
                buf.push(b'\n');
                rest = tail;
                if rest.is_empty() {
                    break;
                }
            }
        }
        self.append(&buf)
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), LogError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let written = self.file.write_all(bytes);
        self.maybe_torn = written.is_err();
        written.map_err(io_err(&self.path))?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> Result<(), LogError> {
        fs::rename(&self.path, rotated_path(&self.path)).map_err(io_err(&self.path))?;
        self.file = open_for_append(&self.path)?;
        self.size = 0;
        Ok(())
    }

    /// Terminates a torn last entry with '\n'. What was written of it is real
    /// output, and readers (including a follower that buffered the piece)
    /// then see a complete line instead of one merged with the next entry.
    fn end_torn_line(&mut self) -> Result<(), LogError> {
        let path = &self.path;
        self.size = self.file.metadata().map_err(io_err(path))?.len();
        let mut last = [b'\n'];
        if self.size > 0 {
            let at = self.size - 1;
            self.file
                .read_exact_at(&mut last, at)
                .map_err(io_err(path))?;
        }
        if last[0] != b'\n' {
            self.file.write_all(b"\n").map_err(io_err(path))?;
            self.size += 1;
        }
        self.maybe_torn = false;
        Ok(())
    }
}

fn open_for_append(path: &Path) -> Result<File, LogError> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        // Container output may hold secrets; only the owner reads logs.
        .mode(0o600)
        .open(path)
        .map_err(io_err(path))
}

fn open_existing(path: &Path) -> Result<Option<File>, LogError> {
    match File::open(path) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

fn file_id(file: &File, path: &Path) -> Result<(u64, u64), LogError> {
    let meta = file.metadata().map_err(io_err(path))?;
    Ok((meta.dev(), meta.ino()))
}

fn read_rest(file: &mut File, path: &Path) -> Result<Vec<u8>, LogError> {
    let mut buf = Vec::new();
    file.read_to_end(&mut buf).map_err(io_err(path))?;
    Ok(buf)
}

/// Opens `path.1` and `path` as one consistent pair. `path` is opened first:
/// if the writer rotates in between, `path.1` is then the very file we hold
/// as `path`, and reading it twice would duplicate it, so it is dropped.
fn open_generations(path: &Path) -> Result<(Option<File>, Option<File>), LogError> {
    let current = open_existing(path)?;
    let rotated = rotated_path(path);
    let mut old = open_existing(&rotated)?;
    if let (Some(cur), Some(o)) = (&current, &old)
        && file_id(cur, path)? == file_id(o, &rotated)?
    {
        old = None;
    }
    Ok((old, current))
}

/// Parses the complete lines at the start of `buf` into `out`, returning how
/// many bytes they took. An unterminated tail is left alone: the writer always
/// ends entries with '\n', so it is still being written or was torn by a crash.
fn parse_lines(buf: &[u8], out: &mut Vec<LogEntry>) -> usize {
    let mut used = 0;
    while let Some(len) = buf[used..].iter().position(|&b| b == b'\n') {
        out.extend(parse_entry(&buf[used..used + len]));
        used += len + 1;
    }
    used
}

fn parse_entry(line: &[u8]) -> Option<LogEntry> {
    let mut fields = line.splitn(4, |&b| b == b' ');
    let nanos = parse_datetime(std::str::from_utf8(fields.next()?).ok()?).ok()?;
    let stream = match fields.next()? {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return None,
    };
    let partial = match fields.next()? {
        b"F" => false,
        b"P" => true,
        _ => return None,
    };
    Some(LogEntry {
        time: from_nanos(nanos)?,
        stream,
        partial,
        bytes: fields.next().unwrap_or_default().to_vec(),
    })
}

/// Reads the whole log: `path.1` first if present, then `path`. A missing
/// `path` reads as empty (the container has not produced output yet).
/// Malformed lines are skipped.
pub fn read_log(path: &Path) -> Result<Vec<LogEntry>, LogError> {
    let (old, current) = open_generations(path)?;
    let mut entries = Vec::new();
    for (file, file_path) in [(old, rotated_path(path)), (current, path.to_path_buf())] {
        if let Some(mut file) = file {
            parse_lines(&read_rest(&mut file, &file_path)?, &mut entries);
        }
    }
    Ok(entries)
}

/// Follows a log that another process appends to (`skiff logs -f`).
pub struct LogFollower {
    path: PathBuf,
    /// `path.1` as found at open time, read in full by the first poll.
    backlog: Option<File>,
    current: Option<Followed>,
}

/// The file currently being followed, held open so that what the writer
/// appended before a rotation can still be read after the rename.
struct Followed {
    file: File,
    id: (u64, u64),
    offset: u64,
    /// An incomplete last line, kept until its '\n' arrives.
    pending: Vec<u8>,
}

impl Followed {
    fn new(file: File, path: &Path) -> Result<Followed, LogError> {
        Ok(Followed {
            id: file_id(&file, path)?,
            file,
            offset: 0,
            pending: Vec::new(),
        })
    }

    fn drain(&mut self, path: &Path, out: &mut Vec<LogEntry>) -> Result<(), LogError> {
        let before = self.pending.len();
        self.file
            .read_to_end(&mut self.pending)
            .map_err(io_err(path))?;
        self.offset += (self.pending.len() - before) as u64;
        let used = parse_lines(&self.pending, out);
        self.pending.drain(..used);
        Ok(())
    }
}

impl LogFollower {
    /// Positioned at the start of the log (`path.1`, then `path`): the first
    /// poll returns everything. `path` need not exist yet.
    pub fn open(path: &Path) -> Result<LogFollower, LogError> {
        let (backlog, current) = open_generations(path)?;
        let current = current.map(|file| Followed::new(file, path)).transpose()?;
        Ok(LogFollower {
            path: path.to_path_buf(),
            backlog,
            current,
        })
    }

    /// Returns the entries added since the last call. A rotation (the inode
    /// at `path` changed) or truncation (the file shrank) restarts reading at
    /// the start of the new file.
    pub fn poll(&mut self) -> Result<Vec<LogEntry>, LogError> {
        let mut out = Vec::new();
        if let Some(mut old) = self.backlog.take() {
            let rotated = rotated_path(&self.path);
            parse_lines(&read_rest(&mut old, &rotated)?, &mut out);
        }
        let Some(cur) = &mut self.current else {
            if let Some(file) = open_existing(&self.path)? {
                let mut next = Followed::new(file, &self.path)?;
                next.drain(&self.path, &mut out)?;
                self.current = Some(next);
            }
            return Ok(out);
        };
        // `path` is briefly missing while the writer rotates; the next poll
        // will find the new file.
        let at_path = match fs::metadata(&self.path) {
            Ok(meta) => Some((meta.dev(), meta.ino(), meta.len())),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(io_err(&self.path)(e)),
        };
        // Same file but shorter than what was read: truncated, so start over.
        if at_path.is_some_and(|(dev, ino, len)| (dev, ino) == cur.id && len < cur.offset) {
            cur.file
                .seek(SeekFrom::Start(0))
                .map_err(io_err(&self.path))?;
            cur.offset = 0;
            cur.pending.clear();
        }
        // Whatever the writer appended before renaming the file away is
        // still ours to read.
        cur.drain(&self.path, &mut out)?;
        if at_path.is_some_and(|(dev, ino, _)| (dev, ino) != cur.id) {
            self.follow_new_file(&mut out)?;
        }
        Ok(out)
    }

    fn follow_new_file(&mut self, out: &mut Vec<LogEntry>) -> Result<(), LogError> {
        // An unfinished line left in the old file was torn; it is dropped.
        let old_id = self.current.take().map(|old| old.id);
        let Some(file) = open_existing(&self.path)? else {
            return Ok(());
        };
        let mut next = Followed::new(file, &self.path)?;
        // After two rotations between polls, `path.1` is a file we have never
        // seen; read it before the new one.
        let rotated = rotated_path(&self.path);
        if let Some(mut middle) = open_existing(&rotated)? {
            let id = file_id(&middle, &rotated)?;
            if Some(id) != old_id && id != next.id {
                parse_lines(&read_rest(&mut middle, &rotated)?, out);
            }
        }
        next.drain(&self.path, out)?;
        self.current = Some(next);
        Ok(())
    }
}

/// What `skiff logs --since/--until/--tail` selects.
#[derive(Clone, Debug, Default)]
pub struct LogFilter {
    /// Inclusive: entries at or after this time.
    pub since: Option<SystemTime>,
    /// Exclusive: entries before this time.
    pub until: Option<SystemTime>,
    /// The last N lines (a run of P entries ended by an F is one line).
    pub tail: Option<usize>,
}

/// Applies `filter`. The time window is applied before `tail`, so that
/// `--until X --tail N` gives the last N lines before X.
pub fn apply_filter(entries: Vec<LogEntry>, filter: &LogFilter) -> Vec<LogEntry> {
    let mut kept: Vec<LogEntry> = entries
        .into_iter()
        .filter(|e| filter.since.is_none_or(|since| e.time >= since))
        .filter(|e| filter.until.is_none_or(|until| e.time < until))
        .collect();
    if let Some(tail) = filter.tail {
        let (line_of, lines) = number_lines(&kept);
        let first = lines.saturating_sub(tail);
        let mut line_of = line_of.into_iter();
        kept.retain(|_| line_of.next().is_some_and(|line| line >= first));
    }
    kept
}

/// Numbers the logical lines in order of their first entry, returning each
/// entry's line and the line count. The two streams interleave, so each has
/// its own open (partial) line.
fn number_lines(entries: &[LogEntry]) -> (Vec<usize>, usize) {
    let mut open: [Option<usize>; 2] = [None, None];
    let mut count = 0;
    let mut line_of = Vec::with_capacity(entries.len());
    for e in entries {
        let slot = &mut open[e.stream as usize];
        let line = slot.unwrap_or_else(|| {
            count += 1;
            count - 1
        });
        *slot = e.partial.then_some(line);
        line_of.push(line);
    }
    (line_of, count)
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;
