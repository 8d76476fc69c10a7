//! The transfer queue's scheduling: which job runs when, through which interface; what
//! happens when an attempt ends; retries, pruning and the jobs' events and hooks.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;

use super::hooks::HookEvent;
use super::jobs::{now_unix, Job, JobKind, JobSpec, JobState, Store};
use super::worker::{self, Attempt, Ended, Stop};
use super::{json as shapes, protocol, Daemon};
use crate::fs::FileError;

/// Jobs read back after a (re)start: whatever was running is queued again, and a fetch's
/// progress is what its `.part` holds.
pub(super) fn load(store: &Store) -> Result<BTreeMap<u64, Job>, FileError> {
    let mut jobs = BTreeMap::new();
    for mut job in store.load()? {
        if job.state == JobState::Running {
            job.set_state(JobState::Queued);
        }
        if let (JobKind::Fetch { path, .. }, false) = (&job.spec.kind, job.state.is_finished()) {
            job.bytes = crate::fs::part_len(path);
        }
        jobs.insert(job.id, job);
    }
    Ok(jobs)
}

impl Daemon<'_> {
    /// Queue a new job; its id is one past the highest ever stored.
    pub(super) fn submit(&mut self, spec: JobSpec) -> Result<&Job, FileError> {
        let id = self.jobs.keys().next_back().map_or(1, |last| last + 1);
        let mut job = Job::new(id, spec);
        if let JobKind::Fetch { path, .. } = &job.spec.kind {
            job.bytes = crate::fs::part_len(path);
        }
        self.store.save(&job)?;
        log::info!("job {id}: {} {} queued", job.kind_name(), job.url());
        self.jobs.insert(id, job);
        self.job_changed(id);
        self.schedule();
        Ok(&self.jobs[&id])
    }

    /// Stop transfers their policy no longer allows (or whose bearer moved), start those that
    /// may run, and arm the timer of the next retry.
    pub(super) fn schedule(&mut self) {
        for (id, w) in self.workers.iter_mut() {
            let Some(job) = self.jobs.get(id) else {
                continue;
            };
            match job.spec.policy.route(&self.manager) {
                None => w.stop(Stop::Policy),
                Some(i) if i != w.interface => w.stop(Stop::Roam),
                Some(_) => {}
            }
        }
        let now = now_unix();
        let due: Vec<u64> = self
            .jobs
            .values()
            .filter(|j| match j.state {
                JobState::Queued => true,
                JobState::Retrying => j.retry_at.is_none_or(|at| at <= now),
                _ => false,
            })
            .map(|j| j.id)
            .collect();
        for id in due {
            if self.workers.len() >= self.config.max_transfers {
                break;
            }
            if let Some(interface) = self.jobs[&id].spec.policy.route(&self.manager) {
                self.start_job(id, interface);
            }
        }
        self.arm_retry_timer(now);
    }

    fn start_job(&mut self, id: u64, interface: String) {
        let job = &self.jobs[&id];
        let attempt = Attempt {
            job: id,
            kind: job.spec.kind.clone(),
            interface: interface.clone(),
            bind: job.spec.policy.binds(job.url()),
            resume: matches!(job.spec.kind, JobKind::Fetch { .. }) || job.interface.is_some(),
            connect_timeout: self.config.connect_timeout,
            idle_timeout: self.config.idle_timeout,
        };
        match worker::start(attempt, &self.reports) {
            Ok(w) => {
                log::info!("job {id}: running through {interface}");
                self.workers.insert(id, w);
                let job = self.jobs.get_mut(&id).expect("job exists");
                job.interface = Some(interface);
                job.set_state(JobState::Running);
                self.persist(id);
                self.job_changed(id);
            }
            Err(e) => log::warn!("job {id}: cannot start a thread: {e}"),
        }
    }

    fn arm_retry_timer(&mut self, now: u64) {
        if let Some(id) = self.timers.armed_jobs.take() {
            self.reactor.cancel_timer(id);
        }
        let next = self
            .jobs
            .values()
            .filter(|j| j.state == JobState::Retrying)
            .filter_map(|j| j.retry_at)
            .min();
        if let Some(at) = next {
            let wait = Duration::from_secs(at.saturating_sub(now));
            let id = self.reactor.timer(Instant::now() + wait, self.timers.jobs);
            self.timers.armed_jobs = Some(id);
        }
    }

    /// Threads that ended, and progress of those that run.
    pub(super) fn worker_reports(&mut self) {
        for ended in self.reports.take() {
            self.attempt_ended(ended);
        }
        let mut moved = Vec::new();
        for (id, w) in self.workers.iter_mut() {
            let now = w.counter.read();
            if now != w.reported {
                w.reported = now;
                moved.push((*id, now));
            }
        }
        for (id, (bytes, total)) in moved {
            if let Some(job) = self.jobs.get_mut(&id) {
                job.bytes = bytes;
                job.total = total.or(job.total);
            }
            if self.server.has_subscribers() {
                let line = json!({"event": "job-progress", "time": shapes::unix_time(),
                    "job": id, "bytes": bytes, "total": total});
                self.server
                    .broadcast(&mut self.reactor, &protocol::line(&line));
            }
        }
        self.schedule();
    }

    fn attempt_ended(&mut self, ended: Ended) {
        let id = ended.job;
        let Some(w) = self.workers.remove(&id) else {
            return;
        };
        let stop = w.stop;
        w.join();
        let retry = self.config.retry;
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        let mut hook = None;
        match (ended.outcome, stop) {
            (Ok(done), _) => {
                job.bytes = done.size;
                job.total = Some(done.size);
                job.error = None;
                job.set_state(JobState::Done);
                log::info!("job {id}: done, {} bytes", done.size);
                if let JobKind::Upload {
                    path, remove: true, ..
                } = &job.spec.kind
                {
                    if let Err(e) = std::fs::remove_file(path) {
                        log::warn!("job {id}: {}: {e}", path.display());
                    }
                }
                hook = Some(("job-done", done.sha256));
            }
            (Err(_), Some(Stop::Pause)) => job.set_state(JobState::Paused),
            (Err(_), Some(Stop::Cancel)) => {
                job.set_state(JobState::Cancelled);
                remove_parts(&job.spec.kind);
            }
            (Err(_), Some(Stop::Policy | Stop::Roam | Stop::Shutdown)) => {
                job.set_state(JobState::Queued)
            }
            (Err(failure), None) => {
                job.attempts += 1;
                log::warn!(
                    "job {id}: attempt {} failed: {}",
                    job.attempts,
                    failure.error.message
                );
                job.error = Some(failure.error);
                if failure.transient && retry.allows(job.attempts) {
                    let wait = retry.delay(job.attempts, crate::random::u64());
                    job.set_state(JobState::Retrying);
                    job.retry_at = Some(now_unix() + wait.as_secs().max(1));
                } else {
                    job.set_state(JobState::Failed);
                    hook = Some(("job-failed", None));
                }
            }
        }
        if let JobKind::Fetch { path, .. } = &job.spec.kind {
            if job.state != JobState::Done {
                job.bytes = crate::fs::part_len(path);
            }
        }
        self.persist(id);
        self.job_changed(id);
        if let Some((name, sha256)) = hook {
            self.job_hook(id, name, sha256);
        }
        self.arm_prune();
    }

    /// Write a job's file (a failure is logged: the job goes on in memory).
    pub(super) fn persist(&mut self, id: u64) {
        if let Some(job) = self.jobs.get(&id) {
            if let Err(e) = self.store.save(job) {
                log::error!("job {id}: {e}");
            }
        }
    }

    /// Tell systemd and subscribers a job's state.
    pub(super) fn job_changed(&mut self, id: u64) {
        self.update_status();
        if !self.server.has_subscribers() {
            return;
        }
        if let Some(job) = self.jobs.get(&id) {
            let line = json!({"event": "job", "time": shapes::unix_time(), "job": job.to_json()});
            self.server
                .broadcast(&mut self.reactor, &protocol::line(&line));
        }
    }

    fn job_hook(&mut self, id: u64, name: &'static str, sha256: Option<String>) {
        let Some(job) = self.jobs.get(&id) else {
            return;
        };
        let mut env = vec![
            ("BOARDNET_JOB", id.to_string()),
            ("BOARDNET_JOB_TYPE", job.kind_name().to_string()),
            ("BOARDNET_PATH", job.path().display().to_string()),
            ("BOARDNET_URL", job.url().to_string()),
            (
                "BOARDNET_INTERFACE",
                job.interface.clone().unwrap_or_default(),
            ),
        ];
        env.extend(sha256.map(|h| ("BOARDNET_SHA256", h)));
        if let Some(e) = &job.error {
            env.push(("BOARDNET_ERROR_CLASS", e.class.name().to_string()));
            env.push(("BOARDNET_ERROR", e.message.clone()));
        }
        let event = HookEvent {
            name,
            env,
            job_hook: job.spec.hook.clone(),
        };
        self.hooks.push(&mut self.reactor, event);
    }

    /// Stop a job at the user's request (cancel or pause).
    pub(super) fn stop_job(&mut self, id: u64, why: Stop) {
        if let Some(w) = self.workers.get_mut(&id) {
            w.stop(why);
            return;
        }
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        if why == Stop::Cancel {
            job.set_state(JobState::Cancelled);
            remove_parts(&job.spec.kind);
        } else {
            job.set_state(JobState::Paused);
        }
        self.persist(id);
        self.job_changed(id);
        self.arm_prune();
    }

    /// Stop every transfer for shutdown: each thread ends at once (its waits poll the cancel
    /// token); the `.part` files stay and the jobs are queued on disk.
    pub(super) fn stop_workers(&mut self) {
        for w in self.workers.values_mut() {
            w.stop(Stop::Shutdown);
        }
        // The reactor is not turned any more: poll the reports (each thread ends within one
        // poll of its cancel token, so this is a few milliseconds).
        let deadline = Instant::now() + Duration::from_millis(1500);
        while !self.workers.is_empty() && Instant::now() < deadline {
            for ended in self.reports.take() {
                self.attempt_ended(ended);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        for id in self.workers.keys().copied().collect::<Vec<_>>() {
            log::warn!("job {id}: its transfer did not stop in time; queued on disk");
            if let Some(job) = self.jobs.get_mut(&id) {
                job.set_state(JobState::Queued);
            }
            self.persist(id);
        }
    }

    /// Forget finished jobs older than `keep_finished`, and arm the timer of the next one.
    pub(super) fn prune(&mut self) {
        let keep = self.config.keep_finished.as_secs();
        let now = now_unix();
        let old: Vec<u64> = self
            .jobs
            .values()
            .filter(|j| j.finished.is_some_and(|f| f.saturating_add(keep) <= now))
            .map(|j| j.id)
            .collect();
        for id in old {
            self.store.remove(id);
            self.jobs.remove(&id);
            log::info!("job {id}: finished more than {} s ago: forgotten", keep);
        }
        self.arm_prune();
    }

    fn arm_prune(&mut self) {
        if self.timers.armed_prune.is_some() {
            return;
        }
        let keep = self.config.keep_finished.as_secs();
        if let Some(first) = self.jobs.values().filter_map(|j| j.finished).min() {
            let wait = first.saturating_add(keep).saturating_sub(now_unix());
            let at = Instant::now() + Duration::from_secs(wait.max(1));
            self.timers.armed_prune = Some(self.reactor.timer(at, self.timers.prune));
        }
    }
}

fn remove_parts(kind: &JobKind) {
    for part in worker::part_files(kind) {
        let _ = std::fs::remove_file(part);
    }
}
