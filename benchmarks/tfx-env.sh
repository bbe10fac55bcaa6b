#!/usr/bin/env bash
# Create the TFX 1.16 virtual environment that benchmarks/tfx_pipeline.py runs in (idempotent).
#
#   benchmarks/tfx-env.sh            # -> ${MLPIPE_TFX_VENV:-~/.cache/mlpipe/bench/tfx-venv}
#
# Its own venv, outside the repository, never mlpipe's .venv. uv resolves "tfx==1.16.*"; the
# pins keep it on the TF/TFDV/TFMA versions mlpipe's lock uses (the resolver would otherwise be
# free to pick other tfx-bsl/protobuf combinations). pip is needed at run time: TFX packages the
# Trainer's module file into a wheel and installs it with `python -m pip install --target`.
set -euo pipefail

VENV="${MLPIPE_TFX_VENV:-$HOME/.cache/mlpipe/bench/tfx-venv}"
PYTHON="${PYTHON:-$(command -v python3.11 || echo /usr/bin/python3.11)}"
UV="$(command -v uv 2>/dev/null || echo "python3 -m uv")"
STAMP="$VENV/.mlpipe-bench-installed"
NO_DEPS="fairness-indicators==0.47.0"
REQUIREMENTS=(
  "tfx==1.16.*"
  "tensorflow==2.16.2"
  "tensorflow-data-validation==1.16.1"
  "tensorflow-model-analysis==0.47.1"
  "tfx-bsl==1.16.1"
  "protobuf<5"
  "tf-keras==2.16.0"
  dill
  pip
)

if [[ -f "$STAMP" ]] && [[ "$(cat "$STAMP")" == "${REQUIREMENTS[*]} $NO_DEPS" ]]; then
  echo "$VENV: up to date"
  exit 0
fi
mkdir -p "$(dirname "$VENV")"
[[ -x "$VENV/bin/python" ]] || $UV venv --python "$PYTHON" "$VENV"
$UV pip install --python "$VENV/bin/python" --compile-bytecode "${REQUIREMENTS[@]}"
# The FairnessIndicators metric (the same fairness-indicators mlpipe's lock has) without its
# dependencies: it pins tensorflow-hub>=0.16.1, which tfx 1.16 (<0.16) excludes; the metric
# module itself needs only TFMA.
$UV pip install --python "$VENV/bin/python" --compile-bytecode --no-deps "$NO_DEPS"
"$VENV/bin/python" -c "import tfx, tensorflow as tf, fairness_indicators.fairness_indicators_metrics; print('tfx', tfx.__version__, 'tensorflow', tf.__version__)"
echo "${REQUIREMENTS[*]} $NO_DEPS" >"$STAMP"
