//! Streaming `multipart/form-data` request bodies (RFC 7578), as curl's `-F` builds them.
//!
//! A [`Multipart`] keeps only part headers and in-memory values; file parts are stat'ed when
//! added and opened one at a time while the [`MultipartReader`] is read, so a board with 256 MiB
//! of RAM can upload a file of any size and [`Multipart::content_length`] is known up front
//! (no chunked encoding needed).
//!
//! The encoding is byte-for-byte what curl 7.88 sends for the same `-F` arguments and boundary:
//! each part is `--BOUNDARY\r\n`, a `Content-Disposition` line, an optional `Content-Type` line,
//! an empty line, the data and `\r\n`; the body ends with `--BOUNDARY--\r\n`. In names and file
//! names `"`, CR and LF are written as `%22`, `%0D` and `%0A`, the rule browsers and curl follow.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// curl's boundary prefix: 24 dashes, so our bodies look like curl's to servers that sniff.
const BOUNDARY_DASHES: &str = "------------------------";
/// 12 random bytes give the 24 hex digits after the dashes (96 bits: a collision with file
/// content, which we cannot scan because it is streamed, is not a practical concern).
const BOUNDARY_RANDOM_BYTES: usize = 12;

/// Largest file a `name=<path` field may name: its content is held in memory as a text value.
const MAX_TEXT_FILE_LEN: u64 = 1024 * 1024;

/// Content type of a file part that has none given and whose extension is not in
/// [`CONTENT_TYPES`].
const DEFAULT_FILE_CONTENT_TYPE: &str = "application/octet-stream";

/// File-name extension (lower case, no dot) to content type, for parts that carry a file name.
const CONTENT_TYPES: &[(&str, &str)] = &[
    ("txt", "text/plain"),
    ("html", "text/html"),
    ("htm", "text/html"),
    ("json", "application/json"),
    ("xml", "application/xml"),
    ("css", "text/css"),
    ("js", "application/javascript"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("gif", "image/gif"),
    ("svg", "image/svg+xml"),
    ("pdf", "application/pdf"),
    ("gz", "application/gzip"),
    ("tar", "application/x-tar"),
    ("zip", "application/zip"),
];

/// A `multipart/form-data` body under construction.
///
/// Add parts with [`text`](Self::text), [`file`](Self::file) or
/// [`add_curl_spec`](Self::add_curl_spec), send [`content_type`](Self::content_type) and
/// [`content_length`](Self::content_length) as request headers, then stream the body from
/// [`into_reader`](Self::into_reader). Parts are sent in the order they were added.
#[derive(Debug, Clone)]
pub struct Multipart {
    boundary: String,
    parts: Vec<Part>,
}

/// One encoded part: its header is rendered when the part is added, because the boundary is
/// fixed from construction on and that keeps `content_length` a plain sum.
#[derive(Clone)]
struct Part {
    /// `--BOUNDARY\r\n` through the empty line that ends the part's headers.
    header: Vec<u8>,
    body: Body,
}

#[derive(Clone)]
enum Body {
    Bytes(Vec<u8>),
    /// Streamed when reached; `len` is the size stat'ed when the part was added, which
    /// `content_length` has promised to the server.
    File {
        path: PathBuf,
        len: u64,
    },
}

impl Body {
    fn len(&self) -> u64 {
        match self {
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::File { len, .. } => *len,
        }
    }
}

impl fmt::Debug for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Part");
        s.field("header", &String::from_utf8_lossy(&self.header));
        match &self.body {
            Body::Bytes(bytes) => s.field("bytes", &bytes.len()),
            Body::File { path, len } => s.field("file", path).field("len", len),
        };
        s.finish()
    }
}

impl Multipart {
    /// An empty form with a random curl-style boundary: 24 dashes and 24 hex digits.
    ///
    /// Fails only if the system has no usable random source.
    pub fn new() -> io::Result<Self> {
        Ok(Self::with_boundary(&random_boundary()?))
    }

    /// An empty form with a fixed boundary, for tests and reproducible bodies.
    ///
    /// The boundary must be 1 to 70 characters from RFC 2046's set (letters, digits and
    /// `'()+_,-./:=?` or a space that is not last) and must not occur in any part's data; neither
    /// is checked in release builds.
    pub fn with_boundary(boundary: &str) -> Self {
        debug_assert!(is_valid_boundary(boundary), "invalid boundary {boundary:?}");
        Multipart {
            boundary: boundary.to_owned(),
            parts: Vec::new(),
        }
    }

    /// Adds a field whose value is held in memory.
    ///
    /// Without `content_type` the part has no `Content-Type` header, which receivers read as
    /// `text/plain` (RFC 7578 section 4.4).
    pub fn text(&mut self, name: &str, value: &[u8], content_type: Option<&str>) {
        self.add_bytes(name, value.to_vec(), None, content_type);
    }

    /// A file part, streamed from disk when the body is read.
    ///
    /// The file is stat'ed now and its length counted in [`content_length`](Self::content_length);
    /// reading the body fails if the size has changed by then. `filename` defaults to the path's
    /// last component; `content_type` defaults by the (effective) file name's extension, as curl
    /// does, falling back to `application/octet-stream`.
    ///
    /// # Errors
    ///
    /// An [`io::Error`] whose message names the path if the file cannot be stat'ed or is not a
    /// regular file (a directory, a FIFO or a device has no length to announce).
    pub fn file(
        &mut self,
        name: &str,
        path: &Path,
        filename: Option<&str>,
        content_type: Option<&str>,
    ) -> io::Result<()> {
        let meta = fs::metadata(path).map_err(|e| path_error(path, &e))?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a regular file", path.display()),
            ));
        }
        let filename: Cow<'_, [u8]> = match filename {
            Some(f) => Cow::Borrowed(f.as_bytes()),
            None => path.file_name().map_or(Cow::Borrowed(&[][..]), os_bytes),
        };
        let content_type = content_type
            .or_else(|| content_type_for(&filename))
            .unwrap_or(DEFAULT_FILE_CONTENT_TYPE);
        let header = self.part_header(name.as_bytes(), Some(&filename), Some(content_type));
        self.parts.push(Part {
            header,
            body: Body::File {
                path: path.to_owned(),
                len: meta.len(),
            },
        });
        Ok(())
    }

    /// Parses one curl `-F` argument and adds the part it describes.
    ///
    /// Accepted forms, as in curl:
    /// - `name=value`, optionally followed by `;type=mime` and/or `;filename=x`;
    /// - `name=@path[;type=mime][;filename=x]`: a file part, as [`file`](Self::file);
    /// - `name=<path[;type=mime]`: a text field whose value is the file's content, read now
    ///   (at most 1 MiB, since it is held in memory).
    ///
    /// A value, path or file name may be double-quoted so it can contain `;` or `,`, with `\"`
    /// and `\\` as escapes inside; a quoted value that starts with `@`, `<` or `(` is literal.
    /// Leading and trailing white space of unquoted words is dropped. `type=` may carry
    /// parameters (`type=text/plain; charset=utf-8`). Unlike curl, which warns and goes on, an
    /// unknown `;param=` is an error, because dropping part of a value silently sends the wrong
    /// data.
    ///
    /// # Errors
    ///
    /// A [`FormSpecError`] saying what is wrong with `spec`; the form is unchanged then.
    pub fn add_curl_spec(&mut self, spec: &str) -> Result<(), FormSpecError> {
        let err = |kind| FormSpecError::new(spec, kind);
        let Some((name, value)) = spec.split_once('=') else {
            return Err(FormSpecError::MissingEquals {
                spec: spec.to_owned(),
            });
        };
        if name.is_empty() {
            // curl would send a part without a name, which RFC 7578 forbids and servers drop.
            return Err(FormSpecError::EmptyName {
                spec: spec.to_owned(),
            });
        }
        if let Some(rest) = value.strip_prefix('@') {
            let params = parse_params(rest, Some(b','), true).map_err(err)?;
            if params.sep == Some(b',') {
                return Err(err(SpecErrorKind::Unsupported(
                    "several files in one field ('@a,b')",
                    "quote a path that contains ','",
                )));
            }
            let path = file_operand(&params.data, '@').map_err(err)?;
            self.file(
                name,
                path,
                params.filename.as_deref(),
                params.content_type.as_deref(),
            )
            .map_err(|e| err(SpecErrorKind::Io(e)))
        } else if let Some(rest) = value.strip_prefix('<') {
            let params = parse_params(rest, None, false).map_err(err)?;
            let path = file_operand(&params.data, '<').map_err(err)?;
            let data = read_small_file(path).map_err(err)?;
            self.add_bytes(name, data, None, params.content_type.as_deref());
            Ok(())
        } else if value.starts_with('(') {
            Err(err(SpecErrorKind::Unsupported(
                "a nested multipart ('(...)')",
                "quote the value to send it literally",
            )))
        } else {
            let params = parse_params(value, None, true).map_err(err)?;
            self.add_bytes(
                name,
                params.data.into_bytes(),
                params.filename.as_deref().map(str::as_bytes),
                params.content_type.as_deref(),
            );
            Ok(())
        }
    }

    /// The request's `Content-Type` header value: `multipart/form-data; boundary=...`.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The exact length in bytes of the encoded body that [`into_reader`](Self::into_reader)
    /// yields, for the `Content-Length` header.
    pub fn content_length(&self) -> u64 {
        let parts = self.parts.iter().fold(0u64, |total, part| {
            total
                .saturating_add(part.header.len() as u64)
                .saturating_add(part.body.len())
                .saturating_add(2)
        });
        parts.saturating_add(self.closing().len() as u64)
    }

    /// Turns the form into a reader of its encoded body.
    pub fn into_reader(self) -> MultipartReader {
        let closing = self.closing();
        let mut segments = VecDeque::with_capacity(self.parts.len() * 3 + 1);
        for part in self.parts {
            segments.push_back(Segment::memory(part.header));
            match part.body {
                Body::Bytes(bytes) => segments.push_back(Segment::memory(bytes)),
                Body::File { path, len } => segments.push_back(Segment::File(FileUpload {
                    path,
                    len,
                    sent: 0,
                    file: None,
                })),
            }
            segments.push_back(Segment::memory(&b"\r\n"[..]));
        }
        segments.push_back(Segment::memory(closing.into_bytes()));
        MultipartReader {
            segments,
            failed: None,
        }
    }

    fn closing(&self) -> String {
        format!("--{}--\r\n", self.boundary)
    }

    /// Adds an in-memory part. A part with a file name gets a content type from the extension
    /// table when none is given, but no default: that is what curl does for `name=v;filename=x`.
    fn add_bytes(
        &mut self,
        name: &str,
        value: Vec<u8>,
        filename: Option<&[u8]>,
        content_type: Option<&str>,
    ) {
        let content_type = content_type.or_else(|| filename.and_then(content_type_for));
        let header = self.part_header(name.as_bytes(), filename, content_type);
        self.parts.push(Part {
            header,
            body: Body::Bytes(value),
        });
    }

    fn part_header(
        &self,
        name: &[u8],
        filename: Option<&[u8]>,
        content_type: Option<&str>,
    ) -> Vec<u8> {
        let mut h = Vec::with_capacity(100 + self.boundary.len() + name.len());
        h.extend_from_slice(b"--");
        h.extend_from_slice(self.boundary.as_bytes());
        h.extend_from_slice(b"\r\nContent-Disposition: form-data; name=\"");
        push_escaped(&mut h, name);
        h.push(b'"');
        if let Some(filename) = filename {
            h.extend_from_slice(b"; filename=\"");
            push_escaped(&mut h, filename);
            h.push(b'"');
        }
        h.extend_from_slice(b"\r\n");
        if let Some(content_type) = content_type {
            h.extend_from_slice(b"Content-Type: ");
            // A CR or LF would end the header early and let the value inject headers or
            // corrupt the framing, so they become spaces.
            h.extend(content_type.bytes().map(|b| match b {
                b'\r' | b'\n' => b' ',
                b => b,
            }));
            h.extend_from_slice(b"\r\n");
        }
        h.extend_from_slice(b"\r\n");
        h
    }
}

