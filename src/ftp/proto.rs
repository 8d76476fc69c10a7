//! The FTP control protocol without I/O (RFC 959, 2389, 2428, 3659, 4217): replies assembled
//! from bytes, commands checked before they are written, and the payloads of the replies the
//! client acts on (227/229 data addresses, 257 paths, 213 sizes and times, FEAT lists).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Longest reply line accepted (RFC 959 sets no limit; real servers stay far below this).
pub const MAX_LINE: usize = 8 * 1024;
/// Longest whole reply (a multi-line FEAT or HELP), so a hostile server cannot grow memory.
pub const MAX_REPLY: usize = 64 * 1024;

/// One complete server reply: its three-digit code and its text (lines joined with '\n',
/// code prefixes of the first and last line removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The text, lines joined with '\n'.
    pub text: String,
}

impl Reply {
    /// 1yz: a preliminary reply; another one follows.
    pub fn is_preliminary(&self) -> bool {
        (100..200).contains(&self.code)
    }

    /// 2yz: done.
    pub fn is_completion(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 3yz: the server waits for the next command of a sequence (PASS, RNTO, REST).
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    /// The text's first line (what a one-line status shows).
    pub fn first_line(&self) -> &str {
        self.text.lines().next().unwrap_or("")
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.first_line())
    }
}

/// A reply that breaks the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplyError {
    /// A line that does not start with three digits (and is not inside a multi-line reply).
    Malformed(String),
    /// A line or reply longer than [`MAX_LINE`] / [`MAX_REPLY`].
    TooLong,
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyError::Malformed(line) => write!(f, "malformed reply line \"{line}\""),
            ReplyError::TooLong => write!(
                f,
                "reply longer than {} KiB (or a line over {} KiB)",
                MAX_REPLY / 1024,
                MAX_LINE / 1024
            ),
        }
    }
}

/// Assembles replies from the control connection's bytes. Feed what arrived with
/// [`buffer`](Self::buffer) + [`filled`](Self::filled), take replies with
/// [`next_reply`](Self::next_reply). The buffer never grows beyond [`MAX_LINE`] plus one read.
#[derive(Debug, Default)]
pub struct ReplyReader {
    buf: Vec<u8>,
    /// `buf[start..end]` is unparsed input.
    start: usize,
    end: usize,
    /// The reply being assembled: code and text so far (multi-line replies).
    pending: Option<(u16, String)>,
}

/// Bytes read per call into the reader's buffer.
const READ_CHUNK: usize = 4096;

impl ReplyReader {
    /// An empty reader.
    pub fn new() -> Self {
        ReplyReader::default()
    }

    /// Space to read into (at least 4 KiB).
    pub fn buffer(&mut self) -> &mut [u8] {
        if self.start > 0 && self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.buf.len() - self.end < READ_CHUNK {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            self.buf.resize(self.end + READ_CHUNK, 0);
        }
        &mut self.buf[self.end..]
    }

    /// `n` bytes were written into [`buffer`](Self::buffer).
    pub fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    /// Whether bytes that are not part of a complete reply are waiting (a server that sends
    /// the next reply early is fine; this is for diagnostics).
    pub fn has_partial(&self) -> bool {
        self.start < self.end || self.pending.is_some()
    }

    /// The next complete reply, `Ok(None)` if more bytes are needed.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, ReplyError> {
        loop {
            let unparsed = &self.buf[self.start..self.end];
            let Some(nl) = unparsed.iter().position(|&b| b == b'\n') else {
                if unparsed.len() > MAX_LINE {
                    return Err(ReplyError::TooLong);
                }
                return Ok(None);
            };
            if nl > MAX_LINE {
                return Err(ReplyError::TooLong);
            }
            let mut line = &unparsed[..nl];
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            // Servers send file names in their own encoding; keep what is not UTF-8 visible.
            let line = String::from_utf8_lossy(line).into_owned();
            self.start += nl + 1;
            if let Some(reply) = self.take_line(line)? {
                return Ok(Some(reply));
            }
        }
    }

    fn take_line(&mut self, line: String) -> Result<Option<Reply>, ReplyError> {
        let code = reply_code(&line);
        match self.pending.take() {
            None => {
                let Some(code) = code else {
                    return Err(ReplyError::Malformed(truncate(&line)));
                };
                match line.as_bytes().get(3) {
                    Some(b'-') => {
                        self.pending = Some((code, line[4..].to_string()));
                        Ok(None)
                    }
                    None | Some(b' ') => Ok(Some(Reply {
                        code,
                        text: line.get(4..).unwrap_or("").to_string(),
                    })),
                    Some(_) => Err(ReplyError::Malformed(truncate(&line))),
                }
            }
            Some((first, mut text)) => {
                // The reply ends at "CODE " (or a bare "CODE") with the first line's code;
                // anything else, including "CODE-" lines, is more text.
                let ends =
                    code == Some(first) && matches!(line.as_bytes().get(3), None | Some(b' '));
                if text.len() + line.len() + 1 > MAX_REPLY {
                    return Err(ReplyError::TooLong);
                }
                text.push('\n');
                if ends {
                    text.push_str(line.get(4..).unwrap_or(""));
                    Ok(Some(Reply { code: first, text }))
                } else if code == Some(first) && line.as_bytes().get(3) == Some(&b'-') {
                    // Servers often repeat "CODE-" on every line.
                    text.push_str(&line[4..]);
                    self.pending = Some((first, text));
                    Ok(None)
                } else {
                    text.push_str(line.strip_prefix(' ').unwrap_or(&line));
                    self.pending = Some((first, text));
                    Ok(None)
                }
            }
        }
    }
}

