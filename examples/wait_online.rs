//! What an init script needs before it starts the network's users: wait until the board
//! reaches `site` (a default route through an active link) or, with a check URL, `online`
//! (that URL answered 2xx through it) — event-driven, no polling — or give up.
//!
//! ```text
//! cargo run --example wait_online -- [--timeout SECONDS] [--check-url URL]
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

use boardnet::bearer::{BearerError, Manager, ManagerOptions, Reachability};
use boardnet::reactor::Reactor;
use boardnet::Classify;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        let at = args.iter().position(|a| a == name)?;
        args.get(at + 1).cloned()
    };
    let timeout = Duration::from_secs_f64(
        value("--timeout")
            .and_then(|t| t.parse().ok())
            .unwrap_or(30.0),
    );
    let check_url = value("--check-url");
    let goal = if check_url.is_some() {
        Reachability::Online
    } else {
        Reachability::Site
    };
    match wait(goal, check_url, timeout) {
        Ok(took) => {
            println!("{goal} after {:.3} s", took.as_secs_f64());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wait_online: not {goal}: {e}");
            ExitCode::from(e.class().exit_code())
        }
    }
}

fn wait(
    goal: Reachability,
    check_url: Option<String>,
    timeout: Duration,
) -> Result<Duration, BearerError> {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut reactor = Reactor::new().map_err(BearerError::Reactor)?;
    let options = ManagerOptions {
        check_url,
        ..ManagerOptions::default()
    };
    let mut manager = Manager::open(&mut reactor, options)?;
    let mut ready = Vec::new();
    loop {
        // The level is current after every event; the events themselves are not needed here.
        while manager.next_event().is_some() {}
        if manager.is_complete() && manager.reachability() >= goal {
            return Ok(started.elapsed());
        }
        if Instant::now() >= deadline {
            return Err(BearerError::Timeout(timeout));
        }
        reactor
            .turn(&mut ready, Some(deadline))
            .map_err(BearerError::Reactor)?;
        for r in ready.drain(..) {
            manager.handle(&mut reactor, &r)?;
        }
    }
}
