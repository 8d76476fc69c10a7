//! `boardnet daemon` (the service) and `boardnet ctl` (its client): parse, call
//! [`crate::daemon`], print.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use lexopt::prelude::*;
use serde_json::{json, Value};

use super::args::{parse_seconds, text, Globals};
use super::output::{human_bytes, json_line, outln};
use super::Failure;
use crate::bearer::BackendChoice;
use crate::daemon::client::{ControlClient, ControlError};
use crate::daemon::{self, Config};
use crate::error::{ErrorClass, Quoted};

/// The configuration file read when `--config` is not given (absent: flags and defaults).
const DEFAULT_CONFIG: &str = "/etc/boardnet/daemon.conf";

/// A daemon setting: one definition feeds the flag, the configuration file key and the help.
struct Setting {
    name: &'static str,
    value: &'static str,
    help: &'static str,
}

const SETTINGS: &[Setting] = &[
    Setting {
        name: "control",
        value: "PATH",
        help: "control socket (default /run/boardnet/control)",
    },
    Setting {
        name: "state-dir",
        value: "DIR",
        help: "where jobs are kept (default /var/lib/boardnet)",
    },
    Setting {
        name: "hooks",
        value: "DIR",
        help: "hook executables (default /etc/boardnet/hooks.d)",
    },
    Setting {
        name: "group",
        value: "NAME",
        help: "group that may change things, and the socket's group",
    },
    Setting {
        name: "socket-mode",
        value: "MODE",
        help: "control socket permissions (default 0660; 0666: all may read)",
    },
    Setting {
        name: "max-transfers",
        value: "N",
        help: "transfers running at once (default 2)",
    },
    Setting {
        name: "max-clients",
        value: "N",
        help: "control connections at once (default 64)",
    },
    Setting {
        name: "max-jobs",
        value: "N",
        help: "jobs kept, finished ones included (default 4096)",
    },
    Setting {
        name: "backend",
        value: "B",
        help: "auto (default), netlink, connman or networkmanager",
    },
    Setting {
        name: "check-url",
        value: "URL",
        help: "connectivity check: online when a GET answers 2xx",
    },
    Setting {
        name: "check-retry",
        value: "S",
        help: "retry a failed connectivity check after S s (default 60)",
    },
    Setting {
        name: "check-timeout",
        value: "S",
        help: "limit of one connectivity check (default 5)",
    },
    Setting {
        name: "retry-first",
        value: "S",
        help: "wait before a job's second attempt (default 5; doubles)",
    },
    Setting {
        name: "retry-max",
        value: "S",
        help: "longest wait between attempts (default 300)",
    },
    Setting {
        name: "retry-limit",
        value: "N",
        help: "attempts before a job fails (default 10; 0: no limit)",
    },
    Setting {
        name: "keep-days",
        value: "D",
        help: "finished jobs are forgotten after D days (default 7)",
    },
    Setting {
        name: "hook-timeout",
        value: "S",
        help: "a hook is killed after S s (default 30)",
    },
    Setting {
        name: "connect-timeout",
        value: "S",
        help: "a transfer's connect limit (default 30; 0: none)",
    },
    Setting {
        name: "idle-timeout",
        value: "S",
        help: "a transfer's longest stall (default 60; 0: none)",
    },
];

fn daemon_help() -> String {
    let mut help = String::from(
        "Usage: boardnet daemon [--config FILE] [--syslog] [SETTING...]\n\n\
         The board's network service: bearer state and the online check, a control socket\n\
         (JSON lines; boardnet ctl is its client), hooks run on events, and a transfer queue\n\
         that survives outages and reboots. SIGTERM/SIGINT stop it (exit 0; running\n\
         transfers keep their .part, their jobs stay queued); SIGHUP reads the configuration\n\
         file and the hooks again. systemd: Type=notify (READY=1, STATUS=, WATCHDOG=1).\n\n\
         \x20 --config FILE        settings as `name = value` lines, names as the flags below\n\
         \x20                      (default /etc/boardnet/daemon.conf, if it exists); flags win\n\
         \x20 --syslog             log to syslog (daemon facility) instead of stderr\n",
    );
    for s in SETTINGS {
        let flag = format!("--{} {}", s.name, s.value);
        help.push_str(&format!("  {flag:<20} {}\n", s.help));
    }
    help.push_str("\nExit: 0 stopped by a signal, 2 bad settings, 9 state or socket unusable.\n");
    help
}

