//! Downloads to a file the way an OTA agent needs them: streamed, resumable from `FILE.part`,
//! verified, and renamed into place only when complete.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::error::NetworkError;
use super::reply::Reply;
use super::request::Request;
use crate::fs::{
    part_len, part_path, CommitError, FileError, HashedPart, PartFile, PartNotice, RestartReason,
    Validator,
};

/// See [`DownloadOptions::buffer_size`].
const DEFAULT_BUFFER: usize = 1 << 20;

pub use crate::net::Progress;

/// Options for [`download`].
#[derive(Default)]
pub struct DownloadOptions<'a> {
    /// Continue `DEST.part` with a Range request (curl's `-C -`).
    pub resume: bool,
    /// Expected SHA-256 of the complete file; checked before the rename.
    pub sha256: Option<[u8; 32]>,
    /// On a 4xx/5xx reply, write its body to `DEST.error` (see [`error_body_path`]); `DEST`
    /// and `DEST.part` are left alone.
    pub keep_error_body: bool,
    /// Size of the pieces read from the reply and written to the file (default 1 MiB: large
    /// writes plus write-behind are what make a download to flash fast).
    pub buffer_size: Option<usize>,
    /// Called as bytes arrive.
    pub progress: Option<&'a mut dyn FnMut(&Progress)>,
    /// Told when the `.part` restarts, a resume cannot be verified, or the file was already
    /// complete (also logged at info level).
    pub notice: Option<&'a mut dyn FnMut(&PartNotice)>,
}

/// A finished download.
#[derive(Debug)]
pub struct Download {
    /// The reply, its body fully read.
    pub reply: Reply,
    /// Where the file is now.
    pub path: PathBuf,
    /// Size of the complete file.
    pub size: u64,
    /// Bytes that were already in `.part` and not transferred again.
    pub resumed_from: u64,
    /// Hex SHA-256 of the file, when one was asked for.
    pub sha256: Option<String>,
    /// A conditional request ([`Request::if_modified_since`], [`Request::if_none_match`]) was
    /// answered 304: nothing was written, the destination (if any) is as it was, and `size` is
    /// its size.
    pub not_modified: bool,
}

pub use crate::fs::hex;

