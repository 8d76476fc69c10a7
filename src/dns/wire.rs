//! DNS messages on the wire (RFC 1035, EDNS0 RFC 6891): a writer for queries and a zero-copy
//! view over replies.
//!
//! The view follows smoltcp's rule: [`Message::parse`] checks every length, every name and
//! every compression pointer once, up front; after that, iterating the sections cannot fail
//! in new ways and nothing here can panic on any input. Records are read in place; only the
//! typed [`RData`] a caller asks for is copied out.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::name::{Name, MAX_NAME};

/// The fixed header's size in bytes.
pub const HEADER_LEN: usize = 12;
/// Largest query this module writes: header, a maximal name, type/class, an OPT record.
pub const MAX_QUERY: usize = HEADER_LEN + MAX_NAME + 4 + 11;

/// Record types boardnet knows by name.
pub mod rtype {
    /// IPv4 address.
    pub const A: u16 = 1;
    /// Name server.
    pub const NS: u16 = 2;
    /// Canonical name.
    pub const CNAME: u16 = 5;
    /// Start of authority.
    pub const SOA: u16 = 6;
    /// Pointer.
    pub const PTR: u16 = 12;
    /// Mail exchanger.
    pub const MX: u16 = 15;
    /// Texts.
    pub const TXT: u16 = 16;
    /// IPv6 address.
    pub const AAAA: u16 = 28;
    /// Service location.
    pub const SRV: u16 = 33;
    /// EDNS0 pseudo-record.
    pub const OPT: u16 = 41;
    /// Any type (a query type only).
    pub const ANY: u16 = 255;
}

/// The IN class.
pub const CLASS_IN: u16 = 1;

/// Response codes (with EDNS's extension, a 12-bit value).
pub mod rcode {
    /// No error.
    pub const NOERROR: u16 = 0;
    /// The server could not read the query.
    pub const FORMERR: u16 = 1;
    /// The server failed.
    pub const SERVFAIL: u16 = 2;
    /// The name does not exist.
    pub const NXDOMAIN: u16 = 3;
    /// The server does not do this kind of query.
    pub const NOTIMP: u16 = 4;
    /// The server refuses to answer.
    pub const REFUSED: u16 = 5;
}

/// Why a reply could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// Shorter than its header or its counts say.
    Truncated,
    /// A label type other than a length or a pointer.
    BadLabel,
    /// A compression pointer that does not point strictly backwards (a loop, or garbage).
    BadPointer,
    /// A name longer than 255 bytes once decompressed.
    NameTooLong,
    /// Record data whose length does not fit its type.
    BadRData,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WireError::Truncated => "message shorter than its header says",
            WireError::BadLabel => "unknown label type in a name",
            WireError::BadPointer => "bad name compression pointer",
            WireError::NameTooLong => "name longer than 255 bytes",
            WireError::BadRData => "record data does not fit its type",
        })
    }
}

impl std::error::Error for WireError {}

fn u16_at(b: &[u8], at: usize) -> Result<u16, WireError> {
    match b.get(at..at + 2) {
        Some(&[x, y]) => Ok(u16::from_be_bytes([x, y])),
        _ => Err(WireError::Truncated),
    }
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, WireError> {
    match b.get(at..at + 4) {
        Some(&[a, b2, c, d]) => Ok(u32::from_be_bytes([a, b2, c, d])),
        _ => Err(WireError::Truncated),
    }
}

/// The fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Query ID.
    pub id: u16,
    /// Flags and codes (QR, opcode, AA, TC, RD, RA, rcode).
    pub flags: u16,
    /// Questions.
    pub qdcount: u16,
    /// Answer records.
    pub ancount: u16,
    /// Authority records.
    pub nscount: u16,
    /// Additional records.
    pub arcount: u16,
}

