//! The D-Bus wire format, sans I/O: values marshalled by their signature (little-endian),
//! and read back with every length checked once against what is there. Nothing here panics
//! on bad input; it returns a [`WireError`] naming what was wrong.

use std::fmt;

/// Deepest nesting the specification allows (32 arrays plus 32 structs).
const MAX_DEPTH: usize = 64;

/// Longest array the specification allows, in bytes.
const MAX_ARRAY: usize = 64 << 20;

/// A D-Bus value with its type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `y`
    Byte(u8),
    /// `b`
    Bool(bool),
    /// `n`
    I16(i16),
    /// `q`
    U16(u16),
    /// `i`
    I32(i32),
    /// `u`
    U32(u32),
    /// `x`
    I64(i64),
    /// `t`
    U64(u64),
    /// `d`
    Double(f64),
    /// `s`
    Str(String),
    /// `o`
    ObjectPath(String),
    /// `g`
    Signature(String),
    /// `h` (an index into the message's descriptors; boardnet passes none)
    UnixFd(u32),
    /// `aT`: the element signature and the elements.
    Array(String, Vec<Value>),
    /// `(…)`
    Struct(Vec<Value>),
    /// `{KV}` (only inside an array)
    DictEntry(Box<Value>, Box<Value>),
    /// `v`
    Variant(Box<Value>),
}

/// Why bytes are not a valid D-Bus value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// The data ends before the value does.
    Truncated,
    /// A signature that is not a valid single complete type (or list of them).
    BadSignature(String),
    /// A value whose bytes break the rules (named).
    Invalid(&'static str),
    /// Nested deeper than the specification allows.
    TooDeep,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated => f.write_str("the message ends early"),
            WireError::BadSignature(s) => {
                write!(f, "invalid signature {}", crate::error::Quoted(s))
            }
            WireError::Invalid(what) => write!(f, "invalid {what}"),
            WireError::TooDeep => f.write_str("values nested too deeply"),
        }
    }
}

impl std::error::Error for WireError {}

impl Value {
    /// Its type signature.
    pub fn signature(&self) -> String {
        let mut s = String::new();
        self.write_signature(&mut s);
        s
    }

    fn write_signature(&self, out: &mut String) {
        match self {
            Value::Byte(_) => out.push('y'),
            Value::Bool(_) => out.push('b'),
            Value::I16(_) => out.push('n'),
            Value::U16(_) => out.push('q'),
            Value::I32(_) => out.push('i'),
            Value::U32(_) => out.push('u'),
            Value::I64(_) => out.push('x'),
            Value::U64(_) => out.push('t'),
            Value::Double(_) => out.push('d'),
            Value::Str(_) => out.push('s'),
            Value::ObjectPath(_) => out.push('o'),
            Value::Signature(_) => out.push('g'),
            Value::UnixFd(_) => out.push('h'),
            Value::Array(element, _) => {
                out.push('a');
                out.push_str(element);
            }
            Value::Struct(fields) => {
                out.push('(');
                fields.iter().for_each(|f| f.write_signature(out));
                out.push(')');
            }
            Value::DictEntry(k, v) => {
                out.push('{');
                k.write_signature(out);
                v.write_signature(out);
                out.push('}');
            }
            Value::Variant(_) => out.push('v'),
        }
    }

    /// The string of a `s`, `o` or `g`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::ObjectPath(s) | Value::Signature(s) => Some(s),
            _ => None,
        }
    }

    /// An unsigned or non-negative signed integer of any width (and a byte).
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Byte(n) => Some(n.into()),
            Value::U16(n) => Some(n.into()),
            Value::U32(n) => Some(n.into()),
            Value::U64(n) => Some(n),
            Value::I16(n) => u64::try_from(n).ok(),
            Value::I32(n) => u64::try_from(n).ok(),
            Value::I64(n) => u64::try_from(n).ok(),
            _ => None,
        }
    }

    /// A `b`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// What a variant holds (any other value: itself).
    pub fn unwrap_variant(&self) -> &Value {
        match self {
            Value::Variant(inner) => inner.unwrap_variant(),
            other => other,
        }
    }

    /// The elements of an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(_, items) => Some(items),
            _ => None,
        }
    }

    /// An `a{sv}` dictionary (the values wrapped in variants), as properties travel.
    pub fn dict_sv<'k>(entries: impl IntoIterator<Item = (&'k str, Value)>) -> Value {
        Value::Array(
            "{sv}".into(),
            entries
                .into_iter()
                .map(|(k, v)| {
                    Value::DictEntry(
                        Box::new(Value::Str(k.into())),
                        Box::new(Value::Variant(Box::new(v))),
                    )
                })
                .collect(),
        )
    }

    /// The entry for `key` in a dictionary with string keys (`a{sv}` and the like), its
    /// variant unwrapped.
    pub fn dict_get(&self, key: &str) -> Option<&Value> {
        self.as_array()?.iter().find_map(|entry| match entry {
            Value::DictEntry(k, v) if k.as_str() == Some(key) => Some(v.unwrap_variant()),
            _ => None,
        })
    }
}

