//! Qt's Fortune Server on the reactor: every client that connects gets one fortune, and the
//! server closes the connection once the fortune is sent. Pair: `fortune_client`.
//!
//! ```text
//! cargo run --example fortune_server -- tcp://127.0.0.1:0 [--clients N]
//! ```

use std::error::Error;
use std::io::{self, Write};

use boardnet::reactor::Reactor;
use boardnet::socket::{Endpoint, Server, ServerOptions, SocketState, StreamSocket};

const FORTUNES: [&str; 5] = [
    "You've been leading a dog's life. Stay off the furniture.",
    "You've got to think about tomorrow.",
    "You will be surprised by a loud noise.",
    "You will feel hungry again in another hour.",
    "Computers are not intelligent. They only think they are.",
];

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let endpoint: Endpoint = args
        .first()
        .ok_or("usage: fortune_server ENDPOINT [--clients N]")?
        .parse()?;
    let at_most: Option<usize> = match args.iter().position(|a| a == "--clients") {
        Some(i) => Some(args.get(i + 1).ok_or("--clients N")?.parse()?),
        None => None,
    };
    let mut reactor = Reactor::new()?;
    let mut server = Server::listen(&mut reactor, &endpoint, &ServerOptions::default())?;
    println!("listening on {}", server.endpoint());
    io::stdout().flush()?;

    // Connections whose fortune is still going out; each closes itself once it is sent.
    let mut sending: Vec<StreamSocket> = Vec::new();
    let mut served = 0;
    let mut ready = Vec::new();
    while at_most.is_none_or(|n| served < n) || !sending.is_empty() {
        reactor.turn(&mut ready, None)?;
        for r in ready.drain(..) {
            if !server.handle(&mut reactor, &r) {
                sending.iter_mut().any(|c| c.handle(&mut reactor, &r));
            }
        }
        while let Some(mut client) = server.next_pending_connection(&mut reactor) {
            let fortune = FORTUNES[served % FORTUNES.len()];
            served += 1;
            client.write(fortune.as_bytes())?;
            client.write(b"\n")?;
            client.close();
            sending.push(client);
        }
        while server.next_event().is_some() {}
        for client in &mut sending {
            while client.next_event().is_some() {}
        }
        sending.retain(|c| c.state() != SocketState::Unconnected);
        if at_most.is_some_and(|n| served >= n) {
            server.pause_accepting();
        }
    }
    Ok(())
}
