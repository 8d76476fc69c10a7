#!/bin/bash
# The aarch64 test board (qemu-system-aarch64 -M virt); see board/qemu-arm/run.sh.
exec "$(dirname "$0")/../qemu-arm/run.sh" aarch64 "$@"
