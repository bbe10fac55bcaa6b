# The serve image: the `kserve-python` serving runtime (manifests/components/
# serving-runtime-kserve-python). KServe's Python model server (kserve 0.21)
# serves our SavedModel with TF Serving's REST protocol (mlpipe/serving/server.py),
# and KServe's storage initializer copies a version from the registry in the
# pod's init container (mlpipe/serving/fetch_model.py). TensorFlow's CPU build,
# no TFDV/TFMA/KFP: requirements/serve-lock.txt is its own lock.
#
#   make images                      # tags from mlpipe/runtime/images.py
#   docker build -f docker/serve.Dockerfile -t mlpipe-serve:dev .
#
# Same structure and build arguments as docker/tf.Dockerfile (see there).
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
RUN set -eu; \
    if [ -s /tmp/build-ca.crt ]; then export PIP_CERT=/tmp/build-ca.crt; fi; \
    python3 -m venv /opt/uv; \
    /opt/uv/bin/pip install --quiet "uv==${UV_VERSION}"; \
    /opt/uv/bin/uv venv --quiet --python "$(command -v python3)" /opt/venv
# TensorFlow's C++ headers (custom ops only) and test suites go in the same layer.
COPY requirements/serve-lock.txt /tmp/lock.txt
RUN set -eu; \
    if [ -s /tmp/build-ca.crt ]; then export SSL_CERT_FILE=/tmp/build-ca.crt; fi; \
    /opt/uv/bin/uv pip install --no-cache --no-deps --compile-bytecode \
        --python /opt/venv/bin/python -r /tmp/lock.txt; \
    rm -rf /root/.cache; \
    sp=/opt/venv/lib/python3.11/site-packages; \
    rm -rf "$sp/tensorflow/include" "$sp/pandas/tests" "$sp/h5py/tests"; \
    find "$sp/numpy" -depth -type d -name tests -exec rm -rf {} +

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
    PYTHONDONTWRITEBYTECODE=1 \
    TF_CPP_MIN_LOG_LEVEL=1
COPY --from=deps /opt/venv /opt/venv
COPY --from=project /opt/project/ /opt/venv/
WORKDIR /home/mlpipe
USER 1000:1000
EXPOSE 8501

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="mlpipe-serve" \
      org.opencontainers.image.description="mlpipe kserve-python serving runtime: KServe's model server over a SavedModel, TF Serving's REST protocol" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}"
# The manifests name the command: the model server, or fetch_model in the init container.
CMD ["python", "-m", "mlpipe.serving.server", "--help"]
