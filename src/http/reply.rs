//! `Reply`: QNetworkReply — status, headers and a body you read as it arrives.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ureq::http::{HeaderMap, Uri};
use ureq::BodyReader;

use super::decode::{Coding, DecodeError, Decoder};
use super::error::NetworkError;
use super::transport::{self, TimeoutLimits, Transfer};

/// Where the time of a request went (curl's `-w` timings, as durations not timestamps).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Host name lookups (zero for an IP literal or a reused connection).
    pub dns: Duration,
    /// TCP connects, including to a proxy.
    pub connect: Duration,
    /// TLS handshakes.
    pub tls: Duration,
    /// From the start until the response headers of the final hop arrived.
    pub first_byte: Duration,
    /// From the start until the body was read to its end (or until now, while reading).
    pub total: Duration,
}

/// The URLs a request was redirected from, oldest first: the most recent
/// [`RedirectHistory::KEPT`] of them and how many there were in all, so a long chain (a huge
/// `max` in [`RedirectPolicy`](super::RedirectPolicy)) costs constant memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedirectHistory {
    recent: std::collections::VecDeque<String>,
    count: u32,
}

impl RedirectHistory {
    /// How many URLs are kept.
    pub const KEPT: usize = 20;

    pub(crate) fn push(&mut self, url: String) {
        if self.recent.len() == Self::KEPT {
            self.recent.pop_front();
        }
        self.recent.push_back(url);
        self.count = self.count.saturating_add(1);
    }

    /// Redirects followed in all.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The most recent URLs that redirected (at most [`KEPT`](Self::KEPT)), oldest first.
    pub fn recent(&self) -> impl Iterator<Item = &str> {
        self.recent.iter().map(String::as_str)
    }
}

/// A response. 4xx and 5xx are replies too: check [`status`](Self::status) or
/// [`error_for_status`](Self::error_for_status).
pub struct Reply {
    status: u16,
    version: &'static str,
    headers: HeaderMap,
    url: Uri,
    redirects: RedirectHistory,
    content_length: Option<u64>,
    body: BodyReader<'static>,
    transfer: Arc<Transfer>,
    started: Instant,
    first_byte: Duration,
    finished: Option<Duration>,
    received: u64,
    limits: TimeoutLimits,
    /// The body's content coding being decoded as it is read.
    decoding: Option<Box<Decoding>>,
}

/// A body being decoded: the decoder and the encoded bytes read but not yet decoded.
struct Decoding {
    decoder: Decoder,
    input: Box<[u8]>,
    start: usize,
    end: usize,
    ended: bool,
}

/// Encoded bytes read from the connection at a time when decoding.
const DECODE_INPUT: usize = 32 * 1024;

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("url", &self.url)
            .field("content_length", &self.content_length)
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

impl Reply {
    pub(crate) fn new(
        response: ureq::http::Response<ureq::Body>,
        url: Uri,
        redirects: RedirectHistory,
        transfer: Arc<Transfer>,
        started: Instant,
        limits: TimeoutLimits,
    ) -> Reply {
        let (parts, body) = response.into_parts();
        let content_length = body.content_length();
        Reply {
            status: parts.status.as_u16(),
            version: match parts.version {
                ureq::http::Version::HTTP_10 => "HTTP/1.0",
                _ => "HTTP/1.1",
            },
            headers: parts.headers,
            url,
            redirects,
            content_length,
            body: body.into_reader(),
            transfer,
            started,
            first_byte: started.elapsed(),
            finished: None,
            received: 0,
            limits,
            decoding: None,
        }
    }

    /// Decode the body as it is read when its `Content-Encoding` is gzip or deflate (what
    /// [`Request::decompress`](super::Request::decompress) asked for); its length is then
    /// unknown until the end ([`content_length`](Self::content_length) is `None`).
    pub(crate) fn decode_content(&mut self) -> Result<(), NetworkError> {
        let coding = Coding::of(self.header("content-encoding").unwrap_or_default())
            .map_err(|why| NetworkError::ProtocolFailure(format!("cannot decode {why}")))?;
        if let Some(coding) = coding {
            self.content_length = None;
            self.decoding = Some(Box::new(Decoding {
                decoder: Decoder::new(coding),
                input: vec![0u8; DECODE_INPUT].into_boxed_slice(),
                start: 0,
                end: 0,
                ended: false,
            }));
        }
        Ok(())
    }

    /// The status code of the final reply.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// 304: a conditional request found the resource unchanged (there is no body).
    pub fn is_not_modified(&self) -> bool {
        self.status == 304
    }