/// Alignment of the type that `code` starts.
fn alignment(code: u8) -> usize {
    match code {
        b'n' | b'q' => 2,
        b'b' | b'i' | b'u' | b's' | b'o' | b'a' | b'h' => 4,
        b'x' | b't' | b'd' | b'(' | b'{' => 8,
        _ => 1,
    }
}

/// The length of the single complete type at the start of `sig`.
fn complete_type_len(sig: &[u8], depth: usize) -> Result<usize, WireError> {
    let bad = || WireError::BadSignature(String::from_utf8_lossy(sig).into_owned());
    if depth > MAX_DEPTH {
        return Err(WireError::TooDeep);
    }
    match sig.first().copied().ok_or_else(bad)? {
        b'y' | b'b' | b'n' | b'q' | b'i' | b'u' | b'x' | b't' | b'd' | b's' | b'o' | b'g'
        | b'h' | b'v' => Ok(1),
        b'a' => Ok(1 + complete_type_len(&sig[1..], depth + 1)?),
        open @ (b'(' | b'{') => {
            let close = if open == b'(' { b')' } else { b'}' };
            let mut at = 1;
            let mut members = 0;
            while sig.get(at).copied().ok_or_else(bad)? != close {
                if open == b'{' && members == 0 && !b"ybnqiuxtdsogh".contains(&sig[at]) {
                    return Err(bad());
                }
                at += complete_type_len(&sig[at..], depth + 1)?;
                members += 1;
            }
            let ok = if open == b'(' {
                members > 0
            } else {
                members == 2
            };
            if ok {
                Ok(at + 1)
            } else {
                Err(bad())
            }
        }
        _ => Err(bad()),
    }
}

/// Split a signature into its single complete types.
pub fn split_signature(sig: &str) -> Result<Vec<&str>, WireError> {
    if sig.len() > 255 {
        return Err(WireError::BadSignature(sig.into()));
    }
    let mut types = Vec::new();
    let mut rest = sig;
    while !rest.is_empty() {
        let len = complete_type_len(rest.as_bytes(), 0)?;
        types.push(&rest[..len]);
        rest = &rest[len..];
    }
    Ok(types)
}

/// Appends marshalled values, aligned relative to the start of the buffer (a message body
/// starts 8-aligned, so the same holds for the whole message).
#[derive(Debug, Default)]
pub struct Writer {
    /// The bytes so far.
    pub buf: Vec<u8>,
}

impl Writer {
    /// Pad with zeros to a multiple of `n` (the header ends 8-aligned).
    pub fn align(&mut self, n: usize) {
        while self.buf.len() % n != 0 {
            self.buf.push(0);
        }
    }

    fn u32(&mut self, n: u32) {
        self.align(4);
        self.buf.extend_from_slice(&n.to_le_bytes());
    }

