//! Two daemons on one board talking over a local socket (Qt's QLocalServer and QLocalSocket):
//! a server on an abstract Unix name answers each client with what the kernel says about it
//! (SO_PEERCRED: pid, uid, gid). Both ends run here, on one reactor.
//!
//! ```text
//! cargo run --example local_ipc [-- unix:@NAME | unix:/run/PATH]
//! ```

use std::error::Error;
use std::time::Duration;

use boardnet::reactor::Reactor;
use boardnet::socket::{ConnectOptions, Endpoint, Server, ServerOptions, StreamSocket};

const TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> Result<(), Box<dyn Error>> {
    let endpoint: Endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| format!("unix:@boardnet-local-ipc-{}", std::process::id()))
        .parse()?;
    let mut reactor = Reactor::new()?;
    let mut server = Server::listen(&mut reactor, &endpoint, &ServerOptions::default())?;
    let mut client = StreamSocket::connect(&mut reactor, &endpoint, ConnectOptions::default())?;
    client.wait_for_connected(&mut reactor, TIMEOUT)?;
    client.write(b"hello\n")?;

    // The server side: take the connection, read its line, answer with its credentials.
    let mut ready = Vec::new();
    let mut peer = loop {
        reactor.turn(&mut ready, Some(std::time::Instant::now() + TIMEOUT))?;
        for r in ready.drain(..) {
            server.handle(&mut reactor, &r);
        }
        if let Some(peer) = server.next_pending_connection(&mut reactor) {
            break peer;
        }
    };
    peer.wait_for_ready_read(&mut reactor, TIMEOUT)?;
    let mut buf = [0u8; 256];
    let n = peer.read(&mut buf)?;
    let creds = peer
        .peer_credentials()
        .ok_or("no peer credentials on a local socket")?;
    let answer = format!(
        "{} from pid {} uid {} gid {}\n",
        String::from_utf8_lossy(&buf[..n]).trim(),
        creds.pid,
        creds.uid,
        creds.gid
    );
    peer.write(answer.as_bytes())?;
    peer.wait_for_bytes_written(&mut reactor, TIMEOUT)?;

    client.wait_for_ready_read(&mut reactor, TIMEOUT)?;
    let n = client.read(&mut buf)?;
    print!("server says: {}", String::from_utf8_lossy(&buf[..n]));
    Ok(())
}
