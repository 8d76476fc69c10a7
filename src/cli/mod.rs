//! The `boardnet` command line: parse, call one capability, print human text or JSON lines,
//! exit with the class of the first failure (see [`crate::ErrorClass`]).

mod args;
mod bearer;
mod daemon;
mod dns;
#[cfg(feature = "ftp")]
mod ftp;
mod hints;
mod http;
mod output;
mod progress;
mod socket;
mod stdin;

use std::ffi::OsString;
use std::process::ExitCode;

use crate::error::{Classify, ErrorClass};
use hints::{CliHint, Hinted};

pub(crate) use args::Globals;

/// A failure the CLI reports: what went wrong, and which exit code it means.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) class: ErrorClass,
    pub(crate) message: String,
    /// A command-line mistake: point at --help.
    pub(crate) help_hint: bool,
}

impl Failure {
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Failure {
            class: ErrorClass::Usage,
            message: message.into(),
            help_hint: true,
        }
    }

    /// A library error; a usage-class one (bad input) points at the command's help too.
    pub(crate) fn from_error<E: Classify + std::fmt::Display + CliHint>(e: &E) -> Self {
        Failure {
            class: e.class(),
            message: Hinted(e).to_string(),
            help_hint: e.class() == ErrorClass::Usage,
        }
    }
}

/// A failure of the operating system outside any capability (event loop, signals).
pub(crate) fn os_failure(what: &str) -> impl Fn(std::io::Error) -> Failure + '_ {
    move |e| Failure {
        help_hint: false,
        class: ErrorClass::Other,
        message: format!("{what}: {e}"),
    }
}

/// An event loop that reports SIGINT/SIGTERM/SIGHUP as events.
pub(crate) fn new_reactor() -> Result<crate::reactor::Reactor, Failure> {
    let mut reactor = crate::reactor::Reactor::new().map_err(os_failure("event loop"))?;
    reactor.handle_signals().map_err(os_failure("signals"))?;
    Ok(reactor)
}

/// A cancel token that SIGINT and SIGTERM cancel (for the blocking transfers).
pub(crate) fn signal_cancel_token() -> Result<crate::cancel::CancelToken, Failure> {
    crate::cancel::CancelToken::new()
        .and_then(|c| c.cancel_on_termination_signals().map(|()| c))
        .map_err(os_failure("cannot set up signal handling"))
}

/// Signals that end a command (SIGHUP does not).
pub(crate) fn signal_exit(sig: libc::c_int) -> bool {
    sig == libc::SIGINT || sig == libc::SIGTERM
}

impl From<crate::fs::FileError> for Failure {
    fn from(e: crate::fs::FileError) -> Self {
        Failure::from_error(&e)
    }
}

impl From<lexopt::Error> for Failure {
    fn from(e: lexopt::Error) -> Self {
        Failure::usage(e.to_string())
    }
}

/// Subcommands: name, one-line summary (for `boardnet --help`).
const COMMANDS: &[(&str, &str)] = &[
    (
        "status",
        "this board's bearers, default configuration, reachability",
    ),
    (
        "bearer",
        "network configurations: list, watch, open ID, close ID, stats ID",
    ),
    (
        "wifi",
        "Wi-Fi interfaces and networks nearby: status, scan [--trigger]",
    ),
    (
        "wait-online",
        "wait until the board reaches local/site/online (for init)",
    ),
    (
        "get",
        "download URLs (HTTP/HTTPS/FTP/FTPS) to stdout or files",
    ),
    ("head", "show the response headers of URLs"),
    ("post", "send data or a form with POST"),
    ("put", "upload a file or data with PUT (or to ftp://)"),
    ("delete", "send DELETE requests"),
    (
        "request",
        "send a request with any method (PROPFIND, PATCH, ...)",
    ),
    (
        "ftp",
        "FTP/FTPS session: ls, cd, get, put, rm, mkdir, rename... (one or a script)",
    ),
    ("host", "addresses of host names (system resolver)"),
    ("dns", "typed DNS lookups (A, AAAA, MX, SRV, TXT, ...)"),
    (
        "connect",
        "connect to tcp/tls/udp/sctp/unix endpoints: stdin <-> socket",
    ),
    (
        "listen",
        "serve tcp/tls/udp/sctp/unix endpoints (stdio, echo, discard)",
    ),
    (
        "daemon",
        "the board's network service: control socket, events, hooks, transfer queue",
    ),
    (
        "ctl",
        "talk to boardnet daemon: status, watch, fetch, upload, jobs, cancel, ...",
    ),
    ("help", "a command's options: boardnet help COMMAND"),
];

