//! The parent and the container's init talk over a SOCK_SEQPACKET pair:
//! one datagram per message, and end-of-file when init execs (its end is
//! close-on-exec), which is how the parent learns the exec succeeded.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Instant;

use nix::cmsg_space;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg,
    sendmsg, socketpair,
};

/// Messages between the parent (`skiff`) and the container's init.
#[derive(Debug, PartialEq, Eq)]
pub enum Message {
    /// Parent → init: ID maps are written, go on.
    Go,
    /// Parent → init: the network the parent set up in parallel with
    /// init's own setup is ready; init may exec.
    NetworkReady,
    /// Init → parent: the master side of the container's terminal is
    /// attached as an fd.
    PtyMaster,
    /// Init → parent: setup or exec failed; init exits with `exit_code`.
    Failed { exit_code: u8, text: String },
    /// Exec helper → parent: the process that will exec has this PID.
    Started { pid: i32 },
    /// Init → parent: something the user should know that did not stop
    /// the setup (a root filesystem driver fallback). The parent reports
    /// it; init's own stderr may be the container's log.
    Warning(String),
}

impl Message {
    fn encode(&self) -> Vec<u8> {
        match self {
            Message::Go => vec![b'G'],
            Message::NetworkReady => vec![b'N'],
            Message::PtyMaster => vec![b'P'],
            Message::Started { pid } => {
                let mut out = vec![b'S'];
                out.extend_from_slice(&pid.to_be_bytes());
                out
            }
            Message::Failed { exit_code, text } => {
                let mut out = vec![b'F', *exit_code];
                out.extend_from_slice(text.as_bytes());
                out
            }
            Message::Warning(text) => {
                let mut out = vec![b'W'];
                out.extend_from_slice(text.as_bytes());
                out
            }
        }
    }

    fn decode(bytes: &[u8]) -> Option<Message> {
        match bytes {
            [b'G'] => Some(Message::Go),
            [b'N'] => Some(Message::NetworkReady),
            [b'P'] => Some(Message::PtyMaster),
            [b'S', a, b, c, d] => Some(Message::Started {
                pid: i32::from_be_bytes([*a, *b, *c, *d]),
            }),
            [b'F', code, text @ ..] => Some(Message::Failed {
                exit_code: *code,
                text: String::from_utf8_lossy(text).into_owned(),
            }),
            [b'W', text @ ..] => Some(Message::Warning(String::from_utf8_lossy(text).into_owned())),
            _ => None,
        }
    }
}

/// One end of the channel.
pub struct Channel {
    fd: OwnedFd,
}

pub fn channel_pair() -> nix::Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    pub fn send(&self, msg: &Message) -> nix::Result<()> {
        self.send_with_fd(msg, None)
    }

    pub fn send_with_fd(&self, msg: &Message, fd: Option<RawFd>) -> nix::Result<()> {
        let bytes = msg.encode();
        let iov = [IoSlice::new(&bytes)];
        let fds = fd.map(|f| [f]);
        let cmsgs: Vec<ControlMessage> = fds
            .as_ref()
            .map(|f| vec![ControlMessage::ScmRights(f)])
            .unwrap_or_default();
        sendmsg::<()>(self.fd.as_raw_fd(), &iov, &cmsgs, MsgFlags::empty(), None)?;
        Ok(())
    }

    /// Like `recv`, but gives up with `ETIMEDOUT` once `deadline` passes
    /// without a message: the parent's every wait on a child is bounded.
    pub fn recv_before(
        &self,
        deadline: Instant,
    ) -> nix::Result<Option<(Message, Option<OwnedFd>)>> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(nix::Error::ETIMEDOUT);
            }
            // Rounded up: poll's milliseconds must not end the wait early.
            let millis = i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
            let timeout = PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX);
            let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, timeout) {
                Ok(0) | Err(nix::Error::EINTR) => continue,
                Ok(_) => return self.recv(),
                Err(e) => return Err(e),
            }
        }
    }

    /// The next message and any fd sent with it; `None` at end-of-file.
    pub fn recv(&self) -> nix::Result<Option<(Message, Option<OwnedFd>)>> {
        let mut buf = [0u8; 4096];
        let mut cmsg = cmsg_space!([RawFd; 1]);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = loop {
            match recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Err(nix::Error::EINTR) => continue,
                other => break other?,
            }
        };
        let mut fd = None;
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for raw in fds {
                    // SAFETY: the kernel just installed this fd for us; we
                    // are its only owner.
                    fd = Some(unsafe { OwnedFd::from_raw_fd(raw) });
                }
            }
        }
        let len = msg.bytes;
        if len == 0 {
            return Ok(None);
        }
        let decoded = Message::decode(&buf[..len]).ok_or(nix::Error::EBADMSG)?;
        Ok(Some((decoded, fd)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_eof_is_none() {
        let (a, b) = channel_pair().unwrap();
        a.send(&Message::Go).unwrap();
        let failed = Message::Failed {
            exit_code: 127,
            text: "nope: executable file not found in $PATH".into(),
        };
        a.send(&failed).unwrap();
        let warning = Message::Warning("falling back to copying".into());
        a.send(&warning).unwrap();
        assert_eq!(b.recv().unwrap().unwrap().0, Message::Go);
        assert_eq!(b.recv().unwrap().unwrap().0, failed);
        assert_eq!(b.recv().unwrap().unwrap().0, warning);
        drop(a);
        assert!(b.recv().unwrap().is_none());
    }

    #[test]
    fn a_silent_peer_times_out_at_the_deadline() {
        let (a, b) = channel_pair().unwrap();
        let start = Instant::now();
        let deadline = start + std::time::Duration::from_millis(50);
        assert_eq!(b.recv_before(deadline).unwrap_err(), nix::Error::ETIMEDOUT);
        assert!(Instant::now() >= deadline);
        a.send(&Message::Go).unwrap();
        let later = Instant::now() + std::time::Duration::from_secs(5);
        assert_eq!(b.recv_before(later).unwrap().unwrap().0, Message::Go);
        drop(a);
        assert!(b.recv_before(later).unwrap().is_none());
    }

    #[test]
    fn an_fd_travels_with_the_message() {
        let (a, b) = channel_pair().unwrap();
        let file = std::fs::File::open("/dev/null").unwrap();
        a.send_with_fd(&Message::PtyMaster, Some(file.as_raw_fd()))
            .unwrap();
        let (msg, fd) = b.recv().unwrap().unwrap();
        assert_eq!(msg, Message::PtyMaster);
        assert!(fd.is_some());
    }
}