/// Writes a name or file name for a quoted header parameter with the browsers' escapes, so a
/// `"` cannot end the quoted string and CR/LF cannot end the header.
fn push_escaped(out: &mut Vec<u8>, s: &[u8]) {
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"%22"),
            b'\r' => out.extend_from_slice(b"%0D"),
            b'\n' => out.extend_from_slice(b"%0A"),
            b => out.push(b),
        }
    }
}

/// The content type for a file name's extension (after the last `.`, case-insensitive), if the
/// table knows it.
fn content_type_for(filename: &[u8]) -> Option<&'static str> {
    let dot = filename.iter().rposition(|&b| b == b'.')?;
    let ext = filename.get(dot + 1..)?;
    CONTENT_TYPES
        .iter()
        .find(|(known, _)| known.as_bytes().eq_ignore_ascii_case(ext))
        .map(|&(_, content_type)| content_type)
}

/// A file name's bytes as they are on disk: the header carries bytes, so a name that is not
/// UTF-8 is still sent as the server would see it in a listing.
fn os_bytes(name: &std::ffi::OsStr) -> Cow<'_, [u8]> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Cow::Borrowed(name.as_bytes())
    }
    #[cfg(not(unix))]
    {
        match name.to_string_lossy() {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        }
    }
}

fn is_valid_boundary(boundary: &str) -> bool {
    let b = boundary.as_bytes();
    (1..=70).contains(&b.len())
        && !boundary.ends_with(' ')
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&c))
}

fn random_boundary() -> io::Result<String> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut random = [0u8; BOUNDARY_RANDOM_BYTES];
    crate::random::fill(&mut random)?;
    let mut boundary = String::with_capacity(BOUNDARY_DASHES.len() + 2 * random.len());
    boundary.push_str(BOUNDARY_DASHES);
    for byte in random {
        boundary.push(char::from(HEX[usize::from(byte >> 4)]));
        boundary.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    Ok(boundary)
}

/// Reader of a [`Multipart`] body, from [`Multipart::into_reader`].
///
/// Headers and in-memory values are copied from memory; each file is opened when the reader
/// reaches it and closed when it is done, so at most one descriptor is open at a time, and its
/// bytes are read straight into the caller's buffer. A read fills as much of the buffer as the
/// body allows.
///
/// If a file cannot be opened or read, or yields fewer or more bytes than it had when it was
/// added (`file changed size while uploading: PATH`, kind [`io::ErrorKind::InvalidData`]), the
/// read fails and every later read fails the same way, so a body whose length differs from
/// [`Multipart::content_length`] is never completed. Bytes already returned stay valid; an error
/// that occurs after some bytes were copied in the same call is reported by the next call.
pub struct MultipartReader {
    segments: VecDeque<Segment>,
    /// Set by the first hard error; io::Error is not Clone, so its kind and message are kept.
    failed: Option<(io::ErrorKind, String)>,
}

enum Segment {
    Memory {
        data: Cow<'static, [u8]>,
        pos: usize,
    },
    File(FileUpload),
}

impl Segment {
    fn memory(data: impl Into<Cow<'static, [u8]>>) -> Self {
        Segment::Memory {
            data: data.into(),
            pos: 0,
        }
    }
}

struct FileUpload {
    path: PathBuf,
    /// The size announced in the content length.
    len: u64,
    sent: u64,
    file: Option<File>,
}

impl fmt::Debug for MultipartReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let current = self.segments.front().map(|segment| match segment {
            Segment::Memory { data, pos } => format!("memory {pos}/{}", data.len()),
            Segment::File(upload) => format!(
                "file {} {}/{}",
                upload.path.display(),
                upload.sent,
                upload.len
            ),
        });
        f.debug_struct("MultipartReader")
            .field("segments_left", &self.segments.len())
            .field("current", &current)
            .field("failed", &self.failed)
            .finish()
    }
}

impl Read for MultipartReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some((kind, message)) = &self.failed {
            return Err(io::Error::new(*kind, message.clone()));
        }
        let mut filled = 0;
        while let Some(rest) = buf.get_mut(filled..).filter(|rest| !rest.is_empty()) {
            match self.fill_some(rest) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) => {
                    // Interrupted is retryable by contract, so it must not poison the reader.
                    if e.kind() != io::ErrorKind::Interrupted {
                        self.failed = Some((e.kind(), e.to_string()));
                    }
                    // Read's contract forbids returning an error after bytes were written into
                    // `buf`; those bytes go out now and the error comes with the next call.
                    if filled == 0 {
                        return Err(e);
                    }
                    break;
                }
            }
        }
        Ok(filled)
    }
}

impl MultipartReader {
    /// Copies some bytes of the current segment into the non-empty `buf`, moving past finished
    /// segments; `Ok(0)` only at the end of the body.
    fn fill_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while let Some(segment) = self.segments.front_mut() {
            let n = match segment {
                Segment::Memory { data, pos } => {
                    let rest = data.get(*pos..).unwrap_or_default();
                    let n = rest.len().min(buf.len());
                    buf[..n].copy_from_slice(&rest[..n]);
                    *pos += n;
                    n
                }
                Segment::File(upload) => upload.read_into(buf)?,
            };
            if n > 0 {
                return Ok(n);
            }
            // Dropping a finished file segment closes its descriptor before the next opens.
            self.segments.pop_front();
        }
        Ok(0)
    }

    /// Bytes held in memory for parts not yet sent (headers and in-memory values): what the
    /// reader costs besides one open file, for the memory test.
    #[cfg(test)]
    fn buffered_bytes(&self) -> usize {
        self.segments
            .iter()
            .map(|segment| match segment {
                Segment::Memory { data, .. } => data.len(),
                Segment::File(_) => 0,
            })
            .sum()
    }
}

