//! An echo server on the reactor: one thread serves every client (Qt's QTcpServer and
//! QTcpSocket with signals, here `Server`/`StreamSocket` events). Any stream endpoint works:
//! `tcp://`, `unix:/path`, `unix:@name`, `sctp://`, and `tls://` with a certificate.
//!
//! ```text
//! cargo run --example echo_server -- tcp://127.0.0.1:7000 [--clients N]
//! ```
//! Prints `listening on ENDPOINT` (with the port chosen for `:0`); with `--clients N` it ends
//! once N clients came and went.

use std::error::Error;
use std::io::{self, Write};

use boardnet::reactor::Reactor;
use boardnet::socket::{Endpoint, Server, ServerOptions, SocketEvent, SocketState, StreamSocket};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let endpoint: Endpoint = args
        .first()
        .ok_or("usage: echo_server ENDPOINT [--clients N]")?
        .parse()?;
    let at_most: Option<usize> = match args.iter().position(|a| a == "--clients") {
        Some(i) => Some(args.get(i + 1).ok_or("--clients N")?.parse()?),
        None => None,
    };
    let mut reactor = Reactor::new()?;
    let mut server = Server::listen(&mut reactor, &endpoint, &ServerOptions::default())?;
    println!("listening on {}", server.endpoint());
    io::stdout().flush()?;

    let mut clients: Vec<StreamSocket> = Vec::new();
    let mut served = 0;
    let mut ready = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    while at_most.is_none_or(|n| served < n) || !clients.is_empty() {
        reactor.turn(&mut ready, None)?;
        for r in ready.drain(..) {
            if !server.handle(&mut reactor, &r) {
                clients.iter_mut().any(|c| c.handle(&mut reactor, &r));
            }
        }
        // One NewConnection event stands for every waiting client: take them all.
        while let Some(client) = server.next_pending_connection(&mut reactor) {
            eprintln!("client {} connected", client.peer_name());
            served += 1;
            clients.push(client);
        }
        while server.next_event().is_some() {}
        for client in &mut clients {
            echo(client, &mut buf);
        }
        clients.retain(|c| c.state() != SocketState::Unconnected);
        if at_most.is_some_and(|n| served >= n) {
            server.pause_accepting();
        }
    }
    Ok(())
}

/// Send back what arrived; close once the client finished sending and the echo is out.
fn echo(client: &mut StreamSocket, buf: &mut [u8]) {
    while let Some(event) = client.next_event() {
        match event {
            SocketEvent::ReadyRead | SocketEvent::ReadClosed => loop {
                match client.read(buf) {
                    Ok(0) => {
                        client.close();
                        break;
                    }
                    Ok(n) => {
                        if let Err(e) = client.write(&buf[..n]) {
                            eprintln!("{}: {e}", client.peer_name());
                            break;
                        }
                    }
                    Err(_) => break,
                }
            },
            SocketEvent::Error(e) => eprintln!("{}: {e}", client.peer_name()),
            _ => {}
        }
    }
}
