//! The socket state machine shared by every kind, without I/O: states, events, half-close
//! bookkeeping and the write buffer. The I/O layer (`stream`, `datagram`, `server`) tells it
//! what happened and does what it answers.

use super::error::SocketError;
use crate::reactor::queue::{Coalesce, EventQueue};
use crate::reactor::{Ready, Token};

/// QAbstractSocket::SocketState.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketState {
    /// Not connected (also: closed).
    Unconnected,
    /// Resolving the host name.
    HostLookup,
    /// Connecting (TCP, TLS handshake).
    Connecting,
    /// Connected.
    Connected,
    /// A datagram socket with a local address.
    Bound,
    /// A server socket.
    Listening,
    /// Closing: queued data is still being sent.
    Closing,
}

impl SocketState {
    /// The state's name in output.
    pub fn name(self) -> &'static str {
        match self {
            SocketState::Unconnected => "unconnected",
            SocketState::HostLookup => "host-lookup",
            SocketState::Connecting => "connecting",
            SocketState::Connected => "connected",
            SocketState::Bound => "bound",
            SocketState::Listening => "listening",
            SocketState::Closing => "closing",
        }
    }
}

/// What happened to a socket (Qt's signals), in order. The queue is bounded
/// ([`EVENT_QUEUE_BOUND`](crate::reactor::EVENT_QUEUE_BOUND)): a `BytesWritten` still queued
/// absorbs the next one (their sum), one queued `ReadyRead` stands for any number.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SocketEvent {
    /// The state changed to this.
    StateChanged(SocketState),
    /// The host name resolved; connecting follows.
    HostFound,
    /// Connected (for `tls://`: before the handshake).
    Connected,
    /// The TLS handshake finished.
    Encrypted,
    /// Data can be read: read until `read` reports `WouldBlock`.
    ReadyRead,
    /// The peer finished sending (end of stream). The socket may still send (half-close);
    /// `Disconnected` follows once this side has finished too.
    ReadClosed,
    /// This many bytes of queued data went to the kernel (since the last `BytesWritten`
    /// taken).
    BytesWritten(usize),
    /// Closed after being connected.
    Disconnected,
    /// Something failed (the socket closes).
    Error(SocketError),
}

impl Coalesce for SocketEvent {
    fn absorb(&mut self, later: &SocketEvent) -> bool {
        match (self, later) {
            (SocketEvent::BytesWritten(sum), SocketEvent::BytesWritten(n)) => {
                *sum = sum.saturating_add(*n);
                true
            }
            (SocketEvent::ReadyRead, SocketEvent::ReadyRead) => true,
            _ => false,
        }
    }
}

/// What the I/O layer has to do after telling the state machine something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum Action {
    Nothing,
    /// Shut down the sending direction (TLS: close_notify first).
    ShutdownWrite,
    /// Close the socket; then report [`Lifecycle::closed`].
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteSide {
    Open,
    /// Shut down once the write buffer is empty.
    ShutdownWanted,
    Shut,
}

/// State, half-close flags and the event queue of one socket.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    state: SocketState,
    read_closed: bool,
    write: WriteSide,
    /// `close()` was asked while data was queued.
    close_wanted: bool,
    last_error: Option<SocketError>,
    events: EventQueue<SocketEvent>,
}

impl Lifecycle {
    pub(crate) fn new(state: SocketState) -> Lifecycle {
        Lifecycle {
            state,
            read_closed: false,
            write: WriteSide::Open,
            close_wanted: false,
            last_error: None,
            events: EventQueue::default(),
        }
    }

    pub(crate) fn state(&self) -> SocketState {
        self.state
    }

    pub(crate) fn last_error(&self) -> Option<&SocketError> {
        self.last_error.as_ref()
    }

    pub(crate) fn next_event(&mut self) -> Option<SocketEvent> {
        self.events.pop()
    }

    pub(crate) fn push(&mut self, event: SocketEvent) {
        self.events.push(event);
    }

    pub(crate) fn set_state(&mut self, state: SocketState) {
        if self.state != state {
            self.state = state;
            self.events.push(SocketEvent::StateChanged(state));
        }
    }

    pub(crate) fn host_found(&mut self) {
        self.events.push(SocketEvent::HostFound);
        self.set_state(SocketState::Connecting);
    }

