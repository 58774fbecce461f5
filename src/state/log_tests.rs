use super::*;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn at(secs: u64, nanos: u32) -> SystemTime {
    UNIX_EPOCH + Duration::new(secs, nanos)
}

fn entry(secs: u64, stream: Stream, partial: bool, bytes: &[u8]) -> LogEntry {
    LogEntry {
        time: at(secs, 0),
        stream,
        partial,
        bytes: bytes.to_vec(),
    }
}

/// (stream, partial, bytes) of each entry, for comparisons that ignore time.
fn shape(entries: &[LogEntry]) -> Vec<(Stream, bool, Vec<u8>)> {
    entries
        .iter()
        .map(|e| (e.stream, e.partial, e.bytes.clone()))
        .collect()
}

fn texts(entries: &[LogEntry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| String::from_utf8_lossy(&e.bytes).into_owned())
        .collect()
}

/// The entries of one file, without the rotated generation.
fn entries_in(path: &Path) -> Vec<LogEntry> {
    let mut entries = Vec::new();
    parse_lines(&fs::read(path).unwrap(), &mut entries);
    entries
}

fn append_raw(path: &Path, bytes: &[u8]) {
    let mut file = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    file.write_all(bytes).unwrap();
}

// ---- writing and reading ----

#[test]
fn writes_the_k8s_file_format() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let mut writer = LogWriter::open(&path, None).unwrap();
    let t = at(1_700_000_000, 123_456_789);
    writer.write_at(Stream::Stdout, b"hello\nwor", t).unwrap();
    writer.write_at(Stream::Stderr, b"\n", t).unwrap();
    writer.write_at(Stream::Stdout, b"", t).unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "2023-11-14T22:13:20.123456789Z stdout F hello\n\
         2023-11-14T22:13:20.123456789Z stdout P wor\n\
         2023-11-14T22:13:20.123456789Z stderr F \n"
    );
}

#[test]
fn round_trips_raw_bytes_and_partial_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let before = SystemTime::now();
    let mut writer = LogWriter::open(&path, None).unwrap();
    writer.write(Stream::Stdout, b"hello\nwor").unwrap();
    writer.write(Stream::Stdout, b"ld\n").unwrap();
    writer
        .write(Stream::Stderr, b"\xff\xfe \x00 two  spaces\r\n\n")
        .unwrap();
    writer.write(Stream::Stdout, b"no newline at exit").unwrap();
    let after = SystemTime::now();

    let entries = read_log(&path).unwrap();
    assert_eq!(
        shape(&entries),
        vec![
            (Stream::Stdout, false, b"hello".to_vec()),
            (Stream::Stdout, true, b"wor".to_vec()),
            (Stream::Stdout, false, b"ld".to_vec()),
            (
                Stream::Stderr,
                false,
                b"\xff\xfe \x00 two  spaces\r".to_vec()
            ),
            (Stream::Stderr, false, b"".to_vec()),
            (Stream::Stdout, true, b"no newline at exit".to_vec()),
        ]
    );
    assert!(entries.iter().all(|e| before <= e.time && e.time <= after));
    // One chunk arrives at one instant.
    assert_eq!(entries[0].time, entries[1].time);
    assert!(entries.windows(2).all(|w| w[0].time <= w[1].time));
}

#[test]
fn reopening_appends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    LogWriter::open(&path, None)
        .unwrap()
        .write(Stream::Stdout, b"first run\n")
        .unwrap();
    LogWriter::open(&path, None)
        .unwrap()
        .write(Stream::Stdout, b"second run\n")
        .unwrap();
    assert_eq!(
        texts(&read_log(&path).unwrap()),
        ["first run", "second run"]
    );
}

#[test]
fn new_log_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    LogWriter::open(&path, None).unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn missing_log_reads_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    assert!(read_log(&dir.path().join("ctr.log")).unwrap().is_empty());
}

#[test]
fn unreadable_log_error_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the log should be: opening works, reading fails.
    let path = dir.path().join("ctr.log");
    fs::create_dir(&path).unwrap();
    let message = read_log(&path).unwrap_err().to_string();
    assert!(
        message.starts_with(&format!("{}: ", path.display())),
        "{message}"
    );
}

