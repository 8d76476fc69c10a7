//! Answering control requests. Each is answered from the daemon's state at once, except
//! `wait-online` (answered by the event that meets it or its timer) and the commands run as
//! children (`scan`, `open`, `close`: answered when the child exits).

use std::process::Command as Process;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::child::Child;
use super::control::Incoming;
use super::jobs::{JobKind, JobState};
use super::protocol::{self, Command, Refusal};
use super::worker::Stop;
use super::{json as shapes, Daemon, Pending, Wait};
use crate::bearer::{Reachability, StateFlags};
use crate::error::{ErrorClass, Quoted};
use crate::reactor::{Ready, Token};

/// Command children at once (more are refused as busy).
const MAX_PENDING: usize = 4;

/// `wait-online` requests one client may have waiting.
const MAX_WAITS_PER_CLIENT: usize = 16;

/// Output of a command child kept for its reply.
const CHILD_OUTPUT: usize = 1024 * 1024;

/// A Wi-Fi scan child is killed after this long.
const SCAN_TIMEOUT: Duration = Duration::from_secs(30);

impl Daemon<'_> {
    pub(super) fn request(&mut self, incoming: Incoming) {
        let Incoming {
            client,
            request,
            peer,
        } = incoming;
        log::debug!(
            "control: uid {} pid {}: {:?}",
            peer.uid,
            peer.pid,
            request.command
        );
        let id = request.id;
        let reply = match request.command {
            Command::WaitOnline { level, timeout } => {
                return self.wait_online(client, id, level, timeout)
            }
            Command::Scan => return self.spawn_command(client, id, self.scan_args(), SCAN_TIMEOUT),
            Command::Session {
                id: config,
                open,
                timeout,
            } => {
                let args = self.session_args(&config, open, timeout);
                return self.spawn_command(client, id, args, timeout + Duration::from_secs(10));
            }
            command => self.answer(client, command),
        };
        let line = match reply {
            Ok(result) => protocol::ok_reply(&id, result),
            Err(refusal) => Refusal { id, ..refusal }.reply(),
        };
        self.server.send(&mut self.reactor, client, &line);
    }

    /// Requests answered at once.
    fn answer(&mut self, client: Token, command: Command) -> Result<Value, Refusal> {
        Ok(match command {
            Command::Status => {
                let links = shapes::wifi_links(&mut self.reactor, &self.manager);
                shapes::status_json(&self.manager, &links)
            }
            Command::Configurations => Value::Array(
                self.manager
                    .configurations(StateFlags::Defined)
                    .map(|c| shapes::configuration_json(c, shapes::is_default(&self.manager, c)))
                    .collect(),
            ),
            Command::Subscribe | Command::Unsubscribe => {
                let on = command == Command::Subscribe;
                self.server.subscribe(client, on);
                json!({"subscribed": on})
            }
            Command::Submit(spec) => {
                let max = self.config.max_jobs;
                if self.jobs.len() >= max {
                    return Err(refusal(
                        ErrorClass::Other,
                        "QueueFull",
                        format!(
                            "the queue holds {max} jobs already (max-jobs): cancel some, or wait \
                             until finished ones are forgotten (keep-days)"
                        ),
                    ));
                }
                self.check_submission(&spec)?;
                self.submit(spec)
                    .map(|job| job.to_json())
                    .map_err(|e| refusal(ErrorClass::LocalIo, "StateDirectory", e.to_string()))?
            }
            Command::Jobs => Value::Array(self.jobs.values().map(|j| j.to_json()).collect()),
            Command::Job(id) => self.job(id)?,
            Command::Cancel(id) => self.user_stop(id, Stop::Cancel)?,
            Command::Pause(id) => self.user_stop(id, Stop::Pause)?,
            Command::Resume(id) => self.resume(id)?,
            Command::Reload => {
                self.reload();
                json!({"reloaded": true})
            }
            Command::Version => json!({
                "version": env!("CARGO_PKG_VERSION"),
                "protocol": protocol::VERSION,
            }),
            Command::WaitOnline { .. } | Command::Scan | Command::Session { .. } => Value::Null,
        })
    }

    fn job(&self, id: u64) -> Result<Value, Refusal> {
        self.jobs
            .get(&id)
            .map(|j| j.to_json())
            .ok_or_else(|| no_such_job(id))
    }

    /// A job's policy must be one that can ever be met, and an upload's file must exist.
    fn check_submission(&self, spec: &super::jobs::JobSpec) -> Result<(), Refusal> {
        let online_possible = self.manager.can_reach_online();
        if spec.policy == super::jobs::Policy::Online && !online_possible {
            return Err(refusal(
                ErrorClass::Usage,
                "BadRequest",
                "policy online needs the daemon's check URL (--check-url), ConnMan or NetworkManager".into(),
            ));
        }
        if let JobKind::Upload { path, .. } = &spec.kind {
            if let Err(e) = std::fs::metadata(path) {
                return Err(refusal(
                    ErrorClass::LocalIo,
                    "LocalFile",
                    format!("{}: {e}", path.display()),
                ));
            }
        }
        let busy = self.jobs.values().any(|j| {
            !j.state.is_finished() && j.kind_name() == "fetch" && j.path() == spec.kind.path()
        });
        if busy && matches!(spec.kind, JobKind::Fetch { .. }) {
            return Err(refusal(
                ErrorClass::Usage,
                "BadRequest",
                format!(
                    "{}: another unfinished job fetches to it",
                    spec.kind.path().display()
                ),
            ));
        }
        Ok(())
    }

    fn user_stop(&mut self, id: u64, why: Stop) -> Result<Value, Refusal> {
        let state = self.jobs.get(&id).ok_or_else(|| no_such_job(id))?.state;
        if state.is_finished() || (why == Stop::Pause && state == JobState::Paused) {
            return Err(refusal(
                ErrorClass::Usage,
                "BadState",
                format!("job {id} is {}", state.name()),
            ));
        }
        self.stop_job(id, why);
        self.job(id)
    }

    fn resume(&mut self, id: u64) -> Result<Value, Refusal> {
        let job = self.jobs.get_mut(&id).ok_or_else(|| no_such_job(id))?;
        if !matches!(
            job.state,
            JobState::Paused | JobState::Failed | JobState::Retrying
        ) {
            return Err(refusal(
                ErrorClass::Usage,
                "BadState",
                format!(
                    "job {id} is {}: only paused, failed or retrying jobs resume",
                    job.state.name()
                ),
            ));
        }
        job.attempts = 0;
        job.finished = None;
        job.set_state(JobState::Queued);
        self.persist(id);
        self.job_changed(id);
        self.schedule();
        self.job(id)
    }

    fn wait_online(
        &mut self,
        client: Token,
        id: Value,
        level: Reachability,
        timeout: Option<Duration>,
    ) {
        let online_possible = self.manager.can_reach_online();
        if level == Reachability::Online && !online_possible {
            let r = refusal(
                ErrorClass::Usage,
                "BadRequest",
                "level online needs the daemon's check URL (--check-url), ConnMan or NetworkManager".into(),
            );
            self.server
                .send(&mut self.reactor, client, &Refusal { id, ..r }.reply());
            return;
        }
        // Waits of clients that left go now; one client may not pile them up.
        self.forget_gone_waits();
        if self.waits.iter().filter(|w| w.client == client).count() >= MAX_WAITS_PER_CLIENT {
            let line = protocol::error_reply(
                &id,
                ErrorClass::Usage,
                "TooManyWaits",
                &format!("at most {MAX_WAITS_PER_CLIENT} wait-online requests per connection"),
            );
            self.server.send(&mut self.reactor, client, &line);
            return;
        }
        let timer = timeout.map(|t| {
            let owner = self.reactor.token();
            (owner, self.reactor.timer(Instant::now() + t, owner))
        });
        self.waits.push(Wait {
            client,
            id,
            level,
            timer,
        });
        if self.manager.is_complete() {
            self.answer_waits();
        }
    }

    fn scan_args(&self) -> Vec<String> {
        ["wifi", "scan", "--trigger", "--json"]
            .map(String::from)
            .to_vec()
    }

    fn session_args(&self, config: &str, open: bool, timeout: Duration) -> Vec<String> {
        vec![
            "bearer".into(),
            if open { "open" } else { "close" }.into(),
            config.into(),
            "--timeout".into(),
            format!("{}", timeout.as_secs_f64()),
            "--backend".into(),
            self.config.backend.name().into(),
            "--json".into(),
        ]
    }

    /// Run `boardnet ARGS` as a child; the reply comes when it exits.
    fn spawn_command(&mut self, client: Token, id: Value, args: Vec<String>, limit: Duration) {
        if self.pending.len() >= MAX_PENDING {
            let line = protocol::error_reply(
                &id,
                ErrorClass::Other,
                "Busy",
                &format!("{MAX_PENDING} commands are running already; try again when one is done"),
            );
            self.server.send(&mut self.reactor, client, &line);
            return;
        }
        let mut process = Process::new(&self.config.program);
        process.args(&args);
        match Child::spawn(&mut self.reactor, process, Instant::now() + limit) {
            Ok(child) => self.pending.push(Pending { client, id, child }),
            Err(e) => {
                let line = protocol::error_reply(
                    &id,
                    ErrorClass::Other,
                    "Spawn",
                    &format!("{}: {e}", self.config.program.display()),
                );
                self.server.send(&mut self.reactor, client, &line);
            }
        }
    }

    /// Output, deadline or exit of a command child.
    pub(super) fn pending_io(&mut self, r: &Ready) {
        let mut i = 0;
        while i < self.pending.len() {
            let p = &mut self.pending[i];
            match r {
                Ready::Io { token, .. } if *token == p.child.token => {
                    p.child.read(&mut self.reactor, CHILD_OUTPUT)
                }
                Ready::Timer { owner, .. } if *owner == p.child.token => p.child.expire(),
                _ => {}
            }
            match p.child.poll_exit(&mut self.reactor, CHILD_OUTPUT) {
                Some(status) => {
                    let mut p = self.pending.swap_remove(i);
                    let line = child_reply(&p.id, &mut p.child, status);
                    self.server.send(&mut self.reactor, p.client, &line);
                }
                None => i += 1,
            }
        }
    }
}