impl FileUpload {
    /// Reads the next bytes of the file into `buf`, opening it first if needed; `Ok(0)` once
    /// exactly `len` bytes were read and the file has ended.
    fn read_into(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let file = match &mut self.file {
            Some(file) => file,
            slot @ None => slot.insert(open_for_upload(&self.path, self.len)?),
        };
        let remaining = self.len - self.sent;
        if remaining == 0 {
            // Only reading past the announced end tells whether the file grew while it was
            // being sent: one extra read per file.
            let mut probe = [0u8; 1];
            let extra = file
                .read(&mut probe)
                .map_err(|e| path_error(&self.path, &e))?;
            if extra != 0 {
                return Err(changed_size(&self.path));
            }
            self.file = None;
            return Ok(0);
        }
        let want = usize::try_from(remaining).map_or(buf.len(), |r| r.min(buf.len()));
        let n = file
            .read(&mut buf[..want])
            .map_err(|e| path_error(&self.path, &e))?;
        if n == 0 {
            return Err(changed_size(&self.path));
        }
        self.sent += n as u64;
        Ok(n)
    }
}

/// Opens a file part's file and checks it still is the regular file of the announced size, so a
/// change made before the upload reached it fails before any of its bytes are sent.
fn open_for_upload(path: &Path, len: u64) -> io::Result<File> {
    let file = File::open(path).map_err(|e| path_error(path, &e))?;
    let meta = file.metadata().map_err(|e| path_error(path, &e))?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: no longer a regular file", path.display()),
        ));
    }
    if meta.len() != len {
        return Err(changed_size(path));
    }
    Ok(file)
}

fn changed_size(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("file changed size while uploading: {}", path.display()),
    )
}

/// `PATH: reason` with the same kind, without std's ` (os error N)` suffix: the message is for
/// people, and the kind is still there for code.
fn path_error(path: &Path, e: &io::Error) -> io::Error {
    let mut message = e.to_string();
    if let Some(code) = e.raw_os_error() {
        let suffix = format!(" (os error {code})");
        if message.ends_with(&suffix) {
            message.truncate(message.len() - suffix.len());
        }
    }
    io::Error::new(e.kind(), format!("{}: {message}", path.display()))
}

/// Why a curl `-F` argument was rejected by [`Multipart::add_curl_spec`].
///
/// Every variant carries the argument as given; the message starts with `-F 'SPEC': ` and says
/// what to change.
#[derive(Debug)]
#[non_exhaustive]
pub enum FormSpecError {
    /// No `=` between the field name and its value.
    MissingEquals {
        /// The `-F` argument.
        spec: String,
    },
    /// Nothing before the `=`: RFC 7578 requires a name (curl would send a nameless part).
    EmptyName {
        /// The `-F` argument.
        spec: String,
    },
    /// Nothing after `@` or `<`.
    EmptyPath {
        /// The `-F` argument.
        spec: String,
        /// `@` or `<`.
        marker: char,
    },
    /// `@-` or `<-`: curl's standard input, which this form does not read.
    Stdin {
        /// The `-F` argument.
        spec: String,
        /// `@` or `<`.
        marker: char,
    },
    /// `type=` without a `type/subtype`.
    BadContentType {
        /// The `-F` argument.
        spec: String,
        /// The text after `type=`.
        value: String,
    },
    /// A `;param=value` other than `type=` and `filename=`; most often an unquoted value with a
    /// `;` in it.
    UnknownParameter {
        /// The `-F` argument.
        spec: String,
        /// The unrecognised block.
        param: String,
    },
    /// `filename=` after `<path`, whose content is sent as a text field.
    FilenameNotAllowed {
        /// The `-F` argument.
        spec: String,
    },
    /// Text after a closing quote, before the next `;`.
    TrailingData {
        /// The `-F` argument.
        spec: String,
        /// What followed the quote.
        rest: String,
    },
    /// A curl feature this form does not implement (`headers=`, `encoder=`, `(...)` nested
    /// parts, several files after one `@`).
    Unsupported {
        /// The `-F` argument.
        spec: String,
        /// What was asked for.
        what: &'static str,
        /// What to do instead, or empty.
        hint: &'static str,
    },
    /// A `<path` file larger than the limit for values held in memory (1 MiB).
    TooLarge {
        /// The `-F` argument.
        spec: String,
        /// The file named after `<`.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// A file named by the argument could not be used; the error's message names the path and
    /// its kind tells a missing file from a permission problem.
    Io {
        /// The `-F` argument.
        spec: String,
        /// What went wrong, as `PATH: reason`.
        source: io::Error,
    },
}

/// A parse failure before the argument it belongs to is attached.
#[derive(Debug)]
enum SpecErrorKind {
    EmptyPath(char),
    Stdin(char),
    BadContentType(String),
    UnknownParameter(String),
    FilenameNotAllowed,
    TrailingData(String),
    Unsupported(&'static str, &'static str),
    TooLarge(PathBuf),
    Io(io::Error),
}

impl FormSpecError {
    fn new(spec: &str, kind: SpecErrorKind) -> Self {
        let spec = spec.to_owned();
        match kind {
            SpecErrorKind::EmptyPath(marker) => FormSpecError::EmptyPath { spec, marker },
            SpecErrorKind::Stdin(marker) => FormSpecError::Stdin { spec, marker },
            SpecErrorKind::BadContentType(value) => FormSpecError::BadContentType { spec, value },
            SpecErrorKind::UnknownParameter(param) => {
                FormSpecError::UnknownParameter { spec, param }
            }
            SpecErrorKind::FilenameNotAllowed => FormSpecError::FilenameNotAllowed { spec },
            SpecErrorKind::TrailingData(rest) => FormSpecError::TrailingData { spec, rest },
            SpecErrorKind::Unsupported(what, hint) => {
                FormSpecError::Unsupported { spec, what, hint }
            }
            SpecErrorKind::TooLarge(path) => FormSpecError::TooLarge {
                spec,
                path,
                limit: MAX_TEXT_FILE_LEN,
            },
            SpecErrorKind::Io(source) => FormSpecError::Io { spec, source },
        }
    }

    /// The `-F` argument that was rejected.
    pub fn spec(&self) -> &str {
        match self {
            FormSpecError::MissingEquals { spec }
            | FormSpecError::EmptyName { spec }
            | FormSpecError::EmptyPath { spec, .. }
            | FormSpecError::Stdin { spec, .. }
            | FormSpecError::BadContentType { spec, .. }
            | FormSpecError::UnknownParameter { spec, .. }
            | FormSpecError::FilenameNotAllowed { spec }
            | FormSpecError::TrailingData { spec, .. }
            | FormSpecError::Unsupported { spec, .. }
            | FormSpecError::TooLarge { spec, .. }
            | FormSpecError::Io { spec, .. } => spec,
        }
    }
}

impl fmt::Display for FormSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "-F '{}': ", self.spec())?;
        match self {
            FormSpecError::MissingEquals { .. } => f.write_str("missing '='"),
            FormSpecError::EmptyName { .. } => f.write_str("empty field name before '='"),
            FormSpecError::EmptyPath { marker, .. } => {
                write!(f, "missing file name after '{marker}'")
            }
            FormSpecError::Stdin { marker, .. } => {
                write!(f, "reading standard input ('{marker}-') is not supported")
            }
            FormSpecError::BadContentType { value, .. } => write!(
                f,
                "malformed type '{value}': expected type/subtype, e.g. type=text/plain"
            ),
            FormSpecError::UnknownParameter { param, .. } => write!(
                f,
                "unknown parameter '{param}' (known: type=, filename=); \
                 quote a value that contains ';'"
            ),
            FormSpecError::FilenameNotAllowed { .. } => f.write_str(
                "filename= is not allowed with '<', which sends the content as a text field; \
                 use '@' to upload a file",
            ),
            FormSpecError::TrailingData { rest, .. } => {
                write!(f, "unexpected '{rest}' after closing quote")
            }
            FormSpecError::Unsupported { what, hint, .. } => {
                write!(f, "{what} is not supported")?;
                if !hint.is_empty() {
                    write!(f, "; {hint}")?;
                }
                Ok(())
            }
            FormSpecError::TooLarge { path, limit, .. } => write!(
                f,
                "{}: larger than {} KiB, the limit for '<' text fields; \
                 use '@' to upload it as a file",
                path.display(),
                limit / 1024
            ),
            FormSpecError::Io { source, .. } => write!(f, "{source}"),
        }
    }
}

