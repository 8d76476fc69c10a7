//! Files that never look complete before they are.
//!
//! A download to `FILE` is written to `FILE.part` in the same directory (same filesystem, so the
//! final rename is atomic), fsynced, and renamed to `FILE` only after the transfer — and its
//! checksum, if one was asked for — succeeded. On failure `FILE.part` stays for a later resume and
//! `FILE` is untouched: an OTA agent that loses power mid-download never finds a truncated image
//! under the final name.

use std::ffi::OsString;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::{Classify, ErrorClass};

/// A local file operation that failed, naming the file and what was being done.
#[derive(Debug)]
pub struct FileError {
    /// The file.
    pub path: PathBuf,
    /// What was being done (`open`, `read`, `write`…).
    pub op: &'static str,
    /// What the system said.
    pub source: io::Error,
}

impl FileError {
    /// An error doing `op` on `path`.
    pub fn new(path: &Path, op: &'static str, source: io::Error) -> Self {
        FileError {
            path: path.to_path_buf(),
            op,
            source,
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} {}: {}",
            self.op,
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl Classify for FileError {
    fn class(&self) -> ErrorClass {
        ErrorClass::LocalIo
    }
}

/// Bytes between write-behind kicks (see [`PartFile::write_chunk`]).
const WRITEBACK_WINDOW: u64 = 8 << 20;

/// The `.part` companion of a destination path.
pub fn part_path(dest: &Path) -> PathBuf {
    with_suffix(dest, ".part")
}

/// Bytes in `DEST.part` (0 when there is none): where a resume starts.
pub fn part_len(dest: &Path) -> u64 {
    std::fs::metadata(part_path(dest)).map_or(0, |m| m.len())
}

/// Where the [`Validator`] of `DEST.part` is kept: `DEST.part.meta`.
pub fn validator_path(dest: &Path) -> PathBuf {
    with_suffix(dest, ".part.meta")
}

fn with_suffix(dest: &Path, suffix: &str) -> PathBuf {
    let mut name: OsString = dest.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Which version of a remote file a `.part` holds: kept beside it (`DEST.part.meta`) from the
/// first response on, so a resume asks for that same version (HTTP `If-Range`) or sees that it
/// changed (FTP `MDTM`/`SIZE`) instead of splicing two versions into one file.
///
/// A small sidecar file rather than an extended attribute: the SD cards, FAT partitions,
/// JFFS2/UBIFS volumes and older tmpfs mounts that boards download to have no user xattrs, and
/// a sidecar is visible to the scripts that clean up after an OTA agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validator {
    /// HTTP `ETag`, as sent (`"abc"` or `W/"abc"`).
    pub etag: Option<String>,
    /// HTTP `Last-Modified`, as sent.
    pub last_modified: Option<String>,
    /// FTP `MDTM` (ISO 8601 UTC).
    pub mdtm: Option<String>,
    /// The whole file's size, when the server said.
    pub length: Option<u64>,
}

/// Largest sidecar read back; anything longer is not ours.
const MAX_VALIDATOR_FILE: u64 = 4096;
/// First line of a sidecar.
const VALIDATOR_MAGIC: &str = "boardnet-part 1";

impl Validator {
    /// Nothing that identifies a version.
    pub fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none() && self.mdtm.is_none()
    }

    /// The value for HTTP `If-Range`: a strong ETag (a weak one may not be used there), else
    /// the Last-Modified date.
    pub fn if_range(&self) -> Option<&str> {
        self.etag
            .as_deref()
            .filter(|e| e.starts_with('"'))
            .or(self.last_modified.as_deref())
    }

    /// Whether `other` (what the server says now) is a different version: a validator both
    /// have differs. `None` when they share none to compare.
    pub fn changed(&self, other: &Validator) -> Option<bool> {
        let pairs = [
            (&self.etag, &other.etag),
            (&self.last_modified, &other.last_modified),
            (&self.mdtm, &other.mdtm),
        ];
        let mut compared = false;
        for (a, b) in pairs {
            if let (Some(a), Some(b)) = (a, b) {
                if a != b {
                    return Some(true);
                }
                compared = true;
            }
        }
        if let (Some(a), Some(b)) = (self.length, other.length) {
            if a != b {
                return Some(true);
            }
        }
        compared.then_some(false)
    }

    /// The sidecar of `DEST.part`, if there is a readable one.
    pub fn load(dest: &Path) -> Option<Validator> {
        let file = File::open(validator_path(dest)).ok()?;
        let mut text = String::new();
        file.take(MAX_VALIDATOR_FILE)
            .read_to_string(&mut text)
            .ok()?;
        let mut lines = text.lines();
        if lines.next()? != VALIDATOR_MAGIC {
            return None;
        }
        let mut v = Validator::default();
        for line in lines {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            let text = Some(value.to_string());
            match key {
                "etag" => v.etag = text,
                "last-modified" => v.last_modified = text,
                "mdtm" => v.mdtm = text,
                "length" => v.length = value.parse().ok(),
                _ => {}
            }
        }
        Some(v)
    }

    fn to_text(&self) -> String {
        let mut text = format!("{VALIDATOR_MAGIC}\n");
        let fields = [
            ("etag", self.etag.clone()),
            ("last-modified", self.last_modified.clone()),
            ("mdtm", self.mdtm.clone()),
            ("length", self.length.map(|n| n.to_string())),
        ];
        for (key, value) in fields {
            // One line each; a value from a header never holds a line break, and one that
            // would not fit is better left out than cut.
            if let Some(v) = value.filter(|v| !v.contains(['\r', '\n']) && v.len() <= 1024) {
                text.push_str(&format!("{key} {v}\n"));
            }
        }
        text
    }
}

/// Something a resumable download did that its caller may want to tell its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartNotice {
    /// The `.part` was thrown away and the file starts again from byte 0.
    Restarted {
        /// Bytes the `.part` held.
        had: u64,
        /// Why.
        reason: RestartReason,
    },
    /// Resumed at `from` without a validator to ask for the same version: if the file changed
    /// on the server, the result mixes two versions (a SHA-256 check would catch it).
    Unverified {
        /// Bytes the `.part` held.
        from: u64,
    },
    /// The `.part` already held the whole file; nothing was transferred.
    AlreadyComplete {
        /// The file's size.
        size: u64,
    },
}

