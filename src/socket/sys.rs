//! Every system call the socket module makes beyond what socket2 wraps: non-blocking sockets,
//! `accept4`, `MSG_NOSIGNAL` sends, SO_PEERCRED, interface indexes, socket-file identity and
//! kernel SCTP (`sendmsg`/`recvmsg` with `sctp_sndinfo`/`sctp_rcvinfo`, SCTP_INITMSG).

use std::io::{self, Read};
use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;
use std::path::Path;

use mio::unix::SourceFd;
use mio::{Interest, Token};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::reactor::Reactor;

/// A non-blocking, close-on-exec socket (one system call).
pub(crate) fn socket(domain: Domain, ty: Type, protocol: Option<Protocol>) -> io::Result<Socket> {
    Socket::new(domain, ty.nonblocking().cloexec(), protocol)
}

/// Accept one connection as a non-blocking, close-on-exec socket (one system call).
pub(crate) fn accept(listener: &Socket) -> io::Result<(Socket, SockAddr)> {
    listener.accept4(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
}

/// Watch a socket for reading and writing (edge-triggered: registered once for both).
pub(crate) fn register(reactor: &mut Reactor, sock: &Socket) -> io::Result<Token> {
    reactor.register(
        &mut SourceFd(&sock.as_raw_fd()),
        Interest::READABLE | Interest::WRITABLE,
    )
}

/// The same under a token the caller already has (a reconnect keeps its token).
pub(crate) fn register_as(reactor: &mut Reactor, sock: &Socket, token: Token) -> io::Result<()> {
    reactor.registry().register(
        &mut SourceFd(&sock.as_raw_fd()),
        token,
        Interest::READABLE | Interest::WRITABLE,
    )
}

pub(crate) fn deregister(reactor: &mut Reactor, sock: &Socket) {
    // Closing the descriptor removes it from epoll anyway; this keeps the reactor's view exact.
    let _ = reactor.deregister(&mut SourceFd(&sock.as_raw_fd()));
}

/// Send without SIGPIPE: a peer that went away is an error, not a signal.
pub(crate) fn send(sock: &Socket, data: &[u8]) -> io::Result<usize> {
    loop {
        match sock.send_with_flags(data, libc::MSG_NOSIGNAL) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

pub(crate) fn recv(sock: &Socket, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match (&*sock).read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// A socket as `Read`/`Write` for rustls' `read_tls`/`write_tls`.
#[cfg(feature = "tls")]
pub(crate) struct SockIo<'a>(pub(crate) &'a Socket);

#[cfg(feature = "tls")]
impl Read for SockIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        recv(self.0, buf)
    }
}

#[cfg(feature = "tls")]
impl std::io::Write for SockIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        send(self.0, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Receive one datagram into `buf`: bytes stored, the datagram's real size (larger when it was
/// truncated), and the sender.
pub(crate) fn recv_datagram(sock: &Socket, buf: &mut [u8]) -> io::Result<(usize, usize, SockAddr)> {
    // SAFETY: u8 and MaybeUninit<u8> have the same layout, and recv only writes initialised
    // bytes into the (already initialised) buffer.
    let uninit = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
    loop {
        match sock.recv_from_with_flags(uninit, libc::MSG_TRUNC) {
            Ok((size, from)) => return Ok((size.min(buf.len()), size, from)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The size of the next datagram without receiving it.
pub(crate) fn pending_datagram_size(sock: &Socket) -> io::Result<usize> {
    let mut probe = [MaybeUninit::<u8>::uninit(); 1];
    sock.recv_with_flags(&mut probe, libc::MSG_PEEK | libc::MSG_TRUNC)
}

/// The process on the other end of a Unix socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCredentials {
    /// Process ID.
    pub pid: i32,
    /// User ID.
    pub uid: u32,
    /// Group ID.
    pub gid: u32,
}

/// SO_PEERCRED of a connected Unix socket (the server's and the daemon's control socket's).
pub(crate) fn peer_credentials(sock: &impl AsRawFd) -> io::Result<PeerCredentials> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: cred is a valid ucred and len its size; the kernel writes at most len bytes.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(PeerCredentials {
        pid: cred.pid,
        uid: cred.uid,
        gid: cred.gid,
    })
}

/// The index of a network interface (for multicast and IPv6 zones).
pub(crate) fn interface_index(name: &str) -> io::Result<u32> {
    let c = std::ffi::CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in interface name"))?;
    // SAFETY: c is a valid NUL-terminated string.
    let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if index == 0 {
        return Err(io::Error::from_raw_os_error(libc::ENODEV));
    }
    Ok(index)
}

/// The interface IPv4 multicast leaves through, by index (IP_MULTICAST_IF with `ip_mreqn`).
pub(crate) fn set_multicast_if_v4(sock: &Socket, index: u32) -> io::Result<()> {
    let mreqn = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr { s_addr: 0 },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: index as libc::c_int,
    };
    setsockopt(sock, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &mreqn)
}

/// `setsockopt(2)` with a value of type `T` (a plain C struct or integer).
fn setsockopt<T>(
    sock: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: value points to a valid T and its size is passed; the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Device and inode of a file, to recognise "our" socket file before removing it.
pub(crate) fn file_identity(path: &Path) -> Option<(u64, u64, bool)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let meta = std::fs::symlink_metadata(path).ok()?;
    Some((meta.dev(), meta.ino(), meta.file_type().is_socket()))
}

/// SCTP through the kernel: `IPPROTO_SCTP` sockets, stream counts, and messages with their
/// stream numbers.
#[cfg(feature = "sctp")]
pub(crate) mod sctp {
    use super::*;

    pub(crate) const IPPROTO_SCTP: libc::c_int = libc::IPPROTO_SCTP;

    /// One-to-one (`SOCK_STREAM`) or one-to-many (`SOCK_SEQPACKET`) SCTP socket.
    pub(crate) fn socket(domain: Domain, seqpacket: bool) -> io::Result<Socket> {
        let ty = if seqpacket {
            Type::SEQPACKET
        } else {
            Type::STREAM
        };
        super::socket(domain, ty, Some(Protocol::from(IPPROTO_SCTP)))
    }

    fn setsockopt<T>(sock: &Socket, name: libc::c_int, value: &T) -> io::Result<()> {
        super::setsockopt(sock, IPPROTO_SCTP, name, value)
    }

    /// Ask for `streams` streams each way (SCTP_INITMSG; before connect or listen).
    pub(crate) fn set_streams(sock: &Socket, streams: u16) -> io::Result<()> {
        let init = libc::sctp_initmsg {
            sinit_num_ostreams: streams,
            sinit_max_instreams: streams,
            sinit_max_attempts: 0,
            sinit_max_init_timeo: 0,
        };
        setsockopt(sock, libc::SCTP_INITMSG, &init)
    }

    /// Have `recvmsg` report each message's stream (SCTP_RCVINFO).
    pub(crate) fn report_streams(sock: &Socket) -> io::Result<()> {
        setsockopt(sock, libc::SCTP_RECVRCVINFO, &(1 as libc::c_int))
    }

    pub(crate) fn set_nodelay(sock: &Socket) -> io::Result<()> {
        setsockopt(sock, libc::SCTP_NODELAY, &(1 as libc::c_int))
    }

    /// What `recvmsg` said about one message.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Received {
        pub(crate) len: usize,
        pub(crate) stream: u16,
        pub(crate) assoc_id: i32,
        /// The message ended in this read (MSG_EOR).
        pub(crate) complete: bool,
        /// An SCTP notification rather than data (we subscribe to none, but be safe).
        pub(crate) notification: bool,
    }

    /// Control-message space for one `sctp_sndinfo`/`sctp_rcvinfo` (u64-aligned).
    const CMSG_SPACE: usize = 64;

    /// Send one message on `stream`, to `to` on a one-to-many socket.
    pub(crate) fn send(
        sock: &Socket,
        data: &[u8],
        stream: u16,
        to: Option<&SockAddr>,
    ) -> io::Result<usize> {
        let mut control = [0u64; CMSG_SPACE / 8];
        let info = libc::sctp_sndinfo {
            snd_sid: stream,
            snd_flags: 0,
            snd_ppid: 0,
            snd_context: 0,
            snd_assoc_id: 0,
        };
        let mut iov = libc::iovec {
            iov_base: data.as_ptr() as *mut libc::c_void,
            iov_len: data.len(),
        };
        // SAFETY: msghdr is plain data; every pointer set below outlives the sendmsg call, and
        // the control buffer is large and aligned enough for one cmsghdr + sctp_sndinfo
        // (CMSG_SPACE checked against its size).
        unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            if let Some(addr) = to {
                msg.msg_name = addr.as_ptr() as *mut libc::c_void;
                msg.msg_namelen = addr.len();
            }
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            let space = libc::CMSG_SPACE(std::mem::size_of::<libc::sctp_sndinfo>() as u32) as usize;
            debug_assert!(space <= CMSG_SPACE);
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = space;
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = IPPROTO_SCTP;
            (*cmsg).cmsg_type = libc::SCTP_SNDINFO;
            (*cmsg).cmsg_len =
                libc::CMSG_LEN(std::mem::size_of::<libc::sctp_sndinfo>() as u32) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::sctp_sndinfo>(), info);
            loop {
                let n = libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL);
                if n >= 0 {
                    return Ok(n as usize);
                }
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
        }
    }

    /// Receive (part of) one message, with its stream number and sender.
    pub(crate) fn recv(sock: &Socket, buf: &mut [u8]) -> io::Result<(Received, SockAddr)> {
        let mut control = [0u64; CMSG_SPACE / 8];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: SockAddr::try_init hands us zeroed storage of the right size; msghdr fields
        // point at iov, storage and control, which outlive recvmsg. The cmsg walk uses the
        // kernel-reported msg_controllen through the CMSG_* macros, and the payload is read
        // unaligned after checking its length.
        unsafe {
            SockAddr::try_init(|storage, len| {
                let mut msg: libc::msghdr = std::mem::zeroed();
                msg.msg_name = storage.cast();
                msg.msg_namelen = *len;
                msg.msg_iov = &mut iov;
                msg.msg_iovlen = 1;
                msg.msg_control = control.as_mut_ptr().cast();
                msg.msg_controllen = CMSG_SPACE;
                let n = loop {
                    let n = libc::recvmsg(sock.as_raw_fd(), &mut msg, 0);
                    if n >= 0 {
                        break n as usize;
                    }
                    let err = io::Error::last_os_error();
                    if err.kind() != io::ErrorKind::Interrupted {
                        return Err(err);
                    }
                };
                *len = msg.msg_namelen;
                let mut received = Received {
                    len: n,
                    stream: 0,
                    assoc_id: 0,
                    complete: msg.msg_flags & libc::MSG_EOR != 0,
                    notification: msg.msg_flags & libc::MSG_NOTIFICATION != 0,
                };
                let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
                while !cmsg.is_null() {
                    let want =
                        libc::CMSG_LEN(std::mem::size_of::<libc::sctp_rcvinfo>() as u32) as usize;
                    if (*cmsg).cmsg_level == IPPROTO_SCTP
                        && (*cmsg).cmsg_type == libc::SCTP_RCVINFO
                        && (*cmsg).cmsg_len >= want
                    {
                        let info = std::ptr::read_unaligned(
                            libc::CMSG_DATA(cmsg).cast::<libc::sctp_rcvinfo>(),
                        );
                        received.stream = info.rcv_sid;
                        received.assoc_id = info.rcv_assoc_id;
                    }
                    cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
                }
                Ok(received)
            })
        }
    }
}
