//! Domain names: text ⇄ wire form, case-insensitive comparison, reverse-lookup names.
//!
//! A [`Name`] is always fully qualified and stored in uncompressed wire form (length-prefixed
//! labels ending with the root label), at most 255 bytes. Text follows dig's presentation
//! format: labels joined by `.`, a trailing `.`, and `\.`, `\\`, `\DDD` escapes for bytes that
//! would otherwise be ambiguous or unprintable.

use std::fmt;
use std::net::IpAddr;

/// Longest name in wire form (RFC 1035 section 2.3.4).
pub const MAX_NAME: usize = 255;
/// Longest label.
pub const MAX_LABEL: usize = 63;

/// Why a name was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameError {
    /// The text is empty.
    Empty,
    /// Two dots in a row, or a leading dot.
    EmptyLabel,
    /// A label longer than 63 bytes (its length).
    LabelTooLong(usize),
    /// A name longer than 255 bytes on the wire (its length).
    NameTooLong(usize),
    /// A backslash escape that is not `\X` or `\DDD` with DDD at most 255.
    BadEscape,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Empty => f.write_str("empty name"),
            NameError::EmptyLabel => f.write_str("empty label (two dots in a row)"),
            NameError::LabelTooLong(n) => write!(f, "label of {n} bytes (at most {MAX_LABEL})"),
            NameError::NameTooLong(n) => write!(f, "name of {n} bytes (at most {MAX_NAME})"),
            NameError::BadEscape => f.write_str("bad \\ escape (use \\. \\\\ or \\DDD)"),
        }
    }
}

impl std::error::Error for NameError {}

/// A fully qualified domain name.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Name {
    wire: Box<[u8]>,
}

impl Name {
    /// The root name `.`.
    pub fn root() -> Name {
        Name {
            wire: Box::new([0]),
        }
    }

    /// Parse presentation text. A trailing dot is optional here: the result is always fully
    /// qualified (whether the *user* meant it absolute is [`is_absolute_text`]'s question).
    pub fn from_text(text: &str) -> Result<Name, NameError> {
        if text.is_empty() {
            return Err(NameError::Empty);
        }
        if text == "." {
            return Ok(Name::root());
        }
        let bytes = text.as_bytes();
        let mut wire = WireBuf::default();
        let mut label = WireBuf::default();
        let mut i = 0;
        let mut ended_with_dot = false;
        while i < bytes.len() {
            let b = bytes[i];
            ended_with_dot = false;
            match b {
                b'.' => {
                    push_label(&mut wire, label.as_slice())?;
                    label.len = 0;
                    ended_with_dot = true;
                    i += 1;
                }
                b'\\' => {
                    let next = *bytes.get(i + 1).ok_or(NameError::BadEscape)?;
                    if next.is_ascii_digit() {
                        let digits = bytes.get(i + 1..i + 4).ok_or(NameError::BadEscape)?;
                        if !digits.iter().all(u8::is_ascii_digit) {
                            return Err(NameError::BadEscape);
                        }
                        let value = digits
                            .iter()
                            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
                        label.push(u8::try_from(value).map_err(|_| NameError::BadEscape)?);
                        i += 4;
                    } else {
                        label.push(next);
                        i += 2;
                    }
                }
                _ => {
                    label.push(b);
                    i += 1;
                }
            }
            if label.len > MAX_LABEL {
                return Err(NameError::LabelTooLong(label.len));
            }
        }
        if !ended_with_dot {
            push_label(&mut wire, label.as_slice())?;
        }
        wire.push(0);
        if wire.len > MAX_NAME {
            return Err(NameError::NameTooLong(wire.len));
        }
        Ok(Name {
            wire: wire.as_slice().into(),
        })
    }

    /// Build from labels already checked by the wire parser.
    pub(crate) fn from_wire_unchecked(wire: &[u8]) -> Name {
        Name { wire: wire.into() }
    }

    /// Wire form, uncompressed, ending with the root label.
    pub fn as_wire(&self) -> &[u8] {
        &self.wire
    }

