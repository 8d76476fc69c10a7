//! The control socket: a Unix stream socket (mode 0660, group `--group`), JSON lines in and
//! out, on the reactor. Peers are identified by `SO_PEERCRED`; commands that change something
//! are refused unless the peer is root, the daemon's own user, or in the control group.
//!
//! Bounds: at most `max_clients` connections (one more is told so and closed); a request line
//! of at most [`MAX_LINE`](super::protocol::MAX_LINE) bytes; a client whose unread output
//! passes [`OUTPUT_BOUND`] is dropped (others are unaffected). An idle client holds no buffer
//! beyond 4 KiB.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use mio::net::{UnixListener, UnixStream};
use mio::Interest;

use super::protocol::{self, Line, LineReader, Refusal, Request};
use crate::error::{ErrorClass, Quoted};
use crate::reactor::{Reactor, Ready, Token};

/// Unread output after which a client is dropped.
pub const OUTPUT_BOUND: usize = 256 * 1024;

/// Buffers larger than this are given back once empty.
const IDLE_BUFFER: usize = 4096;

/// Who is at the other end.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// User.
    pub uid: u32,
    /// Process.
    pub pid: i32,
    /// May change things.
    pub authorized: bool,
}

#[derive(Debug)]
struct Client {
    stream: UnixStream,
    reader: LineReader,
    out: Vec<u8>,
    subscribed: bool,
    peer: Peer,
    /// The client closed its side for writing (`echo REQUEST | socat - UNIX-CONNECT:…`):
    /// it still gets its replies, then the connection ends.
    eof: bool,
    /// Requests handed to the daemon and not yet answered.
    outstanding: usize,
}

impl Client {
    /// Half-closed, every request answered and written, no event stream: nothing is left.
    fn is_done(&self) -> bool {
        self.eof && self.outstanding == 0 && !self.subscribed && self.out.is_empty()
    }
}

/// What reading a client's requests found.
#[derive(Debug, PartialEq, Eq)]
enum ReadEnd {
    /// Nothing more for now.
    Open,
    /// The client will send nothing more (it may still read).
    Eof,
    /// The connection failed.
    Broken,
}

/// What the daemon is asked: a request from a client (authorized, well formed).
#[derive(Debug)]
pub struct Incoming {
    /// The client (its token).
    pub client: Token,
    /// Who asked.
    pub peer: Peer,
    /// What.
    pub request: Request,
}

/// The listening socket and its clients.
#[derive(Debug)]
pub struct Server {
    listener: UnixListener,
    token: Token,
    path: PathBuf,
    clients: HashMap<Token, Client>,
    max_clients: usize,
    group: Option<u32>,
}

/// The control socket could not be set up.
#[derive(Debug)]
pub struct BindError(pub String);

impl Server {
    /// Listen at the configured path (its directory created; a stale socket replaced; a live
    /// one is an error), with the configured mode and group.
    pub fn bind(
        reactor: &mut Reactor,
        config: &super::Config,
        max_clients: usize,
    ) -> Result<Server, BindError> {
        let (path, group) = (config.control.as_path(), config.group);
        let fail = |what: &str, e: io::Error| BindError(format!("{}: {what}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| fail("create its directory", e))?;
        }
        if path.exists() {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(BindError(format!(
                    "{}: another boardnet daemon is listening there",
                    path.display()
                )));
            }
            std::fs::remove_file(path).map_err(|e| fail("remove the stale socket", e))?;
        }
        let mut listener = UnixListener::bind(path).map_err(|e| fail("bind", e))?;
        std::fs::set_permissions(
            path,
            std::fs::Permissions::from_mode(config.socket_mode & 0o777),
        )
        .map_err(|e| fail("chmod", e))?;
        if let Some(gid) = group {
            let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
                .map_err(|_| BindError("the control path has a NUL byte".into()))?;
            // SAFETY: a valid C string; -1 leaves the owner as it is.
            if unsafe { libc::chown(c_path.as_ptr(), u32::MAX, gid) } != 0 {
                return Err(fail("chown", io::Error::last_os_error()));
            }
        }
        let token = reactor
            .register(&mut listener, Interest::READABLE)
            .map_err(|e| fail("register", e))?;
        Ok(Server {
            listener,
            token,
            path: path.to_path_buf(),
            clients: HashMap::new(),
            max_clients,
            group,
        })
    }

