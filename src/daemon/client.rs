//! A blocking client of the daemon's control socket, for firmware and `boardnet ctl`: one
//! request at a time, replies matched by id, events (after `subscribe`) read in order.
//!
//! ```no_run
//! use boardnet::daemon::client::ControlClient;
//! use serde_json::json;
//! let mut ctl = ControlClient::connect("/run/boardnet/control".as_ref())?;
//! let status = ctl.request("status", json!({}))?;
//! println!("{}", status["reachability"]);
//! let job = ctl.request("fetch", json!({"url": "https://updates.example/fw.img",
//!                                       "path": "/data/fw.img", "policy": "not-cellular"}))?;
//! println!("job {}", job["id"]);
//! # Ok::<(), boardnet::daemon::client::ControlError>(())
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::error::{Classify, ErrorClass};

/// Longest line read from the daemon (a `jobs` reply with many jobs fits).
const MAX_REPLY: u64 = 16 * 1024 * 1024;

/// Events kept while waiting for a reply.
const EVENT_BACKLOG: usize = 4096;

/// A failed control request.
#[derive(Debug)]
#[non_exhaustive]
pub enum ControlError {
    /// The socket could not be reached (no daemon, or no permission).
    Connect(String, io::Error),
    /// Reading or writing failed, or the daemon hung up.
    Io(io::Error),
    /// The daemon answered with an error.
    Refused {
        /// Exit-code class.
        class: ErrorClass,
        /// Stable cause.
        kind: String,
        /// The daemon's message.
        message: String,
    },
    /// The daemon's line was not what the protocol says.
    Protocol(String),
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::Connect(path, e) => {
                write!(f, "cannot reach the daemon at {path}: {e}")
            }
            ControlError::Io(e) => write!(f, "control socket: {e}"),
            ControlError::Refused { message, .. } => f.write_str(message),
            ControlError::Protocol(why) => write!(f, "the daemon's answer: {why}"),
        }
    }
}

impl std::error::Error for ControlError {}

impl Classify for ControlError {
    fn class(&self) -> ErrorClass {
        match self {
            ControlError::Connect(_, e) if e.kind() == io::ErrorKind::PermissionDenied => {
                ErrorClass::LocalIo
            }
            ControlError::Connect(..) | ControlError::Io(_) => ErrorClass::Connection,
            ControlError::Refused { class, .. } => *class,
            ControlError::Protocol(_) => ErrorClass::Protocol,
        }
    }
}

/// A connection to the daemon.
#[derive(Debug)]
pub struct ControlClient {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next_id: u64,
    events: VecDeque<Value>,
}

impl ControlClient {
    /// Connect to the control socket at `path`.
    pub fn connect(path: &Path) -> Result<ControlClient, ControlError> {
        let stream = UnixStream::connect(path)
            .map_err(|e| ControlError::Connect(path.display().to_string(), e))?;
        let writer = stream.try_clone().map_err(ControlError::Io)?;
        Ok(ControlClient {
            reader: BufReader::new(stream),
            writer,
            next_id: 1,
            events: VecDeque::new(),
        })
    }

    /// Limit each wait for the daemon (`None`: no limit, for `wait-online` and event streams).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) -> Result<(), ControlError> {
        self.writer
            .set_read_timeout(timeout)
            .map_err(ControlError::Io)
    }

    /// Send `command` with `fields` (an object) and wait for its reply's `result`.
    pub fn request(&mut self, command: &str, fields: Value) -> Result<Value, ControlError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut request = json!({"id": id, "command": command});
        if let (Value::Object(r), Value::Object(f)) = (&mut request, fields) {
            r.extend(f);
        }
        let mut line = serde_json::to_vec(&request).unwrap_or_default();
        line.push(b'\n');
        if let Err(e) = self.writer.write_all(&line) {
            // A daemon that refuses the connection (too many clients) says why and closes
            // it, perhaps before the request went out: its line is the better error.
            return match self.read_line() {
                Ok(said) if said.get("ok") == Some(&Value::Bool(false)) => reply_result(said),
                _ => Err(ControlError::Io(e)),
            };
        }
        loop {
            let message = self.read_line()?;
            if message.get("event").is_some() {
                if self.events.len() >= EVENT_BACKLOG {
                    self.events.pop_front();
                }
                self.events.push_back(message);
                continue;
            }
            if message.get("id") != Some(&json!(id)) && message.get("id") != Some(&Value::Null) {
                continue;
            }
            return reply_result(message);
        }
    }

    /// The next event (after `subscribe`).
    pub fn next_event(&mut self) -> Result<Value, ControlError> {
        if let Some(e) = self.events.pop_front() {
            return Ok(e);
        }
        loop {
            let message = self.read_line()?;
            if message.get("event").is_some() {
                return Ok(message);
            }
            if message.get("ok") == Some(&Value::Bool(false)) {
                return reply_result(message);
            }
        }
    }

    fn read_line(&mut self) -> Result<Value, ControlError> {
        let mut line = Vec::new();
        let n = (&mut self.reader)
            .take(MAX_REPLY)
            .read_until(b'\n', &mut line)
            .map_err(ControlError::Io)?;
        if n == 0 {
            return Err(ControlError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the daemon closed the connection",
            )));
        }
        if line.last() != Some(&b'\n') {
            return Err(ControlError::Protocol("a line without its end".into()));
        }
        serde_json::from_slice(&line).map_err(|e| ControlError::Protocol(e.to_string()))
    }
}

/// `result` of a successful reply, the error of a failed one.
fn reply_result(mut message: Value) -> Result<Value, ControlError> {
    match message.get("ok") {
        Some(Value::Bool(true)) => Ok(message["result"].take()),
        Some(Value::Bool(false)) => {
            let e = &message["error"];
            let class = e["code"]
                .as_i64()
                .and_then(ErrorClass::from_exit_code)
                .unwrap_or(ErrorClass::Other);
            Err(ControlError::Refused {
                class,
                kind: e["kind"].as_str().unwrap_or("").to_string(),
                message: e["message"].as_str().unwrap_or("").to_string(),
            })
        }
        _ => Err(ControlError::Protocol(format!(
            "neither a reply nor an event: {}",
            crate::error::Quoted(&message.to_string())
        ))),
    }
}