    /// The labels, first (leftmost) to last, without the root.
    pub fn labels(&self) -> Labels<'_> {
        Labels {
            wire: &self.wire,
            at: 0,
        }
    }

    /// Whether this is the root name (`.`).
    pub fn is_root(&self) -> bool {
        self.wire.len() == 1
    }

    /// `self` followed by `suffix` (a search domain).
    pub fn append(&self, suffix: &Name) -> Result<Name, NameError> {
        let head = &self.wire[..self.wire.len() - 1];
        let len = head.len() + suffix.wire.len();
        if len > MAX_NAME {
            return Err(NameError::NameTooLong(len));
        }
        let mut wire = WireBuf::default();
        wire.extend(head);
        wire.extend(&suffix.wire);
        Ok(Name::from_wire_unchecked(wire.as_slice()))
    }

    /// ASCII case-insensitive equality (RFC 4343).
    pub fn eq_ignore_case(&self, other: &Name) -> bool {
        self.wire.eq_ignore_ascii_case(&other.wire)
    }

    /// The name queried for a reverse (PTR) lookup of `addr`: `d.c.b.a.in-addr.arpa.` or the
    /// nibble form under `ip6.arpa.`.
    pub fn reverse(addr: IpAddr) -> Name {
        let text = match addr {
            IpAddr::V4(v4) => {
                let [a, b, c, d] = v4.octets();
                format!("{d}.{c}.{b}.{a}.in-addr.arpa.")
            }
            IpAddr::V6(v6) => {
                let mut s = String::with_capacity(72);
                for byte in v6.octets().iter().rev() {
                    for nibble in [byte & 0xf, byte >> 4] {
                        s.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
                        s.push('.');
                    }
                }
                s.push_str("ip6.arpa.");
                s
            }
        };
        // Always valid: fixed shapes well under the limits.
        Name::from_text(&text).unwrap_or_else(|_| Name::root())
    }
}

/// Whether the user wrote a fully qualified name (trailing unescaped dot).
pub fn is_absolute_text(text: &str) -> bool {
    let trailing_backslashes = text
        .trim_end_matches('.')
        .bytes()
        .rev()
        .take_while(|b| *b == b'\\')
        .count();
    text.ends_with('.') && trailing_backslashes % 2 == 0
}

/// Number of unescaped dots in the user's text (resolv.conf `ndots` compares with this).
pub fn dots_in_text(text: &str) -> usize {
    let mut count = 0;
    let mut escaped = false;
    for b in text.trim_end_matches('.').bytes() {
        match (escaped, b) {
            (false, b'\\') => escaped = true,
            (false, b'.') => count += 1,
            _ => escaped = false,
        }
    }
    count
}

/// A name or label under construction, on the stack: names cost one exact-size allocation.
pub(crate) struct WireBuf {
    bytes: [u8; MAX_NAME + 1],
    len: usize,
}

impl Default for WireBuf {
    fn default() -> Self {
        WireBuf {
            bytes: [0; MAX_NAME + 1],
            len: 0,
        }
    }
}

impl WireBuf {
    /// Bytes beyond the capacity are counted but not stored, so callers can still report
    /// how long the name would have been.
    pub(crate) fn push(&mut self, b: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = b;
        }
        self.len += 1;
    }

    pub(crate) fn extend(&mut self, data: &[u8]) {
        for &b in data {
            self.push(b);
        }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len.min(self.bytes.len())]
    }
}

fn push_label(wire: &mut WireBuf, label: &[u8]) -> Result<(), NameError> {
    if label.is_empty() {
        return Err(NameError::EmptyLabel);
    }
    // label.len() <= MAX_LABEL was checked while it grew.
    wire.push(label.len() as u8);
    wire.extend(label);
    if wire.len + 1 > MAX_NAME {
        return Err(NameError::NameTooLong(wire.len + 1));
    }
    Ok(())
}