impl Header {
    /// QR: this is a response.
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }

    /// The opcode (0 for a standard query).
    pub fn opcode(&self) -> u16 {
        (self.flags >> 11) & 0xf
    }

    /// TC: the answer did not fit (ask again over TCP).
    pub fn truncated(&self) -> bool {
        self.flags & 0x0200 != 0
    }

    /// AA: the server is authoritative for the name.
    pub fn authoritative(&self) -> bool {
        self.flags & 0x0400 != 0
    }

    /// RA: the server does recursion.
    pub fn recursion_available(&self) -> bool {
        self.flags & 0x0080 != 0
    }

    /// The low 4 bits of the response code.
    pub fn rcode(&self) -> u16 {
        self.flags & 0xf
    }

    fn parse(b: &[u8]) -> Result<Header, WireError> {
        Ok(Header {
            id: u16_at(b, 0)?,
            flags: u16_at(b, 2)?,
            qdcount: u16_at(b, 4)?,
            ancount: u16_at(b, 6)?,
            nscount: u16_at(b, 8)?,
            arcount: u16_at(b, 10)?,
        })
    }
}

/// A query ready to send: fixed storage, no allocation.
#[derive(Clone)]
pub struct Query {
    bytes: [u8; MAX_QUERY],
    len: usize,
}

impl fmt::Debug for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Query({} bytes)", self.len)
    }
}

impl Query {
    /// A recursive query for `name`/`qtype`, class IN, with an EDNS0 OPT record advertising
    /// `edns_payload` bytes of UDP when given.
    pub fn new(id: u16, name: &Name, qtype: u16, edns_payload: Option<u16>) -> Query {
        let mut q = Query {
            bytes: [0; MAX_QUERY],
            len: 0,
        };
        let arcount = u16::from(edns_payload.is_some());
        // RD: ask the server to recurse.
        q.put(&id.to_be_bytes());
        q.put(&0x0100u16.to_be_bytes());
        q.put(&1u16.to_be_bytes());
        q.put(&[0, 0, 0, 0]);
        q.put(&arcount.to_be_bytes());
        q.put(name.as_wire());
        q.put(&qtype.to_be_bytes());
        q.put(&CLASS_IN.to_be_bytes());
        if let Some(payload) = edns_payload {
            q.put(&[0]);
            q.put(&rtype::OPT.to_be_bytes());
            q.put(&payload.to_be_bytes());
            q.put(&[0, 0, 0, 0, 0, 0]);
        }
        q
    }

    fn put(&mut self, data: &[u8]) {
        // Sizes are bounded by construction: MAX_QUERY covers the largest name.
        if let Some(dst) = self.bytes.get_mut(self.len..self.len + data.len()) {
            dst.copy_from_slice(data);
            self.len += data.len();
        }
    }

    /// The query ID.
    pub fn id(&self) -> u16 {
        u16::from_be_bytes([self.bytes[0], self.bytes[1]])
    }

    /// The wire bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The question section as sent (name, type, class), to compare with a reply's.
    pub fn question(&self) -> &[u8] {
        let end = self.question_end();
        &self.bytes[HEADER_LEN..end]
    }

    fn question_end(&self) -> usize {
        let mut at = HEADER_LEN;
        while let Some(&len) = self.bytes.get(at) {
            at += 1 + usize::from(len);
            if len == 0 {
                break;
            }
        }
        (at + 4).min(self.len)
    }
}

/// Walk the name at `at`, calling `label` for each label after decompression. Returns where
/// the name ends *in place* (after its root label, or after its first pointer).
fn walk_name(msg: &[u8], at: usize, mut label: impl FnMut(&[u8])) -> Result<usize, WireError> {
    let mut pos = at;
    let mut end_in_place = None;
    let mut total = 0usize;
    // Every jump must land strictly before the previous landing point (the name's own start
    // counts as the first): offsets decrease, so compression loops are impossible.
    let mut floor = at;
    loop {
        let len = *msg.get(pos).ok_or(WireError::Truncated)?;
        match len & 0xc0 {
            0x00 => {
                total += 1 + usize::from(len);
                if total > MAX_NAME {
                    return Err(WireError::NameTooLong);
                }
                if len == 0 {
                    return Ok(end_in_place.unwrap_or(pos + 1));
                }
                let start = pos + 1;
                let bytes = msg
                    .get(start..start + usize::from(len))
                    .ok_or(WireError::Truncated)?;
                label(bytes);
                pos = start + usize::from(len);
            }
            0xc0 => {
                let low = *msg.get(pos + 1).ok_or(WireError::Truncated)?;
                let target = (usize::from(len & 0x3f) << 8) | usize::from(low);
                if target >= floor {
                    return Err(WireError::BadPointer);
                }
                end_in_place.get_or_insert(pos + 2);
                floor = target;
                pos = target;
            }
            _ => return Err(WireError::BadLabel),
        }
    }
}