/// Parse a 64-digit hex SHA-256.
pub fn parse_sha256(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Stream a reply's body into `sink` through `buf`, reporting progress after each piece
/// (starting from `already` bytes, e.g. a resumed prefix). Returns the bytes read.
pub fn copy_body(
    reply: &mut Reply,
    buf: &mut [u8],
    already: u64,
    sink: &mut dyn FnMut(&[u8]) -> Result<(), NetworkError>,
    mut progress: Option<&mut (dyn FnMut(&Progress) + '_)>,
) -> Result<u64, NetworkError> {
    let started = Instant::now();
    let total = reply.content_length().map(|n| n + already);
    let mut done = 0u64;
    loop {
        let n = reply.read_chunk(buf)?;
        if n == 0 {
            return Ok(done);
        }
        sink(&buf[..n])?;
        done += n as u64;
        if let Some(p) = progress.as_mut() {
            p(&Progress {
                bytes: already + done,
                total,
                elapsed: started.elapsed(),
            });
        }
    }
}

/// The start offset in a `Content-Range: bytes START-END/TOTAL` header, or for
/// `bytes */TOTAL` (a 416 reply) the total.
fn content_range(reply: &Reply) -> Option<(Option<u64>, Option<u64>)> {
    let value = reply.header("content-range")?.trim();
    let spec = value.strip_prefix("bytes")?.trim_start();
    let (range, total) = spec.split_once('/')?;
    let total = total.trim().parse().ok();
    if range.trim() == "*" {
        return Some((None, total));
    }
    let start = range.split_once('-')?.0.trim().parse().ok()?;
    Some((Some(start), total))
}

/// A download that failed, with the reply when the server answered (for its status,
/// headers, timings and [`Reply::bytes_received`]).
#[derive(Debug)]
pub struct DownloadError {
    /// What went wrong.
    pub error: NetworkError,
    /// The reply, when the server answered.
    pub reply: Option<Box<Reply>>,
}

impl std::fmt::Display for DownloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for DownloadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl crate::Classify for DownloadError {
    fn class(&self) -> crate::ErrorClass {
        self.error.class()
    }
}

impl From<DownloadError> for NetworkError {
    fn from(e: DownloadError) -> Self {
        e.error
    }
}

impl From<NetworkError> for DownloadError {
    fn from(error: NetworkError) -> Self {
        DownloadError { error, reply: None }
    }
}

/// Where `--keep-error-body` puts a 4xx/5xx body: next to `DEST`, never under its name.
pub fn error_body_path(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(".error");
    PathBuf::from(name)
}

/// What [`save`] wrote.
struct Saved {
    path: PathBuf,
    size: u64,
    resumed_from: u64,
    sha256: Option<String>,
}

/// Download to `dest` through `DEST.part`. See the module docs.
///
/// With [`DownloadOptions::resume`], the `.part`'s [`Validator`] (from the response that
/// started it) goes out as `If-Range`: a server whose file changed sends it whole and the
/// `.part` starts over ([`PartNotice::Restarted`]); without one the resume is
/// [`PartNotice::Unverified`]. A `.part` that already holds the whole file is confirmed —
/// by the 416's `Content-Range`, else by a HEAD whose length and validator agree — and
/// renamed into place without a transfer.
pub fn download(
    request: Request<'_>,
    dest: &Path,
    mut opts: DownloadOptions<'_>,
) -> Result<Download, DownloadError> {
    let offset = if opts.resume { part_len(dest) } else { 0 };
    let stored = (offset > 0).then(|| Validator::load(dest)).flatten();
    // A resume asks for the file as it is: ranges of a compressed representation are not
    // ranges of the file.
    let request = if offset > 0 {
        request.decompress(false)
    } else {
        request
    };
    let probe = request.with_method("HEAD");
    let mut request = request.range_from(offset);
    let if_range = stored.as_ref().and_then(Validator::if_range);
    if let Some(value) = if_range {
        request = request.header("If-Range", value);
    } else if offset > 0 {
        opts.notify(PartNotice::Unverified { from: offset });
    }
    let asked_if_range = if_range.is_some();
    let mut reply = request.send()?;
    if reply.is_not_modified() {
        let size = std::fs::metadata(dest).map_or(0, |m| m.len());
        log::info!("{}: not modified, kept as it is", dest.display());
        return Ok(Download {
            reply,
            path: dest.to_path_buf(),
            size,
            resumed_from: 0,
            sha256: None,
            not_modified: true,
        });
    }
    let mut offset = offset;
    if reply.status() == 416 && offset > 0 {
        reply.discard_body(64 * 1024);
        match holds_whole_file(&reply, &probe, offset, stored.as_ref())? {
            true => return finished(reply, already_complete(dest, offset, &mut opts)),
            false => {
                opts.notify(PartNotice::Restarted {
                    had: offset,
                    reason: RestartReason::Changed,
                });
                offset = 0;
                reply = probe.with_method("GET").send()?;
            }
        }
    }
    let saved = save(&mut reply, dest, offset, asked_if_range, &mut opts);
    finished(reply, saved)
}

fn finished(reply: Reply, saved: Result<Saved, NetworkError>) -> Result<Download, DownloadError> {
    match saved {
        Ok(saved) => Ok(Download {
            reply,
            path: saved.path,
            size: saved.size,
            resumed_from: saved.resumed_from,
            sha256: saved.sha256,
            not_modified: false,
        }),
        Err(error) => Err(DownloadError {
            error,
            reply: Some(Box::new(reply)),
        }),
    }
}

impl DownloadOptions<'_> {
    fn notify(&mut self, notice: PartNotice) {
        log::info!("{notice}");
        if let Some(f) = self.notice.as_mut() {
            f(&notice);
        }
    }
}

/// The validator and full length a reply states (`length`: the whole file's size).
fn validator_of(reply: &Reply, length: Option<u64>) -> Validator {
    Validator {
        etag: reply.header("etag").map(str::to_string),
        last_modified: reply.header("last-modified").map(str::to_string),
        mdtm: None,
        length,
    }
}

/// After a 416 to `Range: bytes=OFFSET-`: whether the `.part` (`offset` bytes) is the whole
/// file. The 416's `Content-Range: bytes */N` says so when N equals it; Apache and lighttpd
/// send none, so a HEAD is asked: its length must be `offset` and its validator the one the
/// `.part` was started with.
fn holds_whole_file(
    reply: &Reply,
    probe: &Request<'_>,
    offset: u64,
    stored: Option<&Validator>,
) -> Result<bool, NetworkError> {
    if let Some((None, Some(total))) = content_range(reply) {
        return Ok(total == offset);
    }
    let head = probe.with_method("HEAD").send()?;
    if let Some(err) = head.error_for_status() {
        return Err(err);
    }
    // A HEAD reply has no body, so its length is in the header only.
    let length = head
        .header("content-length")
        .and_then(|n| n.trim().parse().ok());
    let now = validator_of(&head, length);
    let same_length = now.length == Some(offset);
    let same_version = stored.is_none_or(|s| s.changed(&now) != Some(true));
    log::debug!("416 at byte {offset}: HEAD says {now:?}");
    Ok(same_length && same_version)
}

/// The `.part` holds the whole file: verify it (when a SHA-256 is given) and rename it.
fn already_complete(
    dest: &Path,
    size: u64,
    opts: &mut DownloadOptions<'_>,
) -> Result<Saved, NetworkError> {
    let mut buf = vec![0u8; opts.buffer_size.unwrap_or(DEFAULT_BUFFER).max(4096)];
    let part = HashedPart::new(PartFile::resume(dest)?, opts.sha256, &mut buf)?;
    let saved = finish(part, size)?;
    opts.notify(PartNotice::AlreadyComplete { size });
    Ok(saved)
}

/// Everything after the reply head arrived: status checks, the `.part` file, hashing.
fn save(
    reply: &mut Reply,
    dest: &Path,
    offset: u64,
    asked_if_range: bool,
    opts: &mut DownloadOptions<'_>,
) -> Result<Saved, NetworkError> {
    let mut buf = vec![0u8; opts.buffer_size.unwrap_or(DEFAULT_BUFFER).max(4096)];
    let status = reply.status();
    if status == 416 {
        return Err(NetworkError::ProtocolFailure(format!(
            "the server cannot send {} from byte {offset} (416)",
            part_path(dest).display()
        )));
    }
    if let Some(err) = reply.error_for_status() {
        if opts.keep_error_body {
            let path = error_body_path(dest);
            let mut file =
                std::fs::File::create(&path).map_err(|e| FileError::new(&path, "create", e))?;
            let mut sink = |chunk: &[u8]| {
                std::io::Write::write_all(&mut file, chunk)
                    .map_err(|e| FileError::new(&path, "write", e).into())
            };
            copy_body(reply, &mut buf, 0, &mut sink, None)?;
        }
        return Err(err);
    }

    let resumed = status == 206 && offset > 0;
    let part = if resumed {
        let total = match content_range(reply) {
            Some((Some(start), total)) if start == offset => total,
            _ => {
                return Err(NetworkError::ProtocolFailure(format!(
                    "206 reply does not start at the requested byte {offset} (Content-Range: {})",
                    reply.header("content-range").unwrap_or("missing")
                )))
            }
        };
        let part = PartFile::resume(dest)?;
        if Validator::load(dest).is_none() {
            part.save_validator(&validator_of(reply, total))?;
        }
        part
    } else {
        if offset > 0 {
            let reason = match asked_if_range {
                true => RestartReason::Changed,
                false => RestartReason::NoRanges,
            };
            opts.notify(PartNotice::Restarted {
                had: offset,
                reason,
            });
        }
        let part = PartFile::create(dest)?;
        part.save_validator(&validator_of(reply, reply.content_length()))?;
        part
    };
    if resumed && part.len() != offset {
        return Err(NetworkError::LocalFile(FileError::new(
            part.part(),
            "resume",
            std::io::Error::other("file changed while the request was sent"),
        )));
    }
    let mut part = HashedPart::new(part, opts.sha256, &mut buf)?;
    let already = part.part_file().len();
    let mut sink = |chunk: &[u8]| part.write_chunk(chunk).map_err(NetworkError::from);
    let progress = opts.progress.take();
    copy_body(reply, &mut buf, already, &mut sink, progress)?;
    finish(part, already)
}

fn finish(part: HashedPart, resumed_from: u64) -> Result<Saved, NetworkError> {
    match part.commit() {
        Ok(done) => Ok(Saved {
            path: done.path,
            size: done.size,
            resumed_from,
            sha256: done.sha256,
        }),
        Err(CommitError::File(e)) => Err(e.into()),
        Err(CommitError::Checksum { expected, actual }) => {
            Err(NetworkError::ChecksumMismatch { expected, actual })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_round_trip() {
        let text = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(hex(&parse_sha256(text).unwrap()), text);
        assert_eq!(
            parse_sha256(&text.to_uppercase())
                .map(|d| hex(&d))
                .as_deref(),
            Some(text)
        );
        assert!(parse_sha256("abc").is_none());
        assert!(parse_sha256(&"g".repeat(64)).is_none());
        assert!(parse_sha256(&"é".repeat(32)).is_none());
    }
}
