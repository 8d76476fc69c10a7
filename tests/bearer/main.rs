//! Bearer management against the real kernel: veth pairs in a network namespace the test
//! creates (root), links going up and down, addresses and default routes added, moved and
//! removed while `boardnet` watches, waits or reports.

#[path = "../peers/mod.rs"]
mod peers;

#[cfg(feature = "connman")]
mod connman;
mod dbus;
mod netlink;
#[cfg(feature = "networkmanager")]
mod networkmanager;
#[cfg(feature = "connman")]
mod ofono;
mod roam;
mod wifi;
