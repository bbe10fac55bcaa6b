#!/usr/bin/env bash
# The full training pipeline on Adult, once in the project's images (kfp.local DockerRunner)
# and once as subprocesses, each into a fresh runs root; prints both summaries' stage times.
#   make images && benchmarks/docker_vs_subprocess.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/mlpipe-bench}
rm -rf "$out"; mkdir -p "$out"
for runner in docker subprocess; do
  start=$(date +%s.%N)
  .venv/bin/mlpipe run --runner "$runner" --output "$out/$runner" > "$out/$runner.log" 2>&1 || true
  end=$(date +%s.%N)
  echo "== $runner: $(echo "$end - $start" | bc) s wall (mlpipe run, including process start)"
  .venv/bin/python - "$out/$runner/latest/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"   status={s['status']} blessed={s.get('blessing', {}).get('blessed')} pushed={s.get('push', {}).get('pushed')}")
for stage in s["stages"]:
    print(f"   {stage['name']:<16}{stage['status']:<11}{stage['seconds']:8.1f} s")
print(f"   {'pipeline total':<27}{s['wall_seconds']:8.1f} s")
PY
done
