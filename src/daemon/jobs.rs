//! The transfer queue's jobs: what each one is, its state, how it is stored, and which bearer
//! its policy lets it use now.
//!
//! Each job is one file, `STATE_DIR/jobs/ID.json`, written to a temporary name, fsynced,
//! renamed and its directory fsynced: after a power cut a job file is the old one or the new
//! one, never half of each. Progress is not stored: the `.part` next to the destination is the
//! progress, and it is resumed (Range/REST, checked by its validator) after a restart.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::bearer::{BearerFamily, Manager, Reachability, StateFlags};
use crate::error::ErrorClass;
use crate::fs::FileError;

/// What a job moves.
#[derive(Debug, Clone, PartialEq)]
pub enum JobKind {
    /// Download `url` to `path` (through `path.part`).
    Fetch {
        /// Source.
        url: String,
        /// Destination.
        path: PathBuf,
        /// Expected SHA-256 of the whole file.
        sha256: Option<[u8; 32]>,
    },
    /// Send the file `path` to `url`.
    Upload {
        /// The file.
        path: PathBuf,
        /// Destination.
        url: String,
        /// HTTP method (FTP: STOR).
        method: UploadMethod,
        /// Remove the file after a 2xx.
        remove: bool,
    },
}

impl JobKind {
    /// The file a fetch writes or an upload reads.
    pub fn path(&self) -> &Path {
        match self {
            JobKind::Fetch { path, .. } | JobKind::Upload { path, .. } => path,
        }
    }

    /// The URL a fetch reads or an upload writes.
    pub fn url(&self) -> &str {
        match self {
            JobKind::Fetch { url, .. } | JobKind::Upload { url, .. } => url,
        }
    }
}

/// HTTP method of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadMethod {
    /// PUT (and FTP's STOR).
    Put,
    /// POST with the file as the body.
    Post,
}

/// Which bearers a job may use (Qt's bearer types).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// Any bearer with a default route; follows the preferred one.
    Any,
    /// Any bearer that is not cellular.
    NotCellular,
    /// Only this interface.
    Interface(String),
    /// Only when the connectivity check passed; follows the preferred bearer.
    Online,
}

impl Policy {
    /// `any`, `not-cellular`, `interface:IF`, `online`.
    pub fn parse(text: &str) -> Option<Policy> {
        Some(match text {
            "any" => Policy::Any,
            "not-cellular" => Policy::NotCellular,
            "online" => Policy::Online,
            _ => match text.strip_prefix("interface:") {
                Some(i) if !i.is_empty() && i.len() < 16 && !i.contains('/') => {
                    Policy::Interface(i.to_string())
                }
                _ => return None,
            },
        })
    }

    /// The text [`parse`](Self::parse) reads.
    pub fn text(&self) -> String {
        match self {
            Policy::Any => "any".into(),
            Policy::NotCellular => "not-cellular".into(),
            Policy::Interface(i) => format!("interface:{i}"),
            Policy::Online => "online".into(),
        }
    }

    /// Whether a transfer to `url` is bound to the policy's interface (SO_BINDTODEVICE), as
    /// the library's roaming binds its legs: a link whose carrier went keeps its routes
    /// (marked linkdown) and the kernel may still choose them. A loopback destination is
    /// never bound under `any` or `online` (no bearer carries it).
    pub fn binds(&self, url: &str) -> bool {
        matches!(self, Policy::NotCellular | Policy::Interface(_)) || !is_loopback_url(url)
    }

    /// The interface a transfer under this policy goes through now, or `None` when the
    /// policy does not allow one (the job waits).
    pub fn route(&self, manager: &Manager) -> Option<String> {
        let preferred = manager
            .default_configuration()
            .filter(|c| c.reachability() >= Reachability::Site);
        match self {
            Policy::Any => preferred.and_then(|c| c.interface.clone()),
            Policy::Online if manager.is_online() => preferred.and_then(|c| c.interface.clone()),
            Policy::Online => None,
            Policy::NotCellular => preferred
                .filter(|c| c.family != BearerFamily::Cellular)
                .or_else(|| {
                    manager.configurations(StateFlags::Active).find(|c| {
                        c.family != BearerFamily::Cellular
                            && c.default_route
                            && c.reachability() >= Reachability::Site
                    })
                })
                .and_then(|c| c.interface.clone()),
            Policy::Interface(want) => manager
                .configurations(StateFlags::Active)
                .find(|c| c.interface.as_deref() == Some(want.as_str()))
                .map(|_| want.clone()),
        }
    }
}

