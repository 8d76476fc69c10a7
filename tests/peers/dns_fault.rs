//! A scripted, misbehaving DNS server in the test process: UDP and TCP on the
//! same port of 127.0.0.1, replies built by hand (`dns_wire.rs`).
//!
//! "The correct answer" to a query for type A (or ANY) is NOERROR with one
//! `A 192.0.2.77` (TTL 60) owned by the question name; for any other type it
//! is NOERROR with no answers (NODATA). Replies echo the question byte for
//! byte (case preserved), copy ID, opcode and RD, set QR, AA and RA, and
//! carry no OPT record. A query without a parsable question is counted and
//! ignored.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::dns_wire::{
    encode_name, parse_question, Header, Reply, FLAG_AA, RCODE_NXDOMAIN, RCODE_REFUSED,
    RCODE_SERVFAIL, TYPE_A, TYPE_ANY,
};

/// The address in every correct answer.
pub const FAULT_ANSWER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 77);
/// The address in decoy replies (wrong ID / wrong question / wrong source):
/// a resolver that shows it accepted a reply it must reject.
pub const FAULT_DECOY: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 66);
/// TTL of all records.
pub const FAULT_TTL: u32 = 60;
/// Number of A records in the TCP answer of `TcOverUdpThenTcp`.
pub const FAULT_TCP_ANSWER_COUNT: usize = 60;
/// The question name of `WrongQuestionThenRight`'s decoy.
pub const FAULT_WRONG_QUESTION: &str = "wrong-question.test";

/// What the server does. "Over TCP" describes a query received on the TCP
/// listener (each connection is served until the client closes it; queries
/// may be pipelined).
#[derive(Debug, Clone)]
pub enum DnsScript {
    /// The correct answer, over UDP and TCP.
    Answer,
    /// The correct answer after this delay (each query in its own thread, so
    /// retransmissions are counted meanwhile). Same over TCP.
    Delayed(Duration),
    /// No reply to the first N UDP datagrams, the correct answer to the
    /// rest (retransmission tests). TCP: the correct answer.
    DropFirst(usize),
    /// Receives (and counts) but never replies. TCP: accepts, reads, never
    /// answers; the connection stays open until the client or drop closes it.
    Silent,
    /// Never replies to queries for this name; the correct answer to every other. Same over
    /// TCP.
    SilentFor(&'static str),
    /// A reply with ID+1 (carrying A 192.0.2.66) from the same address,
    /// then the correct reply. TCP: the correct answer.
    WrongIdThenRight,
    /// A reply with the right ID but the question `wrong-question.test`
    /// (A 192.0.2.66), then the correct reply. TCP: the correct answer.
    WrongQuestionThenRight,
    /// A reply with the right ID and question and A 192.0.2.66 sent from
    /// another UDP socket (another port of 127.0.0.1), then the correct
    /// reply from the server's port. TCP: the correct answer.
    WrongSourceThenRight,
    /// Six datagrams per query, never a valid reply: 1 and 7 random bytes;
    /// 11 bytes starting with the right ID (short header); a 12-byte header
    /// with the right ID, QR, QDCOUNT=1 and ANCOUNT=1 but nothing after it;
    /// 40 bytes with the right ID and QR set, the rest random; 300 random
    /// bytes. TCP: a 7-byte random message (length-prefixed), then close.
    Garbage,
    /// The correct reply with ANCOUNT=3 but cut in the middle of the second
    /// record (one A 192.0.2.77 complete, 8 bytes of the next); TC not set.
    /// TCP: the same message, length-prefixed with its real (cut) length.
    TruncatedReply,
    /// RCODE SERVFAIL, question echoed, nothing else. Same over TCP.
    ServFail,
    /// RCODE REFUSED. Same over TCP.
    Refused,
    /// RCODE NXDOMAIN (AA set), no records. Same over TCP.
    NxDomain,
    /// UDP: TC=1 with the question and no records. TCP: the full answer,
    /// 60 A records (`fault_tcp_answers()`: 192.0.2.77 first).
    TcOverUdpThenTcp,
    /// UDP: TC=1 and no records. TCP: the length prefix of the full
    /// 60-record answer, then half of it, then the connection is closed.
    TcpBroken,
}

/// The A records of `TcOverUdpThenTcp`'s TCP answer, in order: 192.0.2.77,
/// then 198.51.100.1 ..= 198.51.100.59.
pub fn fault_tcp_answers() -> Vec<Ipv4Addr> {
    let mut v = vec![FAULT_ANSWER];
    for i in 1..FAULT_TCP_ANSWER_COUNT {
        v.push(Ipv4Addr::new(198, 51, 100, i as u8));
    }
    v
}

/// Which transport a recorded query came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsTransport {
    Udp,
    Tcp,
}