impl std::error::Error for FormSpecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FormSpecError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// What follows `=`, `@` or `<` in a `-F` argument, split as curl's `get_param_part` does.
#[derive(Debug, Default)]
struct Params {
    data: String,
    content_type: Option<String>,
    filename: Option<String>,
    /// The `endchar` that stopped parsing (`,` between files after `@`), if any.
    sep: Option<u8>,
}

/// curl's ISSPACE: the C locale's white space.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn is_space_char(c: char) -> bool {
    u8::try_from(c).is_ok_and(is_space)
}

fn trim_end_space(s: &str) -> &str {
    s.trim_end_matches(is_space_char)
}

fn skip_spaces(s: &[u8], pos: &mut usize) {
    while s.get(*pos).is_some_and(|&b| is_space(b)) {
        *pos += 1;
    }
}

/// Whether `b` ends an unquoted word or a parameter block.
fn ends_block(b: u8, endchar: Option<u8>) -> bool {
    b == b';' || Some(b) == endchar
}

/// Parses `data[;param=value]...` from `s`. All delimiters are ASCII, so every index used to
/// slice `s` is a char boundary.
fn parse_params(
    s: &str,
    endchar: Option<u8>,
    filename_allowed: bool,
) -> Result<Params, SpecErrorKind> {
    let b = s.as_bytes();
    let mut pos = 0;
    let mut params = Params::default();
    skip_spaces(b, &mut pos);
    params.data = param_word(s, &mut pos, endchar)?;

    // The content type is the raw text from after `type=` to its last non-space character;
    // like curl, unknown `;blocks` right after it are its parameters (`; charset=utf-8`).
    let mut content_type: Option<(usize, usize)> = None;
    let mut content_type_open = false;
    while b.get(pos) == Some(&b';') {
        pos += 1;
        skip_spaces(b, &mut pos);
        let rest = b.get(pos..).unwrap_or_default();
        if !content_type_open && starts_with_ignore_case(rest, b"type=") {
            pos += 5;
            skip_spaces(b, &mut pos);
            let start = pos;
            // type/subtype, each non-empty, as curl's sscanf("%[^/ ]/%[^;, \n]") checks.
            let major_end = scan(b, start, |c| {
                c != b'/' && !is_space(c) && !ends_block(c, endchar)
            });
            let minor_end = scan(b, major_end + 1, |c| {
                c != b',' && !is_space(c) && !ends_block(c, endchar)
            });
            if major_end == start || b.get(major_end) != Some(&b'/') || minor_end == major_end + 1 {
                let block_end = scan(b, start, |c| !ends_block(c, endchar));
                return Err(SpecErrorKind::BadContentType(
                    s[start..block_end].to_owned(),
                ));
            }
            pos = minor_end;
            let mut end = minor_end;
            extend_block(b, &mut pos, &mut end, endchar);
            content_type = Some((start, end));
            content_type_open = true;
        } else if starts_with_ignore_case(rest, b"filename=") {
            if !filename_allowed {
                return Err(SpecErrorKind::FilenameNotAllowed);
            }
            content_type_open = false;
            pos += 9;
            skip_spaces(b, &mut pos);
            params.filename = Some(param_word(s, &mut pos, endchar)?);
        } else if starts_with_ignore_case(rest, b"headers=") {
            return Err(SpecErrorKind::Unsupported(
                "headers=",
                "add the header to the request instead",
            ));
        } else if starts_with_ignore_case(rest, b"encoder=") {
            return Err(SpecErrorKind::Unsupported("encoder=", ""));
        } else if content_type_open {
            let block_start = pos;
            let mut end = pos;
            extend_block(b, &mut pos, &mut end, endchar);
            // An empty block (`type=a/b;`) adds nothing; curl would keep the `;`.
            if end > block_start {
                if let Some((_, content_type_end)) = content_type.as_mut() {
                    *content_type_end = end;
                }
            }
        } else {
            let start = pos;
            pos = scan(b, pos, |c| !ends_block(c, endchar));
            let unknown = trim_end_space(&s[start..pos]);
            // curl skips empty blocks silently (`a=b;`), and so do we.
            if !unknown.is_empty() {
                return Err(SpecErrorKind::UnknownParameter(unknown.to_owned()));
            }
        }
    }
    params.content_type = content_type.map(|(start, end)| s[start..end].to_owned());
    params.sep = b.get(pos).copied();
    Ok(params)
}

/// Index of the first byte at or after `from` that `keep` rejects (or the end).
fn scan(b: &[u8], from: usize, keep: impl Fn(u8) -> bool) -> usize {
    b.get(from..)
        .and_then(|rest| rest.iter().position(|&c| !keep(c)))
        .map_or(b.len().max(from), |i| from + i)
}

