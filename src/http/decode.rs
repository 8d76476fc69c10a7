//! Content decoding (sans-IO): the `gzip` and `deflate` content codings of RFC 9110 §8.4.1,
//! fed encoded bytes as they arrive and writing decoded bytes into the caller's buffer, with
//! bounded state (a 32 KiB inflate window, no copy of the body) and a cap on the expansion
//! ratio against decompression bombs.
//!
//! Inflating is miniz_oxide's; the gzip framing (RFC 1952: header, CRC-32 and length trailer,
//! concatenated members) and the zlib-or-raw guess for `deflate` (servers send both) are ours.

use std::fmt;

use miniz_oxide::inflate::stream::{inflate, InflateState};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

/// Decoded bytes allowed per encoded byte, past [`RATIO_FREE_BYTES`]. Logs, JSON and HTML
/// compress 5-30:1; DEFLATE's most is about 1030:1 (long runs of one byte), which is what a
/// decompression bomb is made of — a body that expands further than this is refused.
pub const MAX_RATIO: u64 = 100;

/// Decoded bytes always allowed, whatever the ratio (small bodies of repeated bytes are
/// legitimate and harmless).
pub const RATIO_FREE_BYTES: u64 = 16 << 20;

/// A content coding boardnet decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// gzip (RFC 1952).
    Gzip,
    /// deflate: zlib (RFC 1950), or raw deflate as some servers send it.
    Deflate,
}

