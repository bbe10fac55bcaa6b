# Container images: docker/tf.Dockerfile, docker/push.Dockerfile and docker/serve.Dockerfile, tagged
# from mlpipe/runtime/images.py (MLPIPE_IMAGE_REGISTRY / _REPOSITORY / _TAG).
# See docs/containers.md.
#
#   make images                                   # base: python:3.11-slim-bookworm, or where
#                                                 # it cannot be pulled, the debootstrap base
#   make images BASE_IMAGE=mlpipe-base:py311-bookworm   # that base, whatever is reachable
#
# BASE_IMAGE      base for both images; empty = $(DEFAULT_BASE) when the engine has
#                 it or can pull it, else $(BASE_TAG), built first when missing
#                 (scripts/choose-base-image.sh). Setting it to $(BASE_TAG) builds
#                 the debootstrap base first if missing.
# BASE_PULL_TIMEOUT  seconds the pull of $(DEFAULT_BASE) may take (default 300)
# CA_BUNDLE       PEM bundle pip/uv trust during the build (TLS-intercepting
#                 proxies); default: $PIP_CERT, $SSL_CERT_FILE or the system
#                 bundle, when one exists. CA_BUNDLE= disables it. It is copied
#                 to build/docker/ (inside the build context) and stays in the
#                 discarded build stage, never in the images.
# DOCKER_NETWORK  network of the build containers (default host: works with an
#                 engine started with --bridge=none, as scripts/start-dockerd.sh does)

DOCKER         ?= docker
DEFAULT_BASE   := python:3.11-slim-bookworm
BASE_TAG       ?= mlpipe-base:py311-bookworm
BASE_IMAGE     ?=
BASE_PULL_TIMEOUT ?= 300
DOCKER_NETWORK ?= host
# extra `docker build` flags, e.g. --no-cache (scripts/bench_images.sh uses it)
DOCKER_BUILD_FLAGS ?=
CA_BUNDLE      ?= $(firstword $(wildcard $(PIP_CERT) $(SSL_CERT_FILE) /etc/ssl/certs/ca-certificates.crt))
IMAGE_REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
IMAGE_SOURCE   ?= $(shell git config --get remote.origin.url 2>/dev/null || echo unknown)
# images.py needs only the standard library: the venv's python when it exists, else python3.
IMAGES_PY      := $(if $(wildcard $(PY)),$(PY),python3)

.PHONY: images base-image docker-engine image-locks

docker-engine: ## Start a Docker engine (dockerd) when none answers; installs docker.io if missing (root)
	@DOCKER=$(DOCKER) scripts/start-dockerd.sh

base-image: docker-engine ## Build the debootstrap Python 3.11 base image (machines with no registry)
	@DOCKER=$(DOCKER) BASE_TAG=$(BASE_TAG) scripts/make-base-image.sh

images: docker-engine $(if $(filter $(BASE_TAG),$(BASE_IMAGE)),base-image) ## Build the tf, push and serve images, tagged from mlpipe/runtime/images.py
	@set -euo pipefail; \
	read -r tf_tag push_tag serve_tag version < <($(IMAGES_PY) mlpipe/runtime/images.py); \
	[ -n "$$version" ] || { echo "could not read image tags from mlpipe/runtime/images.py" >&2; exit 1; }; \
	base="$(BASE_IMAGE)"; \
	if [ -z "$$base" ]; then \
	  base=$$(DOCKER=$(DOCKER) DEFAULT_BASE=$(DEFAULT_BASE) BASE_TAG=$(BASE_TAG) \
	          BASE_PULL_TIMEOUT=$(BASE_PULL_TIMEOUT) scripts/choose-base-image.sh); \
	fi; \
	args=($(DOCKER_BUILD_FLAGS) --network "$(DOCKER_NETWORK)" --build-arg VERSION="$$version" \
	      --build-arg REVISION="$(IMAGE_REVISION)" --build-arg SOURCE="$(IMAGE_SOURCE)" \
	      --build-arg BASE_IMAGE="$$base"); \
	if [ -n "$(CA_BUNDLE)" ]; then \
	  mkdir -p build/docker && cp "$(CA_BUNDLE)" build/docker/ca-bundle.crt; \
	  args+=(--build-arg CA_BUNDLE=build/docker/ca-bundle.crt); \
	fi; \
	if ! $(DOCKER) buildx version >/dev/null 2>&1; then export DOCKER_BUILDKIT=0; fi; \
	if [ "$${DOCKER_BUILDKIT:-}" = 0 ]; then args+=(--force-rm); fi; \
	for pair in "tf $$tf_tag" "push $$push_tag" "serve $$serve_tag"; do \
	  set -- $$pair; start=$$SECONDS; \
	  echo "==> $$2 (docker/$$1.Dockerfile, base $$base)"; \
	  $(DOCKER) build "$${args[@]}" -f docker/$$1.Dockerfile -t "$$2" . ; \
	  size=$$($(DOCKER) image inspect --format '{{.Size}}' "$$2"); \
	  echo "==> built $$2 in $$((SECONDS - start))s, $$((size / 1000000)) MB"; \
	done

image-locks: ## Re-resolve the per-image lock files (tf-image and push against requirements/lock.txt; serve on its own)
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) pip compile --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		--excludes requirements/tf-image-excludes.txt \
		requirements/tf-image.in -o requirements/tf-image-lock.txt
	$(UV) pip compile --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		requirements/push.in -o requirements/push-lock.txt
	$(UV) pip compile --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		requirements/serve.in -o requirements/serve-lock.txt