struct Shared {
    script: DnsScript,
    stop: AtomicBool,
    udp_queries: AtomicUsize,
    tcp_connections: AtomicUsize,
    messages: Mutex<Vec<(DnsTransport, Vec<u8>)>>,
    streams: Mutex<Vec<TcpStream>>,
}

/// The scripted server; threads stop and sockets close on drop.
pub struct DnsFault {
    addr: SocketAddr,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl DnsFault {
    pub fn start(script: DnsScript) -> DnsFault {
        let (udp, tcp) = bind_pair();
        let addr = udp.local_addr().unwrap();
        let shared = Arc::new(Shared {
            script,
            stop: AtomicBool::new(false),
            udp_queries: AtomicUsize::new(0),
            tcp_connections: AtomicUsize::new(0),
            messages: Mutex::new(Vec::new()),
            streams: Mutex::new(Vec::new()),
        });
        let sh = shared.clone();
        let t_udp = std::thread::Builder::new()
            .name(format!("dns-fault-udp-{}", addr.port()))
            .spawn(move || udp_loop(udp, &sh))
            .expect("spawn dns fault udp thread");
        let sh = shared.clone();
        let t_tcp = std::thread::Builder::new()
            .name(format!("dns-fault-tcp-{}", addr.port()))
            .spawn(move || tcp_loop(tcp, &sh))
            .expect("spawn dns fault tcp thread");
        DnsFault {
            addr,
            shared,
            threads: vec![t_udp, t_tcp],
        }
    }

    /// 127.0.0.1:PORT (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// UDP datagrams received so far.
    pub fn udp_queries(&self) -> usize {
        self.shared.udp_queries.load(Ordering::SeqCst)
    }

    /// TCP connections accepted so far.
    pub fn tcp_connections(&self) -> usize {
        self.shared.tcp_connections.load(Ordering::SeqCst)
    }

    /// Every query received so far (raw message, without the TCP length
    /// prefix), in arrival order. Parse with `dns_wire::Message::parse`.
    pub fn queries(&self) -> Vec<(DnsTransport, Vec<u8>)> {
        self.shared.messages.lock().unwrap().clone()
    }
}

impl Drop for DnsFault {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking recv_from() and accept().
        if let Ok(s) = UdpSocket::bind("127.0.0.1:0") {
            let _ = s.send_to(b"", self.addr);
        }
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        for s in self.shared.streams.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A UDP socket and a TCP listener on the same free port of 127.0.0.1.
fn bind_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..100 {
        let udp = UdpSocket::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("DnsFault: cannot bind UDP 127.0.0.1:0: {}", e));
        let port = udp.local_addr().unwrap().port();
        if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)) {
            return (udp, tcp);
        }
    }
    panic!("DnsFault: no port free for both UDP and TCP on 127.0.0.1");
}

static SEED: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);

/// Non-cryptographic random bytes (xorshift64*).
fn random_bytes(n: usize) -> Vec<u8> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = SEED.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed) ^ nanos;
    if x == 0 {
        x = 1;
    }
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

fn wants_a(query: &[u8]) -> bool {
    parse_question(query)
        .map(|q| q.qtype == TYPE_A || q.qtype == TYPE_ANY)
        .unwrap_or(false)
}