/// A name inside a message (possibly compressed), read on demand.
#[derive(Clone, Copy)]
pub struct NameRef<'a> {
    msg: &'a [u8],
    at: usize,
}

impl<'a> NameRef<'a> {
    /// Copy out as an owned [`Name`].
    pub fn to_name(&self) -> Result<Name, WireError> {
        let mut wire = super::name::WireBuf::default();
        walk_name(self.msg, self.at, |l| {
            wire.push(l.len() as u8);
            wire.extend(l);
        })?;
        wire.push(0);
        Ok(Name::from_wire_unchecked(wire.as_slice()))
    }

    /// ASCII case-insensitive comparison with `name`, without allocating.
    pub fn eq_name(&self, name: &Name) -> bool {
        let mut want = name.labels();
        let mut equal = true;
        let walked = walk_name(self.msg, self.at, |l| {
            equal &= want.next().is_some_and(|w| w.eq_ignore_ascii_case(l));
        });
        walked.is_ok() && equal && want.next().is_none()
    }
}

impl fmt::Display for NameRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_name() {
            Ok(n) => n.fmt(f),
            Err(e) => write!(f, "<{e}>"),
        }
    }
}

impl fmt::Debug for NameRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NameRef({self})")
    }
}

/// One resource record, in place.
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    /// The owner name.
    pub name: NameRef<'a>,
    /// The record type.
    pub rtype: u16,
    /// The class (1: IN).
    pub class: u16,
    /// Seconds it may be cached.
    pub ttl: u32,
    /// The record data bytes (names inside may point elsewhere in the message).
    pub rdata: &'a [u8],
    msg: &'a [u8],
    rdata_at: usize,
}

/// Typed record data, copied out of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// A canonical name.
    Cname(Name),
    /// A name server.
    Ns(Name),
    /// A pointer.
    Ptr(Name),
    /// A mail exchanger.
    Mx {
        /// Lower is tried first.
        preference: u16,
        /// The mail server's name.
        exchange: Name,
    },
    /// A service location.
    Srv {
        /// Lower is tried first.
        priority: u16,
        /// Share among equal priorities.
        weight: u16,
        /// The service's port.
        port: u16,
        /// The service's host.
        target: Name,
    },
    /// The character-strings, each as bytes (not joined).
    Txt(Vec<Vec<u8>>),
    /// A zone's start of authority.
    Soa {
        /// The primary name server.
        mname: Name,
        /// The zone administrator's mailbox as a name.
        rname: Name,
        /// The zone's version.
        serial: u32,
        /// Seconds between secondaries' checks.
        refresh: u32,
        /// Seconds before a failed check is retried.
        retry: u32,
        /// Seconds after which secondaries stop answering.
        expire: u32,
        /// Seconds negative answers may be cached.
        minimum: u32,
    },
    /// A type boardnet does not interpret.
    Unknown(Vec<u8>),
}

impl<'a> RecordView<'a> {
    fn rdata_end(&self) -> usize {
        self.rdata_at + self.rdata.len()
    }

    /// A name at `at` inside this record's data, which must end inside the data.
    fn name_in_rdata(&self, at: usize) -> Result<(Name, usize), WireError> {
        let name_ref = NameRef { msg: self.msg, at };
        let end = walk_name(self.msg, at, |_| ())?;
        if end > self.rdata_end() {
            return Err(WireError::BadRData);
        }
        Ok((name_ref.to_name()?, end))
    }

    /// Check the data's layout for the types boardnet knows, without allocating.
    fn check(&self) -> Result<(), WireError> {
        let start = self.rdata_at;
        let end = self.rdata_end();
        let name_end = |at: usize| match walk_name(self.msg, at, |_| ()) {
            Ok(e) if e <= end => Ok(e),
            Ok(_) => Err(WireError::BadRData),
            Err(e) => Err(e),
        };
        let ok = match self.rtype {
            rtype::A => self.rdata.len() == 4,
            rtype::AAAA => self.rdata.len() == 16,
            rtype::CNAME | rtype::NS | rtype::PTR => name_end(start)? == end,
            rtype::MX => self.rdata.len() > 2 && name_end(start + 2)? == end,
            rtype::SRV => self.rdata.len() > 6 && name_end(start + 6)? == end,
            rtype::SOA => name_end(name_end(start)?)? + 20 == end,
            rtype::TXT => {
                let mut rest = self.rdata;
                while let Some((&len, tail)) = rest.split_first() {
                    rest = tail.get(usize::from(len)..).ok_or(WireError::BadRData)?;
                }
                true
            }
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            Err(WireError::BadRData)
        }
    }

