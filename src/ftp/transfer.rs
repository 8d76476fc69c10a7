//! Whole-file transfers by path, the way `boardnet get/put ftp://…` and an OTA agent want them:
//! downloads land in `FILE.part`, resume with REST, are verified and renamed only when
//! complete; uploads resume with APPE after the server's SIZE.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::error::FtpError;
use super::session::{ProgressFn, Session};
use crate::fs::{
    validator_path, CommitError, FileError, HashedPart, PartFile, PartNotice, RestartReason,
    Validator,
};

/// Options for [`download`].
#[derive(Default)]
pub struct DownloadOptions<'a> {
    /// Continue `DEST.part` from its length (REST).
    pub resume: bool,
    /// Expected SHA-256 of the complete file, checked before the rename.
    pub sha256: Option<[u8; 32]>,
    /// Called as bytes arrive.
    pub progress: Option<ProgressFn<'a>>,
    /// Told when the `.part` restarts, a resume cannot be verified, or the file was already
    /// complete.
    pub notice: Option<&'a mut dyn FnMut(&PartNotice)>,
}

impl DownloadOptions<'_> {
    fn notify(&mut self, notice: PartNotice) {
        log::info!("{notice}");
        if let Some(f) = self.notice.as_mut() {
            f(&notice);
        }
    }
}

/// A finished download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// Where the file is now.
    pub path: PathBuf,
    /// Its size.
    pub size: u64,
    /// Bytes that were already in `.part`.
    pub resumed_from: u64,
    /// Hex SHA-256 of the file, when one was asked for.
    pub sha256: Option<String>,
}

/// Ask a question whose refusal only means the server cannot say (no SIZE or MDTM, or not
/// for this file: then the RETR that follows names the real problem).
fn optional<T>(answer: Result<T, FtpError>) -> Result<Option<T>, FtpError> {
    match answer {
        Ok(v) => Ok(Some(v)),
        Err(FtpError::Refused { .. } | FtpError::Protocol(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Download `remote` to `dest` through `DEST.part`, using `buf` for the data.
///
/// The remote file's SIZE and MDTM are kept beside the `.part` ([`Validator`]); a resume
/// whose file has another size or time now starts over ([`PartNotice::Restarted`]) instead of
/// appending a different version. Without a recorded MDTM the resume is
/// [`PartNotice::Unverified`].
pub fn download(
    session: &mut Session,
    remote: &str,
    dest: &Path,
    buf: &mut [u8],
    mut opts: DownloadOptions<'_>,
) -> Result<Downloaded, FtpError> {
    let total = optional(session.size(remote))?;
    let now = Validator {
        mdtm: optional(session.mdtm(remote))?,
        length: total,
        ..Validator::default()
    };
    let mut part = if opts.resume {
        PartFile::resume(dest)?
    } else {
        PartFile::create(dest)?
    };
    let had = part.len();
    if had > 0 {
        let stored = Validator::load(dest);
        let changed = stored.as_ref().and_then(|s| s.changed(&now));
        if changed == Some(true) || total.is_some_and(|t| t < had) {
            opts.notify(PartNotice::Restarted {
                had,
                reason: RestartReason::Changed,
            });
            part.restart()?;
        } else if changed.is_none() {
            opts.notify(PartNotice::Unverified { from: had });
        }
    }
    if part.is_empty() {
        part.save_validator(&now)?;
    }
    let offset = part.len();
    let mut part = HashedPart::new(part, opts.sha256, buf)?;
    if total == Some(offset) && offset > 0 {
        opts.notify(PartNotice::AlreadyComplete { size: offset });
    } else {
        let mut sink = |chunk: &[u8]| part.write_chunk(chunk).map_err(FtpError::from);
        if let Err(e) = session.retrieve(remote, offset, total, buf, &mut sink, opts.progress) {
            // An empty .part (the server refused the file) is no use for a resume.
            if part.part_file().is_empty() && part.part_file().part() != dest {
                let _ = std::fs::remove_file(part.part_file().part());
                let _ = std::fs::remove_file(validator_path(dest));
            }
            return Err(e);
        }
    }
    match part.commit() {
        Ok(done) => Ok(Downloaded {
            path: done.path,
            size: done.size,
            resumed_from: offset,
            sha256: done.sha256,
        }),
        Err(CommitError::File(e)) => Err(e.into()),
        Err(CommitError::Checksum { expected, actual }) => {
            Err(FtpError::ChecksumMismatch { expected, actual })
        }
    }
}

/// A finished upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uploaded {
    /// Bytes sent now.
    pub bytes: u64,
    /// Bytes the server already had (resumed uploads).
    pub resumed_from: u64,
}

/// Upload the file `local` to `remote`. With `resume`, what the server already has (SIZE) is
/// skipped and the rest appended (APPE).
pub fn upload(
    session: &mut Session,
    local: &Path,
    remote: &str,
    resume: bool,
    buf: &mut [u8],
    progress: Option<ProgressFn<'_>>,
) -> Result<Uploaded, FtpError> {
    let mut file = std::fs::File::open(local).map_err(|e| FileError::new(local, "open", e))?;
    let len = file
        .metadata()
        .map_err(|e| FileError::new(local, "stat", e))?
        .len();
    let offset = if resume {
        optional(session.size(remote))?.unwrap_or(0)
    } else {
        0
    };
    if offset > len {
        return Err(FtpError::Protocol(format!(
            "{remote} on the server ({offset} bytes) is larger than {} ({len} bytes)",
            local.display()
        )));
    }
    if resume && offset == len && offset > 0 {
        log::info!("{remote} is already complete on the server ({len} bytes)");
        return Ok(Uploaded {
            bytes: 0,
            resumed_from: offset,
        });
    }
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| FileError::new(local, "seek in", e))?;
    let mut source = ReadNamed { file, path: local };
    let bytes = session.store(
        remote,
        offset > 0,
        &mut source,
        Some(len - offset),
        buf,
        progress,
    )?;
    Ok(Uploaded {
        bytes,
        resumed_from: offset,
    })
}

/// A file whose read errors name it.
struct ReadNamed<'a> {
    file: std::fs::File,
    path: &'a Path,
}

impl Read for ReadNamed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.file
            .read(buf)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", self.path.display())))
    }
}