#[test]
fn skips_malformed_lines_and_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    fs::write(
        &path,
        b"2023-11-14T22:13:20.000000000Z stdout F one\n\
          garbage\n\
          \n\
          2023-11-14T22:13:20Z stdin F wrong stream\n\
          2023-11-14T22:13:20Z stdout X wrong flag\n\
          2023-11-14T22:13:20Z stdout\n\
          2023-13-14T22:13:20Z stdout F bad date\n\
          2023-11-14T23:13:20+01:00 stderr P two\n\
          2023-11-14T22:13:21Z stdout F\n\
          2023-11-14T22:13:22.000000000Z stdout F tor",
    )
    .unwrap();
    let entries = read_log(&path).unwrap();
    assert_eq!(
        shape(&entries),
        vec![
            (Stream::Stdout, false, b"one".to_vec()),
            (Stream::Stderr, true, b"two".to_vec()),
            (Stream::Stdout, false, b"".to_vec()),
        ]
    );
    assert_eq!(entries[1].time, at(1_700_000_000, 0));
}

#[test]
fn writer_ends_a_torn_line_before_appending() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    append_raw(
        &path,
        b"2023-11-14T22:13:20Z stdout F whole\n2023-11-14T22:13:21Z stdout F cut sh",
    );
    let mut writer = LogWriter::open(&path, None).unwrap();
    writer.write(Stream::Stdout, b"after restart\n").unwrap();
    assert_eq!(
        texts(&read_log(&path).unwrap()),
        ["whole", "cut sh", "after restart"]
    );
}

// ---- rotation ----

fn write_lines(writer: &mut LogWriter, range: std::ops::Range<usize>) {
    for i in range {
        writer
            .write(Stream::Stdout, format!("line {i}\n").as_bytes())
            .unwrap();
    }
}

fn numbered(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("line {i}")).collect()
}

// Each "line N\n" entry is 30 + 1 + 6 + 1 + 2 + 6 + 1 = 47 bytes, so four fit in 200.
const FOUR_LINES: u64 = 200;

#[test]
fn rotation_keeps_one_old_generation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let mut writer = LogWriter::open(&path, Some(FOUR_LINES)).unwrap();
    write_lines(&mut writer, 0..10);

    let old = rotated_path(&path);
    assert_eq!(old, dir.path().join("ctr.log.1"));
    assert_eq!(texts(&entries_in(&old)), numbered(4..8));
    assert_eq!(texts(&entries_in(&path)), numbered(8..10));
    for p in [&path, &old] {
        assert!(fs::metadata(p).unwrap().len() <= FOUR_LINES);
    }
    // read_log covers both generations, oldest first.
    assert_eq!(texts(&read_log(&path).unwrap()), numbered(4..10));
}

#[test]
fn read_log_returns_the_old_generation_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let mut writer = LogWriter::open(&path, Some(FOUR_LINES)).unwrap();
    write_lines(&mut writer, 0..6);
    let all = read_log(&path).unwrap();
    assert_eq!(texts(&all), numbered(0..6));
}

#[test]
fn a_rotation_between_opening_the_two_files_does_not_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let mut writer = LogWriter::open(&path, None).unwrap();
    write_lines(&mut writer, 0..2);
    // What a reader sees if the writer renames `path` to `path.1` right after
    // the reader opened `path`: both names lead to the same file.
    fs::hard_link(&path, rotated_path(&path)).unwrap();
    assert_eq!(texts(&read_log(&path).unwrap()), numbered(0..2));
    assert_eq!(
        texts(&LogFollower::open(&path).unwrap().poll().unwrap()),
        numbered(0..2)
    );
}

#[test]
fn a_multi_line_chunk_rotates_between_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let mut writer = LogWriter::open(&path, Some(FOUR_LINES)).unwrap();
    let chunk: String = numbered(0..6).iter().map(|l| format!("{l}\n")).collect();
    writer.write(Stream::Stdout, chunk.as_bytes()).unwrap();
    assert_eq!(texts(&entries_in(&rotated_path(&path))), numbered(0..4));
    assert_eq!(texts(&entries_in(&path)), numbered(4..6));
}

#[test]
fn a_line_longer_than_the_limit_is_split_into_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let mut writer = LogWriter::open(&path, Some(120)).unwrap();
    writer.write(Stream::Stderr, &[b'a'; 130]).unwrap();
    writer.write(Stream::Stderr, b"\n").unwrap();
    for p in [path.clone(), rotated_path(&path)] {
        assert!(fs::metadata(&p).unwrap().len() <= 120, "{}", p.display());
    }
    let entries = read_log(&path).unwrap();
    let (last, pieces) = entries.split_last().unwrap();
    assert!(!last.partial && last.bytes.is_empty());
    assert!(
        pieces
            .iter()
            .all(|e| e.partial && e.bytes.iter().all(|&b| b == b'a'))
    );
    assert!(pieces.iter().all(|e| e.bytes.len() <= 120 - 44));
}

