// rustbus (pure Rust, blocking): a method call with its reply read as dynamic values, AddMatch, one signal.
use rustbus::connection::Timeout;
use rustbus::{MessageBuilder, RpcConn};
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut conn = RpcConn::system_conn(Timeout::Infinite)?;
    let mut call = MessageBuilder::new()
        .call("GetServices")
        .with_interface("net.connman.Manager")
        .on("/")
        .at("net.connman")
        .build();
    let serial = conn.send_message(&mut call)?.write_all().map_err(|e| e.1)?;
    let reply = conn.wait_response(serial, Timeout::Duration(std::time::Duration::from_secs(5)))?;
    let mut parser = reply.body.parser();
    let services = parser.get_param()?;
    println!("{services:?}");
    let mut m = rustbus::standard_messages::add_match("type='signal',interface='net.connman.Service'");
    conn.send_message(&mut m)?.write_all().map_err(|e| e.1)?;
    let signal = conn.wait_signal(Timeout::Infinite)?;
    let mut parser = signal.body.parser();
    println!("{:?} {:?}", signal.dynheader.member, parser.get_param()?);
    Ok(())
}
