//! Running transfers: one thread per running job, at most `--max-transfers` of them.
//!
//! Why threads: a transfer is the library's blocking [`transfer::download`]/[`upload`] (ureq,
//! rustls, FTP), which must not run on the reactor. A thread shares the daemon's memory and
//! certificates, starts in microseconds and is stopped at once through its [`CancelToken`] (every
//! wait of the transfer polls the token's pipe); the `.part` it leaves is resumed by the next
//! attempt. Each thread reports its end on a channel and wakes the reactor; progress is read
//! from two atomics, and the thread wakes the reactor for it at most every
//! [`PROGRESS_EVERY`]. The reactor never waits for a thread except to join one that has
//! already said it is done.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::Waker;

use super::jobs::{JobError, JobKind, UploadMethod};
use crate::cancel::CancelToken;
use crate::error::{Classify, ErrorClass};
use crate::transfer::{self, Options, TransferError};

/// Longest time between progress wake-ups of the reactor.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Why the daemon stopped a running transfer (the thread then ends as cancelled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// `pause`: keep the `.part`, wait for `resume`.
    Pause,
    /// `cancel`: give up, remove the `.part`.
    Cancel,
    /// The policy no longer allows a bearer: queue again.
    Policy,
    /// The policy's bearer moved to another interface: go on through it.
    Roam,
    /// The daemon is stopping: the job stays queued on disk.
    Shutdown,
}

/// A transfer that ended (successfully or not).
#[derive(Debug)]
pub struct Ended {
    /// The job.
    pub job: u64,
    /// Its outcome.
    pub outcome: Result<Finished, Failure>,
}

/// A finished transfer.
#[derive(Debug)]
pub struct Finished {
    /// Size of the file.
    pub size: u64,
    /// Hex SHA-256 when it was verified.
    pub sha256: Option<String>,
}

/// A failed attempt.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong.
    pub error: JobError,
    /// Whether trying again later could help (network trouble, a server's 5xx).
    pub transient: bool,
}

/// Bytes moved so far, shared with the thread.
#[derive(Debug, Default)]
pub struct Counter {
    bytes: AtomicU64,
    /// `u64::MAX`: unknown.
    total: AtomicU64,
}

impl Counter {
    /// Bytes and total.
    pub fn read(&self) -> (u64, Option<u64>) {
        let total = self.total.load(Ordering::Relaxed);
        (
            self.bytes.load(Ordering::Relaxed),
            (total != u64::MAX).then_some(total),
        )
    }
}

/// A running job's thread.
#[derive(Debug)]
pub struct Worker {
    cancel: CancelToken,
    /// Set before the token is cancelled.
    pub stop: Option<Stop>,
    /// The interface it goes through.
    pub interface: String,
    /// Its progress.
    pub counter: Arc<Counter>,
    /// Progress last reported to subscribers.
    pub reported: (u64, Option<u64>),
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Stop the transfer (it reports its end as usual).
    pub fn stop(&mut self, why: Stop) {
        if self.stop.is_none() {
            self.stop = Some(why);
        }
        self.cancel.cancel();
    }

    /// Wait for the thread, which has already reported its end (or was stopped).
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Where threads report: ends not yet handled, and the reactor's waker. (A mutex around a
/// vector rather than std's channel: the reactor takes everything at once anyway, and it is
/// a fraction of the channel's code.)
#[derive(Debug)]
pub struct Reports {
    ended: Arc<Mutex<Vec<Ended>>>,
    waker: Arc<Waker>,
}

impl Reports {
    /// Reports that wake `waker`'s reactor.
    pub fn new(waker: Arc<Waker>) -> Reports {
        Reports {
            ended: Arc::default(),
            waker,
        }
    }

