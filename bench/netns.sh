# Sourced by the daemon benchmarks: network namespaces with veth links.

# veth_link NS DEV PEER NET [default]: a veth pair DEV/PEER in NS, both up, NET.2/24 on DEV;
# with `default`, the default route through NET.1.
veth_link() {
  ip -n "$1" link add "$2" type veth peer name "$3"
  ip -n "$1" addr add "$4.2/24" dev "$2"
  ip -n "$1" link set "$3" up
  ip -n "$1" link set "$2" up
  if [ "${5:-}" = default ]; then
    ip -n "$1" route add default via "$4.1" dev "$2"
  fi
}

# netns_with_link NS DEV PEER NET: a new namespace (loopback up) whose DEV has the default route.
netns_with_link() {
  ip netns add "$1"
  ip -n "$1" link set lo up
  veth_link "$@" default
}
