//! Qt's Fortune Client: connect, read the one fortune the server sends until it closes the
//! connection, print it. Pair: `fortune_server`.
//!
//! ```text
//! cargo run --example fortune_client -- tcp://127.0.0.1:PORT
//! ```

use std::error::Error;
use std::time::Duration;

use boardnet::reactor::Reactor;
use boardnet::socket::{ConnectOptions, Endpoint, StreamSocket};

const TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> Result<(), Box<dyn Error>> {
    let endpoint: Endpoint = std::env::args()
        .nth(1)
        .ok_or("usage: fortune_client ENDPOINT")?
        .parse()?;
    let mut reactor = Reactor::new()?;
    let options = ConnectOptions {
        timeout: Some(TIMEOUT),
        ..ConnectOptions::default()
    };
    let mut socket = StreamSocket::connect(&mut reactor, &endpoint, options)?;
    socket.wait_for_connected(&mut reactor, TIMEOUT)?;
    let mut fortune = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        socket.wait_for_ready_read(&mut reactor, TIMEOUT)?;
        match socket.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => fortune.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e.into()),
        }
    }
    print!("{}", String::from_utf8_lossy(&fortune));
    Ok(())
}
