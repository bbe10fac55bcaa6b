# The push image: model registry upload (minio) and serving rollout
# (kubernetes) with the KFP SDK 2.13; no TensorFlow, so it stays small and
# starts fast.
#
#   make images                      # tags from mlpipe/runtime/images.py
#   docker build -f docker/push.Dockerfile -t mlpipe-push:dev .
#
# Same structure and build arguments as docker/tf.Dockerfile (see there); no
# compiler step: every package of requirements/push-lock.txt is a wheel or a
# pure-Python sdist.
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
COPY requirements/push-lock.txt /tmp/lock.txt
RUN set -eu; \
    if [ -s /tmp/build-ca.crt ]; then export SSL_CERT_FILE=/tmp/build-ca.crt; fi; \
    /opt/uv/bin/uv pip install --no-cache --compile-bytecode \
        --python /opt/venv/bin/python -r /tmp/lock.txt; \
    rm -rf /root/.cache

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
LABEL org.opencontainers.image.title="mlpipe-push" \
      org.opencontainers.image.description="mlpipe push stage: model registry upload and serving rollout (no TensorFlow)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}"
CMD ["python"]