/// The correct reply; with `all`, the 60-record answer for A queries.
fn correct_reply(query: &[u8], all: bool) -> Option<Vec<u8>> {
    let mut r = Reply::to(query)?;
    if wants_a(query) {
        if all {
            for a in fault_tcp_answers() {
                r = r.a(FAULT_TTL, a);
            }
        } else {
            r = r.a(FAULT_TTL, FAULT_ANSWER);
        }
    }
    Some(r.bytes())
}

fn decoy(query: &[u8]) -> Option<Reply> {
    Some(Reply::to(query)?.a(FAULT_TTL, FAULT_DECOY))
}

fn rcode_reply(query: &[u8], rcode: u8) -> Option<Vec<u8>> {
    let mut r = Reply::to(query)?.rcode(rcode);
    if rcode != RCODE_NXDOMAIN {
        r.flags &= !FLAG_AA;
    }
    Some(r.bytes())
}

fn truncated_reply(query: &[u8]) -> Option<Vec<u8>> {
    // A records whatever the question type: a NODATA cut short is not cut.
    let r = Reply::to(query)?
        .a(FAULT_TTL, FAULT_ANSWER)
        .a(FAULT_TTL, Ipv4Addr::new(192, 0, 2, 78))
        .a(FAULT_TTL, Ipv4Addr::new(192, 0, 2, 79));
    let full = r.bytes();
    // Each A RR with a name pointer is 16 bytes: keep the first and 8 bytes
    // of the second (owner, type, class, half the TTL).
    Some(full[..full.len() - 16 - 8].to_vec())
}

fn garbage_datagrams(query: &[u8]) -> Vec<Vec<u8>> {
    let id = [
        query.first().copied().unwrap_or(0),
        query.get(1).copied().unwrap_or(0),
    ];
    let mut out = vec![random_bytes(1), random_bytes(7)];
    let mut short = id.to_vec();
    short.extend(random_bytes(9));
    out.push(short);
    let mut hdr = id.to_vec();
    hdr.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    out.push(hdr);
    let mut forty = id.to_vec();
    forty.extend(random_bytes(38));
    forty[2] |= 0x80;
    out.push(forty);
    out.push(random_bytes(300));
    out
}

fn udp_loop(sock: UdpSocket, sh: &Shared) {
    let mut buf = vec![0u8; 65535];
    loop {
        let (n, from) = match sock.recv_from(&mut buf) {
            Ok(r) => r,
            Err(_) => {
                if sh.stop.load(Ordering::SeqCst) {
                    return;
                }
                continue;
            }
        };
        if sh.stop.load(Ordering::SeqCst) {
            return;
        }
        let q = buf[..n].to_vec();
        let count = sh.udp_queries.fetch_add(1, Ordering::SeqCst) + 1;
        sh.messages
            .lock()
            .unwrap()
            .push((DnsTransport::Udp, q.clone()));
        if parse_question(&q).is_none() {
            continue;
        }
        let send = |m: &[u8]| {
            let _ = sock.send_to(m, from);
        };
        match &sh.script {
            DnsScript::Answer => send(&correct_reply(&q, false).unwrap()),
            DnsScript::SilentFor(name) => {
                if parse_question(&q).is_some_and(|question| question.name != *name) {
                    send(&correct_reply(&q, false).unwrap());
                }
            }
            DnsScript::Delayed(d) => {
                let d = *d;
                if let Ok(s) = sock.try_clone() {
                    std::thread::spawn(move || {
                        std::thread::sleep(d);
                        let _ = s.send_to(&correct_reply(&q, false).unwrap(), from);
                    });
                }
            }
            DnsScript::DropFirst(k) => {
                if count > *k {
                    send(&correct_reply(&q, false).unwrap());
                }
            }
            DnsScript::Silent => {}
            DnsScript::WrongIdThenRight => {
                let mut d = decoy(&q).unwrap();
                d.id = d.id.wrapping_add(1);
                send(&d.bytes());
                send(&correct_reply(&q, false).unwrap());
            }
            DnsScript::WrongQuestionThenRight => {
                let mut d = decoy(&q).unwrap();
                let qtail = d.question[d.question.len() - 4..].to_vec();
                d.question = encode_name(FAULT_WRONG_QUESTION);
                d.question.extend_from_slice(&qtail);
                send(&d.bytes());
                send(&correct_reply(&q, false).unwrap());
            }
            DnsScript::WrongSourceThenRight => {
                if let Ok(other) = UdpSocket::bind("127.0.0.1:0") {
                    let _ = other.send_to(&decoy(&q).unwrap().bytes(), from);
                }
                send(&correct_reply(&q, false).unwrap());
            }
            DnsScript::Garbage => {
                for g in garbage_datagrams(&q) {
                    send(&g);
                }
            }
            DnsScript::TruncatedReply => send(&truncated_reply(&q).unwrap()),
            DnsScript::ServFail => send(&rcode_reply(&q, RCODE_SERVFAIL).unwrap()),
            DnsScript::Refused => send(&rcode_reply(&q, RCODE_REFUSED).unwrap()),
            DnsScript::NxDomain => send(&rcode_reply(&q, RCODE_NXDOMAIN).unwrap()),
            DnsScript::TcOverUdpThenTcp | DnsScript::TcpBroken => {
                send(&Reply::to(&q).unwrap().tc().bytes())
            }
        }
    }
}

