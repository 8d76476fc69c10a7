# Run inside `ip netns exec` (its own mount namespace) with NetworkManager.conf's path as $1:
# hide the host's /var/lib and /run, and write the udev database entries NM waits for (no
# udev in a namespace), saying every interface is initialised and not unmanaged.
set -e
mount -t tmpfs tmpfs /var/lib; mkdir -p /var/lib/NetworkManager
mount -t tmpfs tmpfs /run; mkdir -p /run/NetworkManager /run/udev/data
for i in /sys/class/net/*; do
  printf 'I:1\nE:NM_UNMANAGED=0\n' > /run/udev/data/n$(cat "$i/ifindex")
done
exec NetworkManager --no-daemon --config="$1" --state-file=/var/lib/NetworkManager/state