/// Apply one setting (from a flag or the configuration file).
fn apply(config: &mut Config, name: &str, value: &str) -> Result<(), String> {
    let secs =
        || parse_seconds(value).ok_or_else(|| format!("\"{value}\" is not a number of seconds"));
    let count = || {
        value
            .trim()
            .parse::<u32>()
            .map_err(|_| format!("\"{value}\" is not a number"))
    };
    let limit = |d: Duration| (!d.is_zero()).then_some(d);
    match name {
        "control" => config.control = value.into(),
        "state-dir" => config.state_dir = value.into(),
        "hooks" => config.hooks_dir = value.into(),
        "group" => {
            config.group =
                Some(daemon::group_id(value).ok_or_else(|| format!("no group {}", Quoted(value)))?)
        }
        "socket-mode" => {
            config.socket_mode = u32::from_str_radix(value.trim_start_matches("0o"), 8)
                .ok()
                .filter(|m| *m <= 0o777)
                .ok_or_else(|| format!("\"{value}\" is not an octal mode such as 0660"))?
        }
        "max-transfers" => config.max_transfers = count()?.max(1) as usize,
        "max-clients" => config.max_clients = count()?.max(1) as usize,
        "max-jobs" => config.max_jobs = count()?.max(1) as usize,
        "backend" => {
            config.backend = BackendChoice::parse(value).ok_or_else(|| {
                format!("\"{value}\" is not one of auto, netlink, connman, networkmanager")
            })?
        }
        "check-url" => config.check_url = Some(value.into()),
        "check-retry" => config.check_retry = secs()?.max(Duration::from_secs(1)),
        "check-timeout" => config.check_timeout = secs()?.max(Duration::from_millis(100)),
        "retry-first" => config.retry.first = secs()?.max(Duration::from_millis(100)),
        "retry-max" => config.retry.max = secs()?,
        "retry-limit" => config.retry.limit = count()?,
        "keep-days" => config.keep_finished = Duration::from_secs(u64::from(count()?) * 86400),
        "hook-timeout" => config.hook_timeout = secs()?,
        "connect-timeout" => config.connect_timeout = limit(secs()?),
        "idle-timeout" => config.idle_timeout = limit(secs()?),
        _ => return Err(format!("unknown setting {}", Quoted(name))),
    }
    Ok(())
}

/// Settings from the file (if any), then from the flags.
fn configure(
    file: Option<&Path>,
    explicit: bool,
    flags: &[(String, String)],
) -> Result<Config, String> {
    let mut config = Config::default();
    if let Some(path) = file {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                for (n, line) in text.lines().enumerate() {
                    let line = line.trim();
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    let (name, value) = line.split_once('=').ok_or_else(|| {
                        format!("{}:{}: not `name = value`", path.display(), n + 1)
                    })?;
                    apply(&mut config, name.trim(), value.trim()).map_err(|e| {
                        format!("{}:{}: {}: {e}", path.display(), n + 1, name.trim())
                    })?;
                }
            }
            Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
    }
    for (name, value) in flags {
        apply(&mut config, name, value).map_err(|e| format!("--{name}: {e}"))?;
    }
    Ok(config)
}