    pub(crate) fn connected(&mut self) {
        self.set_state(SocketState::Connected);
        self.events.push(SocketEvent::Connected);
    }

    /// Whether the socket can still send (data may be queued while connecting, as in Qt).
    pub(crate) fn check_writable(&self) -> Result<(), SocketError> {
        match (self.state, self.write) {
            (SocketState::Unconnected | SocketState::Listening | SocketState::Bound, _) => Err(
                SocketError::OperationError("the socket is not connected".into()),
            ),
            (SocketState::Closing, _) | (_, WriteSide::ShutdownWanted | WriteSide::Shut) => Err(
                SocketError::OperationError("the socket was shut down for writing".into()),
            ),
            _ => Ok(()),
        }
    }

    pub(crate) fn is_read_closed(&self) -> bool {
        self.read_closed
    }

    #[cfg(feature = "tls")]
    pub(crate) fn is_write_shut(&self) -> bool {
        self.write != WriteSide::Open
    }

    /// The peer finished sending.
    pub(crate) fn read_eof(&mut self) -> Action {
        if self.read_closed {
            return Action::Nothing;
        }
        self.read_closed = true;
        self.events.push(SocketEvent::ReadClosed);
        if self.write == WriteSide::Shut || self.close_wanted {
            Action::Close
        } else {
            Action::Nothing
        }
    }

    /// The application is done sending; `queued` bytes still wait in the write buffer.
    pub(crate) fn shutdown_write(&mut self, queued: usize) -> Action {
        if self.write != WriteSide::Open || !self.is_open() {
            return Action::Nothing;
        }
        if queued > 0 {
            self.write = WriteSide::ShutdownWanted;
            Action::Nothing
        } else {
            Action::ShutdownWrite
        }
    }

    /// The sending direction is shut down.
    pub(crate) fn write_shut(&mut self) -> Action {
        self.write = WriteSide::Shut;
        if self.read_closed {
            Action::Close
        } else {
            Action::Nothing
        }
    }

    /// Close once `queued` bytes are sent (Qt's disconnectFromHost).
    pub(crate) fn close(&mut self, queued: usize) -> Action {
        if !self.is_open() {
            return Action::Nothing;
        }
        if queued > 0 && self.write != WriteSide::Shut {
            self.close_wanted = true;
            self.set_state(SocketState::Closing);
            Action::Nothing
        } else {
            Action::Close
        }
    }

    /// The write buffer just became empty.
    pub(crate) fn flushed(&mut self) -> Action {
        if self.close_wanted {
            Action::Close
        } else if self.write == WriteSide::ShutdownWanted {
            Action::ShutdownWrite
        } else {
            Action::Nothing
        }
    }

    /// Something failed: report it; the caller closes the socket and calls [`closed`](Self::closed).
    pub(crate) fn failed(&mut self, error: SocketError) {
        self.last_error = Some(error.clone());
        self.events.push(SocketEvent::Error(error));
    }

    /// The socket is closed.
    pub(crate) fn closed(&mut self) {
        let was_connected = matches!(self.state, SocketState::Connected | SocketState::Closing);
        self.set_state(SocketState::Unconnected);
        if was_connected {
            self.events.push(SocketEvent::Disconnected);
        }
        self.close_wanted = false;
    }

    fn is_open(&self) -> bool {
        !matches!(self.state, SocketState::Unconnected)
    }
}

/// Readiness of a message socket (UDP, SCTP one-to-many): the first readable (or closed)
/// edge since the socket was last found empty becomes one ReadyRead. True if `ready` was for
/// `token`.
pub(crate) fn note_readable(
    ready: &Ready,
    token: Token,
    readable: &mut bool,
    events: &mut EventQueue<SocketEvent>,
) -> bool {
    match *ready {
        Ready::Io {
            token: t,
            readable: r,
            closed,
            ..
        } if t == token => {
            if (r || closed) && !*readable {
                *readable = true;
                events.push(SocketEvent::ReadyRead);
            }
            true
        }
        _ => false,
    }
}

/// Data queued for sending. Consumed from the front without moving the rest; the memory is
/// given back once it drains, so an idle connection holds none.
#[derive(Debug, Default)]
pub(crate) struct WriteBuffer {
    buf: Vec<u8>,
    start: usize,
}

impl WriteBuffer {
    /// Above this, emptied buffers are freed rather than kept for reuse.
    const KEEP: usize = 64 * 1024;

