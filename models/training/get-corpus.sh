#!/bin/sh
# Writes the King James Bible (public domain; Debian packages bible-kjv 4.38 and bible-kjv-text)
# as "Book<chapter>:<verse> text" lines to $1 (default kjv.txt), using Debian's own `bible`
# program from the packages, unpacked into a temporary folder (no root needed, nothing installed).
set -eu
out="${1:-kjv.txt}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download bible-kjv bible-kjv-text >/dev/null)
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
"$work/root/usr/bin/bible" -p "$work/root/usr/lib" -f gen1:1-rev22:21 > "$out"
echo "$(wc -l < "$out") verses, $(wc -c < "$out") bytes in $out"
