#!/bin/bash
# Runs the test suite for an ARM target under qemu-user: cargo builds the tests with Debian's
# Rust 1.85 for TARGET and runs each test binary through its runner (qemu-aarch64-static or
# qemu-arm-static, board/env.sh); the boardnet the integration tests start runs under the same
# emulator ($BOARDNET_TEST_RUNNER, read by tests/peers). The peers (nginx, nsd, vsftpd, ...)
# are the host's own programs. Installs the peers first (tests/setup.sh) and needs
# board/setup-cross.sh to have run; root, like tests/run.sh.
# Usage: board/test-arm.sh TARGET [cargo test arguments...]
#   e.g. board/test-arm.sh aarch64-unknown-linux-gnu
#        board/test-arm.sh armv7-unknown-linux-gnueabihf --test ftp
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
BOARDNET_ROOT=$root
# shellcheck source=board/env.sh
. "$root/board/env.sh"
target=${1:-}
case $target in
  aarch64-unknown-linux-gnu) runner=$CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER ;;
  armv7-unknown-linux-gnueabihf) runner=$CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_RUNNER ;;
  *) echo "usage: $0 aarch64-unknown-linux-gnu|armv7-unknown-linux-gnueabihf [cargo test args]" >&2; exit 2 ;;
esac
shift
export BOARDNET_TEST_RUNNER=$runner

# Tests that cannot run under user-mode emulation, by name, and why. They are skipped here and
# only here; the native run (tests/run.sh) runs them all.
skips=(
  "sctp::|kernel SCTP: these tests re-run themselves in the x86_64 QEMU guest, which cannot execute an ARM test binary (SCTP on ARM is checked by board/qemu-*/run.sh)"
  "wifi::|mac80211_hwsim: same x86_64 guest (Wi-Fi on ARM is checked by board/qemu-*/run.sh)"
  "guest|the x86_64 QEMU guest runs host-built x86_64 binaries only"
  "udp::multicast_groups_are_received_only_when_joined|qemu-user does not carry IP_ADD_MEMBERSHIP with an interface index (struct ip_mreqn) through: the kernel answers ENODEV"
  "udp::leaving_a_group_stops_its_traffic|the same multicast join"
  "bodies_stream_with_bounded_memory|measures boardnet's peak RSS with GNU time, which under qemu-user is the emulator's (34 MiB)"
  "a_slow_first_name_does_not_grow_memory_with_the_batch|the same peak-RSS measurement"
  "json_listings_stream_with_bounded_memory|the same peak-RSS measurement"
  "decoding_streams_in_bounded_memory|the same peak-RSS measurement"
  "the_init_script_starts_reports_and_stops_the_daemon|start-stop-daemon finds the daemon by /proc/PID/exe, which under qemu-user is the emulator (the init script runs for real on both QEMU boards)"
  "sessions_and_scans_run_as_children_and_reply_when_done|the daemon runs these through its own (ARM) binary, which this kernel cannot exec without binfmt_misc (both QEMU boards run ctl open and ctl scan natively)"
  "close_and_open_through_the_daemon|the same: the daemon runs open and close through its own binary (ConnMan and NetworkManager)"
  "a_server_whose_events_are_never_taken_stays_at_constant_memory|reads its own resident size, which under qemu-user is the emulator's (its translated-code cache grows on its own)"
)
skip_args=()
echo "test-arm: $target under ${runner%% *}; skipped by name:"
for entry in "${skips[@]}"; do
  echo "  ${entry%%|*}  -- ${entry#*|}"
  skip_args+=(--skip "${entry%%|*}")
done

"$root/tests/setup.sh"
cd "$root"
# One test at a time: qemu-user sometimes leaves a child forked from a busy multi-threaded
# test process hanging before its exec (openssl that never starts); tests/peers/pki.rs
# generates its keys one by one here for the same reason.
"$CARGO" test --locked --no-fail-fast --target "$target" "$@" -- --test-threads=1 "${skip_args[@]}"