/// Moves `pos` to the end of the current parameter block and `end` past its last non-space
/// byte, if it has one.
fn extend_block(b: &[u8], pos: &mut usize, end: &mut usize, endchar: Option<u8>) {
    while let Some(&c) = b.get(*pos) {
        if ends_block(c, endchar) {
            break;
        }
        *pos += 1;
        if !is_space(c) {
            *end = *pos;
        }
    }
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// One value as curl's `get_param_word` reads it: either `"..."` with `\"` and `\\` escapes
/// (nothing but white space may follow the closing quote), or everything up to `;` or
/// `endchar` with trailing white space removed. An opening quote without a closing one is an
/// ordinary character, as in curl.
fn param_word(s: &str, pos: &mut usize, endchar: Option<u8>) -> Result<String, SpecErrorKind> {
    let b = s.as_bytes();
    if b.get(*pos) == Some(&b'"') {
        let mut word = String::new();
        let mut segment_start = *pos + 1;
        let mut i = segment_start;
        while let Some(&c) = b.get(i) {
            if c == b'\\' && matches!(b.get(i + 1), Some(b'\\' | b'"')) {
                word.push_str(&s[segment_start..i]);
                segment_start = i + 1;
                i += 2;
                continue;
            }
            if c == b'"' {
                word.push_str(&s[segment_start..i]);
                let after = i + 1;
                let block_end = scan(b, after, |c| !ends_block(c, endchar));
                let trailing =
                    trim_end_space(&s[after..block_end]).trim_start_matches(is_space_char);
                if !trailing.is_empty() {
                    return Err(SpecErrorKind::TrailingData(trailing.to_owned()));
                }
                *pos = block_end;
                return Ok(word);
            }
            i += 1;
        }
    }
    let start = *pos;
    *pos = scan(b, start, |c| !ends_block(c, endchar));
    Ok(trim_end_space(&s[start..*pos]).to_owned())
}

/// The path after `@` or `<`, rejecting what curl would read from standard input.
fn file_operand(data: &str, marker: char) -> Result<&Path, SpecErrorKind> {
    match data {
        "" => Err(SpecErrorKind::EmptyPath(marker)),
        "-" => Err(SpecErrorKind::Stdin(marker)),
        path => Ok(Path::new(path)),
    }
}

/// Reads a `<path` field's content, refusing more than [`MAX_TEXT_FILE_LEN`] bytes without
/// reading them: the size is checked by stat first and the read is bounded too, because a
/// device or FIFO has no size to stat.
fn read_small_file(path: &Path) -> Result<Vec<u8>, SpecErrorKind> {
    let io_err = |e: io::Error| SpecErrorKind::Io(path_error(path, &e));
    let file = File::open(path).map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    if meta.is_dir() {
        return Err(SpecErrorKind::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: is a directory", path.display()),
        )));
    }
    if meta.is_file() && meta.len() > MAX_TEXT_FILE_LEN {
        return Err(SpecErrorKind::TooLarge(path.to_owned()));
    }
    let mut data =
        Vec::with_capacity(usize::try_from(meta.len().min(MAX_TEXT_FILE_LEN)).unwrap_or(0));
    file.take(MAX_TEXT_FILE_LEN + 1)
        .read_to_end(&mut data)
        .map_err(io_err)?;
    if data.len() as u64 > MAX_TEXT_FILE_LEN {
        return Err(SpecErrorKind::TooLarge(path.to_owned()));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;
    use std::process::{Command, Stdio};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    const B: &str = "XyZ-test-boundary";

    /// A scratch directory removed on drop, unique per test.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "multipart-test-{}-{tag}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn write(&self, name: &str, data: &[u8]) -> PathBuf {
            let path = self.0.join(name);
            fs::write(&path, data).unwrap();
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn read_with(mut reader: MultipartReader, buf_len: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; buf_len];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            assert!(n <= buf_len);
            out.extend_from_slice(&buf[..n]);
        }
    }

    fn body(form: Multipart) -> Vec<u8> {
        let len = form.content_length();
        let bytes = read_with(form.into_reader(), 64 * 1024).unwrap();
        assert_eq!(bytes.len() as u64, len, "content_length vs body");
        bytes
    }

    /// The only part of a one-part form, as (header, data).
    fn only_part(form: &Multipart) -> (String, Vec<u8>) {
        assert_eq!(form.parts.len(), 1, "{form:?}");
        let part = &form.parts[0];
        let data = match &part.body {
            Body::Bytes(b) => b.clone(),
            Body::File { path, .. } => fs::read(path).unwrap(),
        };
        (String::from_utf8_lossy(&part.header).into_owned(), data)
    }

    fn spec_part(spec: &str) -> (String, Vec<u8>) {
        let mut form = Multipart::with_boundary(B);
        form.add_curl_spec(spec)
            .unwrap_or_else(|e| panic!("{spec:?}: {e}"));
        only_part(&form)
    }

    fn spec_err(spec: &str) -> FormSpecError {
        let mut form = Multipart::with_boundary(B);
        let err = form.add_curl_spec(spec).unwrap_err();
        assert!(form.parts.is_empty(), "a failed spec must not add a part");
        assert!(
            err.to_string().starts_with(&format!("-F '{spec}': ")),
            "{err}"
        );
        err
    }

    fn header(name: &str, extra: &str) -> String {
        format!("--{B}\r\nContent-Disposition: form-data; name=\"{name}\"{extra}\r\n\r\n")
    }

    #[test]
    fn exact_bytes_text_and_file() {
        let dir = TempDir::new("exact");
        let path = dir.write("notes.txt", b"line1\nline2");
        let mut form = Multipart::with_boundary("XyZ");
        form.text("greeting", b"hello", None);
        form.file("upload", &path, None, None).unwrap();
        assert_eq!(form.content_type(), "multipart/form-data; boundary=XyZ");
        let expected: &[u8] = b"--XyZ\r\n\
            Content-Disposition: form-data; name=\"greeting\"\r\n\
            \r\n\
            hello\r\n\
            --XyZ\r\n\
            Content-Disposition: form-data; name=\"upload\"; filename=\"notes.txt\"\r\n\
            Content-Type: text/plain\r\n\
            \r\n\
            line1\nline2\r\n\
            --XyZ--\r\n";
        assert_eq!(
            String::from_utf8_lossy(&body(form)),
            String::from_utf8_lossy(expected)
        );
    }

    #[test]
    fn typed_text_and_explicit_file_name_and_type() {
        let dir = TempDir::new("typed");
        let path = dir.write("raw.dat", b"\x00\x01");
        let mut form = Multipart::with_boundary("b");
        form.text("j", b"{}", Some("application/json"));
        form.file("f", &path, Some("x.png"), Some("image/x-custom"))
            .unwrap();
        let expected: &[u8] = b"--b\r\n\
            Content-Disposition: form-data; name=\"j\"\r\n\
            Content-Type: application/json\r\n\
            \r\n\
            {}\r\n\
            --b\r\n\
            Content-Disposition: form-data; name=\"f\"; filename=\"x.png\"\r\n\
            Content-Type: image/x-custom\r\n\
            \r\n\
            \x00\x01\r\n\
            --b--\r\n";
        assert_eq!(body(form), expected);
    }

    #[test]
    fn empty_form_is_just_the_closing_delimiter() {
        assert_eq!(body(Multipart::with_boundary("e")), b"--e--\r\n");
    }

    #[test]
    fn names_and_file_names_are_escaped() {
        let dir = TempDir::new("escape");
        let path = dir.write("plain", b"x");
        let mut form = Multipart::with_boundary(B);
        form.text("a\"b\r\nc%d", b"v", None);
        form.file("n", &path, Some("q\"u\r\no.txt"), None).unwrap();
        let text = String::from_utf8(body(form)).unwrap();
        assert!(text.contains("name=\"a%22b%0D%0Ac%d\"\r\n"), "{text}");
        assert!(
            text.contains("name=\"n\"; filename=\"q%22u%0D%0Ao.txt\"\r\n"),
            "{text}"
        );
        // The only CRLFs are the framing ones: 2 parts * (disposition, empty line, data end,
        // plus a content-type line for the file) + 2 boundary lines + closing.
        assert_eq!(text.matches("\r\n").count(), 10, "{text}");
    }

    #[test]
    fn content_type_cannot_inject_headers() {
        let mut form = Multipart::with_boundary(B);
        form.text("a", b"v", Some("text/plain\r\nX-Evil: 1"));
        let (header, _) = only_part(&form);
        assert_eq!(
            header,
            format!(
                "--{B}\r\nContent-Disposition: form-data; name=\"a\"\r\n\
                 Content-Type: text/plain  X-Evil: 1\r\n\r\n"
            )
        );
    }

    #[test]
    fn content_type_table_by_extension() {
        let dir = TempDir::new("types");
        let cases = [
            ("a.txt", "text/plain"),
            ("a.HTML", "text/html"),
            ("a.htm", "text/html"),
            ("a.json", "application/json"),
            ("a.xml", "application/xml"),
            ("a.css", "text/css"),
            ("a.js", "application/javascript"),
            ("a.jpg", "image/jpeg"),
            ("a.JPEG", "image/jpeg"),
            ("a.png", "image/png"),
            ("a.gif", "image/gif"),
            ("a.svg", "image/svg+xml"),
            ("a.pdf", "application/pdf"),
            ("a.tar.gz", "application/gzip"),
            ("a.tar", "application/x-tar"),
            ("a.zip", "application/zip"),
            ("a.bin", "application/octet-stream"),
            ("noext", "application/octet-stream"),
            ("a.", "application/octet-stream"),
        ];
        for (name, expected) in cases {
            let path = dir.write(name, b"");
            let mut form = Multipart::with_boundary(B);
            form.file("f", &path, None, None).unwrap();
            let (header, _) = only_part(&form);
            assert!(
                header.contains(&format!(
                    "; filename=\"{name}\"\r\nContent-Type: {expected}\r\n"
                )),
                "{name}: {header}"
            );
        }
    }

    #[test]
    fn file_errors_name_the_path() {
        let dir = TempDir::new("fileerr");
        let mut form = Multipart::with_boundary(B);
        let missing = dir.0.join("missing.txt");
        let err = form.file("f", &missing, None, None).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert_eq!(
            err.to_string(),
            format!("{}: No such file or directory", missing.display())
        );
        let err = form.file("f", &dir.0, None, None).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(
            err.to_string(),
            format!("{}: not a regular file", dir.0.display())
        );
        assert!(form.parts.is_empty());
    }

    /// Deterministic non-repeating-looking bytes, so a misplaced chunk cannot compare equal.
    fn pattern(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    /// Builds the same form for each buffer size and checks the length and bytes agree.
    #[test]
    fn content_length_matches_for_many_shapes_and_buffer_sizes() {
        let dir = TempDir::new("shapes");
        let empty = dir.write("empty.txt", b"");
        let small = dir.write("small.bin", &pattern(1, 1000));
        let odd = dir.write("odd.json", &pattern(2, 70_001));
        type Build = Box<dyn Fn(&mut Multipart)>;
        let shapes: Vec<(&str, Build)> = vec![
            ("empty value", Box::new(|f| f.text("a", b"", None))),
            ("empty file", {
                let empty = empty.clone();
                Box::new(move |f| f.file("e", &empty, None, None).unwrap())
            }),
            ("files only", {
                let (empty, small, odd) = (empty.clone(), small.clone(), odd.clone());
                Box::new(move |f| {
                    f.file("a", &odd, None, None).unwrap();
                    f.file("b", &empty, Some(""), None).unwrap();
                    f.file("c", &small, None, Some("x/y")).unwrap();
                    f.file("d", &odd, None, None).unwrap();
                })
            }),
            ("many parts", {
                let (empty, small) = (empty.clone(), small.clone());
                Box::new(move |f| {
                    for i in 0..300 {
                        match i % 4 {
                            0 => f.text(&format!("t{i}"), format!("v{i}").as_bytes(), None),
                            1 => f.text("e", b"", Some("text/plain")),
                            2 => f.file("s", &small, None, None).unwrap(),
                            _ => f.file("z", &empty, None, None).unwrap(),
                        }
                    }
                })
            }),
        ];
        for (what, build) in &shapes {
            let mut reference = Multipart::with_boundary(B);
            build(&mut reference);
            let expected_len = reference.content_length();
            let expected = read_with(reference.into_reader(), 1 << 20).unwrap();
            assert_eq!(expected.len() as u64, expected_len, "{what}");
            for buf_len in [1, 2, 3, 7, 64, 4097, 8192, 65_537] {
                let mut form = Multipart::with_boundary(B);
                build(&mut form);
                assert_eq!(form.content_length(), expected_len, "{what}");
                let got = read_with(form.into_reader(), buf_len).unwrap();
                assert!(
                    got == expected,
                    "{what}: buffer {buf_len} gave different bytes"
                );
            }
        }
    }

    #[test]
    fn read_with_empty_buffer_returns_zero_without_consuming() {
        let mut form = Multipart::with_boundary("z");
        form.text("a", b"b", None);
        let mut reader = form.into_reader();
        assert_eq!(reader.read(&mut []).unwrap(), 0);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert!(out.starts_with(b"--z\r\n"));
    }

    const BIG_LEN: usize = 20 * 1024 * 1024;

    fn write_big_file(dir: &TempDir) -> PathBuf {
        let path = dir.0.join("big.bin");
        let mut file = File::create(&path).unwrap();
        let chunk = pattern(7, 64 * 1024);
        for _ in 0..BIG_LEN / chunk.len() {
            file.write_all(&chunk).unwrap();
        }
        path
    }

    /// Streams the big file's form through an 8 KiB buffer, checking every byte against what
    /// it should be without keeping the body; returns the number of reads.
    fn stream_big(path: &Path) -> usize {
        let mut form = Multipart::with_boundary(B);
        form.text("before", b"x", None);
        form.file("big", path, None, None).unwrap();
        form.text("after", b"y", None);
        let total = form.content_length();
        // Offset of the file's first byte: first part (header, "x", CRLF), second header.
        let header_len = form.parts[0].header.len() + 1 + 2 + form.parts[1].header.len();
        let reader = form.into_reader();
        assert!(reader.buffered_bytes() < 1024, "{reader:?}");
        let chunk = pattern(7, 64 * 1024);
        let mut reader = reader;
        let mut buf = vec![0u8; 8192];
        let mut offset = 0usize;
        let mut reads = 0;
        loop {
            let n = reader.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            reads += 1;
            for (i, &byte) in buf[..n].iter().enumerate() {
                let at = offset + i;
                if at >= header_len && at < header_len + BIG_LEN {
                    let want = chunk[(at - header_len) % chunk.len()];
                    assert_eq!(byte, want, "file byte {}", at - header_len);
                }
            }
            offset += n;
        }
        assert_eq!(offset as u64, total);
        reads
    }

    /// Memory stays bounded end to end (boardnet's peak RSS while uploading a 100 MiB part)
    /// in tests/http/transfer.rs; here: the body comes out in buffer-sized pieces with the
    /// file's exact bytes.
    #[test]
    fn twenty_mib_file_streams_in_8k_reads() {
        let dir = TempDir::new("big");
        let path = write_big_file(&dir);
        let reads = stream_big(&path);
        assert!(reads >= BIG_LEN / 8192, "{reads} reads");
    }

    fn assert_changed_size(err: &io::Error, path: &Path) {
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        assert_eq!(
            err.to_string(),
            format!("file changed size while uploading: {}", path.display())
        );
    }

    fn one_file_form(path: &Path) -> Multipart {
        let mut form = Multipart::with_boundary(B);
        form.text("t", b"text", None);
        form.file("f", path, None, None).unwrap();
        form
    }

    #[test]
    fn file_that_grew_or_shrank_before_reading_fails() {
        let dir = TempDir::new("changed");
        for new_len in [0, 99, 101, 5000] {
            let path = dir.write("f.bin", &[0xA1; 100]);
            let form = one_file_form(&path);
            fs::write(&path, vec![0xB2; new_len]).unwrap();
            let mut reader = form.into_reader();
            let mut out = Vec::new();
            let err = reader.read_to_end(&mut out).unwrap_err();
            assert_changed_size(&err, &path);
            // Nothing of the file was sent: the size is checked when it is opened.
            assert!(!out.contains(&0xB2) && !out.contains(&0xA1), "{new_len}");
            // And the reader stays failed.
            let again = reader.read(&mut [0u8; 16]).unwrap_err();
            assert_changed_size(&again, &path);
        }
    }

    /// Reads one byte at a time until `n` bytes have been read.
    fn read_exactly(reader: &mut MultipartReader, n: usize) -> Vec<u8> {
        let mut out = vec![0u8; n];
        for byte in out.iter_mut() {
            assert_eq!(reader.read(std::slice::from_mut(byte)).unwrap(), 1);
        }
        out
    }

    #[test]
    fn file_that_changes_while_it_is_read_fails() {
        let dir = TempDir::new("during");
        for grow in [true, false] {
            let path = dir.write("f.bin", &[b'a'; 100]);
            let form = one_file_form(&path);
            let before_file = form.parts[0].header.len() + 4 + 2 + form.parts[1].header.len();
            let mut reader = form.into_reader();
            // Into the file part, so it is open.
            read_exactly(&mut reader, before_file + 10);
            if grow {
                fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .unwrap()
                    // One byte: a second probe would then see the end of the file, so only
                    // the reader's sticky failure keeps it from finishing the body.
                    .write_all(b"m")
                    .unwrap();
            } else {
                fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .unwrap()
                    .set_len(50)
                    .unwrap();
            }
            let mut rest = Vec::new();
            let err = reader.read_to_end(&mut rest).unwrap_err();
            assert_changed_size(&err, &path);
            assert!(rest.len() <= 90, "grow={grow}: {}", rest.len());
            assert!(!rest.ends_with(format!("--{B}--\r\n").as_bytes()));
            assert!(reader.read(&mut [0u8; 8]).is_err());
        }
    }

    #[test]
    fn error_after_some_bytes_comes_with_the_next_read() {
        let dir = TempDir::new("late");
        let path = dir.write("f.bin", &[b'a'; 10]);
        let form = one_file_form(&path);
        fs::remove_file(&path).unwrap();
        let mut reader = form.into_reader();
        let mut buf = vec![0u8; 4096];
        // The first read returns the bytes before the file; the open error comes next.
        let n = reader.read(&mut buf).unwrap();
        assert!(n > 0 && buf[..n].ends_with(b"name=\"f\"; filename=\"f.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"));
        let err = reader.read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert_eq!(
            err.to_string(),
            format!("{}: No such file or directory", path.display())
        );
        assert_eq!(
            reader.read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn one_file_descriptor_at_a_time() {
        /// Descriptors of this process open on files under `dir`: other tests running in
        /// parallel open their own files and sockets, which must not count.
        fn fds_under(dir: &Path) -> usize {
            fs::read_dir("/proc/self/fd").map_or(0, |entries| {
                entries
                    .filter_map(|entry| fs::read_link(entry.ok()?.path()).ok())
                    .filter(|target| target.starts_with(dir))
                    .count()
            })
        }
        if !Path::new("/proc/self/fd").exists() {
            return;
        }
        let dir = TempDir::new("fds");
        let mut form = Multipart::with_boundary(B);
        for i in 0..50 {
            let path = dir.write(&format!("{i}.txt"), &pattern(i, 3000));
            form.file("f", &path, None, None).unwrap();
        }
        let mut reader = form.into_reader();
        assert_eq!(fds_under(&dir.0), 0, "nothing is opened before reading");
        let mut buf = [0u8; 1000];
        let mut peak = 0;
        while reader.read(&mut buf).unwrap() > 0 {
            peak = peak.max(fds_under(&dir.0));
        }
        assert_eq!(peak, 1);
        assert_eq!(fds_under(&dir.0), 0, "the last file is closed at the end");
    }

    #[test]
    fn random_boundary_looks_like_curls() {
        let a = Multipart::new().unwrap();
        let b = Multipart::new().unwrap();
        assert_ne!(a.boundary, b.boundary);
        assert_eq!(a.boundary.len(), 48);
        assert!(a.boundary.starts_with("------------------------"));
        assert!(a.boundary[24..].bytes().all(|c| c.is_ascii_hexdigit()));
        assert!(is_valid_boundary(&a.boundary));
        assert_eq!(
            a.content_type(),
            format!("multipart/form-data; boundary={}", a.boundary)
        );
    }

    #[test]
    fn spec_text_forms() {
        assert_eq!(spec_part("a=b"), (header("a", ""), b"b".to_vec()));
        assert_eq!(spec_part("a="), (header("a", ""), b"".to_vec()));
        assert_eq!(spec_part("a=  b c  "), (header("a", ""), b"b c".to_vec()));
        assert_eq!(spec_part("a=x=y"), (header("a", ""), b"x=y".to_vec()));
        assert_eq!(spec_part("a=\"b;c\""), (header("a", ""), b"b;c".to_vec()));
        assert_eq!(spec_part("a=\" b \" "), (header("a", ""), b" b ".to_vec()));
        assert_eq!(
            spec_part(r#"a="q\"x\\y\z""#),
            (header("a", ""), br#"q"x\y\z"#.to_vec())
        );
        assert_eq!(spec_part("a=\"@x\""), (header("a", ""), b"@x".to_vec()));
        assert_eq!(spec_part("a=\"(x\""), (header("a", ""), b"(x".to_vec()));
        // An unterminated quote is an ordinary character, as in curl.
        assert_eq!(spec_part("a=\"open"), (header("a", ""), b"\"open".to_vec()));
        assert_eq!(spec_part("a=b;"), (header("a", ""), b"b".to_vec()));
        assert_eq!(
            spec_part("a b=é"),
            (header("a b", ""), "é".as_bytes().to_vec())
        );
        assert_eq!(
            spec_part("a=b;type=text/x"),
            (header("a", "\r\nContent-Type: text/x"), b"b".to_vec())
        );
        assert_eq!(
            spec_part("a=b; TYPE= text/plain ; charset=utf-8 ;format=flowed"),
            (
                header(
                    "a",
                    "\r\nContent-Type: text/plain ; charset=utf-8 ;format=flowed"
                ),
                b"b".to_vec()
            )
        );
        assert_eq!(
            spec_part("a=b;type=text/plain;"),
            (header("a", "\r\nContent-Type: text/plain"), b"b".to_vec())
        );
        assert_eq!(
            spec_part("a=b;filename=n.txt;type=x/y"),
            (
                header("a", "; filename=\"n.txt\"\r\nContent-Type: x/y"),
                b"b".to_vec()
            )
        );
        // A named in-memory part gets a type from the table, but no default (like curl).
        assert_eq!(
            spec_part("a=b;filename=\"n;1.txt\""),
            (
                header("a", "; filename=\"n;1.txt\"\r\nContent-Type: text/plain"),
                b"b".to_vec()
            )
        );
        assert_eq!(
            spec_part("a=b;filename=n.bin"),
            (header("a", "; filename=\"n.bin\""), b"b".to_vec())
        );
        assert_eq!(spec_part("q\"=v").0, header("q%22", ""));
    }

    #[test]
    fn spec_file_forms() {
        let dir = TempDir::new("specfile");
        let txt = dir.write("hello.txt", b"hi\n");
        let semi = dir.write("se;mi,co.txt", b"x");
        let spaced = dir.write(" sp ", b"s");
        let (h, d) = spec_part(&format!("f=@{}", txt.display()));
        assert_eq!(
            h,
            header("f", "; filename=\"hello.txt\"\r\nContent-Type: text/plain")
        );
        assert_eq!(d, b"hi\n");
        let (h, _) = spec_part(&format!("f=@ {} ;type=a/b;filename=o.png", txt.display()));
        assert_eq!(h, header("f", "; filename=\"o.png\"\r\nContent-Type: a/b"));
        // The file name picks the type when none is given, as in curl.
        let (h, _) = spec_part(&format!("f=@{};filename=\"a;b.png\"", txt.display()));
        assert_eq!(
            h,
            header("f", "; filename=\"a;b.png\"\r\nContent-Type: image/png")
        );
        let (h, d) = spec_part(&format!("f=@\"{}\"", semi.display()));
        assert_eq!(
            h,
            header(
                "f",
                "; filename=\"se;mi,co.txt\"\r\nContent-Type: text/plain"
            )
        );
        assert_eq!(d, b"x");
        let (h, _) = spec_part(&format!("f=@\"{}\";filename=\"q\\\"\"", spaced.display()));
        assert_eq!(
            h,
            header(
                "f",
                "; filename=\"q%22\"\r\nContent-Type: application/octet-stream"
            )
        );
        let (h, _) = spec_part(&format!("f=@{};filename=", txt.display()));
        assert_eq!(
            h,
            header(
                "f",
                "; filename=\"\"\r\nContent-Type: application/octet-stream"
            )
        );
    }

    #[test]
    fn spec_text_from_file_forms() {
        let dir = TempDir::new("spectext");
        let txt = dir.write("body.txt", b"line\r\nnext");
        let exact = dir.write("exact", &vec![b'x'; MAX_TEXT_FILE_LEN as usize]);
        let big = dir.write("big", &vec![b'x'; MAX_TEXT_FILE_LEN as usize + 1]);
        assert_eq!(
            spec_part(&format!("t=<{}", txt.display())),
            (header("t", ""), b"line\r\nnext".to_vec())
        );
        assert_eq!(
            spec_part(&format!("t=<{};type=text/csv", txt.display())),
            (
                header("t", "\r\nContent-Type: text/csv"),
                b"line\r\nnext".to_vec()
            )
        );
        assert_eq!(
            spec_part(&format!("t=<{}", exact.display())).1.len() as u64,
            MAX_TEXT_FILE_LEN
        );
        let spec = format!("t=<{}", big.display());
        let err = spec_err(&spec);
        assert!(matches!(&err, FormSpecError::TooLarge { path, limit, .. }
            if *path == big && *limit == MAX_TEXT_FILE_LEN));
        assert_eq!(
            err.to_string(),
            format!(
                "-F '{spec}': {}: larger than 1024 KiB, the limit for '<' text fields; \
                 use '@' to upload it as a file",
                big.display()
            )
        );
        // A device has no size to stat; the bounded read still stops it.
        if Path::new("/dev/zero").exists() {
            assert!(matches!(
                spec_err("t=</dev/zero"),
                FormSpecError::TooLarge { .. }
            ));
        }
        let spec = format!("t=<{};filename=x", txt.display());
        assert!(matches!(
            spec_err(&spec),
            FormSpecError::FilenameNotAllowed { .. }
        ));
    }

    #[test]
    fn spec_errors() {
        let msg = |spec: &str| spec_err(spec).to_string();
        assert_eq!(msg("x"), "-F 'x': missing '='");
        assert!(matches!(spec_err("x"), FormSpecError::MissingEquals { .. }));
        assert_eq!(msg("=v"), "-F '=v': empty field name before '='");
        assert_eq!(msg("a=@"), "-F 'a=@': missing file name after '@'");
        assert_eq!(
            msg("a=@;type=a/b"),
            "-F 'a=@;type=a/b': missing file name after '@'"
        );
        assert_eq!(msg("a=<"), "-F 'a=<': missing file name after '<'");
        assert_eq!(
            msg("a=@-"),
            "-F 'a=@-': reading standard input ('@-') is not supported"
        );
        assert_eq!(
            msg("a=<-"),
            "-F 'a=<-': reading standard input ('<-') is not supported"
        );
        assert_eq!(
            msg("a=@/nope"),
            "-F 'a=@/nope': /nope: No such file or directory"
        );
        let err = spec_err("a=@/nope");
        assert_eq!(err.spec(), "a=@/nope");
        let source = std::error::Error::source(&err).unwrap();
        assert_eq!(source.to_string(), "/nope: No such file or directory");
        assert!(matches!(&err, FormSpecError::Io { source, .. }
            if source.kind() == io::ErrorKind::NotFound));
        assert_eq!(
            msg("a=</nope"),
            "-F 'a=</nope': /nope: No such file or directory"
        );
        assert_eq!(msg("a=@/"), "-F 'a=@/': /: not a regular file");
        assert_eq!(msg("a=</"), "-F 'a=</': /: is a directory");
        assert_eq!(
            msg("a=@x,y"),
            "-F 'a=@x,y': several files in one field ('@a,b') is not supported; \
             quote a path that contains ','"
        );
        assert_eq!(
            msg("a=(;type=multipart/mixed"),
            "-F 'a=(;type=multipart/mixed': a nested multipart ('(...)') is not supported; \
             quote the value to send it literally"
        );
        assert_eq!(
            msg("a=b;headers=X: y"),
            "-F 'a=b;headers=X: y': headers= is not supported; add the header to the request instead"
        );
        assert_eq!(
            msg("a=b;encoder=base64"),
            "-F 'a=b;encoder=base64': encoder= is not supported"
        );
        assert_eq!(
            msg("a=b;c"),
            "-F 'a=b;c': unknown parameter 'c' (known: type=, filename=); \
             quote a value that contains ';'"
        );
        assert_eq!(
            msg("a=b;filename=f;c=d"),
            "-F 'a=b;filename=f;c=d': unknown parameter 'c=d' (known: type=, filename=); \
             quote a value that contains ';'"
        );
        assert_eq!(
            msg("a=\"b\"c"),
            "-F 'a=\"b\"c': unexpected 'c' after closing quote"
        );
        assert_eq!(
            msg("a=b;filename=\"f\" x;type=a/b"),
            "-F 'a=b;filename=\"f\" x;type=a/b': unexpected 'x' after closing quote"
        );
        for bad in ["text", "text/", "/plain", "", " ", "a b/c", "a/ b"] {
            let spec = format!("a=b;type={bad}");
            let err = spec_err(&spec);
            assert!(
                matches!(err, FormSpecError::BadContentType { .. }),
                "{bad:?}: {err}"
            );
            assert!(err.to_string().contains("expected type/subtype"), "{err}");
        }
    }

    /// Runs curl with `-F` arguments against a one-shot server on loopback and returns the
    /// request's Content-Type and body, or None if curl is not installed.
    fn curl_request(forms: &[String]) -> Option<(String, Vec<u8>)> {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut cmd = Command::new("curl");
        // -q: no ~/.curlrc; no proxy from the environment; no 100-continue round trip.
        cmd.args([
            "-q",
            "-sS",
            "--max-time",
            "20",
            "--noproxy",
            "*",
            "-H",
            "Expect:",
        ]);
        cmd.args(["-o", "/dev/null"]);
        for form in forms {
            cmd.arg("-F").arg(form);
        }
        cmd.arg(format!("http://127.0.0.1:{port}/"));
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(e) => panic!("curl: {e}"),
        };
        listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let Some(status) = child.try_wait().unwrap() {
                        let out = child.wait_with_output().unwrap();
                        panic!(
                            "curl exited {status}: {}",
                            String::from_utf8_lossy(&out.stderr)
                        );
                    }
                    assert!(Instant::now() < deadline, "curl did not connect");
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 65536];
        let head_end = loop {
            if let Some(i) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "curl closed before the end of the headers");
            request.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&request[..head_end]).into_owned();
        let header_value = |name: &str| {
            head.lines()
                .find_map(|line| {
                    let (key, value) = line.split_once(':')?;
                    key.eq_ignore_ascii_case(name)
                        .then(|| value.trim().to_owned())
                })
                .unwrap_or_else(|| panic!("no {name} in {head}"))
        };
        let content_type = header_value("Content-Type");
        let len: usize = header_value("Content-Length").parse().unwrap();
        let mut body = request.split_off(head_end);
        while body.len() < len {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "curl closed before the end of the body");
            body.extend_from_slice(&buf[..n]);
        }
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .unwrap();
        drop(stream);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "curl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some((content_type, body))
    }

    /// The real cross-check: curl encodes the same `-F` arguments, and with its boundary our
    /// body must be identical byte for byte.
    #[test]
    fn same_bytes_as_curl() {
        let dir = TempDir::new("curl");
        let mut binary = pattern(3, 5000);
        binary.extend_from_slice(b"\r\n--------------------------\r\n\0\xff\r\n");
        let d = dir.0.display();
        dir.write("hello.txt", b"hello\n");
        dir.write("data.bin", &binary);
        dir.write("pic.PNG", &pattern(4, 333));
        dir.write("empty.txt", b"");
        dir.write("noext", b"raw");
        dir.write("we;ird.txt", b"semicolon");
        let forms: Vec<String> = vec![
            "text=hello world".into(),
            "empty=".into(),
            "spaces=  padded  ".into(),
            r#"quoted="a;b \"c\" \\ d""#.into(),
            "typed=v;type=text/plain; charset=utf-8".into(),
            "n\"a\r\nme=escaped name".into(),
            "unicode=h\u{e9}llo \u{2603}".into(),
            format!("up=@{d}/hello.txt"),
            format!("bin=@{d}/data.bin;type=application/x-thing;filename=\"n\\\"a;me.bin\""),
            format!("img=@{d}/pic.PNG"),
            format!("none=@{d}/empty.txt"),
            format!("raw=@{d}/noext"),
            format!("renamed=@{d}/noext;filename=x.txt"),
            format!("semi=@\"{d}/we;ird.txt\""),
            format!("fromfile=<{d}/hello.txt"),
            format!("fromfile2=<{d}/data.bin;type=text/x-foo"),
            "memfile=content;filename=notes.txt".into(),
            "memfile2=content;filename=blob.bin".into(),
        ];
        let Some((content_type, curl_body)) = curl_request(&forms) else {
            panic!("curl is not installed: the curl cross-check cannot run (.ci/run installs it)");
        };
        let boundary = content_type
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap_or_else(|| panic!("curl sent {content_type}"));
        let mut form = Multipart::with_boundary(boundary);
        for spec in &forms {
            form.add_curl_spec(spec).unwrap();
        }
        assert_eq!(form.content_type(), content_type);
        let ours = body(form);
        if ours != curl_body {
            panic!(
                "body differs from curl's:\n--- curl\n{}\n--- ours\n{}",
                String::from_utf8_lossy(&curl_body),
                String::from_utf8_lossy(&ours)
            );
        }
    }

    /// Python's MIME parser must recover every part's name, file name, type and exact bytes,
    /// including data that contains CRLFs and boundary-like lines.
    #[test]
    fn python_email_parser_reads_our_body() {
        // Latin-1 maps bytes to code points one to one, so the text parser sees every byte
        // unchanged and the values can be turned back into the exact bytes.
        const SCRIPT: &str = r#"
import sys, email.parser
boundary = sys.argv[1]
body = sys.stdin.buffer.read().decode('latin-1')
msg = email.parser.Parser().parsestr(
    'Content-Type: multipart/form-data; boundary="' + boundary + '"\r\n\r\n' + body)
assert msg.is_multipart(), 'not multipart'
assert not msg.preamble and not msg.epilogue, (msg.preamble, msg.epilogue)
problems = list(msg.defects)
def h(s):
    return '-' if s is None else s.encode('latin-1').hex()
for part in msg.get_payload():
    problems += part.defects
    print(h(part.get_param('name', header='content-disposition')),
          h(part.get_param('filename', header='content-disposition')),
          h(part.get('Content-Type')), h(part.get_payload()))
if problems:
    sys.exit('defects: %r' % problems)
"#;
        let dir = TempDir::new("python");
        let boundary = Multipart::new().unwrap().boundary;
        let mut tricky =
            format!("\r\n--{}\r\n--{boundary}x", &boundary[..boundary.len() - 1]).into_bytes();
        tricky.extend_from_slice(&pattern(5, 300));
        tricky.extend_from_slice(b"\r\n");
        let bin = dir.write("tricky.bin", &tricky);
        let empty = dir.write("empty.txt", b"");
        let mut form = Multipart::with_boundary(&boundary);
        form.text("plain", b"hello", None);
        form.text(
            "na\u{ef}ve",
            "caf\u{e9}".as_bytes(),
            Some("text/plain; charset=utf-8"),
        );
        form.text("empty", b"", None);
        form.text("crlf", b"\r\nends with crlf\r\n", None);
        form.file("bin", &bin, Some("t.bin"), None).unwrap();
        form.file("none", &empty, None, None).unwrap();
        // (name, file name, content type, data)
        type Expected<'a> = (&'a [u8], Option<&'a [u8]>, Option<&'a str>, &'a [u8]);
        let expected: Vec<Expected<'_>> = vec![
            (b"plain", None, None, b"hello"),
            (
                "na\u{ef}ve".as_bytes(),
                None,
                Some("text/plain; charset=utf-8"),
                "caf\u{e9}".as_bytes(),
            ),
            (b"empty", None, None, b""),
            (b"crlf", None, None, b"\r\nends with crlf\r\n"),
            (
                b"bin",
                Some(b"t.bin"),
                Some("application/octet-stream"),
                &tricky,
            ),
            (b"none", Some(b"empty.txt"), Some("text/plain"), b""),
        ];
        let encoded = read_with(form.into_reader(), 1).unwrap();

        let child = Command::new("python3")
            .arg("-c")
            .arg(SCRIPT)
            .arg(&boundary)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) => panic!("python3 is needed for the parser cross-check: {e}"),
        };
        child.stdin.take().unwrap().write_all(&encoded).unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let opt = |b: Option<&[u8]>| b.map_or("-".to_owned(), hex);
        let want: Vec<String> = expected
            .iter()
            .map(|(name, filename, ct, data)| {
                format!(
                    "{} {} {} {}",
                    hex(name),
                    opt(*filename),
                    opt(ct.map(str::as_bytes)),
                    hex(data)
                )
            })
            .collect();
        let got: Vec<&str> = stdout.lines().collect();
        assert_eq!(got, want);
    }
}