/// The reply for a finished command child: its JSON lines, or its error.
fn child_reply(id: &Value, child: &mut Child, status: std::process::ExitStatus) -> Vec<u8> {
    let lines = child.take_lines();
    let (objects, text): (Vec<&String>, Vec<&String>) =
        lines.iter().partition(|l| l.starts_with('{'));
    let values: Vec<Value> = objects
        .iter()
        .filter_map(|l| serde_json::from_slice(l.as_bytes()).ok())
        .collect();
    if status.success() {
        return protocol::ok_reply(id, Value::Array(values));
    }
    let class = status
        .code()
        .and_then(|c| ErrorClass::from_exit_code(c.into()))
        .unwrap_or(ErrorClass::Other);
    let message = if child.timed_out {
        "the command did not finish in time: killed".to_string()
    } else {
        text.last()
            .map(|l| l.trim_start_matches("boardnet: ").to_string())
            .unwrap_or_else(|| format!("the command failed ({status})"))
    };
    protocol::error_reply(id, class, "CommandFailed", &message)
}

fn refusal(class: ErrorClass, kind: &'static str, message: String) -> Refusal {
    Refusal {
        id: Value::Null,
        class,
        kind,
        message,
    }
}

fn no_such_job(id: u64) -> Refusal {
    refusal(
        ErrorClass::Usage,
        "NoSuchJob",
        format!("no job {} (jobs lists them)", Quoted(&id.to_string())),
    )
}