    /// The data, typed. For the types boardnet knows every byte is accounted for.
    pub fn data(&self) -> Result<RData, WireError> {
        let start = self.rdata_at;
        let end = self.rdata_end();
        let exact = |name_end: usize| {
            if name_end == end {
                Ok(())
            } else {
                Err(WireError::BadRData)
            }
        };
        Ok(match self.rtype {
            rtype::A => match self.rdata {
                &[a, b, c, d] => RData::A(Ipv4Addr::new(a, b, c, d)),
                _ => return Err(WireError::BadRData),
            },
            rtype::AAAA => {
                let octets: [u8; 16] = self.rdata.try_into().map_err(|_| WireError::BadRData)?;
                RData::Aaaa(Ipv6Addr::from(octets))
            }
            rtype::CNAME | rtype::NS | rtype::PTR => {
                let (name, name_end) = self.name_in_rdata(start)?;
                exact(name_end)?;
                match self.rtype {
                    rtype::CNAME => RData::Cname(name),
                    rtype::NS => RData::Ns(name),
                    _ => RData::Ptr(name),
                }
            }
            rtype::MX => {
                let preference = u16_at(self.msg, start)?;
                let (exchange, name_end) = self.name_in_rdata(start + 2)?;
                exact(name_end)?;
                RData::Mx {
                    preference,
                    exchange,
                }
            }
            rtype::SRV => {
                let (target, name_end) = self.name_in_rdata(start + 6)?;
                exact(name_end)?;
                RData::Srv {
                    priority: u16_at(self.msg, start)?,
                    weight: u16_at(self.msg, start + 2)?,
                    port: u16_at(self.msg, start + 4)?,
                    target,
                }
            }
            rtype::TXT => {
                let mut strings = Vec::new();
                let mut rest = self.rdata;
                while let Some((&len, tail)) = rest.split_first() {
                    let s = tail.get(..usize::from(len)).ok_or(WireError::BadRData)?;
                    strings.push(s.to_vec());
                    rest = &tail[usize::from(len)..];
                }
                RData::Txt(strings)
            }
            rtype::SOA => {
                let (mname, after_m) = self.name_in_rdata(start)?;
                let (rname, after_r) = self.name_in_rdata(after_m)?;
                if after_r + 20 != end {
                    return Err(WireError::BadRData);
                }
                RData::Soa {
                    mname,
                    rname,
                    serial: u32_at(self.msg, after_r)?,
                    refresh: u32_at(self.msg, after_r + 4)?,
                    retry: u32_at(self.msg, after_r + 8)?,
                    expire: u32_at(self.msg, after_r + 12)?,
                    minimum: u32_at(self.msg, after_r + 16)?,
                }
            }
            _ => RData::Unknown(self.rdata.to_vec()),
        })
    }
}

/// Validate `count` records from `at` (names, lengths, data layout) without copying anything
/// out; an OPT record's EDNS fields go to `opt`. Returns where the section ends.
fn check_records(
    msg: &[u8],
    mut at: usize,
    count: u16,
    opt: &mut Option<(u8, u16)>,
) -> Result<usize, WireError> {
    for _ in 0..count {
        let (record, next) = record_at(msg, at)?;
        if record.rtype == rtype::OPT {
            *opt = Some(((record.ttl >> 24) as u8, record.class));
        } else {
            record.check()?;
        }
        at = next;
    }
    Ok(at)
}

/// Read one record at `at`; returns it and where the next one starts.
fn record_at(msg: &[u8], at: usize) -> Result<(RecordView<'_>, usize), WireError> {
    let name_end = walk_name(msg, at, |_| ())?;
    let rtype = u16_at(msg, name_end)?;
    let class = u16_at(msg, name_end + 2)?;
    let ttl = u32_at(msg, name_end + 4)?;
    let rdlen = usize::from(u16_at(msg, name_end + 8)?);
    let rdata_at = name_end + 10;
    let rdata = msg
        .get(rdata_at..rdata_at + rdlen)
        .ok_or(WireError::Truncated)?;
    Ok((
        RecordView {
            name: NameRef { msg, at },
            rtype,
            class,
            ttl,
            rdata,
            msg,
            rdata_at,
        },
        rdata_at + rdlen,
    ))
}