fn top_help() -> String {
    let mut s = format!(
        "boardnet {} — networking for embedded Linux boards\n\n\
         Usage: boardnet [-v] [--json] COMMAND [ARGS...]\n\n\
         Commands:\n",
        env!("CARGO_PKG_VERSION")
    );
    for (name, summary) in COMMANDS {
        s.push_str(&format!("  {name:<12} {summary}\n"));
    }
    s.push_str(
        "\nGlobal options (accepted before or after the command):\n\
         \x20 -v, --verbose   more log output on stderr (repeat for more; RUST_LOG also works)\n\
         \x20     --json      one JSON object per line on stdout instead of human text\n\
         \x20 -h, --help      help (also: boardnet COMMAND --help)\n\
         \x20     --version   version and enabled features\n\n\
         Exit codes: 0 ok, 1 other, 2 usage, 3 host not found, 4 connection failed,\n\
         5 timeout, 6 TLS, 7 protocol error, 8 server said no, 9 local file error,\n\
         10 checksum mismatch, 11 not supported here, 12 interrupted.\n",
    );
    s
}

fn version() -> String {
    let features: &[(&str, bool)] = &[
        ("tls", cfg!(feature = "tls")),
        ("ftp", cfg!(feature = "ftp")),
        ("connman", cfg!(feature = "connman")),
        ("networkmanager", cfg!(feature = "networkmanager")),
        ("sctp", cfg!(feature = "sctp")),
    ];
    let on: Vec<&str> = features.iter().filter(|f| f.1).map(|f| f.0).collect();
    format!(
        "boardnet {} ({}; features: {})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        if on.is_empty() {
            "none".to_string()
        } else {
            on.join(",")
        }
    )
}

/// Entry point of the binary.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let mut args = args.into_iter();
    let _argv0 = args.next();
    let mut globals = Globals::default();
    let mut parser = lexopt::Parser::from_args(args);
    let mut command = None;
    let result = command_name(&mut parser, &mut globals).and_then(|name| match name {
        None => Ok(ExitCode::SUCCESS),
        Some(name) => {
            let name = command.insert(name);
            run_command(name, &mut parser, &mut globals)
        }
    });
    match result {
        Ok(code) => code,
        Err(failure) => {
            report(&failure, &globals);
            if failure.help_hint {
                usage_hint(command.as_deref().filter(|c| is_command(c)));
            }
            ExitCode::from(failure.class.exit_code())
        }
    }
}

/// Print a failure on stderr (and as a JSON error object with `--json`).
fn report(failure: &Failure, globals: &Globals) {
    // Logging may not be set up if parsing failed early; print directly.
    if globals.json {
        let error = serde_json::json!({
            "event": "error",
            "error": {
                "class": failure.class.name(),
                "code": failure.class.exit_code(),
                "message": failure.message,
            }
        });
        if globals.events_on_stderr {
            output::json_line_stderr(&error);
        } else {
            output::json_line(&error);
        }
    }
    eprintln!("boardnet: {}", failure.message);
}

/// After a usage error: where the command's options are described.
pub(crate) fn usage_hint(command: Option<&str>) {
    match command {
        Some(c) => eprintln!("Try 'boardnet {c} --help'."),
        None => eprintln!("Try 'boardnet --help'."),
    }
}