    fn string(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    fn signature(&mut self, s: &str) {
        self.buf.push(s.len() as u8);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    /// Marshal `value`.
    pub fn value(&mut self, value: &Value) {
        match value {
            Value::Byte(n) => self.buf.push(*n),
            Value::Bool(b) => self.u32(u32::from(*b)),
            Value::I16(n) => self.fixed(2, &n.to_le_bytes()),
            Value::U16(n) => self.fixed(2, &n.to_le_bytes()),
            Value::I32(n) => self.fixed(4, &n.to_le_bytes()),
            Value::U32(n) | Value::UnixFd(n) => self.u32(*n),
            Value::I64(n) => self.fixed(8, &n.to_le_bytes()),
            Value::U64(n) => self.fixed(8, &n.to_le_bytes()),
            Value::Double(d) => self.fixed(8, &d.to_le_bytes()),
            Value::Str(s) | Value::ObjectPath(s) => self.string(s),
            Value::Signature(s) => self.signature(s),
            Value::Array(element, items) => {
                self.u32(0);
                let length_at = self.buf.len() - 4;
                self.align(alignment(
                    element.as_bytes().first().copied().unwrap_or(b'y'),
                ));
                let start = self.buf.len();
                items.iter().for_each(|item| self.value(item));
                let len = (self.buf.len() - start) as u32;
                self.buf[length_at..length_at + 4].copy_from_slice(&len.to_le_bytes());
            }
            Value::Struct(fields) => {
                self.align(8);
                fields.iter().for_each(|f| self.value(f));
            }
            Value::DictEntry(k, v) => {
                self.align(8);
                self.value(k);
                self.value(v);
            }
            Value::Variant(inner) => {
                self.signature(&inner.signature());
                self.value(inner);
            }
        }
    }

    fn fixed(&mut self, align: usize, bytes: &[u8]) {
        self.align(align);
        self.buf.extend_from_slice(bytes);
    }
}

/// Reads values from `data`; alignment is relative to `data`'s start.
#[derive(Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Read from the start of `data`.
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data, pos: 0 }
    }

    /// Bytes read so far (padding included).
    pub fn position(&self) -> usize {
        self.pos
    }

    fn align(&mut self, n: usize) -> Result<(), WireError> {
        let to = self.pos.div_ceil(n) * n;
        let padding = self.data.get(self.pos..to).ok_or(WireError::Truncated)?;
        if padding.iter().any(|&b| b != 0) {
            return Err(WireError::Invalid("padding"));
        }
        self.pos = to;
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::Truncated)?;
        let bytes = self.data.get(self.pos..end).ok_or(WireError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        self.align(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.fixed()?))
    }

    fn text(&mut self, len: usize, what: &'static str) -> Result<String, WireError> {
        let bytes = self.take(len)?;
        if self.take(1)? != [0] {
            return Err(WireError::Invalid(what));
        }
        match std::str::from_utf8(bytes) {
            Ok(s) if !s.contains('\0') => Ok(s.to_string()),
            _ => Err(WireError::Invalid(what)),
        }
    }

    /// Read one value of the single complete type `sig`.
    pub fn value(&mut self, sig: &str) -> Result<Value, WireError> {
        complete_type_len(sig.as_bytes(), 0)?;
        self.value_at(sig.as_bytes(), 0)
    }

    /// Read the values of a whole signature (a message body).
    pub fn values(&mut self, sig: &str) -> Result<Vec<Value>, WireError> {
        split_signature(sig)?
            .into_iter()
            .map(|t| self.value_at(t.as_bytes(), 0))
            .collect()
    }

    fn value_at(&mut self, sig: &[u8], depth: usize) -> Result<Value, WireError> {
        if depth > MAX_DEPTH {
            return Err(WireError::TooDeep);
        }
        let code = sig.first().copied().unwrap_or(0);
        Ok(match code {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => match self.u32()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                _ => return Err(WireError::Invalid("boolean")),
            },
            b'n' => Value::I16(i16::from_le_bytes(self.fixed()?)),
            b'q' => Value::U16(u16::from_le_bytes(self.fixed()?)),
            b'i' => Value::I32(i32::from_le_bytes(self.fixed()?)),
            b'u' => Value::U32(self.u32()?),
            b'h' => Value::UnixFd(self.u32()?),
            b'x' => Value::I64(i64::from_le_bytes(self.fixed()?)),
            b't' => Value::U64(u64::from_le_bytes(self.fixed()?)),
            b'd' => Value::Double(f64::from_le_bytes(self.fixed()?)),
            b's' | b'o' => {
                let len = self.u32()? as usize;
                let text = self.text(len, "string")?;
                if code == b'o' {
                    Value::ObjectPath(text)
                } else {
                    Value::Str(text)
                }
            }
            b'g' => {
                let len = usize::from(self.take(1)?[0]);
                let text = self.text(len, "signature")?;
                split_signature(&text)?;
                Value::Signature(text)
            }
            b'v' => {
                let len = usize::from(self.take(1)?[0]);
                let inner = self.text(len, "signature")?;
                if split_signature(&inner)?.len() != 1 {
                    return Err(WireError::BadSignature(inner));
                }
                Value::Variant(Box::new(self.value_at(inner.as_bytes(), depth + 1)?))
            }
            b'a' => self.array(&sig[1..], depth)?,
            b'(' | b'{' => {
                self.align(8)?;
                let mut fields = Vec::new();
                let mut at = 1;
                while sig[at] != b')' && sig[at] != b'}' {
                    let len = complete_type_len(&sig[at..], depth + 1)?;
                    fields.push(self.value_at(&sig[at..at + len], depth + 1)?);
                    at += len;
                }
                if code == b'(' {
                    Value::Struct(fields)
                } else {
                    let mut kv = fields.into_iter();
                    match (kv.next(), kv.next()) {
                        (Some(k), Some(v)) => Value::DictEntry(Box::new(k), Box::new(v)),
                        _ => return Err(WireError::Invalid("dictionary entry")),
                    }
                }
            }
            _ => {
                return Err(WireError::BadSignature(
                    String::from_utf8_lossy(sig).into_owned(),
                ))
            }
        })
    }

    fn array(&mut self, element: &[u8], depth: usize) -> Result<Value, WireError> {
        let len = self.u32()? as usize;
        if len > MAX_ARRAY {
            return Err(WireError::Invalid("array length"));
        }
        let element_len = complete_type_len(element, depth + 1)?;
        let element = &element[..element_len];
        self.align(alignment(element[0]))?;
        let end = self.pos.checked_add(len).ok_or(WireError::Truncated)?;
        if end > self.data.len() {
            return Err(WireError::Truncated);
        }
        let mut items = Vec::new();
        while self.pos < end {
            items.push(self.value_at(element, depth + 1)?);
        }
        if self.pos != end {
            return Err(WireError::Invalid("array length"));
        }
        let element = String::from_utf8_lossy(element).into_owned();
        Ok(Value::Array(element, items))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: &[Value]) -> Vec<u8> {
        let mut w = Writer::default();
        values.iter().for_each(|v| w.value(v));
        let sig: String = values.iter().map(Value::signature).collect();
        let back = Reader::new(&w.buf).values(&sig).unwrap();
        assert_eq!(back, values);
        w.buf
    }

    #[test]
    fn values_marshal_as_the_specification_says() {
        // ConnMan's GetServices reply: a(oa{sv}).
        let props = Value::Array(
            "{sv}".into(),
            vec![
                Value::DictEntry(
                    Box::new(Value::Str("State".into())),
                    Box::new(Value::Variant(Box::new(Value::Str("online".into())))),
                ),
                Value::DictEntry(
                    Box::new(Value::Str("Strength".into())),
                    Box::new(Value::Variant(Box::new(Value::Byte(70)))),
                ),
            ],
        );
        let services = Value::Array(
            "(oa{sv})".into(),
            vec![Value::Struct(vec![
                Value::ObjectPath("/net/connman/service/ethernet_1".into()),
                props.clone(),
            ])],
        );
        round_trip(std::slice::from_ref(&services));
        assert_eq!(services.signature(), "a(oa{sv})");
        assert_eq!(
            props.dict_get("State").and_then(Value::as_str),
            Some("online")
        );
        assert_eq!(props.dict_get("Strength").and_then(Value::as_u64), Some(70));
        // Alignment: a byte, then a u32 at offset 4, then a u64 at 8; an empty array of
        // structs still pads to 8 after its length.
        let bytes = round_trip(&[Value::Byte(1), Value::U32(2), Value::U64(3)]);
        assert_eq!(bytes, [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
        let bytes = round_trip(&[Value::Array("(ii)".into(), vec![])]);
        assert_eq!(bytes, [0, 0, 0, 0, 0, 0, 0, 0]);
        round_trip(&[
            Value::Bool(true),
            Value::I16(-2),
            Value::U16(2),
            Value::I32(-3),
            Value::I64(-4),
            Value::Double(0.5),
            Value::Signature("a{sv}".into()),
            Value::Variant(Box::new(Value::Array("y".into(), vec![Value::Byte(9)]))),
        ]);
    }

    #[test]
    fn bad_bytes_and_signatures_are_errors_not_panics() {
        for sig in [
            "", "a", "(", "()", "{sv", "{vs}", "a{s}", "z", "(i", "{sss}",
        ] {
            assert!(
                sig.is_empty() && split_signature(sig).unwrap().is_empty()
                    || Reader::new(&[0; 64]).value(sig).is_err(),
                "{sig}"
            );
        }
        let deep = format!("{}y", "a".repeat(70));
        assert_eq!(Reader::new(&[0; 8]).value(&deep), Err(WireError::TooDeep));
        assert_eq!(
            Reader::new(&[5, 0, 0, 0, b'a']).value("s"),
            Err(WireError::Truncated)
        );
        assert_eq!(
            Reader::new(&[2, 0, 0, 0]).value("b"),
            Err(WireError::Invalid("boolean"))
        );
        // An array whose length runs past the data, and one that splits an element.
        assert_eq!(
            Reader::new(&[8, 0, 0, 0, 1, 0, 0, 0]).value("au"),
            Err(WireError::Truncated)
        );
        assert!(Reader::new(&[6, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0])
            .value("au")
            .is_err());
        // Non-zero padding and a string without its NUL.
        assert_eq!(
            Reader::new(&[1, 9, 0, 0, 1, 0, 0, 0]).values("yu"),
            Err(WireError::Invalid("padding"))
        );
        assert!(Reader::new(&[1, 0, 0, 0, b'a', b'b']).value("s").is_err());
    }
}