/// The code of a line starting with three digits (first digit 1–5).
fn reply_code(line: &str) -> Option<u16> {
    let digits = line.as_bytes().get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) || !(b'1'..=b'5').contains(&digits[0]) {
        return None;
    }
    line[..3].parse().ok()
}

fn truncate(line: &str) -> String {
    line.chars().take(80).collect()
}

/// Why a command was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError(pub String);

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `VERB ARG\r\n` into `out`. An argument holding CR, LF or NUL would let a file name smuggle
/// a second command onto the control connection, so it is refused.
pub fn write_command(out: &mut Vec<u8>, verb: &str, arg: Option<&str>) -> Result<(), CommandError> {
    out.clear();
    out.extend_from_slice(verb.as_bytes());
    if let Some(arg) = arg {
        if arg.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(CommandError(format!(
                "{verb}: argument contains a line break or NUL"
            )));
        }
        out.push(b' ');
        out.extend_from_slice(arg.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// The address in a 227 reply: `(h1,h2,h3,h4,p1,p2)` anywhere in the text.
pub fn parse_pasv(text: &str) -> Option<SocketAddr> {
    // Servers differ in the wrapping ("Entering Passive Mode (…)", "=…", none): find the first
    // run of six comma-separated numbers.
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let end = bytes[i..]
                .iter()
                .position(|b| !(b.is_ascii_digit() || *b == b','))
                .map_or(bytes.len(), |p| i + p);
            let fields: Vec<&str> = text[i..end].split(',').collect();
            if fields.len() == 6 {
                let mut n = [0u8; 6];
                if fields
                    .iter()
                    .zip(n.iter_mut())
                    .all(|(f, out)| f.parse::<u8>().map(|v| *out = v).is_ok())
                {
                    let ip = Ipv4Addr::new(n[0], n[1], n[2], n[3]);
                    let port = u16::from(n[4]) << 8 | u16::from(n[5]);
                    return Some(SocketAddr::new(IpAddr::V4(ip), port));
                }
            }
            i = end;
        }
        i += 1;
    }
    None
}

/// The port in a 229 reply: `(<d><d><d>PORT<d>)` with any printable delimiter (RFC 2428).
pub fn parse_epsv(text: &str) -> Option<u16> {
    let open = text.find('(')?;
    let inner = &text[open + 1..];
    let close = inner.find(')')?;
    let inner = &inner[..close];
    let d = inner.chars().next()?;
    if !(33..=126).contains(&(d as u32)) || d.is_ascii_digit() {
        return None;
    }
    let parts: Vec<&str> = inner.split(d).collect();
    // "|||6446|" splits into ["", "", "", "6446", ""].
    if parts.len() != 5 || !parts[0].is_empty() || !parts[4].is_empty() {
        return None;
    }
    parts[3].parse().ok().filter(|p| *p != 0)
}

/// `PORT h1,h2,h3,h4,p1,p2` argument for an IPv4 listener.
pub fn port_argument(addr: SocketAddr) -> Option<String> {
    match addr.ip() {
        IpAddr::V4(ip) => {
            let o = ip.octets();
            let p = addr.port();
            Some(format!(
                "{},{},{},{},{},{}",
                o[0],
                o[1],
                o[2],
                o[3],
                p >> 8,
                p & 0xff
            ))
        }
        IpAddr::V6(_) => None,
    }
}

/// `EPRT |1|h|port|` or `|2|h|port|` argument (RFC 2428).
pub fn eprt_argument(addr: SocketAddr) -> String {
    let family = if addr.is_ipv4() { 1 } else { 2 };
    format!("|{family}|{}|{}|", addr.ip(), addr.port())
}

