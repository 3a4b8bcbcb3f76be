#!/usr/bin/env bash
# Sets this x86_64 Debian machine up to run herd as aarch64 (Raspberry Pi) under emulation.
#
#   scripts/setup_aarch64.sh [DEST_DIR]      (default: <repo>/.cache/aarch64)
#
# Idempotent and non-interactive; every step is skipped when its result is already there.
#   1. Debian packages qemu-user-static binfmt-support libc6-arm64-cross libgcc-s1-arm64-cross
#   2. DEST_DIR/deno: the aarch64 Deno from the npm package @deno/linux-arm64-glibc
#   3. binfmt_misc: the kernel runs aarch64 ELF files through qemu-aarch64-static (flag F), so a
#      process the emulated agent spawns is emulated too
#   4. DEST_DIR/bin: aarch64 busybox (Debian busybox-static:arm64) with uname, sh, echo, cat, ...
# The last line on stdout is "aarch64 ready: DEST_DIR/deno". On failure it exits 1 and the last
# line on stderr says which step failed and why.
#
# The aarch64 deno is dynamically linked; run it with the aarch64 libraries as prefix:
#   QEMU_LD_PREFIX=/usr/aarch64-linux-gnu DEST_DIR/deno run ...          (through binfmt)
#   qemu-aarch64-static -L /usr/aarch64-linux-gnu DEST_DIR/deno run ...  (explicitly)
set -uo pipefail

DENO_VERSION="${HERD_AARCH64_DENO_VERSION:-2.9.5}" # newest @deno/linux-arm64-glibc on npm
PACKAGES=(qemu-user-static binfmt-support libc6-arm64-cross libgcc-s1-arm64-cross)
APPLETS=(uname sh echo cat true false env sleep ls printf)
LD_PREFIX=/usr/aarch64-linux-gnu
BINFMT=/proc/sys/fs/binfmt_misc
# ELF, 64-bit, little endian, e_machine 0xb7 (AArch64): the registration qemu itself ships
MAGIC='\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00'
MASK='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'
MAGIC_HEX=7f454c460201010000000000000000000200b700

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-$ROOT/.cache/aarch64}"
STEP="setup"

fail() {
  echo "setup_aarch64: step $STEP failed: $*" >&2
  exit 1
}
say() { echo "setup_aarch64: $*" >&2; }

mkdir -p "$DEST/bin" 2>/dev/null || fail "cannot create $DEST"
DEST="$(cd "$DEST" && pwd)"
LOG="$DEST/setup.log"
: >"$LOG" || fail "cannot write $LOG"
# the lines of the log that explain a failure, folded into one
why() { tail -n 3 "$LOG" | tr '\n' ' ' | sed 's/  */ /g; s/ $//'; }

TMP="$(mktemp -d)" || fail "mktemp"
trap 'rm -rf "$TMP"' EXIT
chmod 755 "$TMP"

# root, or passwordless sudo, for apt, dpkg and binfmt_misc
if [ "$(id -u)" = 0 ]; then
  AS_ROOT=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  AS_ROOT=(sudo -n)
else
  AS_ROOT=(false)
fi
as_root() { "${AS_ROOT[@]}" "$@"; }
need_root() { [ "${AS_ROOT[0]:-}" != false ] || fail "$1 needs root (not root and no passwordless sudo)"; }

export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -y -q -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
UPDATED=0
apt_update() { # at most once per run
  [ "$UPDATED" = 1 ] && return 0
  say "apt-get update"
  as_root env DEBIAN_FRONTEND=noninteractive "${APT[@]}" update >>"$LOG" 2>&1 || fail "apt-get update: $(why)"
  UPDATED=1
}

is_aarch64_elf() { # FILE: ELF, 64-bit, little endian, machine AArch64 (executable or PIE)
  local h
  [ -f "$1" ] && h="$(head -c 20 "$1" | od -An -tx1 | tr -d ' \n')" &&
    [ "${h:0:14}" = 7f454c46020101 ] && [ "${h:36:4}" = b700 ]
}

