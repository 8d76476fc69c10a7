//! Fresh scratch directories for tests.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Environment variable: when set (to anything), `WorkDir`s are kept on drop
/// and their path is printed to stderr.
pub const KEEP_ENV: &str = "BOARDNET_KEEP_TEST_DIRS";

/// A fresh, uniquely named directory under `std::env::temp_dir()`, removed
/// (recursively) on drop unless `BOARDNET_KEEP_TEST_DIRS` is set.
#[derive(Debug)]
pub struct WorkDir {
    path: PathBuf,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl WorkDir {
    /// `$TMPDIR/boardnet-test-<pid>-<n>-<nanos>`.
    pub fn new() -> WorkDir {
        WorkDir::named("test")
    }

    /// Like `new` with a tag in the name (`boardnet-<tag>-<pid>-<n>-<nanos>`),
    /// handy when the directory is kept for debugging.
    pub fn named(tag: &str) -> WorkDir {
        let base = std::env::temp_dir();
        for _ in 0..100 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let path = base.join(format!(
                "boardnet-{}-{}-{}-{}",
                tag,
                std::process::id(),
                n,
                nanos
            ));
            match std::fs::create_dir(&path) {
                Ok(()) => return WorkDir { path },
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("cannot create test work dir {}: {}", path.display(), e),
            }
        }
        panic!(
            "cannot find a fresh test work dir name under {}",
            base.display()
        );
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `self.path().join(rel)`.
    pub fn join<P: AsRef<Path>>(&self, rel: P) -> PathBuf {
        self.path.join(rel)
    }

    /// Create (with parents) a subdirectory and return its path.
    pub fn mkdir<P: AsRef<Path>>(&self, rel: P) -> PathBuf {
        let p = self.path.join(rel);
        std::fs::create_dir_all(&p)
            .unwrap_or_else(|e| panic!("cannot create {}: {}", p.display(), e));
        p
    }

    /// Write a file (creating parent directories) and return its path.
    pub fn write<P: AsRef<Path>, C: AsRef<[u8]>>(&self, rel: P, contents: C) -> PathBuf {
        write_file(&self.path.join(rel), contents.as_ref())
    }
}

impl Default for WorkDir {
    fn default() -> Self {
        WorkDir::new()
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if std::env::var_os(KEEP_ENV).is_some() {
            eprintln!("[peers] keeping test dir {}", self.path.display());
            return;
        }
        if std::thread::panicking() {
            eprintln!(
                "[peers] removing test dir {} (set {}=1 to keep it)",
                self.path.display(),
                KEEP_ENV
            );
        }
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Write `contents` to `path`, creating parent directories; panics on error.
pub fn write_file(path: &Path, contents: &[u8]) -> PathBuf {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .unwrap_or_else(|e| panic!("cannot create {}: {}", parent.display(), e));
    }
    std::fs::write(path, contents)
        .unwrap_or_else(|e| panic!("cannot write {}: {}", path.display(), e));
    path.to_path_buf()
}

/// Read a file to a String (lossy), or an explanatory placeholder.
pub fn read_lossy(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => format!("<cannot read {}: {}>", path.display(), e),
    }
}
