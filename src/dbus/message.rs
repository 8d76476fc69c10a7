//! D-Bus messages, sans I/O: a method call, reply, error or signal with its header fields
//! and body, to bytes and back. [`message_len`] says from the first 16 bytes how many make
//! the whole message, so a reader knows what to wait for.

use super::wire::{Reader, Value, WireError, Writer};

/// Largest message the specification allows.
pub const MAX_MESSAGE: usize = 128 << 20;

/// What a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A method call.
    MethodCall,
    /// The reply to one.
    MethodReturn,
    /// An error reply.
    Error,
    /// A signal.
    Signal,
}

impl Kind {
    fn code(self) -> u8 {
        match self {
            Kind::MethodCall => 1,
            Kind::MethodReturn => 2,
            Kind::Error => 3,
            Kind::Signal => 4,
        }
    }
}

/// A message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// What it is.
    pub kind: Kind,
    /// The sender's number for it (set when it is sent).
    pub serial: u32,
    /// NO_REPLY_EXPECTED and friends.
    pub flags: u8,
    /// Object path (calls and signals).
    pub path: Option<String>,
    /// Interface.
    pub interface: Option<String>,
    /// Method or signal name.
    pub member: Option<String>,
    /// Error name (errors).
    pub error_name: Option<String>,
    /// The call a reply or error answers.
    pub reply_serial: Option<u32>,
    /// Bus name it goes to.
    pub destination: Option<String>,
    /// Bus name it came from (set by the bus).
    pub sender: Option<String>,
    /// The body's values.
    pub body: Vec<Value>,
}

impl Message {
    /// A call of `interface.member` on `path` at `destination`.
    pub fn method_call(destination: &str, path: &str, interface: &str, member: &str) -> Message {
        Message {
            kind: Kind::MethodCall,
            serial: 0,
            flags: 0,
            path: Some(path.into()),
            interface: Some(interface.into()),
            member: Some(member.into()),
            error_name: None,
            reply_serial: None,
            destination: Some(destination.into()),
            sender: None,
            body: Vec::new(),
        }
    }

    /// The same with these arguments.
    pub fn with_body(mut self, body: Vec<Value>) -> Message {
        self.body = body;
        self
    }

    /// The body's signature.
    pub fn signature(&self) -> String {
        self.body.iter().map(Value::signature).collect()
    }

    /// The bytes of this message with `serial`.
    pub fn encode(&self, serial: u32) -> Vec<u8> {
        let mut body = Writer::default();
        self.body.iter().for_each(|v| body.value(v));
        let mut fields = Vec::new();
        let mut field = |code: u8, value: Value| {
            fields.push(Value::Struct(vec![
                Value::Byte(code),
                Value::Variant(Box::new(value)),
            ]))
        };
        // In the order of their codes, as dbus-daemon writes them.
        if let Some(p) = &self.path {
            field(1, Value::ObjectPath(p.clone()));
        }
        for (code, s) in [
            (2, &self.interface),
            (3, &self.member),
            (4, &self.error_name),
        ] {
            if let Some(s) = s {
                field(code, Value::Str(s.clone()));
            }
        }
        if let Some(r) = self.reply_serial {
            field(5, Value::U32(r));
        }
        for (code, s) in [(6, &self.destination), (7, &self.sender)] {
            if let Some(s) = s {
                field(code, Value::Str(s.clone()));
            }
        }
        if !self.body.is_empty() {
            field(8, Value::Signature(self.signature()));
        }
        let mut w = Writer::default();
        w.buf
            .extend_from_slice(&[b'l', self.kind.code(), self.flags, 1]);
        w.value(&Value::U32(body.buf.len() as u32));
        w.value(&Value::U32(serial));
        w.value(&Value::Array("(yv)".into(), fields));
        w.align(8);
        w.buf.extend_from_slice(&body.buf);
        w.buf
    }

