//! Hooks, like NetworkManager's dispatcher: the executables of the hooks directory run on
//! events (`online`, `offline`, `preferred-changed`, `up`, `down`, `job-done`, `job-failed`),
//! in name order, one event at a time, with the event in `BOARDNET_*` variables and as their
//! first argument. A hook is killed after the timeout; its output goes to the log. A hook not
//! owned by root (or the daemon's user) or writable by group or others is not run, and the log
//! says so. Children are reaped on the reactor, so a slow hook never holds up events.

use std::collections::VecDeque;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::child::Child;
use crate::reactor::{Reactor, Ready};

/// Events waiting for their hooks; past this the oldest is dropped (and logged).
const QUEUE_BOUND: usize = 256;

/// Output of one hook kept for the log per read.
const OUTPUT_BOUND: usize = 64 * 1024;

/// One event for the hooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookEvent {
    /// `online`, `up`, `job-done`, …
    pub name: &'static str,
    /// `BOARDNET_*` variables besides `BOARDNET_EVENT`.
    pub env: Vec<(&'static str, String)>,
    /// A job's own hook, run after the directory's (a file in `HOOKS/jobs/`).
    pub job_hook: Option<String>,
}

#[derive(Debug)]
struct Current {
    event: HookEvent,
    left: VecDeque<PathBuf>,
    name: String,
    child: Child,
}

/// The hooks runner.
#[derive(Debug)]
pub struct Hooks {
    dir: PathBuf,
    timeout: Duration,
    queue: VecDeque<HookEvent>,
    current: Option<Current>,
}

impl Hooks {
    /// Hooks from `dir`, each killed after `timeout`.
    pub fn new(dir: PathBuf, timeout: Duration) -> Hooks {
        Hooks {
            dir,
            timeout,
            queue: VecDeque::new(),
            current: None,
        }
    }

    /// New settings (SIGHUP); the directory is read again for every event anyway.
    pub fn reconfigure(&mut self, dir: PathBuf, timeout: Duration) {
        self.dir = dir;
        self.timeout = timeout;
    }

    /// Queue an event; its hooks start when those of earlier events are done.
    pub fn push(&mut self, reactor: &mut Reactor, event: HookEvent) {
        if self.queue.len() >= QUEUE_BOUND {
            if let Some(old) = self.queue.pop_front() {
                log::warn!("hooks: too many events waiting; {} dropped", old.name);
            }
        }
        self.queue.push_back(event);
        self.next(reactor);
    }

    /// Let the runner see a reactor event; true if it was its own.
    pub fn handle(&mut self, reactor: &mut Reactor, ready: &Ready) -> bool {
        let Some(current) = self.current.as_mut() else {
            return false;
        };
        match ready {
            Ready::Io { token, .. } if *token == current.child.token => {
                current.child.read(reactor, OUTPUT_BOUND);
                log_output(&current.name, &mut current.child);
            }
            Ready::Timer { owner, .. } if *owner == current.child.token => {
                log::warn!(
                    "hook {}: still running after {:.0} s: killed",
                    current.name,
                    self.timeout.as_secs_f64()
                );
                current.child.expire();
            }
            Ready::Signal(libc::SIGCHLD) => {}
            _ => return false,
        }
        if let Some(status) = current.child.poll_exit(reactor, OUTPUT_BOUND) {
            log_output(&current.name, &mut current.child);
            if !status.success() && !current.child.timed_out {
                log::warn!("hook {}: {status}", current.name);
            }
            self.run_next_hook(reactor);
        }
        true
    }

    /// Kill the running hook (the daemon is stopping).
    pub fn stop(&mut self) {
        if let Some(c) = self.current.as_mut() {
            c.child.kill();
        }
        self.queue.clear();
    }

    /// Start the next event's hooks if none are running.
    fn next(&mut self, reactor: &mut Reactor) {
        while self.current.is_none() {
            let Some(event) = self.queue.pop_front() else {
                return;
            };
            let mut left: VecDeque<PathBuf> = runnable(&self.dir).into();
            if let Some(own) = &event.job_hook {
                let path = self.dir.join("jobs").join(own);
                if trusted(&path) {
                    left.push_back(path);
                }
            }
            self.current = self.start_from(reactor, event, left);
        }
    }

    /// The current event's next hook, or the next event's first.
    fn run_next_hook(&mut self, reactor: &mut Reactor) {
        if let Some(done) = self.current.take() {
            self.current = self.start_from(reactor, done.event, done.left);
        }
        self.next(reactor);
    }

    /// Start the first hook of `left` that starts.
    fn start_from(
        &mut self,
        reactor: &mut Reactor,
        event: HookEvent,
        mut left: VecDeque<PathBuf>,
    ) -> Option<Current> {
        while let Some(path) = left.pop_front() {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut command = Command::new(&path);
            command
                .arg(event.name)
                .current_dir("/")
                .env_clear()
                .env(
                    "PATH",
                    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                )
                .env("BOARDNET_EVENT", event.name)
                .envs(event.env.iter().map(|(k, v)| (*k, v)));
            match Child::spawn(reactor, command, Instant::now() + self.timeout) {
                Ok(child) => {
                    log::info!("hook {name}: {} (pid {})", event.name, child.pid());
                    return Some(Current {
                        event,
                        left,
                        name,
                        child,
                    });
                }
                Err(e) => log::warn!("hook {name}: cannot start: {e}"),
            }
        }
        None
    }
}

fn log_output(name: &str, child: &mut Child) {
    for line in child.take_lines() {
        log::info!("hook {name}: {line}");
    }
    if child.dropped > 0 {
        log::warn!("hook {name}: {} bytes of output left out", child.dropped);
        child.dropped = 0;
    }
}

/// The hooks of `dir` that may run, in name order (a missing directory has none).
fn runnable(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut hooks: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            !name.starts_with('.') && !name.ends_with('~') && p.is_file()
        })
        .filter(|p| trusted(p))
        .collect();
    crate::sort::sort_small(&mut hooks);
    hooks
}

/// Executable, owned by root or the daemon's user, not writable by group or others.
fn trusted(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        log::warn!("hook {}: not found", path.display());
        return false;
    };
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let mode = meta.permissions().mode();
    if mode & 0o111 == 0 {
        // Like run-parts: a README or a disabled `.example` is simply not a hook.
        log::debug!("hook {}: not executable: not run", path.display());
        return false;
    }
    let why = if meta.uid() != 0 && meta.uid() != euid {
        "not owned by root"
    } else if mode & 0o022 != 0 {
        "writable by group or others"
    } else {
        return true;
    };
    log::warn!("hook {}: {why}: not run", path.display());
    false
}