/// One item (a URL, a name) of a command failed and the command goes on with the next: say
/// so on stderr (unless `--json` carries it), with the help hint after a usage error.
pub(crate) fn item_failed<E: Classify + std::fmt::Display + CliHint>(
    globals: &Globals,
    command: &str,
    item: &str,
    e: &E,
) {
    if globals.json {
        return;
    }
    eprintln!("boardnet: {}: {}", crate::error::Bounded(item), Hinted(e));
    if e.class() == ErrorClass::Usage {
        usage_hint(Some(command));
    }
}

fn is_command(name: &str) -> bool {
    COMMANDS.iter().any(|(c, _)| *c == name)
}

/// The subcommand's name, after any global flags; `None` when `--version` or `--help` was
/// answered instead.
fn command_name(
    parser: &mut lexopt::Parser,
    globals: &mut Globals,
) -> Result<Option<String>, Failure> {
    use lexopt::prelude::*;
    loop {
        match parser.next()? {
            None => {
                output::print_text(&top_help());
                return Err(Failure::usage("no command given"));
            }
            Some(Long("version")) => {
                output::print_text(&version());
                return Ok(None);
            }
            Some(Short('h') | Long("help")) => {
                output::print_text(&top_help());
                return Ok(None);
            }
            Some(Value(v)) => return Ok(Some(v.string()?)),
            Some(arg) => {
                if !globals.accept(&arg) {
                    return Err(arg.unexpected().into());
                }
            }
        }
    }
}

/// `boardnet help [COMMAND]`: the command's `--help`, like git and cargo.
fn help(parser: &mut lexopt::Parser, globals: &mut Globals) -> Result<ExitCode, Failure> {
    let topic = match parser.next()? {
        None => {
            output::print_text(&top_help());
            return Ok(ExitCode::SUCCESS);
        }
        Some(lexopt::Arg::Value(v)) => lexopt::ValueExt::string(v)?,
        Some(other) => return Err(other.unexpected().into()),
    };
    if !is_command(&topic) || topic == "help" {
        return Err(Failure::usage(format!(
            "help: no command {}",
            crate::error::Quoted(&topic)
        )));
    }
    let mut parser = lexopt::Parser::from_args(["--help"]);
    run_command(&topic, &mut parser, globals)
}

fn run_command(
    command: &str,
    parser: &mut lexopt::Parser,
    globals: &mut Globals,
) -> Result<ExitCode, Failure> {
    match command {
        "help" => help(parser, globals),
        "get" | "put" => {
            // ftp:// and ftps:// URLs go to the FTP client; look before any flag is parsed.
            let rest: Vec<OsString> = parser.raw_args()?.collect();
            let mut parser = lexopt::Parser::from_args(rest.clone());
            #[cfg(feature = "ftp")]
            if ftp::wants(&rest) {
                return ftp::transfer(command, &mut parser, globals);
            }
            #[cfg(not(feature = "ftp"))]
            if rest.iter().any(|a| {
                a.to_str()
                    .is_some_and(|u| u.get(..3).is_some_and(|s| s.eq_ignore_ascii_case("ftp")))
            }) {
                return Err(Failure {
                    help_hint: false,
                    class: ErrorClass::Unsupported,
                    message: "ftp:// URLs need the ftp feature, which this build lacks".into(),
                });
            }
            http::run(command, &mut parser, globals)
        }
        "head" | "post" | "delete" | "request" => http::run(command, parser, globals),
        #[cfg(feature = "ftp")]
        "ftp" => ftp::session(parser, globals),
        "host" => dns::host(parser, globals),
        "dns" => dns::dns(parser, globals),
        "status" => bearer::status(parser, globals),
        "bearer" => bearer::bearer(parser, globals),
        "wait-online" => bearer::wait_online(parser, globals),
        "wifi" => bearer::wifi(parser, globals),
        "daemon" => daemon::daemon(parser, globals),
        "ctl" => daemon::ctl(parser, globals),
        "connect" => socket::connect(parser, globals),
        "listen" => socket::listen(parser, globals),
        other => Err(Failure::usage(format!(
            "unknown command {}",
            crate::error::Quoted(other)
        ))),
    }
}
