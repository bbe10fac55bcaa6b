# Local Kubernetes walkthrough on kind: kind-up -> deploy -> kind-load -> submit -> predict.
# These targets run on the user's machine and need Docker, kind and kubectl there
# (docs/kind.md). Every kubectl call pins the kind context, so they never touch
# another cluster. Serving names come from manifests/base/params.env, as in the
# manifests and mlpipe/serving/names.py.

KIND_CLUSTER        ?= mlpipe
KIND_CONTEXT        := kind-$(KIND_CLUSTER)
KIND_CONFIG         := manifests/kind/cluster.yaml
# Fixed: cluster.yaml, registry-hosts.toml and mlpipe/runtime/images.py use these.
KIND_REGISTRY_NAME  := kind-registry
KIND_REGISTRY_PORT  := 5001
KIND_REGISTRY_IMAGE ?= registry:2.8.3
KFP_VERSION         ?= 2.15.0
KFP_NAMESPACE       ?= kubeflow
KFP_HOST            ?= http://localhost:8080
SERVING_URL         ?= http://localhost:8501
PREDICT_REQUEST     ?= manifests/samples/predict_request.json
PIPELINE_PACKAGE    ?= build/training_pipeline.yaml
SUBMIT_ARGS         ?= --package $(PIPELINE_PACKAGE)
KIND_KUBECTL        := kubectl --context $(KIND_CONTEXT)
KFP_MANIFESTS       := github.com/kubeflow/pipelines/manifests/kustomize
# mlpipe/runtime/images.py is stdlib only: any python 3 prints the image names.
KIND_PY             := $(if $(wildcard $(PY)),$(PY),python3)

kind_param = $(shell sed -n 's/^$(1)=//p' manifests/base/params.env)
SERVING_NAMESPACE := $(call kind_param,SERVING_NAMESPACE)
SERVING_SERVICE   := $(call kind_param,SERVING_SERVICE)
MODEL_NAME        := $(call kind_param,MODEL_NAME)
REGISTRY_BUCKET   := $(call kind_param,REGISTRY_BUCKET)
PIPELINE_CREDENTIALS_SECRET := $(call kind_param,PIPELINE_CREDENTIALS_SECRET)

.PHONY: kind-up kind-mirror deploy kind-load kind-upload port-forward submit predict kind-down render

# $(call kind_require,tools...): stop with the list of missing tools.
define kind_require
@missing=""; for tool in $(1); do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
if [ -n "$$missing" ]; then \
  echo "make $@: missing on this machine:$$missing (this target needs: $(1); see docs/kind.md)" >&2; exit 1; \
fi
$(if $(filter docker,$(1)),@docker info >/dev/null 2>&1 || { echo "make $@: docker is installed but its daemon does not answer; start Docker" >&2; exit 1; })
endef

# Stop early with a hint when the kind cluster is not there.
define kind_require_cluster
@kubectl config get-contexts -o name 2>/dev/null | grep -qx '$(KIND_CONTEXT)' || { \
  echo "make $@: no kubectl context $(KIND_CONTEXT); run 'make kind-up' first" >&2; exit 1; }
endef

