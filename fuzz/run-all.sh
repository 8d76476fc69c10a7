#!/bin/sh
# Run every cargo-fuzz target for SECONDS each (default 30); exit non-zero if any target
# crashes, leaks, hangs (10 s per input) or fails to build. Every target runs even after a
# failure, so one run reports them all; crash inputs land in fuzz/artifacts/<target>/.
#
#   fuzz/run-all.sh [SECONDS]
#
# Environment: FUZZ_SANITIZER (address, the default; or none), FUZZ_JOBS (parallel
# libFuzzer workers per target, default 1), FUZZ_TARGETS (space-separated subset).
# Needs cargo-fuzz (`cargo install cargo-fuzz`); works on stable Rust through
# RUSTC_BOOTSTRAP=1 because cargo-fuzz passes -Z flags.
set -eu

seconds=${1:-30}
case $seconds in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS]" >&2
	exit 2
	;;
esac

fuzz_dir=$(cd "$(dirname "$0")" && pwd)
cd "$fuzz_dir"
export RUSTC_BOOTSTRAP=1
sanitizer=${FUZZ_SANITIZER:-address}
jobs=${FUZZ_JOBS:-1}
targets=${FUZZ_TARGETS:-$(cargo fuzz list)}

failed=
for target in $targets; do
	echo "=== $target: ${seconds}s, sanitizer $sanitizer" >&2
	corpus="$fuzz_dir/corpus/$target"
	mkdir -p "$corpus"
	set -- "$corpus"
	if [ -d "$fuzz_dir/seeds/$target" ]; then
		set -- "$@" "$fuzz_dir/seeds/$target"
	fi
	if [ "$jobs" -gt 1 ]; then
		set -- "$@" -- -fork="$jobs"
	else
		set -- "$@" --
	fi
	if ! cargo fuzz run --sanitizer "$sanitizer" "$target" "$@" \
		-max_total_time="$seconds" -timeout=10 -print_final_stats=1; then
		failed="$failed $target"
	fi
done

if [ -n "$failed" ]; then
	echo "FAILED:$failed (inputs in $fuzz_dir/artifacts/)" >&2
	exit 1
fi
echo "all targets ran ${seconds}s without a failure" >&2