/// Why a download started over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartReason {
    /// The file changed on the server since the `.part` was started.
    Changed,
    /// The server does not do ranges (it ignored `Range`).
    NoRanges,
}

impl fmt::Display for PartNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartNotice::Restarted { had, reason } => {
                let why = match reason {
                    RestartReason::Changed => "the file changed on the server",
                    RestartReason::NoRanges => "the server does not resume (it ignored the range)",
                };
                write!(f, "{why}: the {had} bytes downloaded before are discarded, starting again from byte 0")
            }
            PartNotice::Unverified { from } => write!(
                f,
                "resuming at byte {from} unverified: nothing recorded says which version of the file was started, so a changed file would be spliced (verify with a SHA-256)"
            ),
            PartNotice::AlreadyComplete { size } => {
                write!(f, "already complete ({size} bytes); nothing transferred")
            }
        }
    }
}

/// A download in progress: writes go to `DEST.part`, [`commit`](Self::commit) renames it to `DEST`.
///
/// The `.part` file is locked (`flock`) while open, so two transfers to the same destination
/// fail fast instead of interleaving their bytes. Dropping without commit keeps the `.part`.
///
/// A destination that exists and is not a regular file (`/dev/null`, a FIFO, a tty) is written
/// directly: renaming a file over a device node would replace the device.
#[derive(Debug)]
pub struct PartFile {
    dest: PathBuf,
    part: PathBuf,
    file: File,
    len: u64,
    direct: bool,
}

impl PartFile {
    /// Start from an empty `.part` (truncating a leftover one).
    pub fn create(dest: &Path) -> Result<Self, FileError> {
        Self::open(dest, false)
    }

    /// Continue an existing `.part` (or start an empty one): [`len`](Self::len) is where the
    /// transfer resumes.
    pub fn resume(dest: &Path) -> Result<Self, FileError> {
        Self::open(dest, true)
    }