kind-up: ## Create the kind cluster and local registry, mirror serving images, install KFP standalone (KFP_VERSION)
	$(call kind_require,kind kubectl docker)
	@if [ "$$(docker inspect -f '{{.State.Running}}' $(KIND_REGISTRY_NAME) 2>/dev/null)" != "true" ]; then \
	  echo "starting local registry $(KIND_REGISTRY_NAME) on 127.0.0.1:$(KIND_REGISTRY_PORT)"; \
	  docker run -d --restart=always -p "127.0.0.1:$(KIND_REGISTRY_PORT):5000" --network bridge \
	    --name $(KIND_REGISTRY_NAME) $(KIND_REGISTRY_IMAGE); \
	fi
	@if kind get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER)'; then \
	  echo "kind cluster $(KIND_CLUSTER) already exists"; \
	else \
	  kind create cluster --name $(KIND_CLUSTER) --config $(KIND_CONFIG); \
	fi
	@for node in $$(kind get nodes --name $(KIND_CLUSTER)); do \
	  docker exec $$node mkdir -p /etc/containerd/certs.d/localhost:$(KIND_REGISTRY_PORT) && \
	  docker exec -i $$node cp /dev/stdin /etc/containerd/certs.d/localhost:$(KIND_REGISTRY_PORT)/hosts.toml \
	    < manifests/kind/registry-hosts.toml || exit 1; \
	done
	@if [ "$$(docker inspect -f '{{json .NetworkSettings.Networks.kind}}' $(KIND_REGISTRY_NAME))" = "null" ]; then \
	  docker network connect kind $(KIND_REGISTRY_NAME); \
	fi
	$(KIND_KUBECTL) apply -f manifests/kind/local-registry-hosting.yaml
	@$(MAKE) --no-print-directory kind-mirror
	$(KIND_KUBECTL) apply -k "$(KFP_MANIFESTS)/cluster-scoped-resources?ref=$(KFP_VERSION)"
	$(KIND_KUBECTL) wait --for condition=established --timeout=120s crd --all
	$(KIND_KUBECTL) apply -k "$(KFP_MANIFESTS)/env/platform-agnostic?ref=$(KFP_VERSION)"
	@echo "waiting for Kubeflow Pipelines $(KFP_VERSION) (first start pulls images: often 5-15 minutes)"
	$(KIND_KUBECTL) -n $(KFP_NAMESPACE) wait --for=condition=Available --timeout=1800s deployment --all
	@echo "kind cluster $(KIND_CLUSTER) is ready; next: make deploy"

kind-mirror: ## Copy the pinned MinIO, mc and TF Serving images into the local registry (run by kind-up)
	$(call kind_require,kubectl docker)
	@for image in $$(kubectl kustomize manifests/base | sed -n 's/^ *image: *//p' | sort -u); do \
	  first=$${image%%/*}; path=$$image; \
	  case "$$first" in *.*|*:*) path=$${image#*/};; esac; \
	  mirror=localhost:$(KIND_REGISTRY_PORT)/$$path; \
	  docker image inspect $$image >/dev/null 2>&1 || docker pull $$image || exit 1; \
	  docker tag $$image $$mirror && docker push $$mirror || exit 1; \
	done

# kind-blue-green: two TF Serving colours and a Service the pusher switches (serving.strategy: blue-green)
DEPLOY_OVERLAY ?= kind
deploy: ## Apply the kind overlay (DEPLOY_OVERLAY=kind-blue-green for blue-green) and wait for the registry
	$(call kind_require,kubectl)
	$(call kind_require_cluster)
	$(KIND_KUBECTL) apply -k manifests/overlays/$(DEPLOY_OVERLAY)
	$(KIND_KUBECTL) -n $(SERVING_NAMESPACE) rollout status deployment/minio --timeout=300s
	$(KIND_KUBECTL) -n $(SERVING_NAMESPACE) wait --for=condition=complete job/registry-setup --timeout=300s
	@echo "registry ready. $(SERVING_SERVICE) stays in Init until the first push; next: make images kind-load"

