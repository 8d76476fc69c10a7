# A scripted oFono on the D-Bus system bus ($DBUS_SYSTEM_BUS_ADDRESS): one modem, /modem0,
# registered on the technology given as argv[2], with one active context whose interface is
# argv[1]. SIGUSR1 switches the technology to argv[3] and announces it with
# NetworkRegistration.PropertyChanged, as oFono does on a handover.
# Needs Debian's python3 with python3-dbus and python3-gi (run as /usr/bin/python3).
import signal
import sys

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

interface, technology, later = sys.argv[1], sys.argv[2], sys.argv[3]
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.SystemBus()
name = dbus.service.BusName("org.ofono", bus)


class Manager(dbus.service.Object):
    @dbus.service.method("org.ofono.Manager", out_signature="a(oa{sv})")
    def GetModems(self):
        return [(dbus.ObjectPath("/modem0"), {"Powered": True, "Online": True, "Name": "lab"})]


class Modem(dbus.service.Object):
    def __init__(self, conn, path):
        super().__init__(conn, path)
        self.technology = technology

    @dbus.service.method("org.ofono.NetworkRegistration", out_signature="a{sv}")
    def GetProperties(self):
        return {"Status": "registered", "Technology": self.technology, "Name": "lab"}

    @dbus.service.signal("org.ofono.NetworkRegistration", signature="sv")
    def PropertyChanged(self, name, value):
        pass

    @dbus.service.method("org.ofono.ConnectionManager", out_signature="a(oa{sv})")
    def GetContexts(self):
        settings = dbus.Dictionary({"Interface": interface, "Method": "static"}, signature="sv")
        return [(dbus.ObjectPath("/modem0/context1"), {"Active": True, "Settings": settings})]


Manager(bus, "/")
modem = Modem(bus, "/modem0")


def handover():
    modem.technology = later
    modem.PropertyChanged("Technology", dbus.String(later, variant_level=1))
    return True


GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGUSR1, handover)
print("ready", flush=True)
GLib.MainLoop().run()
