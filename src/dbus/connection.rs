//! A bus connection on the codec: a Unix socket, SASL EXTERNAL, `Hello`, then method calls
//! that wait (bounded) for their reply while signals that arrive meanwhile are queued
//! (bounded too). The descriptor can be watched by the reactor; [`Connection::read_available`]
//! then takes what arrived without blocking.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use super::auth::{self, Answer};
use super::message::{message_len, Kind, Message};
use super::wire::{Value, WireError};

/// Messages (signals) kept for the caller; past it the oldest are dropped.
const QUEUE_BOUND: usize = 1024;

/// The system bus when `DBUS_SYSTEM_BUS_ADDRESS` is not set.
const SYSTEM_BUS: &str = "unix:path=/run/dbus/system_bus_socket";

/// Why talking to the bus failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum BusError {
    /// No bus at the address (or none of a kind we can reach).
    Connect(String, io::Error),
    /// The bus refused us.
    Auth(String),
    /// Reading or writing failed, or the bus hung up.
    Io(io::Error),
    /// Bytes from the bus that are not D-Bus.
    Wire(WireError),
    /// No answer in time.
    Timeout {
        /// What was asked.
        what: String,
        /// How long it waited.
        waited: Duration,
    },
    /// The other side answered with an error.
    Remote {
        /// Its error name.
        name: String,
        /// Its message, if it gave one.
        message: String,
    },
}

impl fmt::Display for BusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BusError::Connect(address, e) => write!(f, "D-Bus at {address}: {e}"),
            BusError::Auth(why) => write!(f, "the bus refused us: {why}"),
            BusError::Io(e) => write!(f, "D-Bus connection: {e}"),
            BusError::Wire(e) => write!(f, "D-Bus message: {e}"),
            BusError::Timeout { what, waited } => {
                write!(f, "{what}: no answer within {:.1} s", waited.as_secs_f64())
            }
            BusError::Remote { name, message } => write!(f, "{name}: {message}"),
        }
    }
}

impl std::error::Error for BusError {}

impl From<WireError> for BusError {
    fn from(e: WireError) -> Self {
        BusError::Wire(e)
    }
}

/// A connection to a bus.
#[derive(Debug)]
pub struct Connection {
    stream: UnixStream,
    serial: u32,
    /// Bytes read and not yet a whole message.
    pending: Vec<u8>,
    queue: VecDeque<Message>,
    unique_name: String,
}

impl Connection {
    /// The system bus (`DBUS_SYSTEM_BUS_ADDRESS`, else the standard socket).
    pub fn system(timeout: Duration) -> Result<Connection, BusError> {
        let address =
            std::env::var("DBUS_SYSTEM_BUS_ADDRESS").unwrap_or_else(|_| SYSTEM_BUS.into());
        Connection::open(&address, timeout)
    }

