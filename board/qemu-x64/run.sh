#!/bin/bash
# Runs a command inside the x86_64 QEMU test guest: Debian's amd64 kernel (SCTP, mac80211_hwsim)
# on the HOST's root filesystem (read-only 9p + tmpfs overlay), so host-built binaries run unchanged.
# Usage: board/qemu-x64/run.sh [--timeout S] [--env NAME[=VALUE]]... [--no-wifi] [--keep] [--console] -- COMMAND [ARGS...]
#   --timeout S   kill the guest after S seconds (default 600, 0 = never; exit code 124)
#   --env NAME    pass NAME from this environment too (or set NAME=VALUE in the guest)
#   --no-wifi     do not load mac80211_hwsim & co. at boot (0.5 s faster; no wlan0/wlan1)
#   --keep        keep the job directory (printed on stderr) instead of removing it
#   --console     show the guest's console (kernel, init) on stderr while it runs
# The command runs as root in the current directory with PATH, HOME, RUST_*, CARGO_*, BOARDNET_*,
# locale, SSL_CERT_*, TMPDIR, LD_LIBRARY_PATH from here, and BOARDNET_IN_GUEST=1. Its stdout and
# stderr are copied to ours after the guest stops (the console is kept apart, so stdout is exactly
# the command's). Exit code: the command's; 124 on timeout; 125 when the guest did not run the
# command (the console log is shown on stderr). Inside the guest every file of the host is
# visible (/run is empty), writes anywhere go to guest RAM and vanish at poweroff, the network is
# loopback only, and the only host path it can write is its job directory (/job; BOARDNET_GUEST_JOB).
# Runs setup.sh first (installs on first use; needs root). BOARDNET_QEMU_ACCEL=kvm uses KVM
# (default tcg: this machine's /dev/kvm hangs guests), BOARDNET_QEMU_SMP / BOARDNET_QEMU_MEM size it,
# BOARDNET_QEMU_WIFI=0 is --no-wifi.
set -eu

usage() {  # help on stdout; on a usage error, on stderr with exit 2
  if [ "${1:-0}" = 0 ]; then sed -n '2,20s/^# \{0,1\}//p' "$0"; else sed -n '2,20s/^# \{0,1\}//p' "$0" >&2; fi
  exit "${1:-0}"
}
here=$(cd "$(dirname "$0")" && pwd)
CACHE=${BOARDNET_QEMU_X64_CACHE:-/var/cache/boardnet-qemu-x64}
timeout=600
keep=0
console=0
wifi=${BOARDNET_QEMU_WIFI:-1}
extra_env=()
while [ $# -gt 0 ]; do
  case $1 in
    --timeout) [ $# -ge 2 ] || usage 2; timeout=$2; shift ;;
    --env) [ $# -ge 2 ] || usage 2; extra_env+=("$2"); shift ;;
    --no-wifi) wifi=0 ;;
    --keep) keep=1 ;;
    --console) console=1 ;;
    -h|--help) usage ;;
    --) shift; break ;;
    -*) echo "qemu-x64/run.sh: unknown option $1" >&2; usage 2 ;;
    *) break ;;
  esac
  shift
done
[ $# -ge 1 ] || usage 2
case $timeout in ''|*[!0-9]*) echo "qemu-x64/run.sh: --timeout takes whole seconds" >&2; exit 2 ;; esac
err() { echo "qemu-x64/run.sh: $*" >&2; }

# setup.sh deletes an old kernel only when no guest holds this lock (shared: many guests at once).
# Taken before setup.sh runs, so the kernel it leaves as current cannot go before we boot it.
if [ "$(id -u)" = 0 ]; then mkdir -p "$CACHE" && : >>"$CACHE/.inuse"; fi
if [ -e "$CACHE/.inuse" ]; then exec 8<"$CACHE/.inuse" && flock -s 8; fi
# setup.sh every time (25 ms when nothing changed): it rebuilds the initramfs after init.sh
# changed and installs everything on first use. Its report goes to stderr only on first use.
have_cache() { [ -e "$CACHE/current/kernel" ] && [ -e "$CACHE/current/initrd.cpio" ]; }
if [ "$(id -u)" = 0 ]; then
  if have_cache; then s_rc=0; "$here/setup.sh" >/dev/null || s_rc=$?; else s_rc=0; "$here/setup.sh" >&2 || s_rc=$?; fi
  [ "$s_rc" = 0 ] || { err "setup.sh failed (exit $s_rc)"; exit 125; }
elif ! have_cache; then
  err "no guest kernel in $CACHE: run $here/setup.sh as root first"; exit 125