/// A parsed reply: header, question, and the offsets of its sections.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    bytes: &'a [u8],
    /// The message's header.
    pub header: Header,
    question_at: usize,
    answers_at: usize,
    authorities_at: usize,
    additionals_at: usize,
    /// The EDNS OPT record's extended RCODE bits and UDP payload size, when present.
    edns: Option<(u8, u16)>,
}

impl<'a> Message<'a> {
    /// Check the whole message once; see the module docs. Bytes after the last record are
    /// ignored (as resolvers do: some middleboxes pad).
    pub fn parse(bytes: &'a [u8]) -> Result<Message<'a>, WireError> {
        let header = Header::parse(bytes)?;
        let question_at = HEADER_LEN;
        let mut at = question_at;
        for _ in 0..header.qdcount {
            at = walk_name(bytes, at, |_| ())? + 4;
            if at > bytes.len() {
                return Err(WireError::Truncated);
            }
        }
        let answers_at = at;
        let mut edns = None;
        let authorities_at = check_records(bytes, answers_at, header.ancount, &mut edns)?;
        let additionals_at = check_records(bytes, authorities_at, header.nscount, &mut edns)?;
        let mut opt = None;
        check_records(bytes, additionals_at, header.arcount, &mut opt)?;
        Ok(Message {
            bytes,
            header,
            question_at,
            answers_at,
            authorities_at,
            additionals_at,
            edns: opt,
        })
    }

    /// The raw question section (name as sent, type, class) of the first question.
    pub fn question_bytes(&self) -> &'a [u8] {
        &self.bytes[self.question_at..self.answers_at]
    }

    /// The first question's name and type.
    pub fn question(&self) -> Option<(NameRef<'a>, u16)> {
        if self.header.qdcount == 0 {
            return None;
        }
        let end = walk_name(self.bytes, self.question_at, |_| ()).ok()?;
        Some((
            NameRef {
                msg: self.bytes,
                at: self.question_at,
            },
            u16_at(self.bytes, end).ok()?,
        ))
    }

    /// The full response code (EDNS extended bits included).
    pub fn rcode(&self) -> u16 {
        let ext = self.edns.map_or(0, |(e, _)| u16::from(e));
        (ext << 4) | self.header.rcode()
    }

    /// The UDP payload size the server advertised (EDNS), if it sent an OPT record.
    pub fn edns_payload(&self) -> Option<u16> {
        self.edns.map(|(_, p)| p)
    }

    /// The answer section.
    pub fn answers(&self) -> Records<'a> {
        Records {
            msg: self.bytes,
            at: self.answers_at,
            left: self.header.ancount,
        }
    }

    /// The authority section.
    pub fn authorities(&self) -> Records<'a> {
        Records {
            msg: self.bytes,
            at: self.authorities_at,
            left: self.header.nscount,
        }
    }

    /// The additional section.
    pub fn additionals(&self) -> Records<'a> {
        Records {
            msg: self.bytes,
            at: self.additionals_at,
            left: self.header.arcount,
        }
    }
}

/// Iterator over one section's records (already validated by [`Message::parse`]).
#[derive(Debug, Clone)]
pub struct Records<'a> {
    msg: &'a [u8],
    at: usize,
    left: u16,
}

impl<'a> Iterator for Records<'a> {
    type Item = RecordView<'a>;

