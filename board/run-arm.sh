#!/bin/bash
# Runs a binary built by board/build.sh under qemu-user, the way cargo's runner would.
# Usage: board/run-arm.sh [--debug] [--bin NAME] TARGET [--] ARGS...
#   e.g. board/run-arm.sh aarch64-unknown-linux-gnu -- --version   (release build by default)
# Exits with the program's exit status.
set -eu

usage() {  # help on stdout; on a usage error, on stderr with exit 2
  if [ "${1:-0}" = 0 ]; then sed -n '2,5s/^# \{0,1\}//p' "$0"; else sed -n '2,5s/^# \{0,1\}//p' "$0" >&2; fi
  exit "${1:-0}"
}
root=$(cd "$(dirname "$0")/.." && pwd)
BOARDNET_ROOT=$root
# shellcheck source=board/env.sh
. "$root/board/env.sh"

profile=release
bin=boardnet
while [ $# -gt 0 ]; do
  case $1 in
    --debug) profile=debug ;;
    --release) profile=release ;;
    --bin) [ $# -ge 2 ] || usage 2; bin=$2; shift ;;
    -h|--help) usage ;;
    -*) echo "run-arm.sh: unknown option $1" >&2; usage 2 ;;
    *) break ;;
  esac
  shift
done
[ $# -ge 1 ] || usage 2
target=$1
shift
[ "${1:-}" != -- ] || shift

# Same runner cargo uses for `cargo run/test --target`: CARGO_TARGET_<TRIPLE>_RUNNER from env.sh.
var="CARGO_TARGET_$(echo "$target" | tr 'a-z-' 'A-Z_')_RUNNER"
runner_str=${!var:-}
[ -n "$runner_str" ] || { echo "run-arm.sh: no runner for $target (set $var)" >&2; exit 2; }
read -r -a runner <<<"$runner_str"
command -v "${runner[0]}" >/dev/null || { echo "run-arm.sh: ${runner[0]} missing: run board/setup-cross.sh" >&2; exit 1; }

exe="$CARGO_TARGET_DIR/$target/$profile/$bin"
[ -x "$exe" ] || { echo "run-arm.sh: $exe not built: run board/build.sh $([ $profile = release ] && echo '--release ')$target" >&2; exit 1; }
exec "${runner[@]}" "$exe" "$@"
