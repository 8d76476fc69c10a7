# A broken NetworkManager on the D-Bus system bus ($DBUS_SYSTEM_BUS_ADDRESS), for bad-input
# tests. argv[1] says how it is broken:
#   silent  owns org.freedesktop.NetworkManager and never reads a message (no answer ever)
#   wrong   answers GetManagedObjects with a string instead of a{oa{sa{sv}}}
# Prints "ready" once it owns the name. Needs Debian's python3 with python3-dbus and -gi.
import sys
import time

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

mode = sys.argv[1]
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.SystemBus()
name = dbus.service.BusName("org.freedesktop.NetworkManager", bus)


class Root(dbus.service.Object):
    @dbus.service.method("org.freedesktop.DBus.ObjectManager", out_signature="s")
    def GetManagedObjects(self):
        return "not the objects"


print("ready", flush=True)
if mode == "silent":
    time.sleep(3600)
else:
    Root(bus, "/org/freedesktop")
    GLib.MainLoop().run()
