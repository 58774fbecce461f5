//! The attach socket between a detached container's monitor and `skiff
//! attach`/`start -a`: a `SOCK_SEQPACKET` Unix socket at
//! `<runroot>/containers/<id>/attach`, one frame per datagram, the first
//! byte saying what the frame is.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, UnixAddr, bind, connect, listen, socket,
};

/// One frame on the attach socket.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// Client → monitor: bytes for the container's stdin (or terminal).
    Stdin(Vec<u8>),
    /// Client → monitor: the client's stdin ended; close the container's.
    StdinClosed,
    /// Client → monitor: the client's terminal size changed.
    Resize {
        rows: u16,
        cols: u16,
    },
    /// Monitor → client: container output.
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// Monitor → client: the container exited for good (no restart).
    Exited(i32),
}

const STDIN: u8 = 0;
const STDIN_CLOSED: u8 = 1;
const RESIZE: u8 = 2;
const STDOUT: u8 = 3;
const STDERR: u8 = 4;
const EXITED: u8 = 5;

/// Largest payload read or sent in one frame.
pub const MAX_PAYLOAD: usize = 32 * 1024;

impl Frame {
    pub fn encode(&self) -> Vec<u8> {
        let with = |tag: u8, data: &[u8]| {
            let mut out = Vec::with_capacity(data.len() + 1);
            out.push(tag);
            out.extend_from_slice(data);
            out
        };
        match self {
            Frame::Stdin(d) => with(STDIN, d),
            Frame::StdinClosed => vec![STDIN_CLOSED],
            Frame::Resize { rows, cols } => {
                let mut out = vec![RESIZE];
                out.extend_from_slice(&rows.to_be_bytes());
                out.extend_from_slice(&cols.to_be_bytes());
                out
            }
            Frame::Stdout(d) => with(STDOUT, d),
            Frame::Stderr(d) => with(STDERR, d),
            Frame::Exited(code) => with(EXITED, &code.to_be_bytes()),
        }
    }

    pub fn decode(bytes: &[u8]) -> Option<Frame> {
        let (tag, rest) = bytes.split_first()?;
        Some(match *tag {
            STDIN => Frame::Stdin(rest.to_vec()),
            STDIN_CLOSED => Frame::StdinClosed,
            RESIZE if rest.len() == 4 => Frame::Resize {
                rows: u16::from_be_bytes([rest[0], rest[1]]),
                cols: u16::from_be_bytes([rest[2], rest[3]]),
            },
            STDOUT => Frame::Stdout(rest.to_vec()),
            STDERR => Frame::Stderr(rest.to_vec()),
            EXITED if rest.len() == 4 => {
                Frame::Exited(i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]))
            }
            _ => return None,
        })
    }
}

/// A socket path may be longer than `sun_path` (108 bytes) under a deep
/// runroot; going through an fd of its directory keeps it short.
fn short_address(path: &Path) -> nix::Result<(OwnedFd, UnixAddr)> {
    let dir = path.parent().ok_or(nix::Error::EINVAL)?;
    let name = path.file_name().ok_or(nix::Error::EINVAL)?;
    let dir_fd: OwnedFd = nix::fcntl::open(
        dir,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    let short = format!(
        "/proc/self/fd/{}/{}",
        dir_fd.as_raw_fd(),
        name.to_string_lossy()
    );
    Ok((dir_fd, UnixAddr::new(short.as_str())?))
}

fn seqpacket() -> nix::Result<OwnedFd> {
    socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
}

/// The monitor's listening socket (any old socket file is replaced).
pub fn listen_at(path: &Path) -> nix::Result<OwnedFd> {
    let _ = std::fs::remove_file(path);
    let (_dir, addr) = short_address(path)?;
    let fd = seqpacket()?;
    bind(fd.as_raw_fd(), &addr)?;
    listen(&fd, Backlog::new(16)?)?;
    Ok(fd)
}

/// A client's connection to a monitor.
pub fn connect_to(path: &Path) -> nix::Result<OwnedFd> {
    let (_dir, addr) = short_address(path)?;
    let fd = seqpacket()?;
    connect(fd.as_raw_fd(), &addr)?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        for frame in [
            Frame::Stdin(b"abc".to_vec()),
            Frame::StdinClosed,
            Frame::Resize {
                rows: 40,
                cols: 120,
            },
            Frame::Stdout(vec![0, 255, 10]),
            Frame::Stderr(Vec::new()),
            Frame::Exited(-1),
        ] {
            assert_eq!(Frame::decode(&frame.encode()), Some(frame));
        }
        assert_eq!(Frame::decode(&[]), None);
        assert_eq!(Frame::decode(&[9]), None);
    }

    #[test]
    fn a_deep_socket_path_still_connects() {
        let tmp = tempfile::tempdir().unwrap();
        let deep = tmp.path().join("d".repeat(100)).join("e".repeat(60));
        std::fs::create_dir_all(&deep).unwrap();
        let path = deep.join("attach");
        let listener = listen_at(&path).unwrap();
        let client = connect_to(&path).unwrap();
        let server = nix::sys::socket::accept(listener.as_raw_fd()).unwrap();
        nix::unistd::write(&client, &Frame::StdinClosed.encode()).unwrap();
        let mut buf = [0u8; 8];
        let n = nix::unistd::read(
            unsafe { std::os::fd::BorrowedFd::borrow_raw(server) },
            &mut buf,
        )
        .unwrap();
        assert_eq!(Frame::decode(&buf[..n]), Some(Frame::StdinClosed));
    }
}