    /// Connect to `address` (`unix:path=…` or `unix:abstract=…`; the first of `;`-separated
    /// alternatives that connects), authenticate and say Hello.
    pub fn open(address: &str, timeout: Duration) -> Result<Connection, BusError> {
        let stream = connect(address)?;
        let deadline = Instant::now() + timeout;
        let mut conn = Connection {
            stream,
            serial: 0,
            pending: Vec::new(),
            queue: VecDeque::new(),
            unique_name: String::new(),
        };
        conn.authenticate(deadline, timeout)?;
        let hello = Message::method_call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "Hello",
        );
        let reply = conn.call(hello, timeout)?;
        conn.unique_name = reply
            .body
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        Ok(conn)
    }

    /// The name the bus gave us.
    pub fn unique_name(&self) -> &str {
        &self.unique_name
    }

    fn authenticate(&mut self, deadline: Instant, timeout: Duration) -> Result<(), BusError> {
        // SAFETY: geteuid has no preconditions.
        let uid = unsafe { libc::geteuid() };
        self.stream
            .write_all(&auth::request(uid))
            .map_err(BusError::Io)?;
        let mut line = Vec::new();
        while !line.ends_with(b"\r\n") {
            if line.len() > auth::MAX_LINE {
                return Err(BusError::Auth("an overlong answer".into()));
            }
            let mut byte = [0u8; 1];
            self.wait_readable(deadline, "authentication", timeout)?;
            match self.stream.read(&mut byte).map_err(BusError::Io)? {
                0 => return Err(BusError::Auth("the bus hung up".into())),
                _ => line.push(byte[0]),
            }
        }
        match auth::answer(&line[..line.len() - 2])? {
            Answer::Ok(_) => self.stream.write_all(auth::BEGIN).map_err(BusError::Io),
            Answer::Rejected(offered) => Err(BusError::Auth(format!(
                "EXTERNAL rejected (it offers {offered})"
            ))),
        }
    }

    /// The descriptor to watch for readability.
    pub fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    /// Send `message` without waiting; its serial.
    pub fn send(&mut self, message: &Message) -> Result<u32, BusError> {
        self.serial = self.serial.wrapping_add(1).max(1);
        self.stream
            .write_all(&message.encode(self.serial))
            .map_err(BusError::Io)?;
        Ok(self.serial)
    }

    /// Call a method and wait at most `timeout` for its reply; an error reply is
    /// [`BusError::Remote`]. Signals that arrive meanwhile are queued.
    pub fn call(&mut self, message: Message, timeout: Duration) -> Result<Message, BusError> {
        let what = format!(
            "{}.{}",
            message.interface.as_deref().unwrap_or(""),
            message.member.as_deref().unwrap_or("")
        );
        let serial = self.send(&message)?;
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(m) = self.next_whole()? {
                if m.reply_serial == Some(serial) {
                    return match m.kind {
                        Kind::Error => Err(BusError::Remote {
                            name: m.error_name.clone().unwrap_or_default(),
                            message: m
                                .body
                                .first()
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string(),
                        }),
                        _ => Ok(m),
                    };
                }
                self.enqueue(m);
            }
            self.wait_readable(deadline, &what, timeout)?;
            self.fill(0)?;
        }
    }

    /// Ask the bus for signals matching `rule` (AddMatch).
    pub fn add_match(&mut self, rule: &str, timeout: Duration) -> Result<(), BusError> {
        let call = Message::method_call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "AddMatch",
        )
        .with_body(vec![Value::Str(rule.into())]);
        self.call(call, timeout).map(drop)
    }

    /// Read everything the socket has now, without blocking, into the queue (all of it: a
    /// reactor watching the descriptor edge-triggered is not told again about what is left).
    pub fn read_available(&mut self) -> Result<(), BusError> {
        loop {
            match self.fill(libc::MSG_DONTWAIT) {
                Ok(()) => {
                    while let Some(m) = self.next_whole()? {
                        self.enqueue(m);
                    }
                }
                Err(BusError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// The next queued message (a signal, or a call to us), oldest first.
    pub fn next_message(&mut self) -> Option<Message> {
        self.queue.pop_front()
    }

    /// The next message, waiting at most `timeout` for one.
    pub fn wait_message(&mut self, timeout: Duration) -> Result<Message, BusError> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(m) = self.next_whole()? {
                self.enqueue(m);
            }
            if let Some(m) = self.queue.pop_front() {
                return Ok(m);
            }
            self.wait_readable(deadline, "a message", timeout)?;
            self.fill(0)?;
        }
    }

    fn enqueue(&mut self, m: Message) {
        if self.queue.len() >= QUEUE_BOUND {
            self.queue.pop_front();
        }
        self.queue.push_back(m);
    }

    /// A whole message from the bytes read so far.
    fn next_whole(&mut self) -> Result<Option<Message>, BusError> {
        if self.pending.len() < 16 {
            return Ok(None);
        }
        let len = message_len(&self.pending)?;
        if self.pending.len() < len {
            return Ok(None);
        }
        let m = Message::decode(&self.pending[..len])?;
        self.pending.drain(..len);
        Ok(Some(m))
    }

    /// One recv(2) into `pending` (`MSG_DONTWAIT`: without blocking, and without switching
    /// the socket's mode back and forth on every look).
    fn fill(&mut self, flags: libc::c_int) -> Result<(), BusError> {
        let mut buf = [0u8; 8192];
        // SAFETY: receiving into a valid buffer of buf.len() bytes from an open socket.
        let n = unsafe { libc::recv(self.fd(), buf.as_mut_ptr().cast(), buf.len(), flags) };
        match n {
            0 => Err(BusError::Io(io::ErrorKind::UnexpectedEof.into())),
            n if n > 0 => {
                self.pending.extend_from_slice(&buf[..n as usize]);
                Ok(())
            }
            _ => match io::Error::last_os_error() {
                e if e.kind() == io::ErrorKind::Interrupted => Ok(()),
                e => Err(BusError::Io(e)),
            },
        }
    }

    fn wait_readable(
        &self,
        deadline: Instant,
        what: &str,
        timeout: Duration,
    ) -> Result<(), BusError> {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd {
            fd: self.fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        match rc {
            0 => Err(BusError::Timeout {
                what: what.to_string(),
                waited: timeout,
            }),
            n if n < 0 => {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    Ok(())
                } else {
                    Err(BusError::Io(e))
                }
            }
            _ => Ok(()),
        }
    }
}

/// The first `unix:` address of `address` that connects.
fn connect(address: &str) -> Result<UnixStream, BusError> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no unix: address");
    for alternative in address.split(';') {
        let Some(params) = alternative.strip_prefix("unix:") else {
            continue;
        };
        for param in params.split(',') {
            let connected = match param.split_once('=') {
                Some(("path", path)) => UnixStream::connect(path),
                Some(("abstract", name)) => {
                    use std::os::linux::net::SocketAddrExt;
                    std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                        .and_then(|a| UnixStream::connect_addr(&a))
                }
                _ => continue,
            };
            match connected {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
    }
    Err(BusError::Connect(address.to_string(), last))
}