#[test]
fn an_oversized_existing_log_rotates_on_the_first_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let mut writer = LogWriter::open(&path, None).unwrap();
    write_lines(&mut writer, 0..6);
    drop(writer);
    let mut writer = LogWriter::open(&path, Some(FOUR_LINES)).unwrap();
    write_lines(&mut writer, 6..7);
    assert_eq!(texts(&entries_in(&rotated_path(&path))), numbered(0..6));
    assert_eq!(texts(&entries_in(&path)), numbered(6..7));
}

// ---- following ----

#[test]
fn follower_sees_appended_entries_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let mut writer = LogWriter::open(&path, None).unwrap();
    write_lines(&mut writer, 0..2);
    let mut follower = LogFollower::open(&path).unwrap();
    assert_eq!(texts(&follower.poll().unwrap()), numbered(0..2));
    assert!(follower.poll().unwrap().is_empty());
    write_lines(&mut writer, 2..5);
    assert_eq!(texts(&follower.poll().unwrap()), numbered(2..5));
    assert!(follower.poll().unwrap().is_empty());
}

#[test]
fn follower_waits_for_the_log_to_appear() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let mut follower = LogFollower::open(&path).unwrap();
    assert!(follower.poll().unwrap().is_empty());
    let mut writer = LogWriter::open(&path, None).unwrap();
    assert!(follower.poll().unwrap().is_empty());
    write_lines(&mut writer, 0..1);
    assert_eq!(texts(&follower.poll().unwrap()), numbered(0..1));
}

#[test]
fn follower_holds_a_torn_line_until_it_completes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    append_raw(
        &path,
        b"2023-11-14T22:13:20Z stdout F one\n2023-11-14T22:13:2",
    );
    let mut follower = LogFollower::open(&path).unwrap();
    assert_eq!(texts(&follower.poll().unwrap()), ["one"]);
    append_raw(&path, b"1Z stderr P tw");
    assert!(follower.poll().unwrap().is_empty());
    append_raw(&path, b"o\n2023-11-14T22:13:22Z stdout F three");
    let entries = follower.poll().unwrap();
    assert_eq!(
        shape(&entries),
        vec![(Stream::Stderr, true, b"two".to_vec())]
    );
    assert_eq!(entries[0].time, at(1_700_000_001, 0));
    assert!(follower.poll().unwrap().is_empty());
    // A restarted writer terminates the torn entry, which completes it.
    LogWriter::open(&path, None).unwrap();
    assert_eq!(texts(&follower.poll().unwrap()), ["three"]);
    assert!(follower.poll().unwrap().is_empty());
}

#[test]
fn follower_starts_with_the_rotated_generation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let mut writer = LogWriter::open(&path, Some(FOUR_LINES)).unwrap();
    write_lines(&mut writer, 0..6);
    let mut follower = LogFollower::open(&path).unwrap();
    assert_eq!(texts(&follower.poll().unwrap()), numbered(0..6));
}

#[test]
fn follower_survives_rotation_without_loss_or_duplicates() {
    // Polling every 7 writes lets up to two rotations happen between polls.
    for every in [1, 2, 3, 4, 5, 7] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let mut writer = LogWriter::open(&path, Some(FOUR_LINES)).unwrap();
        let mut follower = LogFollower::open(&path).unwrap();
        let mut seen = Vec::new();
        for i in 0..40 {
            write_lines(&mut writer, i..i + 1);
            if i % every == 0 {
                seen.extend(follower.poll().unwrap());
            }
        }
        seen.extend(follower.poll().unwrap());
        assert_eq!(
            texts(&seen),
            numbered(0..40),
            "polling every {every} writes"
        );
    }
}