# ---------------------------------------------------------------- 1. packages
STEP="1 (Debian packages)"
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# step 4 downloads an arm64 .deb, which needs the arm64 package lists: ask for them now so
# that one apt-get update serves both steps
need_busybox=0
is_aarch64_elf "$DEST/bin/busybox" || need_busybox=1
if [ "${#missing[@]}" -gt 0 ] || [ "$need_busybox" = 1 ]; then
  command -v apt-get >/dev/null || fail "apt-get not found (Debian/Ubuntu only); install ${PACKAGES[*]} and busybox-static:arm64 by hand"
fi
if [ "$need_busybox" = 1 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  need_root "dpkg --add-architecture arm64"
  as_root dpkg --add-architecture arm64 >>"$LOG" 2>&1 || fail "dpkg --add-architecture arm64: $(why)"
  apt_update # fetches the arm64 lists
fi
if [ "${#missing[@]}" -gt 0 ]; then
  need_root "installing ${missing[*]}"
  apt_update
  say "apt-get install ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive "${APT[@]}" install --no-install-recommends "${missing[@]}" >>"$LOG" 2>&1 ||
    fail "apt-get install ${missing[*]}: $(why)"
fi
[ -x /usr/bin/qemu-aarch64-static ] || fail "/usr/bin/qemu-aarch64-static missing after install"
[ -e "$LD_PREFIX/lib/ld-linux-aarch64.so.1" ] || fail "$LD_PREFIX/lib/ld-linux-aarch64.so.1 missing after install"

# ---------------------------------------------------------------- 2. aarch64 deno
STEP="2 (aarch64 deno from npm)"
deno_version() { # prints e.g. 2.9.5, or nothing
  qemu-aarch64-static -L "$LD_PREFIX" "$DEST/deno" --version 2>/dev/null | sed -n '1s/^deno \([^ ]*\).*/\1/p'
}
if ! is_aarch64_elf "$DEST/deno" || [ "$(deno_version)" != "$DENO_VERSION" ]; then
  command -v npm >/dev/null || fail "npm not found"
  say "npm pack @deno/linux-arm64-glibc@$DENO_VERSION"
  (cd "$TMP" && npm pack --silent "@deno/linux-arm64-glibc@$DENO_VERSION") >>"$LOG" 2>&1 ||
    fail "npm pack @deno/linux-arm64-glibc@$DENO_VERSION: $(why)"
  tar -xzf "$TMP"/deno-linux-arm64-glibc-*.tgz -C "$TMP" package/deno >>"$LOG" 2>&1 ||
    fail "the npm tarball has no package/deno: $(why)"
  is_aarch64_elf "$TMP/package/deno" || fail "package/deno is not an aarch64 ELF file"
  chmod +x "$TMP/package/deno"
  mv -f "$TMP/package/deno" "$DEST/deno.part" && mv -f "$DEST/deno.part" "$DEST/deno" || fail "cannot write $DEST/deno"
  got="$(deno_version)"
  [ "$got" = "$DENO_VERSION" ] || fail "$DEST/deno --version under qemu printed '${got:-nothing}', wanted $DENO_VERSION"
fi

# ---------------------------------------------------------------- 3. binfmt_misc
STEP="3 (binfmt_misc)"
if [ ! -e "$BINFMT/status" ]; then
  need_root "mounting binfmt_misc"
  as_root mount -t binfmt_misc binfmt_misc "$BINFMT" >>"$LOG" 2>&1 ||
    fail "binfmt_misc cannot be mounted at $BINFMT (not permitted here: a container without privileges?): $(why)"
fi
[ "$(cat "$BINFMT/status" 2>/dev/null)" = enabled ] || {
  need_root "enabling binfmt_misc"
  echo 1 | as_root tee "$BINFMT/status" >/dev/null 2>>"$LOG" || fail "binfmt_misc is disabled and cannot be enabled"
}
aarch64_entry() { # prints the registered entry for aarch64 ELF files, if any
  local f
  for f in "$BINFMT"/*; do
    case "${f##*/}" in register | status) continue ;; esac
    grep -qx "magic $MAGIC_HEX" "$f" 2>/dev/null && { echo "$f"; return 0; }
  done
  return 1
}
entry="$(aarch64_entry)"
if [ -n "$entry" ] && ! grep -qx enabled "$entry"; then
  need_root "enabling $entry"
  echo 1 | as_root tee "$entry" >/dev/null 2>>"$LOG" || fail "cannot enable $entry"
