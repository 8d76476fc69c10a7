//! Authentication, sans I/O: SASL EXTERNAL as every system bus accepts it. The client sends a
//! NUL byte and `AUTH EXTERNAL <uid in hex>`; the bus answers `OK <guid>` (or `REJECTED
//! <mechanisms>`); the client sends `BEGIN` and the connection carries messages from then on.

use super::wire::WireError;

/// Longest line the bus may answer with during authentication.
pub const MAX_LINE: usize = 512;

/// What the client sends first, for the user `uid` (the kernel tells the bus the same
/// through SO_PEERCRED, which is what EXTERNAL checks).
pub fn request(uid: u32) -> Vec<u8> {
    let hex: String = uid
        .to_string()
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("\0AUTH EXTERNAL {hex}\r\n").into_bytes()
}

/// What the client sends once the bus said OK.
pub const BEGIN: &[u8] = b"BEGIN\r\n";

/// The bus's answer to the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Accepted; the bus's GUID.
    Ok(String),
    /// Refused; the mechanisms it would take.
    Rejected(String),
}

/// Read the bus's answer line (without `\r\n`).
pub fn answer(line: &[u8]) -> Result<Answer, WireError> {
    let text = std::str::from_utf8(line).map_err(|_| WireError::Invalid("authentication reply"))?;
    match text.split_once(' ').unwrap_or((text, "")) {
        ("OK", guid) if !guid.is_empty() => Ok(Answer::Ok(guid.to_string())),
        ("REJECTED", mechanisms) => Ok(Answer::Rejected(mechanisms.to_string())),
        _ => Err(WireError::Invalid("authentication reply")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_auth_speaks_the_uid_in_hex() {
        assert_eq!(request(0), b"\0AUTH EXTERNAL 30\r\n");
        assert_eq!(request(1000), b"\0AUTH EXTERNAL 31303030\r\n");
        assert_eq!(
            answer(b"OK 1234deadbeef"),
            Ok(Answer::Ok("1234deadbeef".into()))
        );
        assert_eq!(
            answer(b"REJECTED EXTERNAL DBUS_COOKIE_SHA1"),
            Ok(Answer::Rejected("EXTERNAL DBUS_COOKIE_SHA1".into()))
        );
        assert!(answer(b"OK").is_err());
        assert!(answer(b"ERROR").is_err());
        assert!(answer(&[0xff]).is_err());
    }
}