    /// "HTTP/1.1" or "HTTP/1.0".
    pub fn version(&self) -> &'static str {
        self.version
    }

    /// The status line as `-i` prints it: version, code and the code's standard reason phrase
    /// ("HTTP/1.1 404 Not Found"). ureq-proto does not keep the server's own wording, which
    /// differs only for non-standard phrases; a code without a standard phrase has none.
    pub fn status_line(&self) -> String {
        let reason = ureq::http::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason());
        match reason {
            Some(reason) => format!("{} {} {reason}", self.version, self.status),
            None => format!("{} {}", self.version, self.status),
        }
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The first value of a header, if it is valid text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The URL that answered (after redirects).
    pub fn url(&self) -> &Uri {
        &self.url
    }

    /// The redirects that led here.
    pub fn redirects(&self) -> &RedirectHistory {
        &self.redirects
    }

    /// The body length the server announced, if it did.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// Body bytes read so far, as they came over the connection (encoded, when decoding).
    pub fn bytes_received(&self) -> u64 {
        self.received
    }

    /// The address of the server this reply came from (when a new connection was made).
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.transfer.phases.lock().ok().and_then(|p| p.remote)
    }

    /// Where the time went so far.
    pub fn timings(&self) -> Timings {
        let phases = self.transfer.phases.lock().map(|p| *p).unwrap_or_default();
        Timings {
            dns: phases.dns,
            connect: phases.connect,
            tls: phases.tls,
            first_byte: self.first_byte,
            total: self.finished.unwrap_or_else(|| self.started.elapsed()),
        }
    }

    /// The error this reply's status stands for (4xx/5xx), like QNetworkReply::error().
    pub fn error_for_status(&self) -> Option<NetworkError> {
        NetworkError::from_status(self.status)
    }

    /// Read body bytes (decoded, when the body is being decoded); `Ok(0)` at the end. Errors
    /// are typed (use the `Read` impl for `io::copy`, and [`NetworkError::from_io`] to get
    /// them back).
    pub fn read_chunk(&mut self, buf: &mut [u8]) -> Result<usize, NetworkError> {
        let Some(mut decoding) = self.decoding.take() else {
            return self.read_wire(buf);
        };
        let result = self.read_decoded(&mut decoding, buf);
        self.decoding = Some(decoding);
        result
    }

    fn read_decoded(&mut self, d: &mut Decoding, buf: &mut [u8]) -> Result<usize, NetworkError> {
        let corrupt = |e: DecodeError| NetworkError::ProtocolFailure(e.to_string());
        loop {
            if d.start == d.end && !d.ended {
                let n = self.read_wire(&mut d.input)?;
                (d.start, d.end, d.ended) = (0, n, n == 0);
            }
            let (used, wrote) = d
                .decoder
                .feed(&d.input[d.start..d.end], buf)
                .map_err(corrupt)?;
            d.start += used;
            if wrote > 0 {
                return Ok(wrote);
            }
            if d.ended && d.start == d.end {
                d.decoder.finish().map_err(corrupt)?;
                return Ok(0);
            }
            if used == 0 && d.start < d.end {
                return Err(corrupt(DecodeError::Corrupt("no progress")));
            }
        }
    }

    /// Read body bytes as they came over the connection.
    fn read_wire(&mut self, buf: &mut [u8]) -> Result<usize, NetworkError> {
        let body = &mut self.body;
        let n = transport::within(&self.transfer, || body.read(buf)).map_err(|e| {
            match e.get_ref().and_then(|x| x.downcast_ref::<ureq::Error>()) {
                Some(_) => match e.into_inner().map(|b| b.downcast::<ureq::Error>()) {
                    Some(Ok(u)) => transport::to_network_error(*u, &self.limits),
                    _ => NetworkError::NetworkFailure("unknown body error".into()),
                },
                None => transport::to_network_error(ureq::Error::Io(e), &self.limits),
            }
        })?;
        self.received += n as u64;
        self.transfer
            .payload(n)
            .map_err(|e| transport::to_network_error(transport::to_ureq(e), &self.limits))?;
        if n == 0 && !buf.is_empty() && self.finished.is_none() {
            self.finished = Some(self.started.elapsed());
        }
        Ok(n)
    }

    /// Read and drop up to `limit` body bytes so the connection can be reused; a longer body
    /// is abandoned (the connection is closed instead).
    pub(crate) fn discard_body(&mut self, limit: u64) {
        let mut buf = [0u8; 4096];
        while self.received < limit {
            match self.read_chunk(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }
}

impl Read for Reply {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_chunk(buf).map_err(io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_history_keeps_the_most_recent_and_counts_all() {
        let mut h = RedirectHistory::default();
        for i in 0..100_000 {
            h.push(format!("http://h/{i}"));
        }
        assert_eq!(h.count(), 100_000);
        let recent: Vec<&str> = h.recent().collect();
        assert_eq!(recent.len(), RedirectHistory::KEPT);
        assert_eq!(recent[0], "http://h/99980");
        assert_eq!(recent[RedirectHistory::KEPT - 1], "http://h/99999");
    }
}
