//! Download a URL (http, https, ftp, ftps) the way an OTA agent does: into `FILE.part`,
//! resumed after an interruption, verified, renamed into place only when complete, and
//! optionally following the preferred bearer from link to link (with a bearer manager of its
//! own, `Roam::With`, whose picture it prints first; `Roam::Follow` would open one inside).
//!
//! ```text
//! cargo run --example download -- URL FILE [--sha256 HEX] [--roam]
//! ```

use std::process::ExitCode;

use boardnet::bearer::{Manager, ManagerOptions};
use boardnet::cancel::CancelToken;
use boardnet::reactor::Reactor;
use boardnet::transfer::{self, Options, Roam};
use boardnet::Classify;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag_value = |name: &str| {
        let at = args.iter().position(|a| a == name)?;
        args.get(at + 1)
    };
    let positional: Vec<&String> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| !a.starts_with("--") && (*i == 0 || args[i - 1] != "--sha256"))
        .map(|(_, a)| a)
        .collect();
    let [url, file] = positional[..] else {
        eprintln!("usage: download URL FILE [--sha256 HEX] [--roam]");
        return ExitCode::from(2);
    };
    let sha256 = match flag_value("--sha256").map(|hex| boardnet::http::parse_sha256(hex)) {
        Some(None) => {
            eprintln!("--sha256: expected 64 hex digits");
            return ExitCode::from(2);
        }
        Some(Some(digest)) => Some(digest),
        None => None,
    };
    // Ctrl-C stops the transfer at once; FILE.part stays for the next run to resume.
    let cancel =
        match CancelToken::new().and_then(|c| c.cancel_on_termination_signals().map(|()| c)) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("signals: {e}");
                return ExitCode::FAILURE;
            }
        };
    let mut bearers = None;
    if args.iter().any(|a| a == "--roam") {
        match open_bearers() {
            Ok(b) => bearers = Some(b),
            Err(e) => {
                eprintln!("bearers: {e}");
                return ExitCode::from(e.class().exit_code());
            }
        }
    }
    let mut last_tenth = None;
    let options = Options {
        resume: true,
        sha256,
        cancel: Some(cancel),
        roam: match bearers.as_mut() {
            Some((reactor, manager)) => Roam::With { manager, reactor },
            None => Roam::Off,
        },
        progress: Some(Box::new(move |p| {
            let Some(total) = p.total.filter(|t| *t > 0) else {
                return;
            };
            let tenth = p.bytes * 10 / total;
            if last_tenth != Some(tenth) {
                last_tenth = Some(tenth);
                eprintln!("{:3}% of {total} bytes", tenth * 10);
            }
        })),
        ..Options::default()
    };
    match transfer::download(url, file.as_ref(), options) {
        Ok(done) => {
            println!(
                "saved {} bytes to {file} ({} resumed){}{}",
                done.size,
                done.resumed_from,
                done.sha256
                    .map(|s| format!(", sha256 {s}"))
                    .unwrap_or_default(),
                if done.interfaces.is_empty() {
                    String::new()
                } else {
                    format!(", through {}", done.interfaces.join(" then "))
                }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("download: {e}");
            ExitCode::from(e.class().exit_code())
        }
    }
}

/// A bearer manager on its own reactor, once it has the whole picture.
fn open_bearers() -> Result<(Reactor, Manager), boardnet::bearer::BearerError> {
    let mut reactor = Reactor::new().map_err(boardnet::bearer::BearerError::Reactor)?;
    let mut manager = Manager::open(&mut reactor, ManagerOptions::default())?;
    manager.wait_for_update(&mut reactor, std::time::Duration::from_secs(5))?;
    let preferred = manager.default_configuration().map(|c| c.id.clone());
    eprintln!(
        "preferred bearer: {}",
        preferred.as_deref().unwrap_or("none yet")
    );
    Ok((reactor, manager))
}
