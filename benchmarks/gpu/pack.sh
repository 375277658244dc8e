#!/usr/bin/env bash
# Prepares the GPU benchmark bundle (run it here, where Node and node_modules are): Node, a pruned
# node_modules, Debian's Vulkan loader (libvulkan1), the sources the benchmarks run from and the
# bundled model, as benchmarks/gpu/entropix-gpu.tar.gz (at most 64 MiB). Copy that and run.sh to
# the GPU machine; see run.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bundle="$work/bundle"
mkdir -p "$bundle/bin" "$bundle/lib"

cp "$(command -v node)" "$bundle/bin/node"
node "$here/prune.cjs" "$root" "$bundle"
# Vulkan's loader: Dawn opens libvulkan.so.1; the NVIDIA driver brings the ICD that it loads.
deb_dir="$(mktemp -d)"
(cd "$deb_dir" && apt-get download libvulkan1 >/dev/null 2>&1) || {
  echo "pack.sh: could not download libvulkan1 (apt-get download); Vulkan will need the machine's own loader" >&2; }
if ls "$deb_dir"/libvulkan1_*.deb >/dev/null 2>&1; then
  dpkg-deb -x "$deb_dir"/libvulkan1_*.deb "$deb_dir/x"
  cp -L "$deb_dir"/x/usr/lib/x86_64-linux-gnu/libvulkan.so.1 "$bundle/lib/"
fi
rm -rf "$deb_dir"
# The benchmarks run from source with tsx, as `npm run bench:*` does.
mkdir -p "$bundle/src"
cp -r "$root/lib" "$root/package.json" "$root/tsconfig.json" "$bundle/src/"
mkdir -p "$bundle/src/benchmarks" && cp "$root"/benchmarks/*.ts "$bundle/src/benchmarks/"
mkdir -p "$bundle/src/benchmarks/gpu" && cp "$here/adapter.ts" "$bundle/src/benchmarks/gpu/"
mkdir -p "$bundle/src/models" && cp -r "$root/models/kjv-tiny" "$bundle/src/models/"
ln -s ../node_modules "$bundle/src/node_modules"
cp "$here/run.sh" "$bundle/run.sh"

tar -C "$work" -czf "$here/entropix-gpu.tar.gz" bundle
size=$(stat -c %s "$here/entropix-gpu.tar.gz")
echo "benchmarks/gpu/entropix-gpu.tar.gz: $((size / 1024 / 1024)) MiB ($(du -sh "$bundle" | cut -f1) unpacked)"
if [ "$size" -gt $((64 * 1024 * 1024)) ]; then echo "pack.sh: the bundle is over 64 MiB" >&2; exit 1; fi