/// Whether the URL's host is `localhost` or a loopback address.
fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let Ok(authority) = crate::authority::split(host_port) else {
        return false;
    };
    authority.host.eq_ignore_ascii_case("localhost")
        || authority
            .host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// What to do and under which rules.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// The transfer.
    pub kind: JobKind,
    /// Which bearers it may use.
    pub policy: Policy,
    /// A program in `HOOKS/jobs/` run when the job ends.
    pub hook: Option<String>,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for its policy to allow a bearer, or for a free transfer slot.
    Queued,
    /// Moving bytes.
    Running,
    /// Failed an attempt; the next one is at `retry_at`.
    Retrying,
    /// Stopped by `pause` until `resume`.
    Paused,
    /// Finished: saved (verified) or sent.
    Done,
    /// Gave up; the error says why.
    Failed,
    /// Stopped by `cancel`.
    Cancelled,
}

impl JobState {
    const ALL: [JobState; 7] = [
        JobState::Queued,
        JobState::Running,
        JobState::Retrying,
        JobState::Paused,
        JobState::Done,
        JobState::Failed,
        JobState::Cancelled,
    ];

    /// Its name in JSON.
    pub fn name(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Retrying => "retrying",
            JobState::Paused => "paused",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    fn parse(name: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Done, failed or cancelled: nothing more happens.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Done | JobState::Failed | JobState::Cancelled
        )
    }
}

/// Why the last attempt failed.
#[derive(Debug, Clone, PartialEq)]
pub struct JobError {
    /// Exit-code class.
    pub class: ErrorClass,
    /// Stable name of the cause.
    pub kind: String,
    /// The message.
    pub message: String,
}

/// One job of the queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Its number, unique in the state directory.
    pub id: u64,
    /// What and how.
    pub spec: JobSpec,
    /// Where it is.
    pub state: JobState,
    /// Attempts that failed in a row.
    pub attempts: u32,
    /// Bytes moved (a download: in the `.part` or the file).
    pub bytes: u64,
    /// Size of the whole file, when known.
    pub total: Option<u64>,
    /// The interface of the running (or last) attempt.
    pub interface: Option<String>,
    /// The last failure.
    pub error: Option<JobError>,
    /// Unix seconds: queued, last changed, next attempt, finished.
    pub created: u64,
    /// Unix seconds of the last state change.
    pub updated: u64,
    /// Unix seconds of the next attempt (state `retrying`).
    pub retry_at: Option<u64>,
    /// Unix seconds when it finished.
    pub finished: Option<u64>,
}

