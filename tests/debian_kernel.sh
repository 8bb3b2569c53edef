#!/usr/bin/env bash
# Prints the path of a Debian cloud kernel image (vmlinuz), fetched once into
# DIR with apt-get download + dpkg -x: nothing is installed, /boot untouched.
set -euo pipefail
dir=${1:?usage: debian_kernel.sh DIR}
mkdir -p "$dir"
if ! ls "$dir"/x/boot/vmlinuz-* >/dev/null 2>&1; then
	pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
	if [ -z "$pkg" ]; then
		apt-get update -qq >&2
		pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
	fi
	[ -n "$pkg" ] || { echo "debian_kernel.sh: no linux-image-*-cloud-amd64 package found" >&2; exit 1; }
	(cd "$dir" && rm -f ./*.deb && apt-get download -q "$pkg" >&2 2>/dev/null && dpkg -x ./*.deb x && rm -f ./*.deb)
fi
ls "$dir"/x/boot/vmlinuz-* | head -1
