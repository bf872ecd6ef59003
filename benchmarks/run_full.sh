#!/usr/bin/env bash
# Runs the suite recorded in docs/benchmarks.md. Every variant runs on torch, tf and jax
# at 4K and 1M elements, eager and compiled, forward and forward plus backward. A subset
# runs at 16M, and another with fresh memory. It took 386 s (about 6.5 minutes) on 2 cores
# at a 1-minute load average of about 1. The raw reports record the load of each run.
set -euo pipefail
cd "$(dirname "$0")/.."
out=benchmarks/results
mkdir -p "$out"
common=(--threads 1 --repeat 5)
relu-xf bench "${common[@]}" --size 4K --size 1M --mode eager --output "$out/eager.md"
relu-xf bench "${common[@]}" --size 4K --size 1M --mode compiled --skip imports \
    --skip memory --output "$out/compiled.md"
relu-xf bench "${common[@]}" --size 16M --variant relu --variant prelu --variant crelu \
    --variant gelu --mode eager --skip imports --output "$out/eager-16M.md"
relu-xf bench "${common[@]}" --memory fresh --backend torch --backend jax --variant relu \
    --variant gelu --size 1M --size 16M --mode eager --pass forward --skip imports \
    --skip memory --output "$out/fresh-memory.md"
