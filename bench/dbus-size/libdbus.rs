// libdbus through the dbus crate: a method call with its reply read as dynamic values,
// AddMatch, one signal.
use dbus::blocking::Connection;
use dbus::arg::RefArg;
use std::time::Duration;
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let conn = Connection::new_system()?;
    let proxy = conn.with_proxy("net.connman", "/", Duration::from_secs(5));
    let (services,): (Vec<(dbus::Path<'static>, dbus::arg::PropMap)>,) =
        proxy.method_call("net.connman.Manager", "GetServices", ())?;
    println!("{}", services.len());
    conn.add_match_no_cb("type='signal',interface='net.connman.Service'")?;
    loop {
        if let Some(msg) = conn.channel().blocking_pop_message(Duration::from_secs(3600))? {
            let args: Vec<Box<dyn RefArg>> = msg.iter_init().collect();
            println!("{:?} {}", msg.member(), args.len());
            return Ok(());
        }
    }
}
