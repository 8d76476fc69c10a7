#!/bin/bash
# Builds the initramfs of the x86_64 test guest: busybox, /init, and kernel modules with their
# dependencies in load order (adapted from shared/recipes/mkinitrd.sh).
# Usage: mkinitrd.sh [-f SRC:DEST]... OUT KROOT KVER BUSYBOX INIT [@GROUP] MODULE...
#   OUT    the cpio archive; gzip-compressed when it ends in .gz (uncompressed boots a bit faster
#          under TCG: the guest kernel does not have to inflate it)
#   KROOT  directory the kernel .deb was extracted to (with modules.dep from depmod -b KROOT KVER)
#   -f     extra file copied to DEST inside the initramfs (e.g. a config file for /init)
#   @GROUP the modules after it (and those of their dependencies not listed before) belong to GROUP,
#          so /init can skip a group; the modules before the first @GROUP are in group "base"
# Writes /load.order: "PATH GROUP" per module (PATH relative to /lib/modules/KVER), dependencies first.
set -eu

extra=()
while [ "${1:-}" = -f ]; do
  [ $# -ge 2 ] || { echo "mkinitrd.sh: -f needs SRC:DEST" >&2; exit 2; }
  extra+=("$2")
  shift 2
done
[ $# -ge 5 ] || { sed -n '2,10s/^# \{0,1\}//p' "$0" >&2; exit 2; }
OUT=$1 KROOT=$2 KVER=$3 BB=$4 INIT=$5
shift 5
MD=$KROOT/lib/modules/$KVER
[ -f "$MD/modules.dep" ] || { echo "mkinitrd.sh: no $MD/modules.dep (run depmod -b $KROOT $KVER)" >&2; exit 1; }

R=$(mktemp -d)
trap 'rm -rf "$R"' EXIT
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,lower,ovl,newroot} "$R/lib/modules/$KVER"
cp "$BB" "$R/bin/busybox"
cp "$INIT" "$R/init"
chmod 755 "$R/init" "$R/bin/busybox"
: >"$R/load.order"

add_module_file() {  # copies one module (decompressed: busybox insmod takes plain .ko) once, in order
  local rel=$1 plain
  plain=${rel%.xz}; plain=${plain%.zst}; plain=${plain%.gz}
  grep -q "^$plain " "$R/load.order" && return 0
  mkdir -p "$R/lib/modules/$KVER/$(dirname "$plain")"
  case $rel in
    *.xz) xz -dc "$MD/$rel" >"$R/lib/modules/$KVER/$plain" ;;
    *.zst) zstd -qdc "$MD/$rel" >"$R/lib/modules/$KVER/$plain" ;;
    *.gz) gzip -dc "$MD/$rel" >"$R/lib/modules/$KVER/$plain" ;;
    *) cp "$MD/$rel" "$R/lib/modules/$KVER/$plain" ;;
  esac
  echo "$plain $group" >>"$R/load.order"
}

group=base
for m in "$@"; do
  case $m in @*) group=${m#@}; continue ;; esac
  # modules.dep names files, where '-' and '_' are interchangeable in module names.
  name="/${m//[-_]/[-_]}\.ko"
  line=$(grep -E "$name(\.xz|\.zst|\.gz)?:" "$MD/modules.dep" | head -n 1 || true)
  if [ -z "$line" ]; then
    # Built into this kernel: nothing to load. Anything else is a typo or a dropped driver.
    grep -qE "$name\$" "$MD/modules.builtin" 2>/dev/null && continue
    echo "mkinitrd.sh: kernel $KVER has no module $m" >&2
    exit 1
  fi
  # modules.dep lists dependencies with the deepest last: load them in reverse, then the module.
  for d in $(echo "${line#*:}" | tr ' ' '\n' | tac) "${line%%:*}"; do
    add_module_file "$d"
  done
done

for e in ${extra[@]+"${extra[@]}"}; do
  mkdir -p "$R/$(dirname "${e#*:}")"
  cp "${e%%:*}" "$R/${e#*:}"
done

case $OUT in
  *.gz) (cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1) >"$OUT" ;;
  *) (cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$OUT" ;;
esac
