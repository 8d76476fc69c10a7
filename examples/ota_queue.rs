//! An OTA agent that leaves the transfer to the board's network service: queue the image with
//! `boardnet daemon` (it waits out outages, roams, resumes after a reboot), then follow the
//! job's events until it is verified in place.
//!
//!     ota_queue CONTROL_SOCKET URL DEST SHA256 [POLICY]
//!
//! Prints `installed DEST (N bytes)` and exits 0, or the job's error and its exit class.

use boardnet::daemon::client::ControlClient;
use serde_json::json;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [control, url, dest, sha256, rest @ ..] = args.as_slice() else {
        eprintln!("usage: ota_queue CONTROL_SOCKET URL DEST SHA256 [POLICY]");
        return std::process::ExitCode::from(2);
    };
    let policy = rest.first().map_or("any", String::as_str);
    match queue_and_follow(control, url, dest, sha256, policy) {
        Ok(size) => {
            println!("installed {dest} ({size} bytes)");
            std::process::ExitCode::SUCCESS
        }
        Err((code, why)) => {
            eprintln!("ota_queue: {why}");
            std::process::ExitCode::from(code)
        }
    }
}

fn queue_and_follow(
    control: &str,
    url: &str,
    dest: &str,
    sha256: &str,
    policy: &str,
) -> Result<u64, (u8, String)> {
    use boardnet::Classify;
    let failed = |e: boardnet::daemon::client::ControlError| (e.class().exit_code(), e.to_string());
    let mut ctl = ControlClient::connect(control.as_ref()).map_err(failed)?;
    // Subscribe first, so no event of the new job can be missed.
    ctl.request("subscribe", json!({})).map_err(failed)?;
    let job = ctl
        .request(
            "fetch",
            json!({"url": url, "path": dest, "sha256": sha256, "policy": policy}),
        )
        .map_err(failed)?;
    let id = job["id"].clone();
    println!("job {id} queued ({policy})");
    loop {
        let event = ctl.next_event().map_err(failed)?;
        if event["event"] != "job" || event["job"]["id"] != id {
            continue;
        }
        let job = &event["job"];
        match job["state"].as_str() {
            Some("done") => return Ok(job["bytes"].as_u64().unwrap_or(0)),
            Some("failed" | "cancelled") => {
                let code = job["error"]["code"].as_u64().unwrap_or(12) as u8;
                return Err((
                    code,
                    format!("job {id} {}: {}", job["state"], job["error"]["message"]),
                ));
            }
            Some(state) => println!("job {id} {state}"),
            None => {}
        }
    }
}