    fn open(dest: &Path, keep: bool) -> Result<Self, FileError> {
        let part = part_path(dest);
        match std::fs::metadata(dest) {
            Ok(meta) if meta.is_dir() => {
                return Err(FileError::new(
                    dest,
                    "write",
                    io::Error::new(io::ErrorKind::IsADirectory, "destination is a directory"),
                ))
            }
            Ok(meta) if !meta.is_file() => {
                let file = OpenOptions::new()
                    .write(true)
                    .open(dest)
                    .map_err(|e| FileError::new(dest, "open", e))?;
                return Ok(PartFile {
                    dest: dest.to_path_buf(),
                    part: dest.to_path_buf(),
                    file,
                    len: 0,
                    direct: true,
                });
            }
            _ => {}
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&part)
            .map_err(|e| FileError::new(&part, "create", e))?;
        // SAFETY: flock on an open descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let err = io::Error::last_os_error();
            let err = if err.kind() == io::ErrorKind::WouldBlock {
                io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "another transfer is writing this file",
                )
            } else {
                err
            };
            return Err(FileError::new(&part, "lock", err));
        }
        let len = if keep {
            file.seek(SeekFrom::End(0))
                .map_err(|e| FileError::new(&part, "seek in", e))?
        } else {
            file.set_len(0)
                .map_err(|e| FileError::new(&part, "truncate", e))?;
            remove_validator(dest)?;
            0
        };
        Ok(PartFile {
            dest: dest.to_path_buf(),
            part,
            file,
            len,
            direct: false,
        })
    }

    /// Bytes in the `.part` file so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the `.part` holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The final destination.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// The `.part` file being written.
    pub fn part(&self) -> &Path {
        &self.part
    }

    /// Throw away what is there and start again (the server ignored a Range request, or the
    /// file changed); the validator goes too.
    pub fn restart(&mut self) -> Result<(), FileError> {
        if self.direct {
            return Ok(());
        }
        self.file
            .set_len(0)
            .and_then(|()| self.file.seek(SeekFrom::Start(0)).map(drop))
            .map_err(|e| FileError::new(&self.part, "truncate", e))?;
        self.len = 0;
        remove_validator(&self.dest)
    }

    /// Record which version of the remote file this `.part` holds (see [`Validator`]),
    /// durably, before any of its bytes are written. Nothing is kept for a device
    /// destination or an empty validator.
    pub fn save_validator(&self, validator: &Validator) -> Result<(), FileError> {
        if self.direct || validator.is_empty() {
            return Ok(());
        }
        let path = validator_path(&self.dest);
        let tmp = with_suffix(&self.dest, ".part.meta.tmp");
        let write = || -> io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(validator.to_text().as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| FileError::new(&path, "write", e))
    }

    /// Feed the bytes already in the `.part` file to `sink` (to hash a resumed prefix), reading
    /// in `buf`-sized pieces, never the whole file at once.
    pub fn replay(&mut self, buf: &mut [u8], mut sink: impl FnMut(&[u8])) -> Result<(), FileError> {
        let err = |e| FileError::new(&self.part, "read", e);
        self.file.seek(SeekFrom::Start(0)).map_err(err)?;
        let mut left = self.len;
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = self.file.read(&mut buf[..want]).map_err(err)?;
            if n == 0 {
                return Err(err(io::ErrorKind::UnexpectedEof.into()));
            }
            sink(&buf[..n]);
            left -= n as u64;
        }
        Ok(())
    }

    /// Append bytes, naming the file on failure (disk full is the usual one on a board).
    pub fn write_chunk(&mut self, data: &[u8]) -> Result<(), FileError> {
        self.file
            .write_all(data)
            .map_err(|e| FileError::new(&self.part, "write", e))?;
        let before = self.len;
        self.len += data.len() as u64;
        if !self.direct && before / WRITEBACK_WINDOW != self.len / WRITEBACK_WINDOW {
            self.start_writeback();
        }
        Ok(())
    }

    /// Start writing the last complete window to storage without waiting for it. Overlaps the
    /// flush with the download, so the final fsync has little left to do, and keeps dirty page
    /// cache from piling up on a board with little RAM. Advisory: failure only costs speed.
    fn start_writeback(&self) {
        let end = self.len / WRITEBACK_WINDOW * WRITEBACK_WINDOW;
        let start = end.saturating_sub(WRITEBACK_WINDOW);
        // SAFETY: sync_file_range on an open descriptor with a valid range has no memory effects.
        unsafe {
            libc::sync_file_range(
                self.file.as_raw_fd(),
                start as libc::off64_t,
                WRITEBACK_WINDOW as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
    }

    /// fsync, rename `.part` to the destination, fsync the directory: after this returns the
    /// complete file survives a power cut under its final name.
    pub fn commit(self) -> Result<PathBuf, FileError> {
        if self.direct {
            return Ok(self.dest);
        }
        self.file
            .sync_all()
            .map_err(|e| FileError::new(&self.part, "sync", e))?;
        std::fs::rename(&self.part, &self.dest)
            .map_err(|e| FileError::new(&self.dest, "rename into place", e))?;
        // The complete file needs no record of its version; a leftover is harmless.
        let _ = remove_validator(&self.dest);
        let dir = match self.dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        // A directory fsync failure after a successful rename leaves a correct file whose rename
        // might not survive a crash; report it rather than pretend.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| FileError::new(dir, "sync directory", e))?;
        Ok(self.dest)
    }
}

/// Remove `DEST.part.meta` if it exists.
fn remove_validator(dest: &Path) -> Result<(), FileError> {
    let path = validator_path(dest);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(FileError::new(&path, "remove", e)),
        _ => Ok(()),
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// A [`PartFile`] with the SHA-256 of its bytes kept up to date, so a download is verified
/// before it is renamed into place (a resumed prefix is hashed from disk first).
pub struct HashedPart {
    part: PartFile,
    hasher: Option<ring::digest::Context>,
    expected: Option<[u8; 32]>,
}

impl fmt::Debug for HashedPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashedPart")
            .field("part", &self.part)
            .field("hashing", &self.hasher.is_some())
            .finish()
    }
}