fi
# Resolved now, so a setup.sh switching to a newer kernel meanwhile does not mix two kernels.
kdir=$(readlink -f "$CACHE/current")
kernel=$kdir/kernel
initrd=$kdir/initrd.cpio

job=$(mktemp -d "${TMPDIR:-/tmp}/boardnet-qemu-job.XXXXXX")
cleanup() {  # shellcheck disable=SC2317  # called by the EXIT trap
  if [ "$keep" = 1 ]; then err "job directory kept: $job"; else rm -rf "$job"; fi
}
trap cleanup EXIT

# The job script: the environment that matters, the same working directory (the host's root is
# the guest's root, so it exists there, except under the guest's own /run, /dev, /proc), then
# the command. bash (the host's, found in the guest's root) because %q quoting may use $'...'.
{
  echo '#!/bin/bash'
  echo '# written by board/qemu-x64/run.sh'
  while IFS= read -r name; do
    case $name in
      PATH|HOME|USER|LOGNAME|LANG|LANGUAGE|LC_*|TZ|TMPDIR|LD_LIBRARY_PATH|SSL_CERT_FILE|SSL_CERT_DIR|NO_COLOR) ;;
      RUST_*|CARGO_*|BOARDNET_*) ;;
      *) continue ;;
    esac
    printf 'export %s=%q\n' "$name" "${!name}"
  done < <(compgen -e)
  for e in ${extra_env[@]+"${extra_env[@]}"}; do
    case $e in
      *=*) printf 'export %s=%q\n' "${e%%=*}" "${e#*=}" ;;
      *) [ -z "${!e+set}" ] || printf 'export %s=%q\n' "$e" "${!e}" ;;
    esac
  done
  echo 'export BOARDNET_IN_GUEST=1 BOARDNET_GUEST_JOB=/job'
  printf 'echo %q >/proc/sys/kernel/hostname\n' "$(uname -n)"
  # A TMPDIR under the host's /run would not exist in the guest's fresh /run: make it.
  # shellcheck disable=SC2016  # expanded in the guest
  echo '[ -z "${TMPDIR:-}" ] || mkdir -p "$TMPDIR"'
  printf 'cd %q || { echo "qemu-x64: no directory %q in the guest" >&2; exit 125; }\n' "$PWD" "$PWD"
  printf 'exec'
  printf ' %q' "$@"
  echo
} >"$job/run.sh"
chmod 755 "$job/run.sh"

accel=${BOARDNET_QEMU_ACCEL:-tcg}
cpu=max  # under TCG: RDRAND seeds the guest's RNG at once (else getrandom() blocks ~8 s), SSE4/AES
[ "$accel" != kvm ] || cpu=host
# shellcheck disable=SC2054  # the commas are qemu's option syntax
qemu=(qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -m "${BOARDNET_QEMU_MEM:-1024}"
  -smp "${BOARDNET_QEMU_SMP:-1}" -nodefaults -display none -no-reboot -nic none
  -kernel "$kernel" -initrd "$initrd" -append "console=ttyS0 panic=-1 quiet boardnet_wifi=$wifi"
  # remap: the host's / spans several file systems (/proc, /sys, /dev, ...); without it their
  # inode numbers collide in the guest, which confuses overlayfs.
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
  -virtfs "local,path=$job,mount_tag=jobdir,security_model=none")
if [ "$console" = 1 ]; then qemu+=(-serial stdio); else qemu+=(-serial "file:$job/console.log"); fi

# pdeathsig: if we are killed (a test harness's timeout sends SIGKILL), the VM goes with us.
# --foreground: Ctrl-C reaches qemu too.
start=$SECONDS
qrc=0
setpriv --pdeathsig KILL timeout --foreground -k 5 "$timeout" setpriv --pdeathsig KILL \
  "${qemu[@]}" </dev/null >&2 || qrc=$?
elapsed=$((SECONDS - start))

[ ! -f "$job/stdout" ] || cat "$job/stdout"
[ ! -f "$job/stderr" ] || cat "$job/stderr" >&2
show_console() {
  if [ -s "$job/console.log" ]; then
    err "guest console (last 40 lines; --keep keeps $job/console.log):"
    tail -n 40 "$job/console.log" | tr -d '\r' | sed 's/^/  | /' >&2
  fi
}
rc=$(cat "$job/rc" 2>/dev/null || true)
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
  err "timed out after ${timeout} s: guest killed (command: $*)"
  show_console
  exit 124
fi
case $rc in
  ''|*[!0-9]*)
    err "the guest did not run the command (qemu exit $qrc after ${elapsed} s)"
    show_console
    exit 125 ;;
esac
exit "$rc"
