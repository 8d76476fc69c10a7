//! `boardnet connect` and `boardnet listen`: socat/nc habits on the socket module. Stdout
//! carries data only; events (human or `--json`) go to stderr.

use std::collections::HashMap;
use std::io::{self, Write};
use std::mem::ManuallyDrop;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::FromRawFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use lexopt::prelude::*;
use serde_json::{json, Value};

use super::args::{number, seconds, text, Globals, TlsFlag, TlsFlags};
use super::hints::Hinted;
use super::output::json_line_stderr;
use super::stdin::{Input, StdinSource};
use super::{new_reactor, os_failure, signal_exit, Failure};
use crate::dns::Family;
use crate::error::{Classify, ErrorClass};
use crate::reactor::{Reactor, Ready, TimerId, Token};
use crate::socket::{
    Address, ConnectOptions, Endpoint, Server, ServerEvent, ServerOptions, SocketError,
    SocketEvent, SocketState, StreamKind, StreamSocket, TimeoutPhase, UdpOptions, UdpSocket,
};

const CONNECT_HELP: &str = "\
Usage: boardnet connect URL [OPTIONS]

Connect to URL and copy stdin to the socket and the socket to stdout until both ends have
finished (stdin's end half-closes the connection, as nc -N does). URL is tcp://HOST:PORT,
tls://HOST:PORT, udp://HOST:PORT, sctp://HOST:PORT, unix:/PATH or unix:@ABSTRACT; IPv6 in
brackets, [fe80::1%eth0] for link-local. Host names resolve through resolv.conf and /etc/hosts.

  --timeout S          limit for host lookup, connect and TLS handshake (default: the kernel's)
  --idle-timeout S     give up when nothing is sent or received for S seconds (exit 5); for
                       udp:// and sctp:// (no half-close): how long to wait for replies after
                       stdin ends, then exit 0 (default 2 s)
  -4, -6               IPv4 or IPv6 addresses only
  --interface IFACE    send through this interface (SO_BINDTODEVICE, needs root)
  --keepalive S        TCP keepalive probes after S idle seconds

TLS (tls://):
  --cacert FILE        trust only the CAs in FILE (default: system store)
  --cert FILE          client certificate (PEM); --key FILE its key
  --alpn P[,P...]      offer these ALPN protocols
  --pinnedpubkey sha256//BASE64[;...]  require one of these server keys
  --ignore-tls-error NAME  accept only this certificate problem (unknown-issuer, expired,
                       not-yet-valid, hostname-mismatch; repeatable)
  -k, --insecure       do not verify the server certificate (pins still apply)

UDP (udp://): each read of stdin is one datagram (at most 65507 bytes over IPv4, 65527 over
IPv6; larger is an error, exit 2).
  --datagram-size N    read stdin in pieces of at most N bytes, one datagram each
  --broadcast          allow a broadcast destination
  --ttl N              multicast TTL (hops); --no-multicast-loop: not to this host

SCTP (sctp://):
  --streams N          negotiate N streams and keep message boundaries (default: byte stream)
  --stream S           send on stream S (default 0)

Events go to stderr: with -v as text, with --json one object per line (connected,
encrypted, closed). Exit: 0 done, 2 bad input, 3 host not found, 4 refused/reset/unreachable,
5 timeout, 6 TLS, 11 no kernel SCTP, 12 interrupted.
";

const LISTEN_HELP: &str = "\
Usage: boardnet listen URL [--stdio | --echo | --discard] [OPTIONS]

Serve URL (tcp://, tls://, udp://, sctp://, unix:/PATH, unix:@NAME) to many clients at
once on one event loop. Port 0 picks a free port. The address listened on is printed on
stderr (\"listening on URL\"; with --json an object with url and address). Listening hosts:
* (every address, IPv6 and IPv4), 0.0.0.0 (IPv4), [::] (IPv6), 127.0.0.1, [::1], a name.

  --stdio              (default) received data to stdout; stdin to every client (UDP: to
                       the last sender); with --once, stdin's end half-closes
  --echo               send everything back (UDP/SCTP messages: to their sender and stream)
  --discard            read and drop
  --once               serve one client (UDP: one datagram), then exit with its result
  --max-connections N  serve at most N clients at once; others wait in the backlog
  --idle-timeout S     close a client that sends nothing for S seconds
  --handshake-timeout S  tls://: close a client that has not finished its TLS handshake
                       after S seconds (default 10, 0 = never)
  --interface IFACE    accept only through this interface (SO_BINDTODEVICE, needs root)
  --mode OCTAL         permissions of a unix:/PATH socket file (e.g. 660)

TLS (tls://):
  --cert FILE          certificate chain (PEM); --key FILE its key (default: in --cert)
  --cacert FILE        with --require-client-cert: the CA client certificates must chain to
  --require-client-cert  refuse clients without a valid certificate
  --alpn P[,P...]      accept these ALPN protocols, most preferred first

UDP: --join GROUP[@IFACE] (repeatable) receive a multicast group; --broadcast allow replies
to broadcast addresses. SCTP: --streams N offer N streams (echo keeps each message's
stream); --seqpacket one-to-many socket (one socket for every association).

Events go to stderr: with -v as text, with --json one object per line (listening,
connection, encrypted, datagram, closed, error). SIGINT/SIGTERM stop the server: exit 0.
Exit: 0 ok, 2 bad input or address in use, 6 TLS (with --once), 9 socket file not
writable, 11 no kernel SCTP.
";

/// Stop reading a peer while this much is queued for it (back-pressure).
const HIGH_WATER: usize = 256 * 1024;
/// Read size for stream data and stdin.
const CHUNK: usize = 128 * 1024;
/// For udp:// and sctp:// after stdin ends: how long to wait for replies.
const DEFAULT_LINGER: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Stdio,
    Echo,
    Discard,
}

#[derive(Debug)]
struct Args {
    endpoint: Endpoint,
    timeout: Option<Duration>,
    idle: Option<Duration>,
    family: Family,
    interface: Option<String>,
    keepalive: Option<Duration>,
    tls: TlsFlags,
    alpn: Vec<Vec<u8>>,
    require_client_cert: bool,
    broadcast: bool,
    ttl: Option<u32>,
    multicast_loop: bool,
    joins: Vec<(IpAddr, Option<String>)>,
    datagram_size: usize,
    streams: Option<u16>,
    stream: u16,
    seqpacket: bool,
    mode: Option<Mode>,
    once: bool,
    max_connections: Option<usize>,
    handshake_timeout: Option<Duration>,
    socket_mode: Option<u32>,
}

fn parse_join(spec: &str) -> Result<(IpAddr, Option<String>), Failure> {
    let (group, iface) = match spec.rsplit_once('@') {
        Some((g, i)) => (g, Some(i.to_string())),
        None => (spec, None),
    };
    let ip: IpAddr = group
        .trim_matches(|c| c == '[' || c == ']')
        .parse()
        .map_err(|_| Failure::usage(format!("--join: \"{group}\" is not an IP address")))?;
    if !ip.is_multicast() {
        return Err(Failure::usage(format!(
            "--join: {ip} is not a multicast group (224.0.0.0/4 or ff00::/8)"
        )));
    }
    Ok((ip, iface))
}

/// The arguments, or `None` after printing the help.
fn parse(
    command: &str,
    parser: &mut lexopt::Parser,
    globals: &mut Globals,
) -> Result<Option<Args>, Failure> {
    let listen = command == "listen";
    let mut url: Option<String> = None;
    let mut a = Args {
        endpoint: Endpoint::Unix(crate::socket::UnixName::Abstract(Vec::new())),
        timeout: None,
        idle: None,
        family: Family::Any,
        interface: None,
        keepalive: None,
        tls: TlsFlags::default(),
        alpn: Vec::new(),
        require_client_cert: false,
        broadcast: false,
        ttl: None,
        multicast_loop: true,
        joins: Vec::new(),
        datagram_size: CHUNK,
        streams: None,
        stream: 0,
        seqpacket: false,
        mode: None,
        once: false,
        max_connections: None,
        handshake_timeout: None,
        socket_mode: None,
    };
    let only = |flag: &str, for_listen: bool| -> Result<(), Failure> {
        if for_listen == listen {
            Ok(())
        } else {
            Err(Failure::usage(format!(
                "{flag} is a {} option",
                if for_listen { "listen" } else { "connect" }
            )))
        }
    };
    while let Some(arg) = parser.next()? {
        if let Some(flag) = TlsFlag::of(&arg) {
            if listen
                && matches!(
                    flag,
                    TlsFlag::PinnedPubKey | TlsFlag::IgnoreError | TlsFlag::Insecure
                )
            {
                return Err(Failure::usage(
                    "--pinnedpubkey, --ignore-tls-error and --insecure are connect options",
                ));
            }
            a.tls.set(flag, parser)?;
            continue;
        }
        match arg {
            Short('h') | Long("help") => {
                super::output::print_text(if listen { LISTEN_HELP } else { CONNECT_HELP });
                return Ok(None);
            }
            Long("timeout") => {
                only("--timeout", false)?;
                a.timeout = Some(seconds(parser, "--timeout")?);
            }
            Long("idle-timeout") => a.idle = Some(seconds(parser, "--idle-timeout")?),
            Short('4') | Long("ipv4") => a.family = Family::V4,
            Short('6') | Long("ipv6") => a.family = Family::V6,
            Long("interface") => a.interface = Some(text(parser, "--interface")?),
            Long("keepalive") => {
                only("--keepalive", false)?;
                a.keepalive = Some(seconds(parser, "--keepalive")?);
            }
            Long("alpn") => {
                let v = text(parser, "--alpn")?;
                for p in v.split(',').map(str::trim) {
                    if p.is_empty() || p.len() > 255 {
                        return Err(Failure::usage(format!(
                            "--alpn: \"{p}\" is not a protocol name (1 to 255 bytes)"
                        )));
                    }
                    a.alpn.push(p.as_bytes().to_vec());
                }
            }
            Long("require-client-cert") => {
                only("--require-client-cert", true)?;
                a.require_client_cert = true;
            }
            Long("broadcast") => a.broadcast = true,
            Long("ttl") => {
                only("--ttl", false)?;
                a.ttl = Some(number(parser, "--ttl")?);
            }
            Long("no-multicast-loop") => {
                only("--no-multicast-loop", false)?;
                a.multicast_loop = false;
            }
            Long("join") => {
                only("--join", true)?;
                a.joins.push(parse_join(&text(parser, "--join")?)?);
            }
            Long("datagram-size") => {
                only("--datagram-size", false)?;
                let n: usize = number(parser, "--datagram-size")?;
                if n == 0 || n > CHUNK * 2 {
                    return Err(Failure::usage("--datagram-size: 1 to 131072 bytes"));
                }
                a.datagram_size = n;
            }
            Long("streams") => {
                let n: u16 = number(parser, "--streams")?;
                if n == 0 {
                    return Err(Failure::usage("--streams: at least 1"));
                }
                a.streams = Some(n);
            }
            Long("stream") => {
                only("--stream", false)?;
                a.stream = number(parser, "--stream")?;
            }
            Long("seqpacket") => {
                only("--seqpacket", true)?;
                a.seqpacket = true;
            }
            Long("stdio") | Long("echo") | Long("discard") => {
                let Long(name) = arg else { unreachable!() };
                only(&format!("--{name}"), true)?;
                let mode = match name {
                    "echo" => Mode::Echo,
                    "discard" => Mode::Discard,
                    _ => Mode::Stdio,
                };
                if a.mode.is_some_and(|m| m != mode) {
                    return Err(Failure::usage(
                        "use only one of --stdio, --echo and --discard",
                    ));
                }
                a.mode = Some(mode);
            }
            Long("once") => {
                only("--once", true)?;
                a.once = true;
            }
            Long("handshake-timeout") => {
                only("--handshake-timeout", true)?;
                a.handshake_timeout = Some(seconds(parser, "--handshake-timeout")?);
            }
            Long("max-connections") => {
                only("--max-connections", true)?;
                let n: usize = number(parser, "--max-connections")?;
                if n == 0 {
                    return Err(Failure::usage("--max-connections: at least 1"));
                }
                a.max_connections = Some(n);
            }
            Long("mode") => {
                only("--mode", true)?;
                let v = text(parser, "--mode")?;
                let m = u32::from_str_radix(v.trim_start_matches("0o"), 8)
                    .ok()
                    .filter(|m| *m <= 0o777)
                    .ok_or_else(|| {
                        Failure::usage(format!("--mode: \"{v}\" is not an octal mode like 660"))
                    })?;
                a.socket_mode = Some(m);
            }
            Value(v) if url.is_none() => url = Some(v.string()?),
            other => {
                if !globals.accept(&other) {
                    return Err(other.unexpected().into());
                }
            }
        }
    }
    let url = url.ok_or_else(|| {
        Failure::usage(format!(
            "{command}: give an endpoint URL, e.g. tcp://127.0.0.1:7000"
        ))
    })?;
    a.endpoint = url
        .parse()
        .map_err(|e: SocketError| Failure::from_error(&e))?;
    a.validate(listen)?;
    Ok(Some(a))
}

impl Args {
    fn validate(&self, listen: bool) -> Result<(), Failure> {
        let scheme = self.endpoint.scheme();
        let tls_flags = self.tls.given() || !self.alpn.is_empty() || self.require_client_cert;
        if tls_flags && scheme != "tls" {
            return Err(Failure::usage(format!(
                "TLS options need a tls:// endpoint, not {scheme}:"
            )));
        }
        if (self.streams.is_some() || self.seqpacket || self.stream != 0) && scheme != "sctp" {
            return Err(Failure::usage(
                "--streams, --stream and --seqpacket need an sctp:// endpoint",
            ));
        }
        if self.stream != 0 && self.streams.is_none_or(|n| self.stream >= n) {
            return Err(Failure::usage("--stream S needs --streams N with S < N"));
        }
        let udp_only =
            self.broadcast || self.ttl.is_some() || !self.multicast_loop || !self.joins.is_empty();
        if (udp_only || self.datagram_size != CHUNK) && scheme != "udp" {
            return Err(Failure::usage(
                "--broadcast, --ttl, --no-multicast-loop, --join and --datagram-size need a udp:// endpoint",
            ));
        }
        if self.socket_mode.is_some()
            && !matches!(
                &self.endpoint,
                Endpoint::Unix(crate::socket::UnixName::Path(_))
            )
        {
            return Err(Failure::usage("--mode needs a unix:/PATH endpoint"));
        }
        if listen && scheme == "tls" {
            if self.tls.options.client_cert.is_none() {
                return Err(Failure::usage(
                    "listen tls://: give the server certificate with --cert FILE",
                ));
            }
            if self.require_client_cert != self.tls.options.ca_file.is_some() {
                return Err(Failure::usage(
                    "--require-client-cert and --cacert go together (the CA client certificates must chain to)",
                ));
            }
        }
        self.tls.check()
    }

    fn mode(&self) -> Mode {
        self.mode.unwrap_or(Mode::Stdio)
    }
}

/// Parse `command`'s arguments and set up logging and reporting (`None`: help was printed).
fn start(
    command: &str,
    parser: &mut lexopt::Parser,
    globals: &mut Globals,
) -> Result<Option<(Args, Reporter)>, Failure> {
    // Data owns stdout: events and errors go to stderr.
    globals.events_on_stderr = true;
    let Some(args) = parse(command, parser, globals)? else {
        return Ok(None);
    };
    globals.init_logging();
    Ok(Some((args, Reporter::new(*globals))))
}

pub(crate) fn connect(
    parser: &mut lexopt::Parser,
    globals: &mut Globals,
) -> Result<ExitCode, Failure> {
    let Some((args, report)) = start("connect", parser, globals)? else {
        return Ok(ExitCode::SUCCESS);
    };
    match &args.endpoint {
        Endpoint::Udp(_) => connect_udp(&args, &report),
        _ => connect_stream(&args, &report),
    }
}

pub(crate) fn listen(
    parser: &mut lexopt::Parser,
    globals: &mut Globals,
) -> Result<ExitCode, Failure> {
    let Some((args, report)) = start("listen", parser, globals)? else {
        return Ok(ExitCode::SUCCESS);
    };
    match &args.endpoint {
        Endpoint::Udp(_) => listen_udp(&args, &report),
        #[cfg(feature = "sctp")]
        Endpoint::Sctp(_) if args.seqpacket => listen_seqpacket(&args, &report),
        _ => listen_stream(&args, &report),
    }
}

// ---------------------------------------------------------------------------------------------
// Events on stderr

/// Prints events: JSON lines with --json, text with -v (the listening line always).
struct Reporter {
    json: bool,
    verbose: bool,
}

impl Reporter {
    fn new(globals: Globals) -> Reporter {
        Reporter {
            json: globals.json,
            verbose: globals.verbose > 0,
        }
    }

    /// `text` is printed without --json when `always` or -v.
    fn event(&self, always: bool, text: impl FnOnce() -> String, value: impl FnOnce() -> Value) {
        if self.json {
            let mut value = value();
            // Client-side events have no connection number.
            if let Some(map) = value.as_object_mut() {
                if map.get("id").is_some_and(Value::is_null) {
                    map.remove("id");
                }
            }
            json_line_stderr(&value);
        } else if always || self.verbose {
            eprintln!("boardnet: {}", text());
        }
    }

    fn error(&self, id: Option<u64>, e: &SocketError) {
        let class = e.class();
        self.event(
            true,
            || match id {
                Some(id) => format!("connection {id}: {}", Hinted(e)),
                None => Hinted(e).to_string(),
            },
            || {
                json!({
                    "event": "error",
                    "id": id,
                    "error": {
                        "kind": e.name(),
                        "class": class.name(),
                        "code": class.exit_code(),
                        "message": Hinted(e).to_string(),
                    }
                })
            },
        );
    }

    fn encrypted(&self, id: Option<u64>, sock: &StreamSocket) {
        #[cfg(feature = "tls")]
        if let Some(info) = sock.tls_info() {
            self.event(
                false,
                || {
                    format!(
                        "{}TLS {} {}{}",
                        id.map(|i| format!("connection {i}: ")).unwrap_or_default(),
                        info.version,
                        info.cipher,
                        info.alpn
                            .as_deref()
                            .map(|p| format!(", ALPN {p}"))
                            .unwrap_or_default()
                    )
                },
                || {
                    json!({
                        "event": "encrypted",
                        "id": id,
                        "version": info.version,
                        "cipher": info.cipher,
                        "alpn": info.alpn,
                        "peer_certificates": info.peer_certificates.len(),
                    })
                },
            );
        }
        #[cfg(not(feature = "tls"))]
        let _ = (id, sock);
    }

    fn closed(&self, id: Option<u64>, bytes: (u64, u64), started: Instant) {
        let secs = (started.elapsed().as_secs_f64() * 1e6).round() / 1e6;
        self.event(
            false,
            || {
                format!(
                    "{}closed: {} bytes in, {} bytes out, {secs} s",
                    id.map(|i| format!("connection {i} ")).unwrap_or_default(),
                    bytes.0,
                    bytes.1
                )
            },
            || json!({"event": "closed", "id": id, "bytes_in": bytes.0, "bytes_out": bytes.1, "seconds": secs}),
        );
    }
}

fn address_json(a: Option<Address>) -> Value {
    a.map_or(Value::Null, |a| Value::String(a.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Shared plumbing

/// Standard output as an unbuffered file (data goes out as it arrives).
fn raw_stdout() -> ManuallyDrop<std::fs::File> {
    // SAFETY: fd 1 stays open for the life of the process; ManuallyDrop never closes it.
    ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(1) })
}

fn to_stdout(data: &[u8]) -> Result<(), Failure> {
    raw_stdout().write_all(data).map_err(|e| Failure {
        help_hint: false,
        class: ErrorClass::LocalIo,
        message: format!("writing stdout: {e}"),
    })
}

/// An idle deadline on the reactor: re-armed lazily from the last activity.
struct IdleClock {
    limit: Option<Duration>,
    last: Instant,
    timer: Option<TimerId>,
    owner: Token,
}

impl IdleClock {
    fn new(reactor: &mut Reactor, limit: Option<Duration>) -> IdleClock {
        let mut clock = IdleClock {
            limit: None,
            last: Instant::now(),
            timer: None,
            owner: reactor.token(),
        };
        clock.set_limit(reactor, limit);
        clock
    }

    fn set_limit(&mut self, reactor: &mut Reactor, limit: Option<Duration>) {
        self.limit = limit;
        self.last = Instant::now();
        if let Some(t) = self.timer.take() {
            reactor.cancel_timer(t);
        }
        if let Some(l) = limit {
            self.timer = Some(reactor.timer(self.last + l, self.owner));
        }
    }

    fn touch(&mut self) {
        self.last = Instant::now();
    }

    /// For a timer event: true when the limit really passed (else it is re-armed).
    fn expired(&mut self, reactor: &mut Reactor, ready: &Ready) -> bool {
        let Ready::Timer { id, .. } = ready else {
            return false;
        };
        if self.timer != Some(*id) {
            return false;
        }
        let Some(limit) = self.limit else {
            return false;
        };
        let due = self.last + limit;
        if Instant::now() >= due {
            self.timer = None;
            return true;
        }
        self.timer = Some(reactor.timer(due, self.owner));
        false
    }

    fn is_mine(&self, ready: &Ready) -> bool {
        matches!(ready, Ready::Timer { owner, .. } if *owner == self.owner)
    }
}

// ---------------------------------------------------------------------------------------------
// connect: streams

fn connect_stream(args: &Args, report: &Reporter) -> Result<ExitCode, Failure> {
    let mut reactor = new_reactor()?;
    let opts = ConnectOptions {
        timeout: args.timeout,
        interface: args.interface.clone(),
        family: args.family,
        nodelay: true,
        keepalive: args.keepalive,
        sctp_streams: args.streams,
        #[cfg(feature = "tls")]
        tls: crate::tls::TlsOptions {
            alpn: args.alpn.clone(),
            ..args.tls.options.clone()
        },
        ..ConnectOptions::default()
    };
    let started = Instant::now();
    let mut sock = StreamSocket::connect(&mut reactor, &args.endpoint, opts)
        .map_err(|e| Failure::from_error(&e))?;
    let no_half_close = sock.kind() == StreamKind::Sctp;
    let mut stdin = StdinSource::register(&mut reactor).map_err(os_failure("stdin"))?;
    let mut stdin_ready = true;
    let mut idle = IdleClock::new(&mut reactor, args.idle);
    let mut buf = vec![0u8; CHUNK];
    let mut events = Vec::with_capacity(16);
    let mut failure: Option<Failure> = None;
    loop {
        while let Some(event) = sock.next_event() {
            match event {
                SocketEvent::Connected => report.event(
                    false,
                    || format!("connected to {}", sock.peer_name()),
                    || {
                        json!({
                            "event": "connected",
                            "url": args.endpoint.to_string(),
                            "local": address_json(sock.local_address()),
                            "peer": address_json(sock.peer_address()),
                        })
                    },
                ),
                SocketEvent::Encrypted => report.encrypted(None, &sock),
                SocketEvent::Error(e) => {
                    failure.get_or_insert_with(|| Failure::from_error(&e));
                }
                SocketEvent::StateChanged(s) => log::debug!("state: {}", s.name()),
                _ => {}
            }
        }
        if sock.state() == SocketState::Unconnected {
            break;
        }
        // Socket → stdout.
        if sock.is_readable() {
            loop {
                match read_stream(&mut sock, &mut buf) {
                    Ok(Some((0, _))) | Err(_) => break,
                    Ok(Some((n, _))) => {
                        idle.touch();
                        to_stdout(&buf[..n])?;
                    }
                    Ok(None) => break,
                }
            }
            continue;
        }
        // Stdin → socket, while the peer keeps up.
        let sending = matches!(sock.state(), SocketState::Connected)
            && (sock.is_encrypted() || args.endpoint.scheme() != "tls");
        if stdin_ready && sending && sock.bytes_to_write() < HIGH_WATER {
            match stdin
                .read(&mut reactor, &mut buf)
                .map_err(os_failure("stdin"))?
            {
                Input::Data(n) => {
                    idle.touch();
                    let sent = if args.streams.is_some() {
                        send_message(&mut sock, args.stream, &buf[..n])
                    } else {
                        sock.write(&buf[..n])
                    };
                    if let Err(e) = sent {
                        failure.get_or_insert_with(|| Failure::from_error(&e));
                    }
                    continue;
                }
                Input::Empty => stdin_ready = false,
                Input::End => {
                    stdin_ready = false;
                    if no_half_close {
                        idle.set_limit(&mut reactor, Some(args.idle.unwrap_or(DEFAULT_LINGER)));
                    } else {
                        sock.shutdown_write();
                    }
                    continue;
                }
            }
        }
        events.clear();
        reactor
            .turn(&mut events, None)
            .map_err(os_failure("event loop"))?;
        for ready in &events {
            match ready {
                Ready::Signal(sig) if signal_exit(*sig) => {
                    return Ok(ExitCode::from(ErrorClass::Cancelled.exit_code()));
                }
                Ready::Io { token, .. } if Some(*token) == stdin.token() => stdin_ready = true,
                r if idle.is_mine(r) => {
                    if idle.expired(&mut reactor, r) {
                        if stdin.ended() && no_half_close {
                            sock.close();
                        } else {
                            let e = SocketError::SocketTimeout {
                                phase: TimeoutPhase::Idle,
                                after: args.idle.unwrap_or_default(),
                                peer: sock.peer_name().to_string(),
                            };
                            failure.get_or_insert_with(|| Failure::from_error(&e));
                            sock.abort();
                        }
                    }
                }
                other => {
                    sock.handle(&mut reactor, other);
                }
            }
        }
    }
    report.closed(None, sock.byte_counts(), started);
    match failure {
        Some(f) => Err(f),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// Read from a stream socket: `Some((n, stream))` (0 at the end), `None` when nothing is
/// there. SCTP sockets in message mode report each message's stream.
fn read_stream(sock: &mut StreamSocket, buf: &mut [u8]) -> io::Result<Option<(usize, u16)>> {
    #[cfg(feature = "sctp")]
    if sock.kind() == StreamKind::Sctp {
        return match sock.recv_message(buf) {
            Ok(m) => Ok(Some((m.len, m.stream))),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        };
    }
    match sock.read(buf) {
        Ok(n) => Ok(Some((n, 0))),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

fn send_message(sock: &mut StreamSocket, stream: u16, data: &[u8]) -> Result<(), SocketError> {
    #[cfg(feature = "sctp")]
    if sock.kind() == StreamKind::Sctp {
        return sock.send_message(stream, data);
    }
    let _ = stream;
    sock.write(data)
}

// ---------------------------------------------------------------------------------------------
// connect: UDP

fn udp_options(args: &Args) -> UdpOptions {
    UdpOptions {
        interface: args.interface.clone(),
        broadcast: args.broadcast,
        reuse_address: !args.joins.is_empty(),
        family: args.family,
    }
}

fn connect_udp(args: &Args, report: &Reporter) -> Result<ExitCode, Failure> {
    let mut reactor = new_reactor()?;
    let started = Instant::now();
    let mut sock = UdpSocket::connect(&mut reactor, &args.endpoint, &udp_options(args))
        .map_err(|e| Failure::from_error(&e))?;
    if let Some(ttl) = args.ttl {
        sock.set_multicast_ttl(ttl)
            .map_err(|e| Failure::from_error(&e))?;
    }
    if !args.multicast_loop {
        sock.set_multicast_loopback(false)
            .map_err(|e| Failure::from_error(&e))?;
    }
    report.event(
        false,
        || format!("sending to {}", args.endpoint),
        || {
            json!({
                "event": "connected",
                "url": args.endpoint.to_string(),
                "local": sock.local_address().to_string(),
                "peer": sock.peer_address().map(|p| p.to_string()),
            })
        },
    );
    let mut stdin = StdinSource::register(&mut reactor).map_err(os_failure("stdin"))?;
    let mut stdin_ready = true;
    let mut idle = IdleClock::new(&mut reactor, args.idle);
    let mut buf = vec![0u8; CHUNK * 2];
    let mut held: Option<usize> = None;
    let mut counts = (0u64, 0u64);
    let mut events = Vec::with_capacity(16);
    let finish = |counts, failure: Option<SocketError>| {
        report.closed(None, counts, started);
        match failure {
            Some(e) => Err(Failure::from_error(&e)),
            None => Ok(ExitCode::SUCCESS),
        }
    };
    loop {
        // Datagrams → stdout.
        loop {
            match sock.recv_from(&mut buf) {
                Ok(d) => {
                    idle.touch();
                    counts.0 += d.len as u64;
                    to_stdout(&buf[..d.len])?;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return finish(counts, SocketError::of(&e).cloned()),
            }
        }
        // Stdin → datagrams (a held one first: the send buffer was full).
        if stdin_ready || held.is_some() {
            let n = match held.take() {
                Some(n) => n,
                None => match stdin
                    .read(&mut reactor, &mut buf[..args.datagram_size])
                    .map_err(os_failure("stdin"))?
                {
                    Input::Data(n) => n,
                    Input::Empty => {
                        stdin_ready = false;
                        0
                    }
                    Input::End => {
                        stdin_ready = false;
                        idle.set_limit(&mut reactor, Some(args.idle.unwrap_or(DEFAULT_LINGER)));
                        0
                    }
                },
            };
            if n > 0 {
                match sock.send(&buf[..n]) {
                    Ok(()) => {
                        idle.touch();
                        counts.1 += n as u64;
                        continue;
                    }
                    Err(SocketError::Temporary) => held = Some(n),
                    Err(e) => return finish(counts, Some(e)),
                }
            }
        }
        events.clear();
        reactor
            .turn(&mut events, None)
            .map_err(os_failure("event loop"))?;
        for ready in &events {
            match ready {
                Ready::Signal(sig) if signal_exit(*sig) => {
                    return Ok(ExitCode::from(ErrorClass::Cancelled.exit_code()));
                }
                Ready::Io { token, .. } if Some(*token) == stdin.token() => stdin_ready = true,
                r if idle.is_mine(r) => {
                    if idle.expired(&mut reactor, r) {
                        if stdin.ended() {
                            return finish(counts, None);
                        }
                        let e = SocketError::SocketTimeout {
                            phase: TimeoutPhase::Idle,
                            after: args.idle.unwrap_or_default(),
                            peer: args.endpoint.to_string(),
                        };
                        return finish(counts, Some(e));
                    }
                }
                other => {
                    sock.handle(&mut reactor, other);
                }
            }
        }
        while sock.next_event().is_some() {}
    }
}

// ---------------------------------------------------------------------------------------------
// listen: stream servers

struct Client {
    id: u64,
    sock: StreamSocket,
    started: Instant,
    last_activity: Instant,
    /// SCTP with streams: keep message boundaries and stream numbers.
    messages: bool,
}

/// The state a stream server's loop shares across clients.
struct StreamServer<'a> {
    args: &'a Args,
    report: &'a Reporter,
    mode: Mode,
    clients: HashMap<Token, Client>,
    next_id: u64,
    buf: Vec<u8>,
    stdin_ended: bool,
    /// With --once: the one client's result.
    outcome: Option<Result<(), Failure>>,
    /// Accepting stopped at --max-connections.
    paused: bool,
}

fn listen_stream(args: &Args, report: &Reporter) -> Result<ExitCode, Failure> {
    let mut reactor = new_reactor()?;
    let opts = ServerOptions {
        interface: args.interface.clone(),
        socket_mode: args.socket_mode,
        nodelay: true,
        sctp_streams: args.streams,
        #[cfg(feature = "tls")]
        tls: args
            .tls
            .options
            .client_cert
            .as_ref()
            .map(|cert| crate::tls::ServerTlsOptions {
                cert_chain: cert.clone(),
                key: args.tls.options.client_key.clone(),
                client_ca: args.tls.options.ca_file.clone(),
                alpn: args.alpn.clone(),
            }),
        #[cfg(feature = "tls")]
        tls_handshake_timeout: super::args::LimitFlags::or(
            args.handshake_timeout,
            ServerOptions::default().tls_handshake_timeout,
        ),
        ..ServerOptions::default()
    };
    let mut server =
        Server::listen(&mut reactor, &args.endpoint, &opts).map_err(|e| Failure::from_error(&e))?;
    report_listening(report, server.endpoint(), server.local_address());
    let mode = args.mode();
    let mut stdin = if mode == Mode::Stdio {
        Some(StdinSource::register(&mut reactor).map_err(os_failure("stdin"))?)
    } else {
        None
    };
    let mut stdin_ready = stdin.is_some();
    let sweep = args
        .idle
        .map(|i| (i / 2).clamp(Duration::from_millis(50), Duration::from_secs(1)));
    let sweep_owner = reactor.token();
    if let Some(every) = sweep {
        reactor.timer(Instant::now() + every, sweep_owner);
    }
    let mut state = StreamServer {
        args,
        report,
        mode,
        clients: HashMap::new(),
        next_id: 0,
        buf: vec![0u8; CHUNK],
        stdin_ended: false,
        outcome: None,
        paused: false,
    };
    let mut events = Vec::with_capacity(256);
    let mut touched: Vec<Token> = Vec::with_capacity(256);
    loop {
        if let Some(outcome) = state.outcome.take() {
            server.close(&mut reactor);
            return outcome.map(|()| ExitCode::SUCCESS);
        }
        // Stdin → every client.
        if let Some(input) = stdin.as_mut() {
            // Stdin waits for a client: nc -l sends it to whoever connects.
            let room = !state.clients.is_empty()
                && state
                    .clients
                    .values()
                    .all(|c| c.sock.bytes_to_write() < HIGH_WATER);
            if stdin_ready && room && !input.ended() {
                let mut data = vec![0u8; CHUNK];
                match input
                    .read(&mut reactor, &mut data)
                    .map_err(os_failure("stdin"))?
                {
                    Input::Data(n) => {
                        for c in state.clients.values_mut() {
                            let _ = c.sock.write(&data[..n]);
                        }
                        touched.extend(state.clients.keys().copied());
                    }
                    Input::Empty => stdin_ready = false,
                    Input::End => {
                        stdin_ready = false;
                        state.stdin_ended = true;
                        if args.once {
                            for c in state.clients.values_mut() {
                                c.sock.shutdown_write();
                            }
                            touched.extend(state.clients.keys().copied());
                        }
                    }
                }
            }
        }
        for token in touched.drain(..) {
            state.service(token);
        }
        if state.paused
            && args
                .max_connections
                .is_some_and(|max| state.clients.len() < max)
        {
            state.paused = false;
            server.resume_accepting(&mut reactor);
            state.accept(&mut reactor, &mut server, &mut touched);
            continue;
        }
        if state.outcome.is_some() {
            continue;
        }
        if stdin_ready && stdin.as_ref().is_some_and(|s| !s.ended()) && !state.clients.is_empty() {
            continue;
        }
        events.clear();
        reactor
            .turn(&mut events, None)
            .map_err(os_failure("event loop"))?;
        for ready in &events {
            match ready {
                Ready::Signal(sig) if signal_exit(*sig) => {
                    server.close(&mut reactor);
                    for c in state.clients.values_mut() {
                        c.sock.abort();
                    }
                    report.event(
                        false,
                        || "stopped by signal".into(),
                        || json!({"event": "stopped", "signal": sig}),
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                Ready::Timer { owner, .. } if *owner == sweep_owner => {
                    state.sweep_idle(&mut touched);
                    if let Some(every) = sweep {
                        reactor.timer(Instant::now() + every, sweep_owner);
                    }
                }
                Ready::Io { token, .. }
                    if stdin.as_ref().and_then(|s| s.token()) == Some(*token) =>
                {
                    stdin_ready = true;
                }
                r if server.handle(&mut reactor, r) => {
                    state.accept(&mut reactor, &mut server, &mut touched);
                }
                Ready::Io { token, .. } => {
                    if let Some(c) = state.clients.get_mut(token) {
                        c.sock.handle(&mut reactor, ready);
                        touched.push(*token);
                    }
                }
                Ready::Timer { owner, .. } => {
                    if let Some(c) = state.clients.get_mut(owner) {
                        c.sock.handle(&mut reactor, ready);
                        touched.push(*owner);
                    }
                }
                _ => {}
            }
        }
    }
}

fn report_listening(report: &Reporter, endpoint: &Endpoint, address: &Address) {
    report.event(
        true,
        || format!("listening on {endpoint}"),
        || json!({"event": "listening", "url": endpoint.to_string(), "address": address.to_string()}),
    );
}

impl StreamServer<'_> {
    fn accept(&mut self, reactor: &mut Reactor, server: &mut Server, touched: &mut Vec<Token>) {
        while let Some(event) = server.next_event() {
            if let ServerEvent::AcceptError(e) = event {
                self.report.error(None, &e);
            }
        }
        while self.outcome.is_none() {
            if self
                .args
                .max_connections
                .is_some_and(|max| self.clients.len() >= max)
            {
                server.pause_accepting();
                self.paused = true;
                return;
            }
            let Some(sock) = server.next_pending_connection(reactor) else {
                return;
            };
            self.next_id += 1;
            let id = self.next_id;
            let token = sock.token();
            let creds = sock.peer_credentials();
            self.report.event(
                false,
                || format!("connection {id} from {}", sock.peer_name()),
                || {
                    let mut v = json!({"event": "connection", "id": id, "peer": sock.peer_name()});
                    if let Some(c) = creds {
                        v["pid"] = json!(c.pid);
                        v["uid"] = json!(c.uid);
                        v["gid"] = json!(c.gid);
                    }
                    v
                },
            );
            let messages = self.args.streams.is_some() && sock.kind() == StreamKind::Sctp;
            let now = Instant::now();
            self.clients.insert(
                token,
                Client {
                    id,
                    sock,
                    started: now,
                    last_activity: now,
                    messages,
                },
            );
            touched.push(token);
            if self.args.once {
                // nc -l: one client; later ones are refused by the closed listener.
                server.close(reactor);
                return;
            }
        }
    }

    fn sweep_idle(&mut self, touched: &mut Vec<Token>) {
        let Some(limit) = self.args.idle else {
            return;
        };
        let now = Instant::now();
        for (token, c) in self.clients.iter_mut() {
            if now.duration_since(c.last_activity) >= limit {
                let e = SocketError::SocketTimeout {
                    phase: TimeoutPhase::Idle,
                    after: limit,
                    peer: c.sock.peer_name().to_string(),
                };
                self.report.error(Some(c.id), &e);
                if self.args.once {
                    self.outcome = Some(Err(Failure::from_error(&e)));
                }
                c.sock.abort();
                touched.push(*token);
            }
        }
    }

    /// Move one client's data along and act on its events.
    fn service(&mut self, token: Token) {
        let Some(c) = self.clients.get_mut(&token) else {
            return;
        };
        let mode = self.mode;
        let mut first_error: Option<SocketError> = None;
        loop {
            let mut progressed = false;
            while let Some(event) = c.sock.next_event() {
                match event {
                    SocketEvent::Encrypted => self.report.encrypted(Some(c.id), &c.sock),
                    SocketEvent::Error(e) => {
                        self.report.error(Some(c.id), &e);
                        first_error.get_or_insert(e);
                    }
                    SocketEvent::ReadClosed => {
                        let keep_open = mode == Mode::Stdio && self.args.once && !self.stdin_ended;
                        if !keep_open {
                            c.sock.close();
                        }
                        progressed = true;
                    }
                    _ => {}
                }
            }
            // Echo reads only what it can send at once: like cat, it waits for the kernel to
            // take the last piece instead of copying more into the socket's queue.
            let queue_limit = if mode == Mode::Echo { 1 } else { HIGH_WATER };
            while c.sock.is_readable() && c.sock.bytes_to_write() < queue_limit {
                let got = if c.messages {
                    read_stream(&mut c.sock, &mut self.buf)
                } else {
                    match c.sock.read(&mut self.buf) {
                        Ok(n) => Ok(Some((n, 0))),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
                        Err(e) => Err(e),
                    }
                };
                let (n, stream) = match got {
                    Ok(Some((n, stream))) if n > 0 => (n, stream),
                    Ok(None) => break,
                    // The end or an error: their events are queued; handle them.
                    _ => {
                        progressed = true;
                        break;
                    }
                };
                progressed = true;
                c.last_activity = Instant::now();
                let data = &self.buf[..n];
                match mode {
                    Mode::Echo if c.messages => {
                        let _ = send_message(&mut c.sock, stream, data);
                    }
                    Mode::Echo => {
                        let _ = c.sock.write(data);
                    }
                    Mode::Discard => {}
                    Mode::Stdio => {
                        if let Err(f) = to_stdout(data) {
                            self.outcome = Some(Err(f));
                            return;
                        }
                    }
                }
            }
            if !progressed {
                break;
            }
        }
        if c.sock.state() == SocketState::Unconnected {
            let Some(c) = self.clients.remove(&token) else {
                return;
            };
            self.report
                .closed(Some(c.id), c.sock.byte_counts(), c.started);
            if self.args.once {
                self.outcome = Some(match first_error.or_else(|| c.sock.error().cloned()) {
                    Some(e) => Err(Failure::from_error(&e)),
                    None => Ok(()),
                });
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// listen: UDP

fn listen_udp(args: &Args, report: &Reporter) -> Result<ExitCode, Failure> {
    let mut reactor = new_reactor()?;
    let mut sock = UdpSocket::bind(&mut reactor, &args.endpoint, &udp_options(args))
        .map_err(|e| Failure::from_error(&e))?;
    for (group, iface) in &args.joins {
        sock.join_multicast_group(*group, iface.as_deref())
            .map_err(|e| Failure::from_error(&e))?;
    }
    let endpoint = sock.endpoint();
    report_listening(report, &endpoint, &Address::Inet(sock.local_address()));
    let mode = args.mode();
    let mut stdin = if mode == Mode::Stdio {
        Some(StdinSource::register(&mut reactor).map_err(os_failure("stdin"))?)
    } else {
        None
    };
    let mut stdin_ready = stdin.is_some();
    let mut last_sender: Option<SocketAddr> = None;
    let mut buf = vec![0u8; CHUNK * 2];
    let mut events = Vec::with_capacity(16);
    loop {
        loop {
            let d = match sock.recv_from(&mut buf) {
                Ok(d) => d,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    // An ICMP error for an earlier reply: report it, keep serving.
                    if let Some(se) = SocketError::of(&e) {
                        report.error(None, se);
                    }
                    continue;
                }
            };
            report.event(
                false,
                || format!("datagram of {} bytes from {}", d.size, d.from),
                || json!({"event": "datagram", "from": d.from.to_string(), "bytes": d.size}),
            );
            last_sender = Some(d.from);
            match mode {
                Mode::Echo => {
                    if let Err(e) = sock.send_to(&buf[..d.len], d.from) {
                        report.error(None, &e);
                    }
                }
                Mode::Discard => {}
                Mode::Stdio => to_stdout(&buf[..d.len])?,
            }
            if args.once {
                return Ok(ExitCode::SUCCESS);
            }
        }
        if let (Some(input), Some(to)) = (stdin.as_mut(), last_sender) {
            if stdin_ready && !input.ended() {
                let mut data = vec![0u8; CHUNK];
                match input
                    .read(&mut reactor, &mut data)
                    .map_err(os_failure("stdin"))?
                {
                    Input::Data(n) => {
                        if let Err(e) = sock.send_to(&data[..n], to) {
                            report.error(None, &e);
                        }
                        continue;
                    }
                    Input::Empty | Input::End => stdin_ready = false,
                }
            }
        }
        events.clear();
        reactor
            .turn(&mut events, None)
            .map_err(os_failure("event loop"))?;
        for ready in &events {
            match ready {
                Ready::Signal(sig) if signal_exit(*sig) => return Ok(ExitCode::SUCCESS),
                Ready::Io { token, .. }
                    if stdin.as_ref().and_then(|s| s.token()) == Some(*token) =>
                {
                    stdin_ready = true;
                }
                other => {
                    sock.handle(&mut reactor, other);
                }
            }
        }
        while sock.next_event().is_some() {}
    }
}

// ---------------------------------------------------------------------------------------------
// listen: SCTP one-to-many

#[cfg(feature = "sctp")]
fn listen_seqpacket(args: &Args, report: &Reporter) -> Result<ExitCode, Failure> {
    use crate::socket::SctpSeqpacket;
    let mut reactor = new_reactor()?;
    let mut sock = SctpSeqpacket::bind(&mut reactor, &args.endpoint, args.streams)
        .map_err(|e| Failure::from_error(&e))?;
    let endpoint = sock.endpoint();
    report_listening(report, &endpoint, &Address::Inet(sock.local_address()));
    let mode = args.mode();
    let mut buf = vec![0u8; CHUNK];
    let mut events = Vec::with_capacity(16);
    loop {
        loop {
            let m = match sock.recv(&mut buf) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    return Err(SocketError::of(&e)
                        .map(Failure::from_error)
                        .unwrap_or_else(|| os_failure("sctp")(e)))
                }
            };
            if m.len == 0 {
                continue;
            }
            report.event(
                false,
                || {
                    format!(
                        "message of {} bytes from {} on stream {}",
                        m.len, m.from, m.stream
                    )
                },
                || {
                    json!({"event": "datagram", "from": m.from.to_string(), "bytes": m.len,
                           "stream": m.stream, "association": m.association})
                },
            );
            match mode {
                Mode::Echo => {
                    if let Err(e) = sock.send_to(&buf[..m.len], m.from, m.stream) {
                        report.error(None, &e);
                    }
                }
                Mode::Discard => {}
                Mode::Stdio => to_stdout(&buf[..m.len])?,
            }
            if args.once {
                return Ok(ExitCode::SUCCESS);
            }
        }
        events.clear();
        reactor
            .turn(&mut events, None)
            .map_err(os_failure("event loop"))?;
        for ready in &events {
            match ready {
                Ready::Signal(sig) if signal_exit(*sig) => return Ok(ExitCode::SUCCESS),
                other => {
                    sock.handle(&mut reactor, other);
                }
            }
        }
        while sock.next_event().is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(command: &str, args: &[&str]) -> Result<Args, Failure> {
        let mut parser = lexopt::Parser::from_args(args.iter().copied());
        let mut globals = Globals::default();
        parse(command, &mut parser, &mut globals).map(|a| a.expect("not --help"))
    }

    fn usage_error(command: &str, args: &[&str]) -> String {
        match parse_args(command, args) {
            Ok(a) => panic!("{args:?} parsed: {a:?}"),
            Err(f) => {
                assert_eq!(f.class, ErrorClass::Usage, "{}", f.message);
                f.message
            }
        }
    }

    #[test]
    fn options_parse_and_belong_to_their_command() {
        let a = parse_args(
            "listen",
            &[
                "tls://*:0",
                "--echo",
                "--cert",
                "c.pem",
                "--key",
                "k.pem",
                "--alpn",
                "h2,x",
                "--once",
            ],
        )
        .unwrap();
        assert_eq!(a.mode(), Mode::Echo);
        assert_eq!(a.alpn, vec![b"h2".to_vec(), b"x".to_vec()]);
        assert!(a.once);
        let a = parse_args("listen", &["udp://0.0.0.0:0", "--join", "239.1.2.3@veth0"]).unwrap();
        assert_eq!(
            a.joins,
            vec![("239.1.2.3".parse().unwrap(), Some("veth0".into()))]
        );
        let a = parse_args(
            "connect",
            &["sctp://[::1]:9", "--streams", "4", "--stream", "3"],
        )
        .unwrap();
        assert_eq!((a.streams, a.stream), (Some(4), 3));
        assert!(usage_error("connect", &["tcp://h:1", "--echo"]).contains("listen option"));
        assert!(usage_error("listen", &["tcp://h:1", "--timeout", "1"]).contains("connect option"));
        assert!(usage_error("listen", &["tcp://h:1", "--echo", "--discard"]).contains("only one"));
        assert!(usage_error("connect", &["tcp://h:1", "--cacert", "x"]).contains("tls://"));
        assert!(usage_error("listen", &["tls://*:0"]).contains("--cert"));
        assert!(usage_error(
            "listen",
            &["tls://*:0", "--cert", "c", "--require-client-cert"]
        )
        .contains("--cacert"));
        assert!(usage_error("connect", &["tcp://h:1", "--streams", "2"]).contains("sctp://"));
        assert!(usage_error(
            "connect",
            &["sctp://h:1", "--streams", "2", "--stream", "2"]
        )
        .contains("S < N"));
        assert!(
            usage_error("listen", &["udp://*:0", "--join", "10.0.0.1"]).contains("not a multicast")
        );
        assert!(usage_error("listen", &["tcp://*:0", "--join", "239.0.0.1"]).contains("udp://"));
        assert!(usage_error("listen", &["tcp://*:0", "--mode", "660"]).contains("unix:/PATH"));
        assert!(usage_error("listen", &["unix:/x", "--mode", "99"]).contains("octal"));
        assert!(usage_error("connect", &[]).contains("endpoint URL"));
        assert!(usage_error("connect", &["http://x:1"]).contains("unknown scheme"));
        assert!(
            usage_error("listen", &["tls://*:0", "--cert", "c", "-k"]).contains("connect options")
        );
        assert!(usage_error("connect", &["udp://h:1", "--datagram-size", "0"]).contains("1 to"));
    }
}