#[test]
fn follower_notices_a_rotation_while_the_new_file_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let mut writer = LogWriter::open(&path, None).unwrap();
    write_lines(&mut writer, 0..2);
    let mut follower = LogFollower::open(&path).unwrap();
    assert_eq!(texts(&follower.poll().unwrap()), numbered(0..2));
    // Caught between the writer's rename and its creating the new file.
    write_lines(&mut writer, 2..3);
    fs::rename(&path, rotated_path(&path)).unwrap();
    assert_eq!(texts(&follower.poll().unwrap()), numbered(2..3));
    let mut writer = LogWriter::open(&path, None).unwrap();
    write_lines(&mut writer, 3..4);
    assert_eq!(texts(&follower.poll().unwrap()), numbered(3..4));
}

#[test]
fn follower_rereads_a_truncated_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let mut writer = LogWriter::open(&path, None).unwrap();
    write_lines(&mut writer, 0..3);
    let mut follower = LogFollower::open(&path).unwrap();
    assert_eq!(follower.poll().unwrap().len(), 3);
    drop(writer);
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    let mut writer = LogWriter::open(&path, None).unwrap();
    write_lines(&mut writer, 10..11);
    assert_eq!(texts(&follower.poll().unwrap()), numbered(10..11));
}

// ---- filtering ----

fn stdout_at(secs: u64, text: &str) -> LogEntry {
    entry(secs, Stream::Stdout, false, text.as_bytes())
}

#[test]
fn since_is_inclusive_and_until_exclusive() {
    let entries: Vec<_> = (0..6)
        .map(|i| stdout_at(100 + i, &format!("{i}")))
        .collect();
    let filter = LogFilter {
        since: Some(at(102, 0)),
        until: Some(at(104, 0)),
        tail: None,
    };
    assert_eq!(texts(&apply_filter(entries.clone(), &filter)), ["2", "3"]);
    let since_only = LogFilter {
        since: Some(at(104, 1)),
        ..LogFilter::default()
    };
    assert_eq!(texts(&apply_filter(entries.clone(), &since_only)), ["5"]);
    assert_eq!(
        apply_filter(entries.clone(), &LogFilter::default()),
        entries
    );
}

#[test]
fn tail_counts_lines_not_entries() {
    let entries = vec![
        stdout_at(1, "a"),
        entry(2, Stream::Stdout, true, b"b1"),
        entry(2, Stream::Stdout, true, b"b2"),
        stdout_at(3, "b3"),
        stdout_at(4, "c"),
        entry(5, Stream::Stdout, true, b"unfinished"),
    ];
    let tail = |n| {
        let filter = LogFilter {
            tail: Some(n),
            ..LogFilter::default()
        };
        texts(&apply_filter(entries.clone(), &filter))
    };
    assert!(tail(0).is_empty());
    assert_eq!(tail(1), ["unfinished"]);
    assert_eq!(tail(2), ["c", "unfinished"]);
    assert_eq!(tail(3), ["b1", "b2", "b3", "c", "unfinished"]);
    assert_eq!(tail(4).len(), 6);
    assert_eq!(tail(100).len(), 6);
}

#[test]
fn tail_keeps_interleaved_streams_apart() {
    // stdout's "x" + "y" is one line, interrupted by a stderr line.
    let entries = vec![
        stdout_at(1, "first"),
        entry(2, Stream::Stdout, true, b"x"),
        entry(3, Stream::Stderr, false, b"err"),
        stdout_at(4, "y"),
    ];
    let filter = |n| LogFilter {
        tail: Some(n),
        ..LogFilter::default()
    };
    assert_eq!(texts(&apply_filter(entries.clone(), &filter(1))), ["err"]);
    assert_eq!(
        texts(&apply_filter(entries.clone(), &filter(2))),
        ["x", "err", "y"]
    );
    assert_eq!(apply_filter(entries.clone(), &filter(3)), entries);
}

#[test]
fn tail_applies_within_the_time_window() {
    let entries = vec![
        stdout_at(1, "a"),
        entry(2, Stream::Stdout, true, b"b1"),
        stdout_at(3, "b2"),
        stdout_at(4, "c"),
        stdout_at(5, "d"),
    ];
    let filter = LogFilter {
        since: Some(at(2, 0)),
        until: Some(at(5, 0)),
        tail: Some(2),
    };
    assert_eq!(
        texts(&apply_filter(entries.clone(), &filter)),
        ["b1", "b2", "c"]
    );
    // A window that cuts a line in half leaves its remaining piece as a line.
    let filter = LogFilter {
        since: Some(at(3, 0)),
        until: None,
        tail: Some(3),
    };
    assert_eq!(texts(&apply_filter(entries, &filter)), ["b2", "c", "d"]);
}
