#!/bin/bash
# The whole test suite on a fresh machine: installs the test peers, then runs every test
# (unit, integration against real peers on 127.0.0.1, doc tests). Extra arguments go to
# `cargo test` (e.g. tests/run.sh --test http faults).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tests/setup.sh"
cd "$root"
exec cargo test --locked "$@"
