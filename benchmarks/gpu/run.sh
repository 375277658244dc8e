#!/usr/bin/env bash
# The GPU benchmarks on a Linux machine with an NVIDIA GPU, no network and no Node: unpack
# entropix-gpu.tar.gz (made by pack.sh) next to this script, or run bundle/run.sh inside it.
#
#   bash run.sh [out-dir]        (default out-dir: ./results)
#   ENTROPIX_GPU_QUICK=1 …       a short run (one shape, few iterations)
#   ENTROPIX_WEBGPU_SOFTWARE=1 … allow Mesa's software adapter (to test the script without a GPU)
#
# It prints the machine's GPU and the WebGPU adapter Dawn takes (Vulkan through the carried
# libvulkan.so.1 and the driver's ICD, else OpenGL ES through EGL), then runs the sampler and the
# decode benchmark on webgpu with the fused WGSL programs (1024 and 256 threads per row) and with
# the generic tf-ops path (ENTROPIX_GENERIC_SAMPLING=1), and copies the JSON results to out-dir.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -f "$here/entropix-gpu.tar.gz" ] && [ ! -d "$here/bundle" ]; then tar -C "$here" -xzf "$here/entropix-gpu.tar.gz"; fi
bundle="$here"; [ -d "$here/bundle" ] && bundle="$here/bundle"
[ -x "$bundle/bin/node" ] || { echo "run.sh: no bundle (bin/node) next to this script: run pack.sh first" >&2; exit 1; }
out="$(mkdir -p "${1:-$PWD/results}" && cd "${1:-$PWD/results}" && pwd)"

export PATH="$bundle/bin:$PATH"
export LD_LIBRARY_PATH="$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export EGL_PLATFORM="${EGL_PLATFORM:-surfaceless}"
# The NVIDIA driver's Vulkan ICD, where the driver installed it (containers need the 'graphics'
# driver capability for it and for EGL).
if [ -z "${VK_ICD_FILENAMES:-}" ]; then
  for f in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.x86_64.json; do
    [ -f "$f" ] && export VK_ICD_FILENAMES="$f" && break
  done
fi
# No ICD file but the driver's Vulkan library is there (libGLX_nvidia carries NVIDIA's Vulkan
# driver): describe it to the loader ourselves.
if [ -z "${VK_ICD_FILENAMES:-}" ] && { ldconfig -p 2>/dev/null | grep -q 'libGLX_nvidia.so.0'; }; then
  icd="$(mktemp --suffix=.json)"
  printf '{"file_format_version":"1.0.0","ICD":{"library_path":"libGLX_nvidia.so.0","api_version":"1.3.0"}}\n' > "$icd"
  export VK_ICD_FILENAMES="$icd"
fi

echo "== machine"
uname -srm
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "node $(node --version); Vulkan ICD: ${VK_ICD_FILENAMES:-none found}; libvulkan: $(ls "$bundle/lib" 2>/dev/null | tr '\n' ' ')"

cd "$bundle/src"
tsx=(node "$bundle/node_modules/tsx/dist/cli.mjs")
echo "== adapter"
"${tsx[@]}" benchmarks/gpu/adapter.ts || { echo "run.sh: no WebGPU adapter; nothing measured" >&2; exit 1; }

quick=(); [ -n "${ENTROPIX_GPU_QUICK:-}" ] && quick=(--quick)
decode_tokens=96; [ -n "${ENTROPIX_GPU_QUICK:-}" ] && decode_tokens=16
status=0
# fused: the WGSL programs (1024 threads per row where the device allows); fused-wg256: the same
# with 256 threads; generic: the tf-ops path.
for path_name in fused fused-wg256 generic; do
  generic=""; [ "$path_name" = generic ] && generic=1
  wg=""; [ "$path_name" = fused-wg256 ] && wg=256
  echo "== sampler benchmark, webgpu, $path_name path"
  ENTROPIX_GENERIC_SAMPLING="$generic" ENTROPIX_WEBGPU_WORKGROUP="$wg" "${tsx[@]}" benchmarks/sampler.ts --backends webgpu "${quick[@]}" || status=1
  echo "== decode benchmark, webgpu, $path_name path"
  ENTROPIX_GENERIC_SAMPLING="$generic" ENTROPIX_WEBGPU_WORKGROUP="$wg" "${tsx[@]}" benchmarks/decode.ts --backends webgpu --tokens "$decode_tokens" || status=1
  # Name each result by its path; the benchmarks write benchmarks/results/<name>-<date>-webgpu*.json.
  for f in benchmarks/results/*-webgpu*.json; do
    [ -f "$f" ] || continue
    mv "$f" "$out/$(basename "${f%.json}")-$path_name.json"
  done
done
echo "== results in $out"; ls -1 "$out"
exit $status
