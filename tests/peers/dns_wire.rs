//! Just enough of the DNS wire format (RFC 1035) for the test peers: build a
//! query, parse a message (with name compression), and build replies by hand.
//! Independent of boardnet's own DNS code on purpose (it is the oracle's
//! helper, not the code under test).

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

pub const TYPE_A: u16 = 1;
pub const TYPE_NS: u16 = 2;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_MX: u16 = 15;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_SRV: u16 = 33;
pub const TYPE_OPT: u16 = 41;
pub const TYPE_ANY: u16 = 255;
pub const CLASS_IN: u16 = 1;

pub const RCODE_NOERROR: u8 = 0;
pub const RCODE_FORMERR: u8 = 1;
pub const RCODE_SERVFAIL: u8 = 2;
pub const RCODE_NXDOMAIN: u8 = 3;
pub const RCODE_REFUSED: u8 = 5;

/// Header flag bits (the 16-bit word after the ID).
pub const FLAG_QR: u16 = 0x8000;
pub const FLAG_AA: u16 = 0x0400;
pub const FLAG_TC: u16 = 0x0200;
pub const FLAG_RD: u16 = 0x0100;
pub const FLAG_RA: u16 = 0x0080;

/// `name` ("www.example.test" or "www.example.test.", "." for the root) as
/// uncompressed wire labels. Panics on an empty label or one over 63 bytes.
pub fn encode_name(name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 2);
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if !trimmed.is_empty() {
        for label in trimmed.split('.') {
            assert!(
                !label.is_empty() && label.len() <= 63,
                "bad label {:?} in {:?}",
                label,
                name
            );
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
    }
    out.push(0);
    out
}

/// A standard query (opcode QUERY, RD=1, class IN, one question). With
/// `edns_udp_size` an OPT record advertising that UDP payload size is added.
pub fn build_query(id: u16, name: &str, qtype: u16, edns_udp_size: Option<u16>) -> Vec<u8> {
    let mut m = Vec::with_capacity(64);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&FLAG_RD.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    m.extend_from_slice(&0u16.to_be_bytes()); // ANCOUNT
    m.extend_from_slice(&0u16.to_be_bytes()); // NSCOUNT
    m.extend_from_slice(&(edns_udp_size.is_some() as u16).to_be_bytes());
    m.extend_from_slice(&encode_name(name));
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&CLASS_IN.to_be_bytes());
    if let Some(size) = edns_udp_size {
        m.push(0); // root owner
        m.extend_from_slice(&TYPE_OPT.to_be_bytes());
        m.extend_from_slice(&size.to_be_bytes());
        m.extend_from_slice(&0u32.to_be_bytes()); // ext-rcode, version, flags
        m.extend_from_slice(&0u16.to_be_bytes()); // RDLEN
    }
    m
}

/// The fixed 12-byte header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
}

impl Header {
    pub fn parse(msg: &[u8]) -> Option<Header> {
        if msg.len() < 12 {
            return None;
        }
        let w = |i: usize| u16::from_be_bytes([msg[i], msg[i + 1]]);
        Some(Header {
            id: w(0),
            flags: w(2),
            qdcount: w(4),
            ancount: w(6),
            nscount: w(8),
            arcount: w(10),
        })
    }
    pub fn rcode(&self) -> u8 {
        (self.flags & 0x000f) as u8
    }
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0x0f) as u8
    }
    pub fn qr(&self) -> bool {
        self.flags & FLAG_QR != 0
    }
    pub fn tc(&self) -> bool {
        self.flags & FLAG_TC != 0
    }
    pub fn rd(&self) -> bool {
        self.flags & FLAG_RD != 0
    }
}

/// The first question of a message, located without decompression (queries
/// never compress the question). `wire` is the raw QNAME+QTYPE+QCLASS bytes
/// (case preserved), ready to be echoed into a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// Dotted, without the trailing dot ("www.example.test"; "" for the root).
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    pub wire: Vec<u8>,
}

/// Parse the first question (at offset 12). None if absent or malformed.
pub fn parse_question(msg: &[u8]) -> Option<Question> {
    let h = Header::parse(msg)?;
    if h.qdcount == 0 {
        return None;
    }
    let mut i = 12;
    let mut labels: Vec<String> = Vec::new();
    loop {
        let len = *msg.get(i)? as usize;
        if len == 0 {
            i += 1;
            break;
        }
        if len > 63 {
            return None; // compression or extended label: not in a query
        }
        let label = msg.get(i + 1..i + 1 + len)?;
        labels.push(label_text(label));
        i += 1 + len;
    }
    let fixed = msg.get(i..i + 4)?;
    Some(Question {
        name: labels.join("."),
        qtype: u16::from_be_bytes([fixed[0], fixed[1]]),
        qclass: u16::from_be_bytes([fixed[2], fixed[3]]),
        wire: msg[12..i + 4].to_vec(),
    })
}