    pub(crate) fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn data(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    pub(crate) fn extend(&mut self, data: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// `n` bytes from the front were sent.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
        if self.start == self.buf.len() {
            self.start = 0;
            if self.buf.capacity() > Self::KEEP {
                self.buf = Vec::new();
            } else {
                self.buf.clear();
            }
        }
    }

    /// Drop everything (abort).
    pub(crate) fn clear(&mut self) {
        self.buf = Vec::new();
        self.start = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(l: &mut Lifecycle) -> Vec<String> {
        std::iter::from_fn(|| l.next_event())
            .map(|e| match e {
                SocketEvent::StateChanged(s) => format!("state:{}", s.name()),
                SocketEvent::Error(e) => format!("error:{}", e.name()),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn connect_lookup_and_close_emit_qt_signals_in_order() {
        let mut l = Lifecycle::new(SocketState::Unconnected);
        l.set_state(SocketState::HostLookup);
        l.host_found();
        l.connected();
        assert_eq!(l.close(0), Action::Close);
        l.closed();
        assert_eq!(
            drain(&mut l),
            [
                "state:host-lookup",
                "HostFound",
                "state:connecting",
                "state:connected",
                "Connected",
                "state:unconnected",
                "Disconnected"
            ]
        );
    }

    #[test]
    fn close_waits_for_queued_data() {
        let mut l = Lifecycle::new(SocketState::Connected);
        assert_eq!(l.close(10), Action::Nothing);
        assert_eq!(l.state(), SocketState::Closing);
        assert!(l.check_writable().is_err());
        assert_eq!(l.flushed(), Action::Close);
        l.closed();
        assert_eq!(
            drain(&mut l),
            ["state:closing", "state:unconnected", "Disconnected"]
        );
    }

    #[test]
    fn half_close_both_ways_closes_once_both_sides_are_done() {
        // We finish first, then the peer.
        let mut l = Lifecycle::new(SocketState::Connected);
        assert_eq!(l.shutdown_write(5), Action::Nothing);
        assert!(l.check_writable().is_err());
        assert_eq!(l.flushed(), Action::ShutdownWrite);
        assert_eq!(l.write_shut(), Action::Nothing);
        assert_eq!(l.read_eof(), Action::Close);
        // The peer finishes first, then we.
        let mut l = Lifecycle::new(SocketState::Connected);
        assert_eq!(l.read_eof(), Action::Nothing);
        assert_eq!(l.read_eof(), Action::Nothing, "reported once");
        assert!(l.check_writable().is_ok(), "half-closed sockets still send");
        assert_eq!(l.shutdown_write(0), Action::ShutdownWrite);
        assert_eq!(l.write_shut(), Action::Close);
        assert_eq!(drain(&mut l), ["ReadClosed"]);
    }

    #[test]
    fn errors_are_reported_then_the_socket_disconnects() {
        let mut l = Lifecycle::new(SocketState::Connected);
        l.failed(SocketError::RemoteHostClosed {
            peer: "p".into(),
            reset: true,
        });
        l.closed();
        assert_eq!(
            drain(&mut l),
            [
                "error:RemoteHostClosedError",
                "state:unconnected",
                "Disconnected"
            ]
        );
        assert!(l.last_error().is_some());
        assert_eq!(l.close(0), Action::Nothing, "closing twice does nothing");
        // A failed connect never was connected: no Disconnected.
        let mut l = Lifecycle::new(SocketState::Connecting);
        l.failed(SocketError::ConnectionRefused("p".into()));
        l.closed();
        assert_eq!(
            drain(&mut l),
            ["error:ConnectionRefusedError", "state:unconnected"]
        );
        assert!(l.check_writable().is_err());
    }

    #[test]
    fn write_buffer_consumes_from_the_front_and_frees_when_drained() {
        let mut b = WriteBuffer::default();
        b.extend(b"hello ");
        b.extend(b"world");
        b.consume(6);
        assert_eq!(b.data(), b"world");
        b.extend(b"!");
        assert_eq!(b.data(), b"world!");
        b.consume(100);
        assert!(b.is_empty());
        b.extend(&vec![7; 200_000]);
        b.consume(200_000);
        assert_eq!(b.buf.capacity(), 0, "large buffers are freed once drained");
    }
}