    /// The ends reported so far.
    pub fn take(&self) -> Vec<Ended> {
        std::mem::take(&mut *self.ended.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// How one attempt runs.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The job.
    pub job: u64,
    /// What to move.
    pub kind: JobKind,
    /// The interface the policy chose.
    pub interface: String,
    /// Bind the sockets to it (otherwise the kernel's routes decide).
    pub bind: bool,
    /// Continue what an earlier attempt left: a download's `.part` (always: its validator
    /// guards it), an FTP upload's partial file on the server (only once this job started one
    /// — a file of the same name that was there before must not be appended to).
    pub resume: bool,
    /// Limits of a connect and of a stall.
    pub connect_timeout: Option<Duration>,
    /// Longest wait without a byte.
    pub idle_timeout: Option<Duration>,
}

/// Start an attempt on its own thread.
pub fn start(attempt: Attempt, reports: &Reports) -> std::io::Result<Worker> {
    let cancel = CancelToken::new()?;
    let counter = Arc::new(Counter {
        bytes: AtomicU64::new(0),
        total: AtomicU64::new(u64::MAX),
    });
    let interface = attempt.interface.clone();
    let (ended, waker) = (Arc::clone(&reports.ended), Arc::clone(&reports.waker));
    let (thread_cancel, thread_counter) = (cancel.clone(), Arc::clone(&counter));
    let thread = std::thread::Builder::new()
        .name(format!("job-{}", attempt.job))
        .stack_size(256 * 1024)
        .spawn(move || {
            let job = attempt.job;
            let outcome = run(attempt, thread_cancel, thread_counter, Arc::clone(&waker));
            ended
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Ended { job, outcome });
            let _ = waker.wake();
        })?;
    Ok(Worker {
        cancel,
        stop: None,
        interface,
        counter,
        reported: (0, None),
        thread: Some(thread),
    })
}

fn run(
    attempt: Attempt,
    cancel: CancelToken,
    counter: Arc<Counter>,
    waker: Arc<Waker>,
) -> Result<Finished, Failure> {
    let mut last_wake = Instant::now();
    let progress = Box::new(move |p: &transfer::Progress| {
        counter.bytes.store(p.bytes, Ordering::Relaxed);
        counter
            .total
            .store(p.total.unwrap_or(u64::MAX), Ordering::Relaxed);
        if last_wake.elapsed() >= PROGRESS_EVERY {
            last_wake = Instant::now();
            let _ = waker.wake();
        }
    });
    let mut options = Options {
        resume: attempt.resume,
        progress: Some(progress),
        cancel: Some(cancel),
        interface: attempt.bind.then_some(attempt.interface),
        connect_timeout: attempt.connect_timeout,
        idle_timeout: attempt.idle_timeout,
        ..Options::default()
    };
    let result = match &attempt.kind {
        JobKind::Fetch { url, path, sha256 } => {
            options.sha256 = *sha256;
            transfer::download(url, path, options)
        }
        JobKind::Upload {
            path, url, method, ..
        } => {
            if *method == UploadMethod::Post {
                options.http_request = Some(&post);
            }
            transfer::upload(path, url, options)
        }
    };
    result
        .map(|done| Finished {
            size: done.size,
            sha256: done.sha256,
        })
        .map_err(|e| Failure {
            transient: is_transient(&e),
            error: JobError {
                class: e.class(),
                kind: e.kind().to_string(),
                message: e.to_string(),
            },
        })
}

/// Network trouble and a server's temporary refusals are worth another attempt; bad input,
/// local files, certificates and checksums are not.
fn is_transient(e: &TransferError) -> bool {
    match e.class() {
        ErrorClass::HostNotFound
        | ErrorClass::Connection
        | ErrorClass::Timeout
        | ErrorClass::Protocol => true,
        ErrorClass::ServerRefused => match e {
            TransferError::Http(d) => d
                .reply
                .as_ref()
                .is_none_or(|r| r.status() >= 500 || matches!(r.status(), 408 | 429)),
            _ => true,
        },
        _ => false,
    }
}

fn post<'c>(
    client: &'c crate::http::Client,
    url: &str,
) -> Result<crate::http::Request<'c>, crate::http::NetworkError> {
    Ok(client.post(url))
}

/// The `.part` of a fetch (removed on cancel).
pub fn part_files(kind: &JobKind) -> Vec<PathBuf> {
    match kind {
        JobKind::Fetch { path, .. } => {
            vec![crate::fs::part_path(path), crate::fs::validator_path(path)]
        }
        JobKind::Upload { .. } => Vec::new(),
    }
}