fn label_text(label: &[u8]) -> String {
    let mut s = String::new();
    for &b in label {
        match b {
            b'.' | b'\\' => {
                s.push('\\');
                s.push(b as char);
            }
            0x21..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\{:03}", b)),
        }
    }
    s
}

/// One resource record; `rdata` is raw (names inside it may be compressed:
/// use the `Message::rdata_*` helpers to decode them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    /// Offset of the RDATA in the message (for decompressing names in it).
    pub rdata_offset: usize,
    pub rdata: Vec<u8>,
}

/// A fully parsed message. Strict: any count that runs past the end, a bad
/// pointer or trailing garbage inside a record makes `parse` return None.
#[derive(Debug, Clone)]
pub struct Message {
    pub header: Header,
    pub questions: Vec<(String, u16, u16)>,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
    pub raw: Vec<u8>,
}

/// Read a (possibly compressed) name at `pos`; returns it (dotted, no
/// trailing dot) and the offset just past it in the original stream.
pub fn read_name(msg: &[u8], mut pos: usize) -> Option<(String, usize)> {
    let mut labels = Vec::new();
    let mut end = None;
    let mut jumps = 0;
    loop {
        let len = *msg.get(pos)? as usize;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    if end.is_none() {
                        end = Some(pos + 1);
                    }
                    break;
                }
                labels.push(label_text(msg.get(pos + 1..pos + 1 + len)?));
                pos += 1 + len;
            }
            0xc0 => {
                let ptr = ((len & 0x3f) << 8) | *msg.get(pos + 1)? as usize;
                if end.is_none() {
                    end = Some(pos + 2);
                }
                jumps += 1;
                if jumps > 64 || ptr >= msg.len() {
                    return None;
                }
                pos = ptr;
            }
            _ => return None,
        }
    }
    Some((labels.join("."), end?))
}

impl Message {
    pub fn parse(msg: &[u8]) -> Option<Message> {
        let header = Header::parse(msg)?;
        let mut pos = 12;
        let mut questions = Vec::new();
        for _ in 0..header.qdcount {
            let (name, p) = read_name(msg, pos)?;
            let f = msg.get(p..p + 4)?;
            questions.push((
                name,
                u16::from_be_bytes([f[0], f[1]]),
                u16::from_be_bytes([f[2], f[3]]),
            ));
            pos = p + 4;
        }
        let mut sections = [Vec::new(), Vec::new(), Vec::new()];
        let counts = [header.ancount, header.nscount, header.arcount];
        for (sec, &count) in sections.iter_mut().zip(counts.iter()) {
            for _ in 0..count {
                let (name, p) = read_name(msg, pos)?;
                let f = msg.get(p..p + 10)?;
                let rtype = u16::from_be_bytes([f[0], f[1]]);
                let class = u16::from_be_bytes([f[2], f[3]]);
                let ttl = u32::from_be_bytes([f[4], f[5], f[6], f[7]]);
                let rdlen = u16::from_be_bytes([f[8], f[9]]) as usize;
                let rdata = msg.get(p + 10..p + 10 + rdlen)?.to_vec();
                sec.push(Record {
                    name,
                    rtype,
                    class,
                    ttl,
                    rdata_offset: p + 10,
                    rdata,
                });
                pos = p + 10 + rdlen;
            }
        }
        let [answers, authority, additional] = sections;
        Some(Message {
            header,
            questions,
            answers,
            authority,
            additional,
            raw: msg.to_vec(),
        })
    }

    /// A records of the answer section, in order.
    pub fn answer_a(&self) -> Vec<Ipv4Addr> {
        self.answers
            .iter()
            .filter(|r| r.rtype == TYPE_A && r.rdata.len() == 4)
            .map(|r| Ipv4Addr::new(r.rdata[0], r.rdata[1], r.rdata[2], r.rdata[3]))
            .collect()
    }

