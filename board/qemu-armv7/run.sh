#!/bin/bash
# The armv7 test board (qemu-system-arm -M virt,highmem=off); see board/qemu-arm/run.sh.
exec "$(dirname "$0")/../qemu-arm/run.sh" armv7 "$@"
