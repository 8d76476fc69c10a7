//! The daemon's control protocol (`boardnet::daemon::protocol`): the input is a byte stream
//! from a client, fed to the line reader in pieces whose size the first byte chooses. Every
//! line is parsed as a request; a job a request submits survives its file format (written,
//! read back equal). Nothing may panic, and nothing beyond one bounded line may be held.
#![no_main]

use boardnet::daemon::jobs::Job;
use boardnet::daemon::protocol::{self, Command, Line, LineReader, MAX_LINE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, stream)) = data.split_first() else {
        return;
    };
    let piece = usize::from(split).max(1);
    let mut reader = LineReader::default();
    for chunk in stream.chunks(piece) {
        reader.feed(chunk, |line| match line {
            Line::Complete(bytes) => {
                assert!(bytes.len() <= MAX_LINE);
                match protocol::parse(bytes) {
                    Ok(request) => {
                        if let Command::Submit(spec) = request.command {
                            let job = Job::new(1, spec);
                            let back = Job::from_json(&job.to_json()).expect("a job reads back");
                            assert_eq!(back, job);
                        }
                    }
                    Err(refusal) => {
                        let reply = refusal.reply();
                        assert!(reply.ends_with(b"\n") && reply.len() < 4096, "{reply:?}");
                    }
                }
            }
            Line::TooLong(head) => assert!(head.len() <= 64),
        });
        assert!(reader.held() <= MAX_LINE + piece.max(4096));
    }
});
