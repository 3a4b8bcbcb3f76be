#!/usr/bin/env bash
# Installs what the network-namespace lab (tests/lab, bench/lab) needs on a Debian machine:
#   ip (iproute2), iptables, serf (Debian's package is HashiCorp Serf), avahi-daemon,
#   avahi-browse/avahi-publish (avahi-utils), dbus-daemon (dbus), unshare (util-linux),
#   pgrep/sysctl (procps), ping (iputils-ping), socat (a unix-socket relay to an agent's
#   loopback-only port inside a namespace).
#
#   bash scripts/setup_lab.sh
#
# Idempotent and non-interactive: packages already installed are not touched, so a second run
# takes well under a second. Prints one line per thing it did. Exits 1 with a last line on
# stderr saying why when it cannot (not root, no apt-get, an apt failure). The lab itself runs
# as root; it raises the ARP table thresholds on its own when it needs to.
set -uo pipefail

# package -> a file it provides, to check without asking dpkg when the file is there
declare -A PROVIDES=(
  [iproute2]=/usr/sbin/ip
  [iptables]=/usr/sbin/iptables
  [serf]=/usr/bin/serf
  [avahi-daemon]=/usr/sbin/avahi-daemon
  [avahi-utils]=/usr/bin/avahi-browse
  [dbus]=/usr/bin/dbus-daemon
  [util-linux]=/usr/bin/unshare
  [procps]=/usr/bin/pgrep
  [iputils-ping]=/usr/bin/ping
  [socat]=/usr/bin/socat
)

fail() {
  echo "setup_lab: $*" >&2
  exit 1
}
say() { echo "setup_lab: $*"; }

missing=()
for p in "${!PROVIDES[@]}"; do
  [ -x "${PROVIDES[$p]}" ] && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' && continue
  missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  say "all lab packages present (${!PROVIDES[*]})"
else
  [ "$(id -u)" = 0 ] || fail "installing ${missing[*]} needs root (run as root; the lab needs root anyway)"
  command -v apt-get >/dev/null || fail "apt-get not found (Debian/Ubuntu only): install ${missing[*]} by hand"
  export DEBIAN_FRONTEND=noninteractive
  APT=(apt-get -y -q -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  LOG="$(mktemp)" || fail "mktemp"
  trap 'rm -f "$LOG"' EXIT
  why() { tail -n 3 "$LOG" | tr '\n' ' ' | sed 's/  */ /g; s/ $//'; }
  say "apt-get update"
  "${APT[@]}" update >>"$LOG" 2>&1 || fail "apt-get update: $(why)"
  say "apt-get install ${missing[*]}"
  # policy-rc.d 101: do not start avahi or dbus on the host; the lab starts its own per namespace
  had_policy=0
  [ -e /usr/sbin/policy-rc.d ] && had_policy=1
  if [ "$had_policy" = 0 ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d ||
      fail "cannot write /usr/sbin/policy-rc.d"
  fi
  "${APT[@]}" install --no-install-recommends "${missing[@]}" >>"$LOG" 2>&1
  code=$?
  [ "$had_policy" = 1 ] || rm -f /usr/sbin/policy-rc.d
  [ "$code" = 0 ] || fail "apt-get install ${missing[*]}: $(why)"
fi

for p in "${!PROVIDES[@]}"; do
  [ -x "${PROVIDES[$p]}" ] || fail "${PROVIDES[$p]} (package $p) missing after install"
done
# dbus-daemon --system needs its socket directory; avahi-daemon needs its user's runtime dir
mkdir -p /run/dbus || fail "cannot create /run/dbus"
say "lab ready: $(serf version 2>/dev/null | head -n 1), $(iptables --version 2>/dev/null)"