    /// New settings (SIGHUP).
    pub fn reconfigure(&mut self, group: Option<u32>, max_clients: usize) {
        self.group = group;
        self.max_clients = max_clients;
    }

    /// Handle a reactor event; requests found are appended to `incoming`. True if it was ours.
    pub fn handle(
        &mut self,
        reactor: &mut Reactor,
        ready: &Ready,
        incoming: &mut Vec<Incoming>,
    ) -> bool {
        let Ready::Io {
            token,
            readable,
            writable,
            closed,
        } = *ready
        else {
            return false;
        };
        if token == self.token {
            self.accept(reactor);
            return true;
        }
        let Some(client) = self.clients.get_mut(&token) else {
            return false;
        };
        let mut gone = false;
        if readable || closed {
            match read_requests(client, token, incoming) {
                ReadEnd::Open => {}
                ReadEnd::Eof => client.eof = true,
                ReadEnd::Broken => gone = true,
            }
        }
        if writable && !gone {
            gone = flush(client).is_err();
        }
        if gone || client.is_done() {
            self.drop_client(reactor, token, None);
        }
        true
    }

    fn accept(&mut self, reactor: &mut Reactor) {
        loop {
            let (mut stream, _) = match self.listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    log::warn!("control socket: accept: {e}");
                    return;
                }
            };
            if self.clients.len() >= self.max_clients {
                let line = protocol::error_reply(
                    &serde_json::Value::Null,
                    ErrorClass::Other,
                    "TooManyClients",
                    &format!(
                        "the daemon serves at most {} clients at once; try again later",
                        self.max_clients
                    ),
                );
                let _ = stream.write(&line);
                continue;
            }
            let peer = match peer_of(&stream, self.group) {
                Ok(p) => p,
                Err(e) => {
                    log::warn!("control socket: SO_PEERCRED: {e}");
                    continue;
                }
            };
            let token = match reactor.register(&mut stream, Interest::READABLE | Interest::WRITABLE)
            {
                Ok(t) => t,
                Err(e) => {
                    log::warn!("control socket: register: {e}");
                    continue;
                }
            };
            log::debug!(
                "control: client uid {} pid {} connected",
                peer.uid,
                peer.pid
            );
            self.clients.insert(
                token,
                Client {
                    stream,
                    reader: LineReader::default(),
                    out: Vec::new(),
                    subscribed: false,
                    peer,
                    eof: false,
                    outstanding: 0,
                },
            );
        }
    }

    /// Send the reply to one of `client`'s requests (dropped if its output passes the
    /// bound).
    pub fn send(&mut self, reactor: &mut Reactor, client: Token, line: &[u8]) {
        let Some(c) = self.clients.get_mut(&client) else {
            return;
        };
        c.outstanding = c.outstanding.saturating_sub(1);
        if c.out.len() + line.len() > OUTPUT_BOUND {
            self.drop_client(reactor, client, Some("does not read its replies"));
            return;
        }
        c.out.extend_from_slice(line);
        if flush(c).is_err() || c.is_done() {
            self.drop_client(reactor, client, None);
        }
    }

    /// Send an event line to every subscriber; one that does not keep up is dropped.
    pub fn broadcast(&mut self, reactor: &mut Reactor, line: &[u8]) {
        let mut slow = Vec::new();
        for (token, c) in self.clients.iter_mut().filter(|(_, c)| c.subscribed) {
            if c.out.len() + line.len() > OUTPUT_BOUND {
                slow.push(*token);
                continue;
            }
            c.out.extend_from_slice(line);
            if flush(c).is_err() {
                slow.push(*token);
            }
        }
        for token in slow {
            self.drop_client(reactor, token, Some("does not read its events"));
        }
    }

    /// Whether anyone listens for events.
    pub fn has_subscribers(&self) -> bool {
        self.clients.values().any(|c| c.subscribed)
    }

    /// Start or stop `client`'s event stream.
    pub fn subscribe(&mut self, client: Token, on: bool) {
        if let Some(c) = self.clients.get_mut(&client) {
            c.subscribed = on;
        }
    }

    /// Whether `client` is still connected.
    pub fn is_connected(&self, client: Token) -> bool {
        self.clients.contains_key(&client)
    }

    fn drop_client(&mut self, reactor: &mut Reactor, token: Token, why: Option<&str>) {
        if let Some(mut c) = self.clients.remove(&token) {
            if let Some(why) = why {
                log::warn!(
                    "control: client uid {} pid {} {why}: dropped ({} bytes unread)",
                    c.peer.uid,
                    c.peer.pid,
                    c.out.len()
                );
            }
            let _ = reactor.deregister(&mut c.stream);
        }
    }

    /// Remove the socket file (the daemon is stopping).
    pub fn close(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Read what `client` sent.
fn read_requests(client: &mut Client, token: Token, incoming: &mut Vec<Incoming>) -> ReadEnd {
    let mut buf = [0u8; 4096];
    loop {
        let n = match client.stream.read(&mut buf) {
            Ok(0) => return ReadEnd::Eof,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return ReadEnd::Open,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return ReadEnd::Broken,
        };
        let peer = client.peer;
        let mut refusals = Vec::new();
        let mut outstanding = 0;
        client.reader.feed(&buf[..n], |line| match line {
            Line::Complete(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => {}
            Line::Complete(bytes) => match protocol::parse(bytes) {
                Ok(request) if request.command.changes_something() && !peer.authorized => refusals
                    .push(Refusal {
                        id: request.id,
                        class: ErrorClass::ServerRefused,
                        kind: "NotAuthorized",
                        message: format!(
                            "uid {} may not change anything: root or a member of the daemon's \
                             control group only",
                            peer.uid
                        ),
                    }),
                Ok(request) => {
                    outstanding += 1;
                    incoming.push(Incoming {
                        client: token,
                        peer,
                        request,
                    })
                }
                Err(refusal) => refusals.push(refusal),
            },
            Line::TooLong(head) => refusals.push(Refusal {
                id: serde_json::Value::Null,
                class: ErrorClass::Usage,
                kind: "LineTooLong",
                message: format!(
                    "request line longer than {} bytes: {}",
                    protocol::MAX_LINE,
                    Quoted(&String::from_utf8_lossy(&head))
                ),
            }),
        });
        client.outstanding += outstanding;
        for r in refusals {
            if client.out.len() < OUTPUT_BOUND {
                client.out.extend_from_slice(&r.reply());
            }
        }
        if flush(client).is_err() {
            return ReadEnd::Broken;
        }
    }
}

/// Write what can be written now.
fn flush(client: &mut Client) -> io::Result<()> {
    let mut written = 0;
    while written < client.out.len() {
        match client.stream.write(&client.out[written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    client.out.drain(..written);
    if client.out.is_empty() && client.out.capacity() > IDLE_BUFFER {
        client.out = Vec::new();
    }
    Ok(())
}

/// The peer's credentials, and whether it may change things: root, the daemon's user, or a
/// member (primary or supplementary, from `/proc/PID/status`) of the control group.
fn peer_of(stream: &UnixStream, group: Option<u32>) -> io::Result<Peer> {
    let cred = crate::socket::sys::peer_credentials(stream)?;
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let in_group = |gid: u32| cred.gid == gid || supplementary_groups(cred.pid).contains(&gid);
    Ok(Peer {
        uid: cred.uid,
        pid: cred.pid,
        authorized: cred.uid == 0 || cred.uid == euid || group.is_some_and(in_group),
    })
}

/// The `Groups:` of a process.
fn supplementary_groups(pid: i32) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Groups:"))
        .map(|g| {
            g.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The gid of group `name` (or a number).
pub fn group_id(name: &str) -> Option<u32> {
    if let Ok(n) = name.parse() {
        return Some(n);
    }
    let c_name = std::ffi::CString::new(name).ok()?;
    // SAFETY: a valid C string; getgrnam returns NULL or a pointer to a static entry, read at
    // once on this (the only) thread that calls it.
    let entry = unsafe { libc::getgrnam(c_name.as_ptr()) };
    // SAFETY: checked non-null just above.
    (!entry.is_null()).then(|| unsafe { (*entry).gr_gid })
}