    fn next(&mut self) -> Option<RecordView<'a>> {
        if self.left == 0 {
            return None;
        }
        let (record, next) = record_at(self.msg, self.at).ok()?;
        self.at = next;
        self.left -= 1;
        Some(record)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A reply to `query` with the given answer records appended, each written as
    /// (owner as a pointer to the question name, type, ttl, rdata).
    pub(crate) fn reply(query: &Query, rcode: u16, answers: &[(u16, u32, Vec<u8>)]) -> Vec<u8> {
        let mut out = query.as_bytes().to_vec();
        // Drop the OPT record the query carried; the reply's sections are rewritten below.
        let question_end = HEADER_LEN + query.question().len();
        out.truncate(question_end);
        out[2] = 0x81; // QR, RD
        out[3] = 0x80 | (rcode & 0xf) as u8; // RA, rcode
        out[6..8].copy_from_slice(&(answers.len() as u16).to_be_bytes());
        out[8..12].copy_from_slice(&[0, 0, 0, 0]);
        for (rtype, ttl, rdata) in answers {
            out.extend_from_slice(&[0xc0, 0x0c]);
            out.extend_from_slice(&rtype.to_be_bytes());
            out.extend_from_slice(&CLASS_IN.to_be_bytes());
            out.extend_from_slice(&ttl.to_be_bytes());
            out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            out.extend_from_slice(rdata);
        }
        out
    }

    fn name(s: &str) -> Name {
        Name::from_text(s).unwrap()
    }

    #[test]
    fn query_layout() {
        let q = Query::new(0xbeef, &name("a.test"), rtype::MX, Some(1232));
        assert_eq!(
            q.as_bytes(),
            b"\xbe\xef\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01\x01a\x04test\x00\x00\x0f\x00\x01\
              \x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
        );
        assert_eq!(q.id(), 0xbeef);
        assert_eq!(q.question(), b"\x01a\x04test\x00\x00\x0f\x00\x01");
        let plain = Query::new(1, &name("a.test"), rtype::A, None);
        assert_eq!(plain.as_bytes().len(), HEADER_LEN + 8 + 4);
    }

    #[test]
    fn reply_records_are_typed() {
        let q = Query::new(7, &name("www.example.test"), rtype::ANY, None);
        let mut srv = vec![0, 10, 0, 60, 0x1f, 0x90];
        srv.extend_from_slice(name("t.example.test").as_wire());
        let mut mx = vec![0, 20];
        mx.extend_from_slice(&[0xc0, 0x0c]); // exchange compressed to the question name
        let wire = reply(
            &q,
            rcode::NOERROR,
            &[
                (rtype::A, 300, vec![192, 0, 2, 10]),
                (
                    rtype::AAAA,
                    300,
                    "2001:db8::10"
                        .parse::<Ipv6Addr>()
                        .unwrap()
                        .octets()
                        .to_vec(),
                ),
                (rtype::MX, 60, mx),
                (rtype::SRV, 60, srv),
                (rtype::TXT, 5, b"\x0bhello world\x00\x03a\xffb".to_vec()),
                (rtype::CNAME, 1, vec![0xc0, 0x0c]),
                (99, 1, vec![1, 2, 3]),
            ],
        );
        let m = Message::parse(&wire).unwrap();
        assert!(m.header.is_response() && m.header.recursion_available());
        assert_eq!(m.rcode(), rcode::NOERROR);
        let (qname, qtype) = m.question().unwrap();
        assert!(qname.eq_name(&name("WWW.example.TEST")));
        assert_eq!(qtype, rtype::ANY);
        assert_eq!(m.question_bytes(), q.question());
        let data: Vec<RData> = m.answers().map(|r| r.data().unwrap()).collect();
        assert_eq!(data[0], RData::A(Ipv4Addr::new(192, 0, 2, 10)));
        assert_eq!(data[1], RData::Aaaa("2001:db8::10".parse().unwrap()));
        assert_eq!(
            data[2],
            RData::Mx {
                preference: 20,
                exchange: name("www.example.test")
            }
        );
        assert_eq!(
            data[3],
            RData::Srv {
                priority: 10,
                weight: 60,
                port: 8080,
                target: name("t.example.test")
            }
        );
        assert_eq!(
            data[4],
            RData::Txt(vec![b"hello world".to_vec(), vec![], b"a\xffb".to_vec()])
        );
        assert_eq!(data[5], RData::Cname(name("www.example.test")));
        assert_eq!(data[6], RData::Unknown(vec![1, 2, 3]));
        let first = m.answers().next().unwrap();
        assert_eq!((first.ttl, first.class), (300, CLASS_IN));
        assert_eq!(first.name.to_string(), "www.example.test.");
    }