/// A file that [`HashedPart::commit`] renamed into place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// Where the file is now.
    pub path: PathBuf,
    /// Its size.
    pub size: u64,
    /// Hex SHA-256 of the whole file, when one was expected.
    pub sha256: Option<String>,
}

/// Why [`HashedPart::commit`] did not rename.
#[derive(Debug)]
#[non_exhaustive]
pub enum CommitError {
    /// Writing, syncing or renaming failed.
    File(FileError),
    /// The data is wrong; the `.part` file was removed (resuming it would only append to it).
    Checksum {
        /// The SHA-256 asked for (hex).
        expected: String,
        /// The SHA-256 of the data (hex).
        actual: String,
    },
}

impl From<FileError> for CommitError {
    fn from(e: FileError) -> Self {
        CommitError::File(e)
    }
}

impl HashedPart {
    /// Hash `part` as it is when `expected` is given (reading through `buf`).
    pub fn new(
        mut part: PartFile,
        expected: Option<[u8; 32]>,
        buf: &mut [u8],
    ) -> Result<Self, FileError> {
        let mut hasher = expected.map(|_| ring::digest::Context::new(&ring::digest::SHA256));
        if let Some(h) = hasher.as_mut() {
            part.replay(buf, |b| h.update(b))?;
        }
        Ok(HashedPart {
            part,
            hasher,
            expected,
        })
    }

    /// Append `data` (and hash it, when a checksum is expected).
    pub fn write_chunk(&mut self, data: &[u8]) -> Result<(), FileError> {
        if let Some(h) = self.hasher.as_mut() {
            h.update(data);
        }
        self.part.write_chunk(data)
    }

    /// The `.part` being written.
    pub fn part_file(&self) -> &PartFile {
        &self.part
    }