pub(crate) fn daemon(
    parser: &mut lexopt::Parser,
    globals: &mut Globals,
) -> Result<ExitCode, Failure> {
    let mut file = None;
    let mut syslog = false;
    let mut flags = Vec::new();
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => {
                super::output::print_text(&daemon_help());
                return Ok(ExitCode::SUCCESS);
            }
            Long("config") => file = Some(PathBuf::from(text(parser, "--config")?)),
            Long("syslog") => syslog = true,
            Long(name) if SETTINGS.iter().any(|s| s.name == name) => {
                let name = name.to_string();
                let value = text(parser, &format!("--{name}"))?;
                flags.push((name, value));
            }
            other => {
                if !globals.accept(&other) {
                    return Err(other.unexpected().into());
                }
            }
        }
    }
    let explicit = file.is_some();
    let file = file.unwrap_or_else(|| DEFAULT_CONFIG.into());
    let config = configure(Some(&file), explicit, &flags).map_err(Failure::usage)?;
    if syslog {
        syslog::init(globals.verbose);
    } else {
        globals.init_logging_at(1);
    }
    let mut reload = || configure(Some(&file), explicit, &flags);
    daemon::run(config, &mut reload).map_err(|e| Failure::from_error(&e))?;
    Ok(ExitCode::SUCCESS)
}

const CTL_HELP: &str = "\
Usage: boardnet ctl [--control PATH] [--timeout S] [--json] COMMAND [ARGS]

The client of boardnet daemon's control socket.

  status                     the same as boardnet status, from the daemon
  configurations             the configurations alone
  watch                      every event as it happens (bearers, reachability, online, jobs)
  wait-online [--level L] [--timeout S]
                             until the board reaches local/site (default)/online
  fetch URL -o FILE [--sha256 HEX] [--policy P] [--hook NAME] [--wait]
                             queue a download; --wait: until it ends, exit with its class
  upload FILE URL [--method PUT|POST] [--remove] [--policy P] [--hook NAME] [--wait]
                             queue an upload; --remove: delete FILE after a 2xx
  jobs | job ID              the queue, one job
  cancel ID | pause ID | resume ID
  scan                       Wi-Fi networks (a triggered scan)
  open ID | close ID         start or stop a bearer session
  reload                     read the daemon's configuration and hooks again
  version                    the daemon's and the protocol's version

  --control PATH   the daemon's socket (default /run/boardnet/control)
  --timeout S      longest wait for a reply (default 30; not for watch and --wait); after
                   wait-online: how long to wait for the level (default: no limit)
  --policy P       any (default), not-cellular, interface:IF, online

Exit: 0 done; a refused request or failed job exits with its class (2 bad request,
8 not allowed, 5 timeout, ...); 4 no daemon at the socket.
";

/// What `ctl` was asked, before it is sent.
#[derive(Default)]
struct CtlArgs {
    control: Option<PathBuf>,
    timeout: Option<Duration>,
    words: Vec<String>,
    output: Option<String>,
    fields: serde_json::Map<String, Value>,
    wait: bool,
}

