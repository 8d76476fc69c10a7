//! Upload a file to an HTTP(S) URL (PUT) or an FTP(S) URL (STOR; with `--resume`, append
//! what the server does not have yet).
//!
//! ```text
//! cargo run --example upload -- FILE URL [--resume]
//! ```

use std::process::ExitCode;

use boardnet::transfer::{self, Options};
use boardnet::Classify;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let [file, url] = positional[..] else {
        eprintln!("usage: upload FILE URL [--resume]");
        return ExitCode::from(2);
    };
    let options = Options {
        resume: args.iter().any(|a| a == "--resume"),
        ..Options::default()
    };
    match transfer::upload(file.as_ref(), url, options) {
        Ok(done) => {
            println!(
                "uploaded {} bytes to {} ({} already there)",
                done.size - done.resumed_from,
                done.effective_url,
                done.resumed_from
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("upload: {e}");
            ExitCode::from(e.class().exit_code())
        }
    }
}