    /// Check the checksum, then [`PartFile::commit`].
    pub fn commit(self) -> Result<Committed, CommitError> {
        let sha256 = match (self.hasher, self.expected) {
            (Some(h), Some(expected)) => {
                let actual = h.finish();
                if actual.as_ref() != expected {
                    let _ = std::fs::remove_file(self.part.part());
                    let _ = remove_validator(self.part.dest());
                    return Err(CommitError::Checksum {
                        expected: hex(&expected),
                        actual: hex(actual.as_ref()),
                    });
                }
                Some(hex(actual.as_ref()))
            }
            _ => None,
        };
        let size = self.part.len();
        let path = self.part.commit()?;
        Ok(Committed { path, size, sha256 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("boardnet-fs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn commit_renames_and_failure_keeps_part_only() {
        let dir = scratch("commit");
        let dest = dir.join("image.bin");
        let mut f = PartFile::create(&dest).unwrap();
        f.write_chunk(b"hello ").unwrap();
        drop(f); // a failed transfer
        assert!(!dest.exists(), "no complete-looking file after failure");
        assert_eq!(std::fs::read(part_path(&dest)).unwrap(), b"hello ");

        let mut f = PartFile::resume(&dest).unwrap();
        assert_eq!(f.len(), 6);
        let mut seen = Vec::new();
        f.replay(&mut [0u8; 4], |b| seen.extend_from_slice(b))
            .unwrap();
        assert_eq!(seen, b"hello ");
        f.write_chunk(b"world").unwrap();
        assert_eq!(f.commit().unwrap(), dest);
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello world");
        assert!(!part_path(&dest).exists());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn validators_live_beside_the_part_and_go_with_it() {
        let dir = scratch("validator");
        let dest = dir.join("fw.img");
        let v = Validator {
            etag: Some("\"65a-1f\"".into()),
            last_modified: Some("Tue, 15 Nov 1994 12:45:26 GMT".into()),
            mdtm: None,
            length: Some(1234),
        };
        let part = PartFile::create(&dest).unwrap();
        part.save_validator(&v).unwrap();
        assert_eq!(Validator::load(&dest).as_ref(), Some(&v));
        assert_eq!(v.if_range(), Some("\"65a-1f\""));
        let weak = Validator {
            etag: Some("W/\"x\"".into()),
            ..v.clone()
        };
        assert_eq!(weak.if_range(), v.last_modified.as_deref());
        assert_eq!(v.changed(&weak), Some(true));
        assert_eq!(v.changed(&v), Some(false));
        assert_eq!(v.changed(&Validator::default()), None);
        drop(part);
        // Resuming keeps it, starting over drops it, committing removes it.
        drop(PartFile::resume(&dest).unwrap());
        assert!(Validator::load(&dest).is_some());
        drop(PartFile::create(&dest).unwrap());
        assert!(Validator::load(&dest).is_none());
        let part = PartFile::create(&dest).unwrap();
        part.save_validator(&v).unwrap();
        part.commit().unwrap();
        assert!(!validator_path(&dest).exists());
        // A file that is not a sidecar of ours is ignored.
        std::fs::write(validator_path(&dest), "etag \"x\"\n").unwrap();
        assert!(Validator::load(&dest).is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn second_writer_is_refused_and_restart_truncates() {
        let dir = scratch("lock");
        let dest = dir.join("f");
        let mut first = PartFile::create(&dest).unwrap();
        let err = PartFile::resume(&dest).unwrap_err();
        assert_eq!(err.op, "lock");
        assert!(err.to_string().contains("another transfer"), "{err}");
        first.write_chunk(b"abc").unwrap();
        first.restart().unwrap();
        first.write_chunk(b"x").unwrap();
        drop(first);
        assert_eq!(std::fs::read(part_path(&dest)).unwrap(), b"x");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn device_destination_is_written_in_place_never_replaced() {
        let mut f = PartFile::create(Path::new("/dev/null")).unwrap();
        f.write_chunk(b"discarded").unwrap();
        assert_eq!(f.part(), Path::new("/dev/null"));
        assert_eq!(f.commit().unwrap(), Path::new("/dev/null"));
        let meta = std::fs::metadata("/dev/null").unwrap();
        assert!(!meta.is_file(), "/dev/null is still a device");
        assert!(!Path::new("/dev/null.part").exists());
    }

    #[test]
    fn directory_destination_is_an_error() {
        let dir = scratch("dir");
        let err = PartFile::create(&dir).unwrap_err();
        assert_eq!(err.class(), ErrorClass::LocalIo);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn hashed_part_verifies_before_the_rename() {
        let dir = scratch("hashed");
        let dest = dir.join("fw.bin");
        let empty_sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let mut buf = [0u8; 2];
        // A resumed prefix "a" is hashed from disk, then "bc" arrives.
        let mut p = PartFile::create(&dest).unwrap();
        p.write_chunk(b"a").unwrap();
        drop(p);
        let want = crate::http::parse_sha256(abc);
        let mut h = HashedPart::new(PartFile::resume(&dest).unwrap(), want, &mut buf).unwrap();
        h.write_chunk(b"bc").unwrap();
        let done = h.commit().unwrap();
        assert_eq!((done.size, done.sha256.as_deref()), (3, Some(abc)));
        assert_eq!(std::fs::read(&dest).unwrap(), b"abc");
        // A wrong checksum: no file under either name.
        let want = crate::http::parse_sha256(empty_sha);
        let mut h = HashedPart::new(
            PartFile::create(&dest.with_extension("x")).unwrap(),
            want,
            &mut buf,
        )
        .unwrap();
        h.write_chunk(b"zz").unwrap();
        match h.commit() {
            Err(CommitError::Checksum { expected, .. }) => assert_eq!(expected, empty_sha),
            other => panic!("{other:?}"),
        }
        assert!(!dest.with_extension("x").exists());
        assert!(!part_path(&dest.with_extension("x")).exists());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