pub(crate) fn ctl(parser: &mut lexopt::Parser, globals: &mut Globals) -> Result<ExitCode, Failure> {
    let mut a = CtlArgs::default();
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => {
                super::output::print_text(CTL_HELP);
                return Ok(ExitCode::SUCCESS);
            }
            Long("control") => a.control = Some(text(parser, "--control")?.into()),
            Long("timeout") if a.words.first().is_some_and(|w| w == "wait-online") => {
                let s = super::args::seconds(parser, "--timeout")?;
                a.fields.insert("timeout".into(), s.as_secs_f64().into());
            }
            Long("timeout") => a.timeout = Some(super::args::seconds(parser, "--timeout")?),
            Long("wait") => a.wait = true,
            Short('o') | Long("output") => a.output = Some(text(parser, "-o")?),
            Long("remove") => {
                a.fields.insert("remove".into(), true.into());
            }
            Long(name @ ("level" | "sha256" | "policy" | "hook" | "method")) => {
                let name = name.to_string();
                let v = text(parser, &format!("--{name}"))?;
                a.fields.insert(name, v.into());
            }
            Value(v) => a.words.push(v.string()?),
            other => {
                if !globals.accept(&other) {
                    return Err(other.unexpected().into());
                }
            }
        }
    }
    globals.init_logging();
    let (command, fields) = ctl_request(&mut a)?;
    let path = a
        .control
        .clone()
        .unwrap_or_else(|| daemon::DEFAULT_CONTROL.into());
    let mut client = ControlClient::connect(&path).map_err(|e| ctl_failure(&e))?;
    let waits = command == "wait-online" || command == "subscribe";
    let timeout = a.timeout.unwrap_or(Duration::from_secs(30));
    client
        .set_timeout((!waits && !timeout.is_zero()).then_some(timeout))
        .map_err(|e| ctl_failure(&e))?;
    if a.wait {
        client
            .request("subscribe", json!({}))
            .map_err(|e| ctl_failure(&e))?;
    }
    let result = client
        .request(&command, Value::Object(fields))
        .map_err(|e| ctl_failure(&e))?;
    if command == "subscribe" {
        return watch(&mut client, globals);
    }
    if a.wait {
        return wait_for_job(&mut client, &result, globals);
    }
    print_result(&command, &result, globals);
    Ok(ExitCode::SUCCESS)
}

/// The protocol command and its fields from the words and flags.
fn ctl_request(a: &mut CtlArgs) -> Result<(String, serde_json::Map<String, Value>), Failure> {
    let mut words = std::mem::take(&mut a.words).into_iter();
    let command = words
        .next()
        .ok_or_else(|| Failure::usage("ctl: give a command"))?;
    let mut rest: Vec<String> = words.collect();
    let mut fields = std::mem::take(&mut a.fields);
    let mut want = |n: usize, what: &str| -> Result<Vec<String>, Failure> {
        if rest.len() != n {
            return Err(Failure::usage(format!("ctl {command}: give {what}")));
        }
        Ok(std::mem::take(&mut rest))
    };
    let protocol_name = match command.as_str() {
        "status" | "configurations" | "jobs" | "scan" | "reload" | "version" | "wait-online" => {
            want(0, "no arguments")?;
            command.clone()
        }
        "watch" => {
            want(0, "no arguments")?;
            "subscribe".into()
        }
        "job" | "cancel" | "pause" | "resume" => {
            let id = want(1, "one job ID")?.remove(0);
            let n: u64 = id.parse().map_err(|_| {
                Failure::usage(format!("ctl {command}: {} is not a job ID", Quoted(&id)))
            })?;
            fields.insert("job".into(), n.into());
            command.clone()
        }
        "open" | "close" => {
            let id = want(1, "one configuration ID")?.remove(0);
            fields.insert("configuration".into(), id.into());
            command.clone()
        }
        "fetch" => {
            let url = want(1, "one URL (and -o FILE)")?.remove(0);
            let out = a
                .output
                .take()
                .ok_or_else(|| Failure::usage("ctl fetch: give -o FILE"))?;
            fields.insert("url".into(), url.into());
            fields.insert("path".into(), absolute(&out)?.into());
            command.clone()
        }
        "upload" => {
            let mut args = want(2, "FILE and URL")?;
            let url = args.remove(1);
            fields.insert("path".into(), absolute(&args[0])?.into());
            fields.insert("url".into(), url.into());
            command.clone()
        }
        other => {
            return Err(Failure::usage(format!(
                "ctl: unknown command {} (see boardnet ctl --help)",
                Quoted(other)
            )))
        }
    };
    Ok((protocol_name, fields))
}

/// The daemon's working directory is `/`: a relative path is made absolute here.
fn absolute(path: &str) -> Result<String, Failure> {
    let p = Path::new(path);
    let full = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(super::os_failure("current directory"))?
            .join(p)
    };
    Ok(full.to_string_lossy().into_owned())
}

