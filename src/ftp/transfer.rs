//! Whole-file transfers by path, the way `boardnet get/put ftp://…` and an OTA agent want them:
//! downloads land in `FILE.part`, resume with REST, are verified and renamed only when
//! complete; uploads resume with APPE after the server's SIZE.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::error::FtpError;
use super::session::{ProgressFn, Session};
use crate::fs::{part_path, CommitError, FileError, HashedPart, PartFile};

/// Options for [`download`].
#[derive(Default)]
pub struct DownloadOptions<'a> {
    /// Continue `DEST.part` from its length (REST).
    pub resume: bool,
    /// Expected SHA-256 of the complete file, checked before the rename.
    pub sha256: Option<[u8; 32]>,
    pub progress: Option<ProgressFn<'a>>,
}

/// A finished download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub path: PathBuf,
    pub size: u64,
    /// Bytes that were already in `.part`.
    pub resumed_from: u64,
    pub sha256: Option<String>,
}

/// The remote size, `None` when the server cannot say (no SIZE, or it refused for this file:
/// then the RETR that follows names the real problem).
fn remote_size(session: &mut Session, path: &str) -> Result<Option<u64>, FtpError> {
    match session.size(path) {
        Ok(n) => Ok(Some(n)),
        Err(FtpError::Refused { .. } | FtpError::Protocol(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Download `remote` to `dest` through `DEST.part`, using `buf` for the data.
pub fn download(
    session: &mut Session,
    remote: &str,
    dest: &Path,
    buf: &mut [u8],
    opts: DownloadOptions<'_>,
) -> Result<Downloaded, FtpError> {
    let total = remote_size(session, remote)?;
    let part = if opts.resume {
        PartFile::resume(dest)?
    } else {
        PartFile::create(dest)?
    };
    let offset = part.len();
    if let Some(total) = total {
        if offset > total {
            return Err(FtpError::Protocol(format!(
                "{} holds {offset} bytes but {remote} has only {total} (changed on the server? delete it to start over)",
                part_path(dest).display()
            )));
        }
    }
    let mut part = HashedPart::new(part, opts.sha256, buf)?;
    if total == Some(offset) && offset > 0 {
        log::info!("{} is already complete ({offset} bytes)", dest.display());
    } else {
        let mut sink = |chunk: &[u8]| part.write_chunk(chunk).map_err(FtpError::from);
        if let Err(e) = session.retrieve(remote, offset, total, buf, &mut sink, opts.progress) {
            // An empty .part (the server refused the file) is no use for a resume.
            if part.part_file().is_empty() && part.part_file().part() != dest {
                let _ = std::fs::remove_file(part.part_file().part());
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
        remote_size(session, remote)?.unwrap_or(0)
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