    /// A name stored in `r`'s RDATA at `skip` bytes in (CNAME/PTR/NS: 0,
    /// MX: 2, SRV: 6).
    pub fn rdata_name(&self, r: &Record, skip: usize) -> Option<String> {
        read_name(&self.raw, r.rdata_offset + skip).map(|(n, _)| n)
    }

    /// The EDNS OPT record's advertised UDP size, if the message has one.
    pub fn edns_udp_size(&self) -> Option<u16> {
        self.additional
            .iter()
            .find(|r| r.rtype == TYPE_OPT)
            .map(|r| r.class)
    }
}

/// Send one UDP query to `server` and wait up to `timeout` for a reply with
/// the same ID. Returns the raw reply, or None on timeout / socket error.
pub fn udp_exchange(server: SocketAddr, query: &[u8], timeout: Duration) -> Option<Vec<u8>> {
    let bind: SocketAddr = if server.is_ipv4() {
        "127.0.0.1:0".parse().unwrap()
    } else {
        "[::1]:0".parse().unwrap()
    };
    let sock = UdpSocket::bind(bind).ok()?;
    sock.connect(server).ok()?;
    sock.send(query).ok()?;
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; 65535];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        if left.is_zero() {
            return None;
        }
        sock.set_read_timeout(Some(left)).ok()?;
        match sock.recv(&mut buf) {
            Ok(n) if n >= 2 && buf[..2] == query[..2] => return Some(buf[..n].to_vec()),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

/// Build replies by hand. Start with `Reply::to(query)` (ID, RD, opcode and
/// the question echoed byte for byte); `flags`/`rcode` and counts can be set
/// freely, including to lies.
#[derive(Debug, Clone)]
pub struct Reply {
    pub id: u16,
    pub flags: u16,
    pub question: Vec<u8>,
    pub answers: Vec<Vec<u8>>,
    pub authority: Vec<Vec<u8>>,
    /// When set, written as ANCOUNT instead of `answers.len()`.
    pub ancount_override: Option<u16>,
}

/// Offset of the question's name in a reply built by `Reply` (for
/// compression pointers to it).
pub const QNAME_OFFSET: u16 = 12;

impl Reply {
    /// QR=1, AA=1, RA=1, opcode and RD copied from the query; the first
    /// question copied verbatim. None if the query has no parsable question.
    pub fn to(query: &[u8]) -> Option<Reply> {
        let h = Header::parse(query)?;
        let q = parse_question(query)?;
        Some(Reply {
            id: h.id,
            flags: FLAG_QR | FLAG_AA | FLAG_RA | (h.flags & (0x7800 | FLAG_RD)),
            question: q.wire,
            answers: Vec::new(),
            authority: Vec::new(),
            ancount_override: None,
        })
    }

    pub fn rcode(mut self, rcode: u8) -> Reply {
        self.flags = (self.flags & !0x000f) | (rcode as u16 & 0x0f);
        self
    }

    pub fn tc(mut self) -> Reply {
        self.flags |= FLAG_TC;
        self
    }

    /// Add an A record owned by the question's name (compressed pointer).
    pub fn a(mut self, ttl: u32, addr: Ipv4Addr) -> Reply {
        self.answers
            .push(rr(&ptr_name(QNAME_OFFSET), TYPE_A, ttl, &addr.octets()));
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(512);
        m.extend_from_slice(&self.id.to_be_bytes());
        m.extend_from_slice(&self.flags.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        let an = self.ancount_override.unwrap_or(self.answers.len() as u16);
        m.extend_from_slice(&an.to_be_bytes());
        m.extend_from_slice(&(self.authority.len() as u16).to_be_bytes());
        m.extend_from_slice(&0u16.to_be_bytes());
        m.extend_from_slice(&self.question);
        for r in self.answers.iter().chain(self.authority.iter()) {
            m.extend_from_slice(r);
        }
        m
    }
}

/// A compression pointer to `offset`.
pub fn ptr_name(offset: u16) -> Vec<u8> {
    (0xc000 | offset).to_be_bytes().to_vec()
}

/// One class-IN resource record with an already-encoded owner name.
pub fn rr(owner: &[u8], rtype: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
    let mut r = Vec::with_capacity(owner.len() + 10 + rdata.len());
    r.extend_from_slice(owner);
    r.extend_from_slice(&rtype.to_be_bytes());
    r.extend_from_slice(&CLASS_IN.to_be_bytes());
    r.extend_from_slice(&ttl.to_be_bytes());
    r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    r.extend_from_slice(rdata);
    r
}
