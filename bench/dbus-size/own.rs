// boardnet's own codec and connection (boardnet::dbus): a method call with its reply read as
// dynamic values, AddMatch, one signal.
use std::time::Duration;

use boardnet::dbus::connection::Connection;
use boardnet::dbus::message::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let timeout = Duration::from_secs(5);
    let mut conn = Connection::system(timeout)?;
    let call = Message::method_call("net.connman", "/", "net.connman.Manager", "GetServices");
    let reply = conn.call(call, timeout)?;
    println!("{:?}", reply.body);
    conn.add_match("type='signal',interface='net.connman.Service'", timeout)?;
    let signal = conn.wait_message(Duration::from_secs(3600))?;
    println!("{:?} {:?}", signal.member, signal.body);
    Ok(())
}
