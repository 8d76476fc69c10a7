//! `boardnet::http::multipart::Multipart::add_curl_spec`: one curl `-F` argument.
//!
//! Input: UTF-8 text (anything else is skipped), the whole `-F` argument. On success the form's
//! encoded body is read and must be exactly `content_length()` bytes.
//!
//! `name=@path` and `name=<path` touch the file system, so each input runs with a scratch
//! directory of this process as the working directory (see `SANDBOX` for its files; the previous
//! one is restored afterwards, also when the input panics), and file specs whose path could leave
//! it are skipped: any `..`, or a `/` that starts a path, except `/dev/zero` and `/dev/null`. A
//! FIFO or a terminal would block in `open`/`read`, and arbitrary host files would make runs
//! depend on the machine. `/dev/zero` with `<` checks the 1 MiB bound on a read that has no size
//! to stat.
#![no_main]

use std::io::Read;
use std::path::PathBuf;
use std::sync::OnceLock;

use boardnet::http::multipart::Multipart;
use libfuzzer_sys::fuzz_target;

/// Scratch files: (relative path, length). Directories end in `/`.
const SANDBOX: &[(&str, u64)] = &[
    ("small.txt", 6),
    ("empty", 0),
    ("page.html", 100),
    ("image.png", 300),
    // The `<` bound: exactly 1 MiB is read, one byte more is refused by stat (both sparse).
    ("exact.bin", 1024 * 1024),
    ("big.bin", 1024 * 1024 + 1),
    ("dir/", 0),
    ("dir/a b;c,d\"e.txt", 10),
];

/// Absolute paths a spec may name.
const ALLOWED_ABSOLUTE: &[&str] = &["/dev/zero", "/dev/null"];

fn make_sandbox() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("boardnet-fuzz-multipart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create sandbox");
    for &(name, len) in SANDBOX {
        let path = dir.join(name);
        if name.ends_with('/') {
            std::fs::create_dir_all(&path).expect("create sandbox dir");
        } else {
            let file = std::fs::File::create(&path).expect("create sandbox file");
            file.set_len(len).expect("size sandbox file");
        }
    }
    dir
}

/// The sandbox as working directory until dropped.
struct InSandbox(PathBuf);

impl InSandbox {
    fn enter() -> Self {
        static SANDBOX_DIR: OnceLock<PathBuf> = OnceLock::new();
        let previous = std::env::current_dir().expect("working directory");
        std::env::set_current_dir(SANDBOX_DIR.get_or_init(make_sandbox)).expect("enter sandbox");
        InSandbox(previous)
    }
}

impl Drop for InSandbox {
    fn drop(&mut self) {
        let _ = std::env::set_current_dir(&self.0);
    }
}

/// Whether a file spec's path stays inside the sandbox (or is an allowed device).
fn confined(spec: &str) -> bool {
    if spec.contains("..") {
        return false;
    }
    let b = spec.as_bytes();
    b.iter().enumerate().all(|(i, &c)| {
        c != b'/'
            || (i > 0
                && (b[i - 1].is_ascii_alphanumeric() || matches!(b[i - 1], b'_' | b'-' | b'.')))
            || ALLOWED_ABSOLUTE.iter().any(|p| spec[i..].starts_with(p))
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = std::str::from_utf8(data) else {
        return;
    };
    let value = spec.split_once('=').map_or("", |(_, v)| v);
    if (value.starts_with('@') || value.starts_with('<')) && !confined(spec) {
        return;
    }
    let _cwd = InSandbox::enter();
    let mut form = Multipart::with_boundary("x");
    match form.add_curl_spec(spec) {
        Ok(()) => {
            let announced = form.content_length();
            let mut body = Vec::new();
            form.into_reader()
                .read_to_end(&mut body)
                .expect("reading the form body");
            assert_eq!(body.len() as u64, announced, "content_length() is wrong");
        }
        Err(e) => {
            let _ = e.to_string();
            let _ = e.spec();
        }
    }
});