    /// Read one whole message (as [`message_len`] measured it).
    pub fn decode(bytes: &[u8]) -> Result<Message, WireError> {
        let total = message_len(bytes)?;
        let bytes = bytes.get(..total).ok_or(WireError::Truncated)?;
        let kind = match bytes[1] {
            1 => Kind::MethodCall,
            2 => Kind::MethodReturn,
            3 => Kind::Error,
            4 => Kind::Signal,
            _ => return Err(WireError::Invalid("message type")),
        };
        let mut r = Reader::new(bytes);
        r.values("yyyyuu")?;
        let serial = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        let fields = r.value("a(yv)")?;
        let mut m = Message {
            kind,
            serial,
            flags: bytes[2],
            path: None,
            interface: None,
            member: None,
            error_name: None,
            reply_serial: None,
            destination: None,
            sender: None,
            body: Vec::new(),
        };
        let mut signature = String::new();
        for f in fields.as_array().unwrap_or_default() {
            let Value::Struct(pair) = f else { continue };
            let (Some(Value::Byte(code)), Some(value)) = (pair.first(), pair.get(1)) else {
                continue;
            };
            let value = value.unwrap_variant();
            let text = value.as_str().map(str::to_string);
            match code {
                1 => m.path = text,
                2 => m.interface = text,
                3 => m.member = text,
                4 => m.error_name = text,
                5 => m.reply_serial = value.as_u64().and_then(|n| u32::try_from(n).ok()),
                6 => m.destination = text,
                7 => m.sender = text,
                8 => signature = text.unwrap_or_default(),
                _ => {}
            }
        }
        let body_start = r.position().div_ceil(8) * 8;
        let body = bytes.get(body_start..).ok_or(WireError::Truncated)?;
        let mut body_reader = Reader::new(body);
        m.body = body_reader.values(&signature)?;
        if body_reader.position() != body.len() {
            return Err(WireError::Invalid("body length"));
        }
        Ok(m)
    }
}

/// The whole length of the message that `prefix` (at least its first 16 bytes) starts.
pub fn message_len(prefix: &[u8]) -> Result<usize, WireError> {
    let head = prefix.get(..16).ok_or(WireError::Truncated)?;
    if head[0] != b'l' {
        return Err(WireError::Invalid(
            "byte order (only little-endian peers are read)",
        ));
    }
    if head[3] != 1 {
        return Err(WireError::Invalid("protocol version"));
    }
    // In u64: two u32 lengths cannot overflow it, where they can a 32-bit usize.
    let number = |at: usize| {
        u64::from(u32::from_le_bytes([
            head[at],
            head[at + 1],
            head[at + 2],
            head[at + 3],
        ]))
    };
    let (body, fields) = (number(4), number(12));
    let total = (16 + fields).div_ceil(8) * 8 + body;
    if total > MAX_MESSAGE as u64 {
        return Err(WireError::Invalid("message length"));
    }
    Ok(total as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_round_trips_and_its_length_is_known_from_16_bytes() {
        let call = Message::method_call(
            "net.connman",
            "/net/connman/service/wifi_1",
            "net.connman.Service",
            "SetProperty",
        )
        .with_body(vec![
            Value::Str("AutoConnect".into()),
            Value::Variant(Box::new(Value::Bool(true))),
        ]);
        let bytes = call.encode(7);
        assert_eq!(message_len(&bytes[..16]), Ok(bytes.len()));
        assert_eq!(bytes.len() % 8, (bytes.len() - 16) % 8);
        let back = Message::decode(&bytes).unwrap();
        assert_eq!(back, Message { serial: 7, ..call });
        assert_eq!(back.signature(), "sv");
    }

    /// A reply laid out as dbus-daemon sends `Hello`'s: REPLY_SERIAL, then SIGNATURE.
    #[test]
    fn a_recorded_hello_reply_decodes() {
        let mut bytes = vec![b'l', 2, 1, 1];
        let mut w = Writer::default();
        w.value(&Value::Str(":1.42".into()));
        let body = w.buf;
        bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&1u32.to_le_bytes());
        let mut fields = Writer::default();
        fields.buf.extend_from_slice(&bytes);
        fields.value(&Value::Array(
            "(yv)".into(),
            vec![
                Value::Struct(vec![
                    Value::Byte(5),
                    Value::Variant(Box::new(Value::U32(1))),
                ]),
                Value::Struct(vec![
                    Value::Byte(8),
                    Value::Variant(Box::new(Value::Signature("s".into()))),
                ]),
            ],
        ));
        fields.align(8);
        fields.buf.extend_from_slice(&body);
        let m = Message::decode(&fields.buf).unwrap();
        assert_eq!(m.kind, Kind::MethodReturn);
        assert_eq!(m.reply_serial, Some(1));
        assert_eq!(m.body, vec![Value::Str(":1.42".into())]);
    }

    #[test]
    fn broken_messages_are_errors() {
        let good = Message::method_call("a.b", "/", "a.b", "M").encode(1);
        assert_eq!(message_len(&good[..10]), Err(WireError::Truncated));
        let mut big = good.clone();
        big[0] = b'B';
        assert!(message_len(&big).is_err());
        let mut huge = good.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            message_len(&huge),
            Err(WireError::Invalid("message length"))
        );
        assert_eq!(
            Message::decode(&good[..good.len() - 1]),
            Err(WireError::Truncated)
        );
        for cut in 0..good.len() {
            let _ = Message::decode(&good[..cut]);
        }
    }
}
