# The tf image: ingest, statistics, schema, validate, tune, train, evaluate,
# infra_validate (TensorFlow 2.16 / TFDV 1.16 / TFMA 0.47 / KFP SDK 2.13).
#
#   make images                      # tags from mlpipe/runtime/images.py
#   docker build -f docker/tf.Dockerfile -t mlpipe-tf:dev .
#
# Works with BuildKit and with the legacy builder (no RUN --mount). Build
# arguments:
#   BASE_IMAGE  any Debian-based Python 3.11 image; on machines with no
#               registry use the debootstrap one (make base-image)
#   CA_BUNDLE   a PEM file inside the build context, trusted by pip/uv during
#               the build only (TLS-intercepting proxies); it stays in the
#               discarded build stage, never in the image
#   UV_VERSION, VERSION, REVISION, SOURCE (OCI labels)
# Builds need network access to PyPI (`--network host` on engines started
# with --bridge=none, see scripts/start-dockerd.sh).
ARG BASE_IMAGE=python:3.11-slim-bookworm

# ---- deps: the locked dependency set in /opt/venv ---------------------------
FROM ${BASE_IMAGE} AS deps
ARG UV_VERSION=0.13.9
ARG CA_BUNDLE=docker/no-ca.crt
ENV UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_NO_PROGRESS=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY ${CA_BUNDLE} /tmp/build-ca.crt
# A C++ compiler (and Python headers on bases without them) for the one sdist
# with a C extension in the lock (pyfarmhash, for tfx-bsl); build stage only.
RUN set -eu; \
    if [ -s /tmp/build-ca.crt ]; then \
        echo 'Acquire::https::CAInfo "/tmp/build-ca.crt";' > /etc/apt/apt.conf.d/99build-ca; \
    fi; \
    pkgs=""; \
    command -v g++ >/dev/null 2>&1 || pkgs="g++"; \
    python3 -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
        || pkgs="$pkgs python3-dev"; \
    if [ -n "$pkgs" ]; then \
        apt-get update -q; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $pkgs; \
        rm -rf /var/lib/apt/lists/*; \
    fi
RUN set -eu; \
    if [ -s /tmp/build-ca.crt ]; then export PIP_CERT=/tmp/build-ca.crt; fi; \
    python3 -m venv /opt/uv; \
    /opt/uv/bin/pip install --quiet "uv==${UV_VERSION}"; \
    /opt/uv/bin/uv venv --quiet --python "$(command -v python3)" /opt/venv
# Slimming (same layer, so it counts):
# - the lock leaves out packages no stage imports (requirements/tf-image-excludes.txt:
#   google-cloud-aiplatform, libclang, the Jupyter server stack; 392 MB), so it is
#   installed as it is (--no-deps: the lock is the whole closure; resolving the
#   requirements again would bring apache-beam[gcp]'s google-cloud-aiplatform back);
# - C++ headers of TensorFlow (only for building custom ops, 420 MB) and the test
#   suites of libraries that never import them (~100 MB);
# - the static symbol tables (.symtab/.strtab) of the shared libraries of TensorFlow,
#   tfx-bsl, TFDV and tensorflow-io-gcs-filesystem (bazel builds, ~250 MB, 181 MB of
#   them in libtensorflow_cc.so.2): `strip --strip-unneeded` keeps the dynamic symbols
#   that loading and linking use, and the GPU kernels. Wheels repaired by auditwheel
#   (numpy, scipy, pyarrow, ...) are left as they are: their patchelf-edited files are
#   not safe to strip.
# Bytecode stays: without it every stage start compiles TF/TFDV/TFMA again (import
# 17 s instead of 8-10 s), as the venv is read-only for the non-root user.
COPY requirements/tf-image-lock.txt /tmp/lock.txt
RUN set -eu; \
    if [ -s /tmp/build-ca.crt ]; then export SSL_CERT_FILE=/tmp/build-ca.crt; fi; \
    /opt/uv/bin/uv pip install --no-cache --no-deps --compile-bytecode \
        --python /opt/venv/bin/python -r /tmp/lock.txt; \
    rm -rf /root/.cache; \
    sp=/opt/venv/lib/python3.11/site-packages; \
    rm -rf "$sp/tensorflow/include" "$sp/pandas/tests" "$sp/pyarrow/tests" "$sp/h5py/tests" \
        "$sp/joblib/test" "$sp/tornado/test" "$sp/zmq/tests" "$sp/google/genai/tests"; \
    find "$sp/numpy" "$sp/scipy" "$sp/IPython" -depth -type d -name tests -exec rm -rf {} +; \
    find "$sp/tensorflow" "$sp/tfx_bsl" "$sp/tensorflow_data_validation" \
        "$sp/tensorflow_io_gcs_filesystem" -type f -name '*.so*' \
        -exec strip --strip-unneeded {} +

# ---- project: the mlpipe package (small layer, rebuilt on code changes) -----
FROM deps AS project
COPY pyproject.toml /src/
COPY mlpipe /src/mlpipe
COPY components /src/components
COPY pipelines /src/pipelines
RUN set -eu; \
    if [ -s /tmp/build-ca.crt ]; then \
        export SSL_CERT_FILE=/tmp/build-ca.crt; \
    fi; \
    /opt/uv/bin/uv pip install --no-cache --no-deps --compile-bytecode \
        --python /opt/venv/bin/python --prefix /opt/project /src

# ---- final image ------------------------------------------------------------
FROM ${BASE_IMAGE}
RUN useradd --uid 1000 --user-group --create-home --shell /bin/sh mlpipe
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
COPY --from=deps /opt/venv /opt/venv
COPY --from=project /opt/project/ /opt/venv/
# Code and dependencies only: the dataset config is a run parameter and data is s3://,
# so nothing of a checkout (configs, data, manifests) is in the image. The tag is a hash
# of what this file copies (mlpipe/runtime/images.py).
WORKDIR /home/mlpipe
USER 1000:1000

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="mlpipe-tf" \
      org.opencontainers.image.description="mlpipe pipeline stages: TFDV, Keras, TFMA (TF 2.16 / TFX 1.16 line)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}"
CMD ["python"]