/// Seconds since the epoch.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Job {
    /// A new queued job.
    pub fn new(id: u64, spec: JobSpec) -> Job {
        let now = now_unix();
        Job {
            id,
            spec,
            state: JobState::Queued,
            attempts: 0,
            bytes: 0,
            total: None,
            interface: None,
            error: None,
            created: now,
            updated: now,
            retry_at: None,
            finished: None,
        }
    }

    /// The file it writes (a fetch) or reads (an upload).
    pub fn path(&self) -> &Path {
        self.spec.kind.path()
    }

    /// The URL it fetches from or uploads to.
    pub fn url(&self) -> &str {
        self.spec.kind.url()
    }

    /// `fetch` or `upload`.
    pub fn kind_name(&self) -> &'static str {
        match self.spec.kind {
            JobKind::Fetch { .. } => "fetch",
            JobKind::Upload { .. } => "upload",
        }
    }

    /// Move to `state`, stamping the time.
    pub fn set_state(&mut self, state: JobState) {
        self.state = state;
        self.updated = now_unix();
        if state.is_finished() {
            self.finished = Some(self.updated);
        }
        if state != JobState::Retrying {
            self.retry_at = None;
        }
    }

    /// The job as the protocol shows it and as its file stores it.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "type": self.kind_name(),
            "url": self.url(),
            "path": self.path(),
            "policy": self.spec.policy.text(),
            "hook": self.spec.hook,
            "state": self.state.name(),
            "attempts": self.attempts,
            "bytes": self.bytes,
            "total": self.total,
            "interface": self.interface,
            "error": self.error.as_ref().map(|e| json!({
                "class": e.class.name(),
                "code": e.class.exit_code(),
                "kind": e.kind,
                "message": e.message,
            })),
            "created": self.created,
            "updated": self.updated,
            "retry_at": self.retry_at,
            "finished": self.finished,
        });
        if let Value::Object(map) = &mut v {
            match &self.spec.kind {
                JobKind::Fetch { sha256, .. } => {
                    map.insert("sha256".into(), sha256.map(|h| crate::fs::hex(&h)).into());
                }
                JobKind::Upload { method, remove, .. } => {
                    let method = match method {
                        UploadMethod::Put => "PUT",
                        UploadMethod::Post => "POST",
                    };
                    map.insert("method".into(), method.into());
                    map.insert("remove".into(), (*remove).into());
                }
            }
        }
        v
    }

    /// A job read back from its file; `None` if the file is not one.
    pub fn from_json(v: &Value) -> Option<Job> {
        let text = |k: &str| v.get(k).and_then(Value::as_str);
        let number = |k: &str| v.get(k).and_then(Value::as_u64);
        let url = text("url")?.to_string();
        let path = PathBuf::from(text("path")?);
        let kind = match text("type")? {
            "fetch" => JobKind::Fetch {
                url,
                path,
                sha256: match text("sha256") {
                    Some(h) => Some(super::protocol::parse_sha256(h)?),
                    None => None,
                },
            },
            "upload" => JobKind::Upload {
                path,
                url,
                method: if text("method") == Some("POST") {
                    UploadMethod::Post
                } else {
                    UploadMethod::Put
                },
                remove: v.get("remove").and_then(Value::as_bool).unwrap_or(false),
            },
            _ => return None,
        };
        let error = v.get("error").filter(|e| !e.is_null()).map(|e| JobError {
            class: e
                .get("code")
                .and_then(Value::as_i64)
                .and_then(ErrorClass::from_exit_code)
                .unwrap_or(ErrorClass::Other),
            kind: e.get("kind").and_then(Value::as_str).unwrap_or("").into(),
            message: e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .into(),
        });
        Some(Job {
            id: number("id")?,
            spec: JobSpec {
                kind,
                policy: Policy::parse(text("policy")?)?,
                hook: text("hook").map(str::to_string),
            },
            state: JobState::parse(text("state")?)?,
            attempts: number("attempts").unwrap_or(0) as u32,
            bytes: number("bytes").unwrap_or(0),
            total: number("total"),
            interface: text("interface").map(str::to_string),
            error,
            created: number("created").unwrap_or(0),
            updated: number("updated").unwrap_or(0),
            retry_at: number("retry_at"),
            finished: number("finished"),
        })
    }
}

/// The job files of a state directory.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// `STATE_DIR/jobs`, created if missing.
    pub fn open(state_dir: &Path) -> Result<Store, FileError> {
        let dir = state_dir.join("jobs");
        fs::create_dir_all(&dir).map_err(|e| FileError::new(&dir, "create", e))?;
        Ok(Store { dir })
    }

    fn file(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Every job stored, in directory order. Files that are not jobs are named in the log and left alone.
    pub fn load(&self) -> Result<Vec<Job>, FileError> {
        let mut jobs = Vec::new();
        let entries = fs::read_dir(&self.dir).map_err(|e| FileError::new(&self.dir, "read", e))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let job = fs::read(&path)
                .ok()
                .filter(|b| b.len() < 256 * 1024)
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .and_then(|v| Job::from_json(&v));
            match job {
                Some(job) => jobs.push(job),
                None => log::warn!("{}: not a job file, left alone", path.display()),
            }
        }
        Ok(jobs)
    }

    /// Write `job` atomically and durably.
    pub fn save(&self, job: &Job) -> Result<(), FileError> {
        let path = self.file(job.id);
        let tmp = self.dir.join(format!(".{}.json.tmp", job.id));
        let mut bytes = serde_json::to_vec(&job.to_json()).unwrap_or_default();
        bytes.push(b'\n');
        let write = || -> std::io::Result<()> {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            fs::rename(&tmp, &path)?;
            fs::File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| FileError::new(&path, "write", e))
    }

    /// Forget a job.
    pub fn remove(&self, id: u64) {
        let path = self.file(id);
        if let Err(e) = fs::remove_file(&path) {
            log::warn!("{}: {e}", path.display());
        }
    }
}