impl Coding {
    /// The coding a `Content-Encoding` value asks for: `None` for identity (or no value),
    /// `Err` naming one boardnet cannot decode (or a list of several).
    pub fn of(content_encoding: &str) -> Result<Option<Coding>, String> {
        let mut codings = content_encoding
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("identity"));
        let Some(first) = codings.next() else {
            return Ok(None);
        };
        if codings.next().is_some() {
            return Err(format!("several content codings (\"{content_encoding}\")"));
        }
        match first.to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Ok(Some(Coding::Gzip)),
            "deflate" => Ok(Some(Coding::Deflate)),
            _ => Err(format!(
                "content coding \"{first}\" (gzip and deflate are decoded)"
            )),
        }
    }
}

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not valid gzip/deflate data (or a gzip CRC or length that does not match).
    Corrupt(&'static str),
    /// The body ended before the compressed stream did.
    Truncated,
    /// Past [`RATIO_FREE_BYTES`], more than [`MAX_RATIO`] decoded bytes per encoded byte.
    Bomb {
        /// Bytes decoded so far.
        decoded: u64,
        /// Bytes received so far.
        encoded: u64,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Corrupt(why) => write!(f, "the compressed body is corrupt: {why}"),
            DecodeError::Truncated => f.write_str("the compressed body ended before its end"),
            DecodeError::Bomb { decoded, encoded } => write!(
                f,
                "the compressed body expands more than {MAX_RATIO}:1 ({decoded} bytes from \
                 {encoded}): refused as a decompression bomb"
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Where in the stream the decoder is.
#[derive(Debug)]
enum Stage {
    /// `deflate`: waiting for two bytes to tell zlib from raw DEFLATE.
    Sniff,
    GzipHeader(GzipHeader),
    Inflate,
    /// The gzip trailer: CRC-32 and length, little-endian.
    GzipTrailer {
        bytes: [u8; 8],
        have: usize,
    },
    /// The stream ended; anything after it is ignored.
    Done,
}

/// A gzip member header read byte by byte (RFC 1952 §2.3): the fixed ten bytes, then the
/// optional fields its flags announce, skipped without being kept.
#[derive(Debug, Default)]
struct GzipHeader {
    fixed: usize,
    flags: u8,
    /// FEXTRA: its length bytes read, its length, then the bytes left to skip.
    extra_len: [u8; 2],
    extra_len_have: usize,
    extra_left: Option<u16>,
    in_name: bool,
    in_comment: bool,
    crc_left: Option<u8>,
}

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;

impl GzipHeader {
    /// Take one header byte; `Ok(true)` when the header is complete.
    fn push(&mut self, b: u8) -> Result<bool, DecodeError> {
        if self.fixed < 10 {
            match (self.fixed, b) {
                (0, 0x1f) | (1, 0x8b) | (2, 8) => {}
                (0 | 1, _) => return Err(DecodeError::Corrupt("not gzip (bad magic)")),
                (2, _) => return Err(DecodeError::Corrupt("gzip method is not deflate")),
                (3, flags) if flags & 0xe0 != 0 => {
                    return Err(DecodeError::Corrupt("reserved gzip flags set"))
                }
                (3, flags) => {
                    self.flags = flags;
                    self.in_name = flags & FNAME != 0;
                    self.in_comment = flags & FCOMMENT != 0;
                    self.crc_left = (flags & FHCRC != 0).then_some(2);
                }
                _ => {}
            }
            self.fixed += 1;
            return Ok(self.fixed == 10 && self.rest_done());
        }
        if self.flags & FEXTRA != 0 && self.extra_left != Some(0) {
            match self.extra_left.as_mut() {
                None => {
                    self.extra_len[self.extra_len_have] = b;
                    self.extra_len_have += 1;
                    if self.extra_len_have == 2 {
                        self.extra_left = Some(u16::from_le_bytes(self.extra_len));
                    }
                }
                Some(left) => *left -= 1,
            }
        } else if self.in_name {
            self.in_name = b != 0;
        } else if self.in_comment {
            self.in_comment = b != 0;
        } else if let Some(left) = self.crc_left.as_mut() {
            *left -= 1;
        }
        Ok(self.rest_done())
    }

    fn rest_done(&self) -> bool {
        let extra_done = self.flags & FEXTRA == 0 || self.extra_left == Some(0);
        extra_done && !self.in_name && !self.in_comment && self.crc_left.is_none_or(|n| n == 0)
    }
}

/// Decodes one body.
pub struct Decoder {
    coding: Coding,
    stage: Stage,
    inflater: Box<InflateState>,
    /// `deflate`: a first byte held until the second tells the format.
    sniffed: Option<u8>,
    crc: Crc32,
    /// Decoded bytes of the current gzip member (its trailer's ISIZE is this mod 2^32).
    member_len: u64,
    encoded: u64,
    decoded: u64,
}

impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("coding", &self.coding)
            .field("stage", &self.stage)
            .field("encoded", &self.encoded)
            .field("decoded", &self.decoded)
            .finish_non_exhaustive()
    }
}

impl Decoder {
    /// A decoder for `coding`.
    pub fn new(coding: Coding) -> Decoder {
        Decoder {
            coding,
            stage: match coding {
                Coding::Gzip => Stage::GzipHeader(GzipHeader::default()),
                Coding::Deflate => Stage::Sniff,
            },
            inflater: InflateState::new_boxed(DataFormat::Raw),
            sniffed: None,
            crc: Crc32::default(),
            member_len: 0,
            encoded: 0,
            decoded: 0,
        }
    }

    /// Decode from `input` into `out`: `(consumed, written)`. Call again with the rest of
    /// the input (and more room) until it consumes everything, and at the end of the body
    /// with empty input until it writes nothing (the inflater may hold decoded bytes that did
    /// not fit); `written` may be 0 while headers are read.
    pub fn feed(&mut self, input: &[u8], out: &mut [u8]) -> Result<(usize, usize), DecodeError> {
        let mut consumed = 0;
        let mut written = 0;
        while written < out.len() {
            let rest = &input[consumed..];
            let inflating = matches!(self.stage, Stage::Inflate);
            if rest.is_empty() && !inflating {
                break;
            }
            let before = (self.stage_id(), self.sniffed.is_some());
            let (used, wrote) = match &mut self.stage {
                Stage::Done => (rest.len(), 0), // padding or garbage after the stream
                Stage::Sniff => match self.sniffed {
                    None => {
                        self.sniffed = Some(rest[0]);
                        (1, 0)
                    }
                    Some(first) => {
                        self.start_deflate(first, rest[0]);
                        (0, 0)
                    }
                },
                Stage::GzipHeader(header) => {
                    if header.push(rest[0])? {
                        self.inflater.reset(DataFormat::Raw);
                        self.stage = Stage::Inflate;
                    }
                    (1, 0)
                }
                Stage::Inflate => match self.sniffed {
                    // The byte held to tell zlib from raw goes in first.
                    Some(first) => {
                        let (used, wrote) = self.inflate(&[first], &mut out[written..])?;
                        if used == 1 {
                            self.sniffed = None;
                        }
                        (0, wrote)
                    }
                    None => self.inflate(rest, &mut out[written..])?,
                },
                Stage::GzipTrailer { bytes, have } => {
                    let take = (8 - *have).min(rest.len());
                    bytes[*have..*have + take].copy_from_slice(&rest[..take]);
                    *have += take;
                    if *have == 8 {
                        self.check_trailer()?;
                    }
                    (take, 0)
                }
            };
            consumed += used;
            written += wrote;
            let moved = before != (self.stage_id(), self.sniffed.is_some());
            if used == 0 && wrote == 0 && !moved {
                break;
            }
        }
        self.encoded += consumed as u64;
        self.decoded += written as u64;
        if self.decoded > RATIO_FREE_BYTES && self.decoded / MAX_RATIO > self.encoded {
            return Err(DecodeError::Bomb {
                decoded: self.decoded,
                encoded: self.encoded,
            });
        }
        Ok((consumed, written))
    }

    fn stage_id(&self) -> u8 {
        match self.stage {
            Stage::Sniff => 0,
            Stage::GzipHeader(_) => 1,
            Stage::Inflate => 2,
            Stage::GzipTrailer { .. } => 3,
            Stage::Done => 4,
        }
    }

    /// The body ended: `Ok` if the compressed stream was complete.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.encoded == 0 && self.sniffed.is_none() {
            return Ok(()); // no body at all (HEAD, 204, 304) despite its Content-Encoding
        }
        match self.stage {
            Stage::Done => Ok(()),
            // A gzip body of members that ended cleanly and nothing after.
            Stage::GzipHeader(GzipHeader { fixed: 0, .. }) if self.encoded > 0 => Ok(()),
            _ => Err(DecodeError::Truncated),
        }
    }

    /// Decoded bytes so far.
    pub fn decoded(&self) -> u64 {
        self.decoded
    }

    /// `deflate` is zlib-wrapped by the RFC, raw DEFLATE from some servers: a zlib header is
    /// CM=8 with a check value that makes the first two bytes a multiple of 31.
    fn start_deflate(&mut self, first: u8, second: u8) {
        let zlib = first & 0x0f == 8 && (u16::from(first) << 8 | u16::from(second)) % 31 == 0;
        self.inflater.reset(if zlib {
            DataFormat::Zlib
        } else {
            DataFormat::Raw
        });
        self.stage = Stage::Inflate;
    }

    fn inflate(&mut self, input: &[u8], out: &mut [u8]) -> Result<(usize, usize), DecodeError> {
        let r = inflate(&mut self.inflater, input, out, MZFlush::None);
        let wrote = r.bytes_written;
        if self.coding == Coding::Gzip {
            self.crc.update(&out[..wrote]);
            self.member_len += wrote as u64;
        }
        match r.status {
            Ok(MZStatus::StreamEnd) => {
                self.stage = match self.coding {
                    Coding::Gzip => Stage::GzipTrailer {
                        bytes: [0; 8],
                        have: 0,
                    },
                    Coding::Deflate => Stage::Done,
                };
            }
            Ok(_) | Err(MZError::Buf) => {}
            Err(_) => return Err(DecodeError::Corrupt("invalid deflate data")),
        }
        Ok((r.bytes_consumed, wrote))
    }

    /// The gzip trailer must carry the member's CRC-32 and length; another member may follow.
    fn check_trailer(&mut self) -> Result<(), DecodeError> {
        let Stage::GzipTrailer { bytes, .. } = &self.stage else {
            return Ok(());
        };
        let [c0, c1, c2, c3, l0, l1, l2, l3] = *bytes;
        if u32::from_le_bytes([c0, c1, c2, c3]) != self.crc.value() {
            return Err(DecodeError::Corrupt("gzip CRC-32 mismatch"));
        }
        if u64::from(u32::from_le_bytes([l0, l1, l2, l3])) != self.member_len & 0xffff_ffff {
            return Err(DecodeError::Corrupt("gzip length mismatch"));
        }
        self.crc = Crc32::default();
        self.member_len = 0;
        self.stage = Stage::GzipHeader(GzipHeader::default());
        Ok(())
    }
}

