#!/bin/bash
# The wasm default (`weights: 'packed'`) against tensors (`weights: 'tfjs'`, XNNPACK;
# ENTROPIX_WASM_MATMUL=tfjs), each model in its own plain node process (model.ts's memory child,
# bundled by esbuild as bench:model does), the order rotated per round; one JSON line a run.
#   benchmarks/weights-modes.sh HF_DIR CONVERTED_DIR [ROUNDS=3] [STEPS=48] [ROOT...]
# HF_DIR: npm run bench:model -- --write-checkpoint DIR --shapes smollm --dtype F32; CONVERTED_DIR:
# convertHfCheckpoint of it. Each ROOT (default: this checkout) is a source tree to time in its
# default mode (e.g. an older commit from `git archive`); this checkout also runs tfjs.
set -euo pipefail
hf=$1 converted=$2 rounds=${3:-3} steps=${4:-48}
here=$(cd "$(dirname "$0")/.." && pwd)
roots=("${@:5}"); [ ${#roots[@]} -eq 0 ] && roots=("$here")
variants=(); for r in "${roots[@]}"; do variants+=("default:$r"); done; variants+=("tfjs:$here")
bytes=$(stat -c %s "$hf/model.safetensors")
for round in $(seq 1 "$rounds"); do
  for i in $(seq 0 $((${#variants[@]} - 1))); do
    v=${variants[$(( (i + round) % ${#variants[@]} ))]}
    mode=${v%%:*} root=${v#*:}
    for model in converted native; do
      dir=$hf; [ $model = converted ] && dir=$converted
      line=$(cd "$root" && if [ "$mode" = tfjs ]; then export ENTROPIX_WASM_MATMUL=tfjs; else unset ENTROPIX_WASM_MATMUL; fi \
        && "$here/node_modules/.bin/esbuild" benchmarks/model.ts --bundle --platform=node --format=cjs --packages=external \
          --outfile=benchmarks/model.child.cjs --log-level=warning \
        && node --expose-gc benchmarks/model.child.cjs --memory-child $model --dir "$dir" --steps "$steps" --weight-bytes "$bytes" | tail -1)
      rm -f "$root/benchmarks/model.child.cjs"
      echo "{\"round\":$round,\"mode\":\"$mode\",\"root\":\"$root\",\"load\":\"$(cut -d' ' -f1 /proc/loadavg)\",\"run\":$line}"
    done
  done
done