/// The directory in a 257 reply: the first quoted string, `""` standing for one `"`.
pub fn parse_quoted_path(text: &str) -> Option<String> {
    let start = text.find('"')? + 1;
    let mut out = String::new();
    let mut chars = text[start..].chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            if chars.peek() == Some(&'"') {
                chars.next();
                out.push('"');
            } else {
                return Some(out);
            }
        } else {
            out.push(c);
        }
    }
    None
}

/// A 213 SIZE reply's number.
pub fn parse_size(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// A modification time from MDTM (213 `YYYYMMDDHHMMSS[.sss]`) or an MLSD `modify` fact, as
/// ISO 8601 UTC (`2026-11-24T07:12:05Z`).
pub fn parse_timeval(text: &str) -> Option<String> {
    let text = text.trim();
    let (whole, _fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| whole[r].parse::<u32>().ok();
    let (month, day, hour, min, sec) = (n(4..6)?, n(6..8)?, n(8..10)?, n(10..12)?, n(12..14)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    Some(format!(
        "{}-{month:02}-{day:02}T{hour:02}:{min:02}:{sec:02}Z",
        &whole[..4]
    ))
}

/// What the server offers (RFC 2389 FEAT), as far as the client cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    /// MLSD/MLST (RFC 3659 listings).
    pub mlsd: bool,
    /// SIZE.
    pub size: bool,
    /// MDTM (modification times).
    pub mdtm: bool,
    /// REST STREAM (resumed transfers).
    pub rest_stream: bool,
    /// EPSV (extended passive mode).
    pub epsv: bool,
    /// UTF8 path names.
    pub utf8: bool,
    /// AUTH TLS (explicit FTPS).
    pub auth_tls: bool,
}

impl Features {
    /// From a 211 FEAT reply's text: one feature per line after the first.
    pub fn parse(text: &str) -> Features {
        let mut f = Features::default();
        for line in text.lines().skip(1) {
            let mut words = line.split_whitespace();
            let name = words.next().unwrap_or("").to_ascii_uppercase();
            let arg = words.next().unwrap_or("").to_ascii_uppercase();
            match name.as_str() {
                "MLSD" | "MLST" => f.mlsd = true,
                "SIZE" => f.size = true,
                "MDTM" => f.mdtm = true,
                "REST" if arg == "STREAM" => f.rest_stream = true,
                "EPSV" => f.epsv = true,
                "UTF8" => f.utf8 = true,
                "AUTH" if arg.split(';').any(|a| a == "TLS") => f.auth_tls = true,
                _ => {}
            }
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replies(input: &[u8]) -> Result<Vec<Reply>, ReplyError> {
        let mut reader = ReplyReader::new();
        let mut out = Vec::new();
        // Byte by byte: every split point must work.
        for &b in input {
            reader.buffer()[0] = b;
            reader.filled(1);
            while let Some(r) = reader.next_reply()? {
                out.push(r);
            }
        }
        Ok(out)
    }

    #[test]
    fn single_and_multi_line_replies() {
        let got = replies(
            b"220 welcome\r\n211-Features:\r\n MLSD\r\n SIZE\r\n211 End\r\n230 ok\n150\r\n",
        )
        .unwrap();
        assert_eq!(got.len(), 4);
        assert_eq!(
            got[0],
            Reply {
                code: 220,
                text: "welcome".into()
            }
        );
        assert_eq!(got[1].code, 211);
        assert_eq!(got[1].text, "Features:\nMLSD\nSIZE\nEnd");
        assert_eq!(got[2].text, "ok");
        assert_eq!(
            got[3],
            Reply {
                code: 150,
                text: String::new()
            }
        );
        assert!(got[3].is_preliminary() && got[2].is_completion());
    }

    #[test]
    fn multi_line_reply_ends_only_at_its_own_code_with_a_space() {
        let got =
            replies(b"230-Hello\r\n230-still\r\n220 not the end\r\n123 neither\r\n230 done\r\n")
                .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].code, 230);
        assert_eq!(
            got[0].text,
            "Hello\nstill\n220 not the end\n123 neither\ndone"
        );
    }

    #[test]
    fn garbage_and_endless_lines_are_errors() {
        assert!(matches!(
            replies(b"hello\r\n"),
            Err(ReplyError::Malformed(_))
        ));
        assert!(matches!(
            replies(b"22x ok\r\n"),
            Err(ReplyError::Malformed(_))
        ));
        assert!(matches!(
            replies(b"220xok\r\n"),
            Err(ReplyError::Malformed(_))
        ));
        assert!(matches!(
            replies(b"600 no\r\n"),
            Err(ReplyError::Malformed(_))
        ));
        assert_eq!(replies(&vec![b'2'; MAX_LINE + 2]), Err(ReplyError::TooLong));
        let mut long = b"211-x\r\n".to_vec();
        for _ in 0..(MAX_REPLY / 100 + 2) {
            long.extend_from_slice(&[b'a'; 100]);
            long.extend_from_slice(b"\r\n");
        }
        assert_eq!(replies(&long), Err(ReplyError::TooLong));
    }

    #[test]
    fn commands_refuse_line_breaks() {
        let mut out = Vec::new();
        write_command(&mut out, "RETR", Some("a b.bin")).unwrap();
        assert_eq!(out, b"RETR a b.bin\r\n");
        write_command(&mut out, "PWD", None).unwrap();
        assert_eq!(out, b"PWD\r\n");
        assert!(write_command(&mut out, "RETR", Some("x\r\nDELE y")).is_err());
        assert!(write_command(&mut out, "CWD", Some("a\nb")).is_err());
        assert!(write_command(&mut out, "CWD", Some("a\0b")).is_err());
    }

    #[test]
    fn passive_addresses() {
        assert_eq!(
            parse_pasv("Entering Passive Mode (127,0,0,1,195,80)."),
            Some("127.0.0.1:50000".parse().unwrap())
        );
        assert_eq!(
            parse_pasv("Entering Passive Mode 10,0,2,15,4,1"),
            Some("10.0.2.15:1025".parse().unwrap())
        );
        assert_eq!(
            parse_pasv("=127,0,0,1,0,21"),
            Some("127.0.0.1:21".parse().unwrap())
        );
        assert_eq!(parse_pasv("Entering Passive Mode (127,0,0,1,256,1)"), None);
        assert_eq!(parse_pasv("(1,2,3,4,5)"), None);
        assert_eq!(parse_pasv("no numbers"), None);
        assert_eq!(
            parse_epsv("Entering Extended Passive Mode (|||6446|)"),
            Some(6446)
        );
        assert_eq!(parse_epsv("ok (!!!21!)"), Some(21));
        assert_eq!(parse_epsv("(|||0|)"), None);
        assert_eq!(parse_epsv("(|||70000|)"), None);
        assert_eq!(parse_epsv("(||6446|)"), None);
        assert_eq!(parse_epsv("(1117)"), None);
        assert_eq!(parse_epsv("no parens"), None);
    }

    #[test]
    fn active_arguments() {
        let v4: SocketAddr = "192.168.1.2:50000".parse().unwrap();
        assert_eq!(port_argument(v4).as_deref(), Some("192,168,1,2,195,80"));
        assert_eq!(eprt_argument(v4), "|1|192.168.1.2|50000|");
        let v6: SocketAddr = "[::1]:21".parse().unwrap();
        assert_eq!(port_argument(v6), None);
        assert_eq!(eprt_argument(v6), "|2|::1|21|");
    }

    #[test]
    fn reply_payloads() {
        assert_eq!(
            parse_quoted_path("\"/home/a \"\"b\"\"\" is the current directory").as_deref(),
            Some("/home/a \"b\"")
        );
        assert_eq!(parse_quoted_path("no quotes"), None);
        assert_eq!(parse_quoted_path("\"unterminated"), None);
        assert_eq!(parse_size(" 1073741824"), Some(1 << 30));
        assert_eq!(parse_size("big"), None);
        assert_eq!(
            parse_timeval("20261124071205").as_deref(),
            Some("2026-11-24T07:12:05Z")
        );
        assert_eq!(
            parse_timeval("20261124071205.123").as_deref(),
            Some("2026-11-24T07:12:05Z")
        );
        assert_eq!(parse_timeval("20261324071205"), None);
        assert_eq!(parse_timeval("2026112407120"), None);
        assert_eq!(parse_timeval("2026112407120x"), None);
    }

    #[test]
    fn features() {
        let f = Features::parse(
            "Extensions supported:\nMLST type*;size*;modify*;\nSIZE\nMDTM\nREST STREAM\nEPSV\nUTF8\nAUTH TLS\nEnd",
        );
        assert_eq!(
            f,
            Features {
                mlsd: true,
                size: true,
                mdtm: true,
                rest_stream: true,
                epsv: true,
                utf8: true,
                auth_tls: true
            }
        );
        assert_eq!(Features::parse("Features:\nREST\nEnd"), Features::default());
    }
}
