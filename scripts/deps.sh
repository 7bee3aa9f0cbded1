#!/usr/bin/env bash
# Installs the Debian packages berth's tests, demo and benchmarks need,
# only those missing, so a second run does nothing. Needs root.
set -euo pipefail

packages=(
	dbus busybox-static gcc libc6-dev systemd systemd-container iproute2 nftables util-linux
	isc-dhcp-client udhcpc kea-admin debootstrap acl attr libcap2-bin e2fsprogs btrfs-progs
	procps mount bsdutils fdisk
)
if [ "${1:-}" = "--bench" ]; then
	packages+=(dnsmasq-base kea-dhcp4-server hyperfine)
fi

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]}; run make deps as root" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