    #[test]
    fn pointer_loops_and_forward_pointers_are_rejected() {
        let q = Query::new(1, &name("a.test"), rtype::CNAME, None);
        // CNAME data is a pointer to itself (offset of the rdata).
        let mut wire = reply(&q, 0, &[(rtype::CNAME, 1, vec![0, 0])]);
        let at = wire.len() - 2;
        wire[at] = 0xc0 | (at >> 8) as u8;
        wire[at + 1] = at as u8;
        assert_eq!(Message::parse(&wire).unwrap_err(), WireError::BadPointer);
        // A pointer forward (to the end of the message).
        let mut wire = reply(&q, 0, &[(rtype::CNAME, 1, vec![0xc0, 0xff])]);
        wire.resize(300, 0);
        assert_eq!(Message::parse(&wire).unwrap_err(), WireError::BadPointer);
        // Two pointers bouncing back and forth.
        let wire2 = {
            let mut w = reply(&q, 0, &[(rtype::CNAME, 1, vec![0x01, b'x', 0xc0, 0x00])]);
            let rd = w.len() - 4;
            // The label's successor points back at the label itself: not strictly before.
            w[rd + 3] = rd as u8;
            w
        };
        assert_eq!(Message::parse(&wire2).unwrap_err(), WireError::BadPointer);
    }

    #[test]
    fn names_over_255_bytes_after_decompression_are_rejected() {
        let q = Query::new(1, &name("a.test"), rtype::CNAME, None);
        // 5 labels of 63 bytes, then a pointer to the question: 5*64 + 8 > 255.
        let mut rdata = Vec::new();
        for _ in 0..5 {
            rdata.push(63);
            rdata.extend_from_slice(&[b'x'; 63]);
        }
        rdata.extend_from_slice(&[0xc0, 0x0c]);
        let wire = reply(&q, 0, &[(rtype::CNAME, 1, rdata)]);
        assert_eq!(Message::parse(&wire).unwrap_err(), WireError::NameTooLong);
    }

    #[test]
    fn bad_record_data_is_rejected_up_front() {
        let q = Query::new(1, &name("a.test"), rtype::A, None);
        for (rtype, rdata) in [
            (rtype::A, vec![1, 2, 3]),
            (rtype::AAAA, vec![0; 4]),
            (rtype::MX, vec![0, 1]),
            (rtype::SRV, vec![0, 1, 0, 1, 0, 1]),
            (rtype::TXT, vec![5, b'a']),
            (rtype::CNAME, vec![0xc0, 0x0c, 0]),
            (rtype::SOA, vec![0, 0, 1, 2]),
        ] {
            let wire = reply(&q, 0, &[(rtype, 1, rdata)]);
            assert_eq!(
                Message::parse(&wire).unwrap_err(),
                WireError::BadRData,
                "type {rtype}"
            );
        }
    }

    #[test]
    fn every_prefix_and_garbage_parses_without_panicking() {
        let q = Query::new(9, &name("www.example.test"), rtype::MX, Some(1232));
        let mut mx = vec![0, 10];
        mx.extend_from_slice(name("mail.example.test").as_wire());
        let wire = reply(&q, 0, &[(rtype::MX, 60, mx.clone()), (rtype::MX, 60, mx)]);
        assert!(Message::parse(&wire).is_ok());
        for cut in 0..wire.len() {
            let r = Message::parse(&wire[..cut]);
            assert!(r.is_err(), "prefix of {cut} bytes parsed");
        }
        let mut x: u32 = 1;
        let mut buf = wire.clone();
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let i = x as usize % buf.len();
            buf[i] = (x >> 8) as u8;
            if let Ok(m) = Message::parse(&buf) {
                for r in m.answers().chain(m.authorities()).chain(m.additionals()) {
                    let _ = r.data();
                    let _ = r.name.to_name();
                }
                let _ = m.question().map(|(n, _)| n.to_string());
            }
            if x % 97 == 0 {
                buf.copy_from_slice(&wire);
            }
        }
    }

    #[test]
    fn edns_extends_the_rcode() {
        let q = Query::new(1, &name("a.test"), rtype::A, None);
        let mut wire = reply(&q, 0, &[]);
        wire[11] = 1; // arcount
                      // OPT: root, type 41, payload 1232, ext-rcode 1 (BADVERS = 16 with rcode 0).
        wire.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 1, 0, 0, 0, 0, 0]);
        let m = Message::parse(&wire).unwrap();
        assert_eq!(m.rcode(), 16);
        assert_eq!(m.edns_payload(), Some(1232));
    }
}