elif [ -z "$entry" ]; then
  need_root "registering qemu-aarch64"
  say "registering qemu-aarch64 with binfmt_misc"
  if command -v update-binfmts >/dev/null && [ -e /usr/share/binfmts/qemu-aarch64 ]; then
    as_root update-binfmts --import qemu-aarch64 >>"$LOG" 2>&1
    as_root update-binfmts --enable qemu-aarch64 >>"$LOG" 2>&1
  fi
  if [ -z "$(aarch64_entry)" ]; then
    # F: the kernel opens the interpreter now, so it works in other mount namespaces and chroots
    printf '%s\n' ":qemu-aarch64:M::$MAGIC:$MASK:/usr/bin/qemu-aarch64-static:FP" |
      as_root tee "$BINFMT/register" >/dev/null 2>>"$LOG" || fail "writing to $BINFMT/register was refused: $(why)"
  fi
  entry="$(aarch64_entry)" || fail "qemu-aarch64 is still not registered"
fi

# ---------------------------------------------------------------- 4. aarch64 busybox
STEP="4 (aarch64 busybox)"
if [ "$need_busybox" = 1 ]; then
  say "apt-get download busybox-static:arm64"
  get_deb() { (cd "$TMP" && "${APT[@]}" -o APT::Sandbox::User=root download busybox-static:arm64) >>"$LOG" 2>&1; }
  if ! get_deb; then
    # the arm64 package lists may be missing or stale
    need_root "apt-get update"
    apt_update
    get_deb || fail "apt-get download busybox-static:arm64: $(why)"
  fi
  mkdir -p "$TMP/bb" && dpkg-deb -x "$TMP"/busybox-static_*_arm64.deb "$TMP/bb" >>"$LOG" 2>&1 ||
    fail "dpkg-deb -x busybox-static: $(why)"
  is_aarch64_elf "$TMP/bb/bin/busybox" || fail "busybox-static:arm64 has no aarch64 bin/busybox"
  mv -f "$TMP/bb/bin/busybox" "$DEST/bin/busybox" || fail "cannot write $DEST/bin/busybox"
fi
for a in "${APPLETS[@]}"; do
  [ "$(readlink "$DEST/bin/$a" 2>/dev/null)" = busybox ] || ln -sfn busybox "$DEST/bin/$a" || fail "cannot link $DEST/bin/$a"
done

# ---------------------------------------------------------------- check
STEP="check"
m="$("$DEST/bin/uname" -m 2>>"$LOG")" || fail "$DEST/bin/uname does not run through binfmt_misc ($entry): $(why)"
[ "$m" = aarch64 ] || fail "$DEST/bin/uname -m printed '$m', wanted aarch64"
v="$(QEMU_LD_PREFIX="$LD_PREFIX" "$DEST/deno" --version 2>>"$LOG" | head -n 1)" ||
  fail "$DEST/deno does not run through binfmt_misc with QEMU_LD_PREFIX=$LD_PREFIX: $(why)"
case "$v" in *aarch64-unknown-linux-gnu*) ;; *) fail "$DEST/deno --version printed '$v'" ;; esac

echo "aarch64 ready: $DEST/deno"