fn ctl_failure(e: &ControlError) -> Failure {
    let mut failure = Failure {
        class: crate::error::Classify::class(e),
        message: e.to_string(),
        help_hint: false,
    };
    if let ControlError::Connect(..) = e {
        failure
            .message
            .push_str(" (is boardnet daemon running? --control PATH names its socket)");
    }
    if let ControlError::Refused { kind, .. } = e {
        if kind == "NotAuthorized" {
            failure
                .message
                .push_str(" (run as root, or join the group given to the daemon's --group)");
        }
    }
    failure
}

fn watch(client: &mut ControlClient, globals: &Globals) -> Result<ExitCode, Failure> {
    loop {
        let event = client.next_event().map_err(|e| ctl_failure(&e))?;
        if globals.json {
            json_line(&event);
        } else {
            outln!("{}", event_text(&event));
        }
    }
}

/// Follow a submitted job until it ends; exit with its class.
fn wait_for_job(
    client: &mut ControlClient,
    job: &Value,
    globals: &Globals,
) -> Result<ExitCode, Failure> {
    let id = job["id"].clone();
    client.set_timeout(None).map_err(|e| ctl_failure(&e))?;
    loop {
        let event = client.next_event().map_err(|e| ctl_failure(&e))?;
        let is_ours = event["job"] == id || event["job"]["id"] == id;
        if !is_ours {
            continue;
        }
        if globals.json {
            json_line(&event);
        } else if globals.verbose > 0 {
            outln!("{}", event_text(&event));
        }
        let state = event["job"]["state"].as_str().unwrap_or("");
        match state {
            "done" => {
                if !globals.json {
                    outln!("{}", job_line(&event["job"]));
                }
                return Ok(ExitCode::SUCCESS);
            }
            "failed" | "cancelled" => {
                let error = &event["job"]["error"];
                let class = error["code"]
                    .as_i64()
                    .and_then(ErrorClass::from_exit_code)
                    .filter(|_| state == "failed")
                    .unwrap_or(ErrorClass::Cancelled);
                let message = match error["message"].as_str() {
                    Some(why) if state == "failed" => format!("job {id} failed: {why}"),
                    _ => format!("job {id} was cancelled"),
                };
                return Err(Failure {
                    class,
                    message,
                    help_hint: false,
                });
            }
            _ => {}
        }
    }
}

fn print_result(command: &str, result: &Value, globals: &Globals) {
    if globals.json {
        match result {
            Value::Array(items) if command != "status" => items.iter().for_each(json_line),
            _ => json_line(result),
        }
        return;
    }
    match command {
        "status" => {
            outln!(
                "reachability: {}",
                result["reachability"].as_str().unwrap_or("?")
            );
            outln!(
                "online:       {}",
                if result["online"] == true {
                    "yes"
                } else {
                    "no"
                }
            );
            outln!(
                "default:      {}",
                result["default"].as_str().unwrap_or("none")
            );
            outln!();
            print_configurations(result["configurations"].as_array());
        }
        "configurations" => print_configurations(result.as_array()),
        "jobs" => {
            for job in result.as_array().into_iter().flatten() {
                outln!("{}", job_line(job));
            }
        }
        "job" | "fetch" | "upload" | "cancel" | "pause" | "resume" => {
            outln!("{}", job_line(result))
        }
        "wait-online" => outln!(
            "{} via {}",
            result["level"].as_str().unwrap_or("?"),
            result["configuration"].as_str().unwrap_or("?")
        ),
        "version" => outln!(
            "daemon {} (protocol {})",
            result["version"].as_str().unwrap_or("?"),
            result["protocol"]
        ),
        "reload" => outln!("reloaded"),
        _ => {
            for item in result.as_array().into_iter().flatten() {
                outln!("{item}");
            }
        }
    }
}