/// Limits of retrying a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait before the second attempt; doubled for each further one.
    pub first: Duration,
    /// Longest wait between attempts.
    pub max: Duration,
    /// Attempts before the job fails for good (0: no limit).
    pub limit: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first: Duration::from_secs(5),
            max: Duration::from_secs(300),
            limit: 10,
        }
    }
}

impl RetryPolicy {
    /// The wait after `attempts` failed attempts: exponential, capped, with ±25 % jitter so
    /// many boards that lost the same server do not come back in step.
    pub fn delay(&self, attempts: u32, random: u64) -> Duration {
        let doubled = self
            .first
            .saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
        let base = doubled.min(self.max).as_millis() as u64;
        let spread = base / 2;
        let jittered = base - spread / 2 + if spread == 0 { 0 } else { random % spread };
        Duration::from_millis(jittered).min(self.max)
    }

    /// Whether another attempt is allowed after `attempts` failures.
    pub fn allows(&self, attempts: u32) -> bool {
        self.limit == 0 || attempts < self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> JobSpec {
        JobSpec {
            kind: JobKind::Fetch {
                url: "http://x/f".into(),
                path: "/tmp/f".into(),
                sha256: Some([7; 32]),
            },
            policy: Policy::Interface("eth1".into()),
            hook: Some("install".into()),
        }
    }

    #[test]
    fn jobs_survive_their_file() {
        let dir = std::env::temp_dir().join(format!("boardnet-jobs-{}", std::process::id()));
        let store = Store::open(&dir).unwrap();
        let mut job = Job::new(3, spec());
        job.error = Some(JobError {
            class: ErrorClass::Timeout,
            kind: "Timeout".into(),
            message: "slow".into(),
        });
        job.set_state(JobState::Retrying);
        job.retry_at = Some(99);
        store.save(&job).unwrap();
        let upload = Job::new(
            4,
            JobSpec {
                kind: JobKind::Upload {
                    path: "/spool/a".into(),
                    url: "ftp://h/a".into(),
                    method: UploadMethod::Post,
                    remove: true,
                },
                policy: Policy::NotCellular,
                hook: None,
            },
        );
        store.save(&upload).unwrap();
        std::fs::write(dir.join("jobs/junk.json"), b"{").unwrap();
        let mut loaded = store.load().unwrap();
        loaded.sort_by_key(|j| j.id);
        assert_eq!(loaded, vec![job, upload]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn retry_waits_grow_to_the_cap_with_jitter() {
        let r = RetryPolicy::default();
        let d1 = r.delay(1, 0).as_millis();
        assert!((3750..=5000).contains(&d1), "{d1}");
        assert!(r.delay(2, 0) > r.delay(1, u64::MAX));
        let capped = r.delay(30, 12345).as_secs();
        assert!((225..=300).contains(&capped), "{capped}");
        assert!(r.allows(9) && !r.allows(10));
        assert!(RetryPolicy { limit: 0, ..r }.allows(u32::MAX));
    }

    #[test]
    fn loopback_destinations_are_not_bound_to_a_bearer() {
        for url in [
            "http://127.0.0.1:8/x",
            "https://localhost/x",
            "ftp://u:p@[::1]:21/f",
        ] {
            assert!(!Policy::Any.binds(url), "{url}");
            assert!(Policy::Interface("eth0".into()).binds(url), "{url}");
        }
        assert!(Policy::Any.binds("http://10.0.0.1/x"));
        assert!(Policy::Online.binds("http://updates.example/x"));
    }

    #[test]
    fn policies_read_back_what_they_write() {
        for p in ["any", "not-cellular", "interface:wwan0", "online"] {
            assert_eq!(Policy::parse(p).unwrap().text(), p);
        }
        for bad in ["interface:", "cheap", "interface:a/b"] {
            assert!(Policy::parse(bad).is_none());
        }
    }
}
