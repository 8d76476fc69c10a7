//! Netlink framing, checked by hand before any payload reaches a decoder: message lengths,
//! types, flags, sequence numbers, error codes; and request building.

/// Size of `struct nlmsghdr`.
const HEADER_LEN: usize = 16;
pub(crate) const NLMSG_ERROR: u16 = libc::NLMSG_ERROR as u16;
pub(crate) const NLMSG_DONE: u16 = libc::NLMSG_DONE as u16;
/// NLM_F_DUMP_INTR: a dump was interrupted by a change and is inconsistent.
pub(crate) const NLM_F_DUMP_INTR: u16 = 0x10;

/// Why a datagram could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError(pub(crate) String);

/// One message of a datagram: its header fields and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame<'a> {
    pub(crate) kind: u16,
    pub(crate) flags: u16,
    pub(crate) seq: u32,
    pub(crate) payload: &'a [u8],
}

impl Frame<'_> {
    /// For NLMSG_ERROR: the (negative) errno, 0 for an acknowledgement.
    pub(crate) fn error_code(&self) -> Result<i32, DecodeError> {
        u32_at(self.payload)
            .map(|e| e as i32)
            .ok_or_else(|| DecodeError("error message without a code".into()))
    }
}

/// Split a datagram into its messages. Stops at the first malformed one: lengths after it
/// cannot be trusted.
pub(crate) fn frames(datagram: &[u8]) -> impl Iterator<Item = Result<Frame<'_>, DecodeError>> {
    let mut rest = datagram;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let frame = next_frame(rest);
        rest = match &frame {
            // Messages start on 4-byte boundaries.
            Ok((_, len)) => rest.get(len.next_multiple_of(4)..).unwrap_or_default(),
            Err(_) => &[],
        };
        Some(frame.map(|(f, _)| f))
    })
}

fn next_frame(rest: &[u8]) -> Result<(Frame<'_>, usize), DecodeError> {
    let header = rest
        .get(..HEADER_LEN)
        .ok_or_else(|| DecodeError(format!("{} bytes left, less than a header", rest.len())))?;
    let len = u32_at(header).unwrap_or_default() as usize;
    if len < HEADER_LEN || len > rest.len() {
        return Err(DecodeError(format!(
            "message length {len} with {} bytes left",
            rest.len()
        )));
    }
    Ok((
        Frame {
            kind: u16::from_ne_bytes([header[4], header[5]]),
            flags: u16::from_ne_bytes([header[6], header[7]]),
            seq: u32_at(&header[8..]).unwrap_or_default(),
            payload: &rest[HEADER_LEN..len],
        },
        len,
    ))
}

pub(crate) fn u32_at(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(bytes.get(..4)?.try_into().ok()?))
}

/// A request: header, `body`, then attributes (type, payload), each padded to 4 bytes.
pub(crate) fn request(
    kind: u16,
    flags: u16,
    seq: u32,
    body: &[u8],
    attrs: &[(u16, &[u8])],
) -> Vec<u8> {
    let mut msg = vec![0u8; HEADER_LEN];
    msg.extend_from_slice(body);
    for (t, p) in attrs {
        msg.extend_from_slice(&((4 + p.len()) as u16).to_ne_bytes());
        msg.extend_from_slice(&t.to_ne_bytes());
        msg.extend_from_slice(p);
        msg.resize(msg.len().next_multiple_of(4), 0);
    }
    let len = msg.len() as u32;
    msg[0..4].copy_from_slice(&len.to_ne_bytes());
    msg[4..6].copy_from_slice(&kind.to_ne_bytes());
    msg[6..8].copy_from_slice(&(flags | libc::NLM_F_REQUEST as u16).to_ne_bytes());
    msg[8..12].copy_from_slice(&seq.to_ne_bytes());
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_frame_back_with_padding() {
        let r = request(20, 0x300, 5, &[1, 2, 3, 4], &[(2, b"abc\0x")]);
        assert_eq!(r.len() % 4, 0);
        let mut two = r.clone();
        two.extend_from_slice(&r);
        let frames: Vec<Frame> = frames(&two).map(Result::unwrap).collect();
        assert_eq!(frames.len(), 2);
        assert_eq!((frames[0].kind, frames[0].seq), (20, 5));
        assert_eq!(frames[0].flags, 0x300 | libc::NLM_F_REQUEST as u16);
        assert_eq!(&frames[1].payload[..4], &[1, 2, 3, 4]);
    }

    #[test]
    fn bad_lengths_end_the_datagram_with_an_error() {
        let r = request(20, 0, 1, &[0; 8], &[]);
        for cut in 1..r.len() {
            let got: Vec<_> = frames(&r[..cut]).collect();
            assert_eq!(got.len(), 1);
            assert!(got[0].is_err());
        }
        let mut short = r.clone();
        short[0..4].copy_from_slice(&3u32.to_ne_bytes());
        assert!(frames(&short).next().unwrap().is_err());
        let error = request(libc::NLMSG_ERROR as u16, 0, 1, &(-1i32).to_ne_bytes(), &[]);
        let f = frames(&error).next().unwrap().unwrap();
        assert_eq!(f.error_code(), Ok(-1));
    }
}