/// Iterator over a name's labels.
pub struct Labels<'a> {
    wire: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let len = usize::from(*self.wire.get(self.at)?);
        if len == 0 {
            return None;
        }
        let label = self.wire.get(self.at + 1..self.at + 1 + len)?;
        self.at += 1 + len;
        Some(label)
    }
}

/// Write one label in presentation form.
pub(crate) fn write_label(f: &mut impl fmt::Write, label: &[u8]) -> fmt::Result {
    for &b in label {
        match b {
            b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                f.write_char('\\')?;
                f.write_char(char::from(b))?;
            }
            0x21..=0x7e => f.write_char(char::from(b))?,
            _ => write!(f, "\\{b:03}")?,
        }
    }
    Ok(())
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        for label in self.labels() {
            write_label(f, label)?;
            f.write_str(".")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

impl std::str::FromStr for Name {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Name, NameError> {
        Name::from_text(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_in_dig_form() {
        for (text, shown) in [
            ("www.example.test", "www.example.test."),
            ("www.example.test.", "www.example.test."),
            ("a\\.b.test", "a\\.b.test."),
            ("\\255x.test", "\\255x.test."),
            ("_sip._udp.example.test", "_sip._udp.example.test."),
            (".", "."),
        ] {
            let n = Name::from_text(text).unwrap();
            assert_eq!(n.to_string(), shown, "{text}");
            assert_eq!(Name::from_text(&n.to_string()).unwrap(), n);
        }
        assert_eq!(
            Name::from_text("ab.c").unwrap().as_wire(),
            b"\x02ab\x01c\x00"
        );
    }

    #[test]
    fn bad_names_say_why() {
        assert_eq!(Name::from_text(""), Err(NameError::Empty));
        assert_eq!(Name::from_text("a..b"), Err(NameError::EmptyLabel));
        assert_eq!(Name::from_text(".a"), Err(NameError::EmptyLabel));
        assert_eq!(
            Name::from_text(&"x".repeat(64)),
            Err(NameError::LabelTooLong(64))
        );
        let long = vec!["a".repeat(60); 5].join(".");
        assert!(matches!(
            Name::from_text(&long),
            Err(NameError::NameTooLong(_))
        ));
        assert_eq!(Name::from_text("a\\"), Err(NameError::BadEscape));
        assert_eq!(Name::from_text("a\\25"), Err(NameError::BadEscape));
        assert_eq!(Name::from_text("a\\256"), Err(NameError::BadEscape));
        // Exactly 255 bytes is fine: 3 labels of 63 + one of 61 + lengths + root.
        let max = format!("{0}.{0}.{0}.{1}", "a".repeat(63), "b".repeat(61));
        assert_eq!(Name::from_text(&max).unwrap().as_wire().len(), 255);
    }

    #[test]
    fn absolute_and_dots_follow_the_text() {
        assert!(is_absolute_text("a.b."));
        assert!(!is_absolute_text("a.b"));
        assert!(!is_absolute_text("a\\."));
        assert!(is_absolute_text("a\\\\."));
        assert_eq!(dots_in_text("a.b.c"), 2);
        assert_eq!(dots_in_text("a.b.c."), 2);
        assert_eq!(dots_in_text("a\\.b"), 0);
        assert_eq!(dots_in_text("host"), 0);
    }

    #[test]
    fn append_and_compare() {
        let host = Name::from_text("Host").unwrap();
        let search = Name::from_text("Example.TEST").unwrap();
        let full = host.append(&search).unwrap();
        assert_eq!(full.to_string(), "Host.Example.TEST.");
        assert!(full.eq_ignore_case(&Name::from_text("host.example.test.").unwrap()));
        assert!(!full.eq_ignore_case(&search));
        assert_eq!(host.append(&Name::root()).unwrap(), host);
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            Name::reverse("192.0.2.10".parse().unwrap()).to_string(),
            "10.2.0.192.in-addr.arpa."
        );
        assert_eq!(
            Name::reverse("2001:db8::10".parse().unwrap()).to_string(),
            "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
        );
    }
}