kind-load: ## Push the pipeline images built by `make images` into the local registry
	$(call kind_require,docker)
	@images="$$($(KIND_PY) mlpipe/runtime/images.py | cut -d' ' -f1-3)" || exit 1; \
	for image in $$images; do \
	  case "$$image" in \
	    localhost:$(KIND_REGISTRY_PORT)/*) ;; \
	    *) echo "make kind-load: $$image is not in the kind registry; unset MLPIPE_IMAGE_REGISTRY or set it to localhost:$(KIND_REGISTRY_PORT)" >&2; exit 1;; \
	  esac; \
	  docker image inspect $$image >/dev/null 2>&1 || { echo "make kind-load: no local image $$image; build it with 'make images'" >&2; exit 1; }; \
	  docker push $$image || exit 1; \
	done

kind-upload: ## Upload the bundled Adult CSVs to the cluster's MinIO (s3://<REGISTRY_BUCKET>/datasets/adult/), where configs/adult-cluster.yaml reads them
	$(call kind_require,kubectl base64)
	$(call kind_require_cluster)
	@key() { $(KIND_KUBECTL) -n $(SERVING_NAMESPACE) get secret $(PIPELINE_CREDENTIALS_SECRET) -o jsonpath="{.data.$$1}" | base64 -d; }; \
	MLPIPE_S3_ENDPOINT=localhost:9000 MLPIPE_S3_ACCESS_KEY="$$(key AWS_ACCESS_KEY_ID)" MLPIPE_S3_SECRET_KEY="$$(key AWS_SECRET_ACCESS_KEY)" \
	  $(VENV)/bin/mlpipe upload data/adult/adult.data.csv.gz data/adult/adult.test.csv.gz s3://$(REGISTRY_BUCKET)/datasets/adult/

port-forward: ## Forward the KFP UI/API (:8080), MinIO console (:9001) and TF Serving gRPC (:8500); Ctrl-C stops
	$(call kind_require,kubectl)
	$(call kind_require_cluster)
	@echo "KFP UI and API   $(KFP_HOST)"
	@echo "MinIO console    http://localhost:9001   (S3 API: localhost:9000, kind port mapping)"
	@echo "TF Serving gRPC  localhost:8500          (REST: $(SERVING_URL), kind port mapping)"
	@pids=""; trap 'kill $$pids 2>/dev/null' EXIT INT TERM; \
	$(KIND_KUBECTL) -n $(KFP_NAMESPACE) port-forward svc/ml-pipeline-ui 8080:80 & pids="$$pids $$!"; \
	$(KIND_KUBECTL) -n $(SERVING_NAMESPACE) port-forward svc/minio 9001:9001 & pids="$$pids $$!"; \
	$(KIND_KUBECTL) -n $(SERVING_NAMESPACE) port-forward svc/$(SERVING_SERVICE) 8500:8500 & pids="$$pids $$!"; \
	wait

submit: compile ## Compile the pipeline and submit it to the forwarded KFP endpoint (KFP_HOST)
	$(call kind_require,curl)
	@curl -fsS -o /dev/null $(KFP_HOST)/apis/v2beta1/healthz || { \
	  echo "make submit: no KFP API at $(KFP_HOST); run 'make port-forward' in another terminal" >&2; exit 1; }
	$(VENV)/bin/mlpipe submit --host $(KFP_HOST) $(SUBMIT_ARGS)

predict: ## Send the sample Adult row (PREDICT_REQUEST) to TF Serving REST :predict on localhost:8501
	$(call kind_require,curl)
	@curl -fsS -o /dev/null $(SERVING_URL)/v1/models/$(MODEL_NAME) || { \
	  echo "make predict: model $(MODEL_NAME) is not served at $(SERVING_URL) yet; it is after the first push." >&2; \
	  echo "  check: kubectl --context $(KIND_CONTEXT) -n $(SERVING_NAMESPACE) get pods" >&2; exit 1; }
	curl -sS --fail-with-body -H 'Content-Type: application/json' -d @$(PREDICT_REQUEST) \
	  $(SERVING_URL)/v1/models/$(MODEL_NAME):predict
	@echo

kind-down: ## Delete the kind cluster and the local registry container
	$(call kind_require,kind docker)
	kind delete cluster --name $(KIND_CLUSTER)
	@if docker inspect $(KIND_REGISTRY_NAME) >/dev/null 2>&1; then docker rm -f $(KIND_REGISTRY_NAME); fi

render: ## Render every kustomize overlay (quick check; tests/manifests validates them)
	$(call kind_require,kubectl)
	@for overlay in manifests/overlays/*/; do \
	  kubectl kustomize $$overlay >/dev/null && echo "rendered $$overlay" || exit 1; \
	done
