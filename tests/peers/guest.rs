//! Running programs inside the x86_64 QEMU test guest (`board/qemu-x64/`).
//!
//! The host kernel has no SCTP and no wireless; the guest runs Debian's amd64
//! kernel (SCTP, mac80211_hwsim with wlan0/wlan1 already created) on the
//! host's own root filesystem (read-only 9p + tmpfs overlay), so the test
//! binaries cargo built run there unchanged, in the same working directory.
//! Inside, the network is loopback only and nothing the guest writes reaches
//! the host. One run costs a boot: about 3.5 s under TCG (no KVM here).
//!
//! The pattern for a test of a kernel feature the host lacks:
//!
//! ```ignore
//! #[test]
//! fn sctp_stream_echo() {
//!     if !peers::kernel_has_sctp() {
//!         // Host: boot the guest and run this very test there (fails if it fails there).
//!         peers::run_test_in_guest("sctp_stream_echo", Duration::from_secs(120));
//!         return;
//!     }
//!     // Host with SCTP, or inside the guest: the real test.
//! }
//! ```
//!
//! To run many tests in one boot, call [`run_in_guest`] with
//! `std::env::current_exe()` and a libtest filter, and check the summary.
//! The guest loads mac80211_hwsim at boot; a test that needs no Wi-Fi can
//! save half a second per boot with
//! `guest_command(..).env("BOARDNET_QEMU_WIFI", "0")` + [`run_guest_command`].

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use super::process::{require_root_or_fail, run, RunOutput};

/// Set (to "1") in the environment of every command run in the guest.
pub const IN_GUEST_ENV: &str = "BOARDNET_IN_GUEST";

/// Exit code of `run.sh` when the guest did not run the command at all.
pub const GUEST_NOT_RUN: i32 = 125;
/// Exit code of `run.sh` when its timeout killed the guest.
pub const GUEST_TIMED_OUT: i32 = 124;

/// Extra time the harness gives `run.sh` beyond the guest's own timeout, so
/// that `run.sh` reports a hung guest (with its console) before we kill it.
const HARNESS_GRACE: Duration = Duration::from_secs(30);
/// `setup.sh` downloads and unpacks a kernel on first use (about 10 s here).
const SETUP_TIMEOUT: Duration = Duration::from_secs(900);

/// True inside the QEMU guest (`BOARDNET_IN_GUEST` is set by `run.sh`).
pub fn in_guest() -> bool {
    std::env::var_os(IN_GUEST_ENV).is_some()
}

/// True if this kernel lets us open an SCTP socket (the host's does not).
pub fn kernel_has_sctp() -> bool {
    // SAFETY: plain socket(2)/close(2) on a descriptor we own.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_SCTP);
        if fd < 0 {
            return false;
        }
        libc::close(fd);
        true
    }
}

/// `board/qemu-x64/` of this checkout.
pub fn guest_board_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("board/qemu-x64")
}

/// Where `setup.sh` keeps the kernel and initramfs (same rule as the scripts).
fn guest_cache_dir() -> PathBuf {
    std::env::var_os("BOARDNET_QEMU_X64_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/boardnet-qemu-x64"))
}

static SETUP: Mutex<bool> = Mutex::new(false);

/// Fail clearly unless the guest can be booted: root, and `setup.sh` done
/// (run here, once per test process, when its cache is missing).
pub fn require_guest_or_fail() {
    require_root_or_fail("booting the QEMU test guest (board/qemu-x64)");
    let mut done = SETUP.lock().unwrap_or_else(|e| e.into_inner());
    if *done {
        return;
    }
    let current = guest_cache_dir().join("current");
    if !current.join("kernel").exists() || !current.join("initrd.cpio").exists() {
        let setup = guest_board_dir().join("setup.sh");
        let out = run(&mut Command::new(&setup), SETUP_TIMEOUT);
        assert!(
            out.success(),
            "{} failed: the QEMU test guest (qemu-system-x86, Debian's amd64 kernel) \
             cannot be set up, so this test cannot run:\n{:?}",
            setup.display(),
            out
        );
    }
    let qemu_found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("qemu-system-x86_64").is_file()))
        .unwrap_or(false);
    assert!(
        qemu_found,
        "qemu-system-x86_64 is not in PATH although board/qemu-x64/setup.sh ran: \
         apt-get install qemu-system-x86 (or rerun the setup)"
    );
    *done = true;
}

/// A `Command` running `program args…` in the guest via `board/qemu-x64/run.sh`
/// (guest timeout `timeout`). Environment variables named `BOARDNET_*`,
/// `RUST_*`, `CARGO_*` set on it reach the program; see run.sh for the rest.
pub fn guest_command(program: &Path, args: &[&str], timeout: Duration) -> Command {
    let mut c = Command::new(guest_board_dir().join("run.sh"));
    c.arg("--timeout")
        .arg(timeout.as_secs().max(1).to_string())
        .arg("--")
        .arg(program)
        .args(args);
    c
}

/// Run `program args…` inside the guest (same working directory, root) and
/// return what it did: its exit code, stdout exactly as it wrote it (kernel
/// messages are kept apart) and stderr. Boots a fresh guest every call.
/// `timed_out` is set when the guest outlived `timeout` (the guest's console
/// is then in `stderr`). Panics when the guest could not run it at all.
pub fn run_in_guest(program: &Path, args: &[&str], timeout: Duration) -> RunOutput {
    run_guest_command(&mut guest_command(program, args, timeout), timeout)
}

/// [`run_in_guest`] for a `Command` from [`guest_command`] (e.g. with `.env(..)`).
pub fn run_guest_command(cmd: &mut Command, timeout: Duration) -> RunOutput {
    require_guest_or_fail();
    let mut out = run(cmd, timeout + HARNESS_GRACE);
    if out.code == Some(GUEST_TIMED_OUT) && out.stderr.contains("qemu-x64/run.sh: timed out") {
        out.timed_out = true;
    }
    if out.code == Some(GUEST_NOT_RUN)
        && out
            .stderr
            .contains("qemu-x64/run.sh: the guest did not run the command")
    {
        panic!("the QEMU test guest did not run the command:\n{:?}", out);
    }
    out
}

/// Run the test `name` of this test binary inside the guest (`--exact`) and
/// fail unless it ran there and passed. For tests of kernel features the
/// host lacks; see the module docs. Panics if called inside the guest.
pub fn run_test_in_guest(name: &str, timeout: Duration) -> RunOutput {
    assert!(
        !in_guest(),
        "test {} needs a kernel feature that even the QEMU guest's kernel lacks",
        name
    );
    let exe = std::env::current_exe().expect("current_exe");
    let out = run_in_guest(&exe, &[name, "--exact", "--test-threads=1"], timeout);
    // A misspelled name makes libtest run nothing and exit 0: insist on one pass.
    let stdout = out.stdout_str();
    assert!(
        out.success() && stdout.contains("test result: ok. 1 passed"),
        "test {} in the QEMU guest did not pass:\n{:?}",
        name,
        out
    );
    out
}