fn print_configurations(configs: Option<&Vec<Value>>) {
    super::bearer::print_table_header();
    for c in configs.into_iter().flatten() {
        let addresses: Vec<&str> = c["addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let row = super::bearer::table_row(
            c["id"].as_str().unwrap_or("?"),
            c["bearer"].as_str().unwrap_or("?"),
            c["state"].as_str().unwrap_or("?"),
            c["interface"].as_str(),
            &addresses,
        );
        let mark = if c["default"] == true { "*" } else { " " };
        outln!("{mark}{row}");
    }
}

/// `3 fetch running 1.2 MiB/64.0 MiB any http://… -> /data/fw.img (error)`.
fn job_line(job: &Value) -> String {
    let bytes = job["bytes"].as_u64().unwrap_or(0);
    let progress = match job["total"].as_u64() {
        Some(total) => format!("{}/{}", human_bytes(bytes), human_bytes(total)),
        None => human_bytes(bytes),
    };
    let (from, to) = if job["type"] == "upload" {
        (&job["path"], &job["url"])
    } else {
        (&job["url"], &job["path"])
    };
    let mut line = format!(
        "{:<4} {:<6} {:<9} {:<20} {:<14} {} -> {}",
        job["id"],
        job["type"].as_str().unwrap_or("?"),
        job["state"].as_str().unwrap_or("?"),
        progress,
        job["policy"].as_str().unwrap_or("?"),
        from.as_str().unwrap_or("?"),
        to.as_str().unwrap_or("?"),
    );
    if let Some(message) = job["error"]["message"].as_str() {
        line.push_str(&format!(" ({message})"));
    }
    line
}

fn event_text(event: &Value) -> String {
    let name = event["event"].as_str().unwrap_or("?");
    let what = match name {
        "added" | "changed" => {
            let c = &event["configuration"];
            format!(
                "{} {} {}",
                c["id"].as_str().unwrap_or("?"),
                c["state"].as_str().unwrap_or("?"),
                c["interface"].as_str().unwrap_or("-")
            )
        }
        "removed" | "preferred" => event["id"].as_str().unwrap_or("none").to_string(),
        "reachability" => event["level"].as_str().unwrap_or("?").to_string(),
        "online" => if event["online"] == true { "yes" } else { "no" }.to_string(),
        "job" => job_line(&event["job"]),
        "job-progress" => format!(
            "{} {}",
            event["job"],
            human_bytes(event["bytes"].as_u64().unwrap_or(0))
        ),
        _ => String::new(),
    };
    format!("{} {name} {what}", super::bearer::clock())
}

/// Logging to syslog (`--syslog`): the daemon facility, tagged `boardnet` with the pid.
mod syslog {
    use log::{Level, LevelFilter, Log, Metadata, Record};

    struct Syslog;

    impl Log for Syslog {
        fn enabled(&self, m: &Metadata<'_>) -> bool {
            m.level() <= log::max_level() && m.target().starts_with("boardnet")
        }

        fn log(&self, record: &Record<'_>) {
            if !self.enabled(record.metadata()) {
                return;
            }
            let priority = match record.level() {
                Level::Error => libc::LOG_ERR,
                Level::Warn => libc::LOG_WARNING,
                Level::Info => libc::LOG_INFO,
                Level::Debug | Level::Trace => libc::LOG_DEBUG,
            };
            let text = record.args().to_string().replace('\0', " ");
            if let Ok(c) = std::ffi::CString::new(text) {
                // SAFETY: "%s" with one valid C string argument.
                unsafe { libc::syslog(priority, c"%s".as_ptr(), c.as_ptr()) };
            }
        }

        fn flush(&self) {}
    }

    pub(super) fn init(verbose: u8) {
        // SAFETY: the identifier is a static C string, valid for the program's life.
        unsafe { libc::openlog(c"boardnet".as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
        let level = match verbose {
            0 => LevelFilter::Info,
            1 => LevelFilter::Debug,
            _ => LevelFilter::Trace,
        };
        if log::set_logger(&Syslog).is_ok() {
            log::set_max_level(level);
        }
    }
}
