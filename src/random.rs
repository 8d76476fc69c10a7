//! Random bytes for what must be unpredictable but must never block: multipart boundaries,
//! Digest client nonces.

use std::fs::File;
use std::io::{self, Read};

/// Fill `buf` with random bytes: getrandom(2) without blocking, else `/dev/urandom`.
pub(crate) fn fill(buf: &mut [u8]) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if getrandom_nonblocking(buf)? {
        return Ok(());
    }
    // /dev/urandom never blocks either; it is the fallback for kernels before 3.17 and for
    // entropy pools not yet initialised at early boot.
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .map_err(|e| io::Error::new(e.kind(), format!("/dev/urandom: {e}")))
}

/// A random number for jitter (0 if the kernel gives none: jitter is a nicety, not a secret).
#[cfg(feature = "daemon")]
pub(crate) fn u64() -> u64 {
    let mut b = [0u8; 8];
    fill(&mut b).map_or(0, |()| u64::from_ne_bytes(b))
}

/// Fills `buf` from getrandom(2) without ever blocking: a board that blocks at early boot until
/// its entropy pool is ready must not hang an upload or a login. Returns `Ok(false)` when the caller should fall back to
/// `/dev/urandom`. The raw syscall is used rather than `libc::getrandom`, which needs glibc 2.25
/// or a libc that has it at all (uClibc does not).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn getrandom_nonblocking(buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    // GRND_INSECURE (Linux 5.6+) never blocks; older kernels reject it with EINVAL and get
    // GRND_NONBLOCK, which fails with EAGAIN while the pool is uninitialised.
    let mut flags = libc::GRND_INSECURE;
    while filled < buf.len() {
        let rest = buf.get_mut(filled..).unwrap_or_default();
        // SAFETY: `rest` is valid for writes of `rest.len()` bytes for the whole call, and
        // getrandom writes at most that many.
        let r = unsafe { libc::syscall(libc::SYS_getrandom, rest.as_mut_ptr(), rest.len(), flags) };
        if let Ok(n) = usize::try_from(r) {
            filled += n;
            continue;
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => {}
            Some(libc::EINVAL) if flags == libc::GRND_INSECURE => flags = libc::GRND_NONBLOCK,
            Some(libc::EAGAIN | libc::ENOSYS | libc::EPERM) => return Ok(false),
            _ => return Err(err),
        }
    }
    Ok(true)
}