fn tcp_loop(listener: TcpListener, sh: &Arc<Shared>) {
    for conn in listener.incoming() {
        if sh.stop.load(Ordering::SeqCst) {
            return;
        }
        let stream = match conn {
            Ok(s) => s,
            Err(_) => continue,
        };
        sh.tcp_connections.fetch_add(1, Ordering::SeqCst);
        if let Ok(c) = stream.try_clone() {
            sh.streams.lock().unwrap().push(c);
        }
        let sh2 = sh.clone();
        let _ = std::thread::Builder::new()
            .name("dns-fault-conn".into())
            .spawn(move || serve_tcp(stream, &sh2));
    }
}

fn framed(m: &[u8]) -> Vec<u8> {
    let mut v = (m.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(m);
    v
}

fn close(mut s: TcpStream) {
    let _ = s.flush();
    let _ = s.shutdown(Shutdown::Write);
}

fn serve_tcp(mut s: TcpStream, sh: &Shared) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
    let _ = s.set_nodelay(true);
    loop {
        let mut len = [0u8; 2];
        if s.read_exact(&mut len).is_err() {
            return;
        }
        let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
        if s.read_exact(&mut q).is_err() {
            return;
        }
        if sh.stop.load(Ordering::SeqCst) {
            return;
        }
        sh.messages
            .lock()
            .unwrap()
            .push((DnsTransport::Tcp, q.clone()));
        if Header::parse(&q).is_none() || parse_question(&q).is_none() {
            continue;
        }
        let reply = match &sh.script {
            DnsScript::Silent => continue,
            DnsScript::SilentFor(name) if parse_question(&q).is_some_and(|x| x.name == *name) => {
                continue
            }
            DnsScript::SilentFor(_) => correct_reply(&q, false).unwrap(),
            DnsScript::Delayed(d) => {
                std::thread::sleep(*d);
                correct_reply(&q, false).unwrap()
            }
            DnsScript::Answer
            | DnsScript::DropFirst(_)
            | DnsScript::WrongIdThenRight
            | DnsScript::WrongQuestionThenRight
            | DnsScript::WrongSourceThenRight => correct_reply(&q, false).unwrap(),
            DnsScript::Garbage => {
                let _ = s.write_all(&framed(&random_bytes(7)));
                return close(s);
            }
            DnsScript::TruncatedReply => truncated_reply(&q).unwrap(),
            DnsScript::ServFail => rcode_reply(&q, RCODE_SERVFAIL).unwrap(),
            DnsScript::Refused => rcode_reply(&q, RCODE_REFUSED).unwrap(),
            DnsScript::NxDomain => rcode_reply(&q, RCODE_NXDOMAIN).unwrap(),
            DnsScript::TcOverUdpThenTcp => correct_reply(&q, true).unwrap(),
            DnsScript::TcpBroken => {
                let full = framed(&correct_reply(&q, true).unwrap());
                let _ = s.write_all(&full[..full.len() / 2]);
                return close(s);
            }
        };
        if s.write_all(&framed(&reply)).is_err() {
            return;
        }
    }
}
