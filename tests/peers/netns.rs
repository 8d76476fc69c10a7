//! Network namespace plumbing shared by the peers that make namespaces.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{run, RunOutput};

/// `ip ARGS` (10 s limit).
pub(super) fn ip(args: &[&str]) -> RunOutput {
    run(Command::new("ip").args(args), Duration::from_secs(10))
}

/// PIDs of processes in network namespace `name`.
pub(super) fn netns_pids(name: &str) -> Vec<String> {
    let out = ip(&["netns", "pids", name]);
    out.stdout_str()
        .split_whitespace()
        .map(|s| s.to_string())
        .collect()
}

pub(super) fn kill(signal: &str, pids: &[String]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg(signal)
        .args(pids)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Kill everything in namespace `name`, delete it and /etc/netns/`name`.
/// Returns a description of what failed, if anything.
pub(super) fn destroy_netns(name: &str) -> Result<(), String> {
    let mut pids = netns_pids(name);
    if !pids.is_empty() {
        kill("-TERM", &pids);
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            std::thread::sleep(Duration::from_millis(5));
            pids = netns_pids(name);
            if pids.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                kill("-KILL", &pids);
                std::thread::sleep(Duration::from_millis(50));
                pids = netns_pids(name);
                break;
            }
        }
    }
    let mut errors = String::new();
    if !pids.is_empty() {
        errors.push_str(&format!("processes still in it: {:?}; ", pids));
    }
    let del = ip(&["netns", "del", name]);
    if !del.success() && Path::new("/run/netns").join(name).exists() {
        errors.push_str(&format!("ip netns del failed: {}; ", del.stderr.trim()));
    }
    let etc = Path::new("/etc/netns").join(name);
    if etc.exists() {
        if let Err(e) = std::fs::remove_dir_all(&etc) {
            errors.push_str(&format!("cannot remove {}: {}", etc.display(), e));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