/// CRC-32 (IEEE 802.3, as gzip uses it), table-driven.
#[derive(Debug, Clone, Copy)]
struct Crc32(u32);

impl Default for Crc32 {
    fn default() -> Self {
        Crc32(!0)
    }
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

impl Crc32 {
    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = CRC_TABLE[((self.0 ^ u32::from(b)) & 0xff) as usize] ^ (self.0 >> 8);
        }
    }

    fn value(self) -> u32 {
        !self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use miniz_oxide::deflate::{compress_to_vec, compress_to_vec_zlib};

    /// A gzip member of `data` with a file name and a comment in its header.
    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut out = vec![0x1f, 0x8b, 8, FNAME | FCOMMENT, 0, 0, 0, 0, 0, 3];
        out.extend_from_slice(b"fw.bin\0a comment\0");
        out.extend(compress_to_vec(data, 6));
        let mut crc = Crc32::default();
        crc.update(data);
        out.extend_from_slice(&crc.value().to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out
    }

    /// Decode `encoded` fed in pieces of `piece` bytes into a buffer of `room` bytes.
    fn decode(
        coding: Coding,
        encoded: &[u8],
        piece: usize,
        room: usize,
    ) -> Result<Vec<u8>, DecodeError> {
        let mut d = Decoder::new(coding);
        let mut out = Vec::new();
        let mut buf = vec![0u8; room];
        for chunk in encoded.chunks(piece) {
            let mut rest = chunk;
            loop {
                let (used, wrote) = d.feed(rest, &mut buf)?;
                out.extend_from_slice(&buf[..wrote]);
                rest = &rest[used..];
                if rest.is_empty() || (used == 0 && wrote == 0) {
                    break;
                }
            }
        }
        // Drain what the inflater still holds.
        loop {
            let (_, wrote) = d.feed(&[], &mut buf)?;
            if wrote == 0 {
                break;
            }
            out.extend_from_slice(&buf[..wrote]);
        }
        d.finish()?;
        Ok(out)
    }

    fn sample() -> Vec<u8> {
        (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect()
    }

    #[test]
    fn gzip_zlib_and_raw_deflate_decode_in_any_pieces() {
        let data = sample();
        let cases = [
            (Coding::Gzip, gzip(&data)),
            (Coding::Deflate, compress_to_vec_zlib(&data, 6)),
            (Coding::Deflate, compress_to_vec(&data, 6)),
        ];
        for (coding, encoded) in cases {
            for (piece, room) in [(1, 7), (13, 1), (4096, 65_536), (encoded.len(), 1 << 20)] {
                let out = decode(coding, &encoded, piece, room);
                assert_eq!(out.as_deref(), Ok(&data[..]), "{coding:?} {piece}/{room}");
            }
        }
    }

    #[test]
    fn concatenated_gzip_members_are_one_body() {
        let mut two = gzip(b"first ");
        two.extend(gzip(b"second"));
        assert_eq!(decode(Coding::Gzip, &two, 5, 3).unwrap(), b"first second");
    }

    #[test]
    fn corruption_truncation_and_bad_checksums_are_errors() {
        let data = sample();
        let good = gzip(&data);
        let cut = &good[..good.len() / 2];
        assert_eq!(
            decode(Coding::Gzip, cut, 4096, 4096),
            Err(DecodeError::Truncated)
        );
        let mut bad_crc = good.clone();
        let at = bad_crc.len() - 8;
        bad_crc[at] ^= 1;
        assert_eq!(
            decode(Coding::Gzip, &bad_crc, 4096, 4096),
            Err(DecodeError::Corrupt("gzip CRC-32 mismatch"))
        );
        assert!(matches!(
            decode(Coding::Gzip, b"not gzip at all", 4, 4),
            Err(DecodeError::Corrupt(_))
        ));
        let mut garbage = gzip(b"x");
        garbage.truncate(12);
        garbage.extend_from_slice(&[0xff; 64]);
        assert!(decode(Coding::Gzip, &garbage, 64, 64).is_err());
    }

    #[test]
    fn a_decompression_bomb_is_refused_by_ratio() {
        let zeros = vec![0u8; 64 << 20];
        let bomb = compress_to_vec_zlib(&zeros, 10);
        assert!(
            (zeros.len() as u64) / (bomb.len() as u64) > MAX_RATIO,
            "{}",
            bomb.len()
        );
        assert!(matches!(
            decode(Coding::Deflate, &bomb, 4096, 1 << 20),
            Err(DecodeError::Bomb { .. })
        ));
        // Below the free allowance, any ratio is fine.
        let small = compress_to_vec_zlib(&zeros[..1 << 20], 10);
        assert_eq!(
            decode(Coding::Deflate, &small, 4096, 1 << 16)
                .unwrap()
                .len(),
            1 << 20
        );
    }

    #[test]
    fn content_encoding_values() {
        assert_eq!(Coding::of("gzip"), Ok(Some(Coding::Gzip)));
        assert_eq!(Coding::of("X-GZIP"), Ok(Some(Coding::Gzip)));
        assert_eq!(Coding::of("deflate"), Ok(Some(Coding::Deflate)));
        assert_eq!(Coding::of("identity"), Ok(None));
        assert_eq!(Coding::of(""), Ok(None));
        assert!(Coding::of("br").unwrap_err().contains("\"br\""));
        assert!(Coding::of("gzip, deflate").is_err());
    }
}
