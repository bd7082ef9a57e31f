# inference-exposure-operator

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

LOCALBIN ?= $(shell pwd)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
KUSTOMIZE ?= $(LOCALBIN)/kustomize
CRD_REF_DOCS ?= $(LOCALBIN)/crd-ref-docs
CRD_REF_DOCS_VERSION ?= v0.3.0
HELM ?= $(LOCALBIN)/helm
GHZ ?= $(LOCALBIN)/ghz
PROMTOOL ?= $(LOCALBIN)/promtool
PROMETHEUS_VERSION ?= v0.316.0
GHZ_VERSION ?= v0.93.0
HELM_VERSION ?= v4.3.1
CHART := config/helm/inference-exposure-operator
CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.1
IMG ?= inference-exposure-operator:dev
# VERSION is the OLM bundle's version; BUNDLE_IMG its image, named in the catalog entry.
VERSION ?= 0.1.0
BUNDLE_IMG ?= inference-exposure-operator-bundle:v$(VERSION)
# AGENT_IMG is the HAProxy agent's image: haproxy 2.6 with this binary (config/samples/haproxy).
AGENT_IMG ?= inference-exposure-haproxy-agent:dev
GO_TEST_FLAGS ?=

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-18s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs and RBAC from the markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases
	@rm -f $(CHART)/files/crds/*.yaml && cp config/crd/bases/*.yaml $(CHART)/files/crds/ && cp config/rbac/role.yaml $(CHART)/files/rbac/role.yaml && mkdir -p $(CHART)/files/prometheus $(CHART)/files/grafana && cp config/prometheus/prometheusrule.yaml $(CHART)/files/prometheus/ && cp config/grafana/inference-exposure-operator.json $(CHART)/files/grafana/

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: api-docs
api-docs: crd-ref-docs ## Generate the API reference (docs/reference/api.md) from the types.
	$(CRD_REF_DOCS) --source-path=./api --config=hack/api-docs/config.yaml --renderer=markdown --output-path=docs/reference/api.md >/dev/null

.PHONY: fmt
fmt: ## go fmt
	go fmt ./...

.PHONY: vet
vet: ## go vet
	go vet ./...

.PHONY: envtest-assets
envtest-assets: ## Build kube-apiserver, etcd and kube-controller-manager into bin/k8s (cached; the tests skip this when KUBEBUILDER_ASSETS is set).
	@if [ -z "$$KUBEBUILDER_ASSETS" ]; then hack/build-envtest-assets.sh >/dev/null; fi

.PHONY: test
test: manifests generate vet envtest-assets kustomize helm traefik promtool ## Run unit and envtest integration tests against a real API server.
	$(HELM) lint --strict $(CHART)
	$(HELM) template test $(CHART) --namespace inference-exposure-system >/dev/null
	PROMTOOL=$(PROMTOOL) KUSTOMIZE=$(KUSTOMIZE) HELM=$(HELM) TRAEFIK="$${TRAEFIK:-$$(hack/build-traefik.sh)}" KUBEBUILDER_ASSETS="$${KUBEBUILDER_ASSETS:-$$(hack/build-envtest-assets.sh)}" go test $(GO_TEST_FLAGS) ./... -coverprofile cover.out

.PHONY: traefik
traefik: ## Build Traefik (the data-plane tests' ingress controller and Gateway) into bin/ (cached).
	@hack/build-traefik.sh >/dev/null

.PHONY: verify
verify: manifests generate api-docs ## Fail when generated files (CRDs, RBAC, DeepCopy, the chart's copies, the API reference) are out of date.
	@if [ -n "$$(git status --porcelain -- api config docs/reference)" ]; then git status --short -- api config docs/reference; git diff -- api config docs/reference | head -50; echo "generated files are out of date: run make manifests generate api-docs and commit"; exit 1; fi

.PHONY: bench-dataplane
bench-dataplane: envtest-assets traefik ghz ## Latency and first-answer times of each path through a real Traefik, HAProxy and kube-proxy (root; see test/dataplane/bench_test.go).
	GHZ=$(GHZ) TRAEFIK="$${TRAEFIK:-$$(hack/build-traefik.sh)}" KUBEBUILDER_ASSETS="$${KUBEBUILDER_ASSETS:-$$(hack/build-envtest-assets.sh)}" go test ./test/dataplane -run XXX -bench BenchmarkPaths -benchtime 1x

.PHONY: soak
soak: envtest-assets traefik ## Every data-plane path holds a 30-minute SSE stream and a 1-hour gRPC stream, all at once (root; not in CI): SOAK_SSE=30m SOAK_GRPC=1h.
	hack/soak.sh

.PHONY: bench-scale
bench-scale: envtest-assets ## Scale benchmark on a local control plane: BENCH_ARGS="-tenants 20 -exposures 1000" (see hack/benchscale).
	KUBEBUILDER_ASSETS="$${KUBEBUILDER_ASSETS:-$$(hack/build-envtest-assets.sh)}" go run ./hack/benchscale $(BENCH_ARGS)

##@ Build

.PHONY: build
build: manifests generate vet ## Build the manager binary.
	go build -o bin/manager ./cmd

.PHONY: run
run: manifests generate ## Run the operator on a local control plane (kube-apiserver, etcd, kube-controller-manager) with the samples. Never touches your kubeconfig's cluster.
	hack/build-envtest-assets.sh >/dev/null
	@# As root, the samples are served: Traefik and model servers in a network namespace.
	@if [ "$$(id -u)" = 0 ]; then hack/build-traefik.sh >/dev/null; fi
	go build -o bin/localrun ./hack/localrun
	exec bin/localrun

.PHONY: run-local
run-local: run ## Same as run (kept for habit).

.PHONY: run-cluster
run-cluster: manifests generate ## Run the operator against the cluster of the current kubeconfig context (installs the CRDs there). Names the context first.
	@ctx="$$(kubectl config current-context 2>/dev/null)"; \
	if [ -z "$$ctx" ]; then echo "no current context in the kubeconfig: nothing to run against (make run uses a local control plane)"; exit 1; fi; \
	server="$$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')"; \
	echo "==> using kubeconfig context $$ctx ($$server): installing the CRDs and running the operator there"; \
	kubectl --context "$$ctx" apply --server-side -f config/crd/bases && \
	exec go run ./cmd --health-probe-bind-address=:8081 --metrics-bind-address=0 --haproxy-configmap-namespace=default $(RUN_ARGS)

.PHONY: install
install: manifests ## Install the CRDs into the cluster of the current kubeconfig.
	kubectl apply --server-side -f config/crd/bases

.PHONY: uninstall
uninstall: manifests ## Remove the CRDs (and every tenant and exposure) from the cluster.
	kubectl delete --ignore-not-found -f config/crd/bases

.PHONY: deploy
deploy: manifests kustomize ## Deploy the operator (config/default) with IMG to the cluster of the current kubeconfig; the tree stays clean.
	@mkdir -p $(LOCALBIN)/deploy; img="$(IMG)"; name="$${img%:*}"; tag="$${img##*:}"; \
	case "$$tag" in */*|"$$img") name="$$img"; tag=latest;; esac; \
	printf 'resources: [../../config/default]\nimages: [{name: inference-exposure-operator, newName: %s, newTag: %s}]\n' "$$name" "$$tag" > $(LOCALBIN)/deploy/kustomization.yaml; \
	echo "==> deploying $(IMG) to kubeconfig context $$(kubectl config current-context)"; \
	$(KUSTOMIZE) build $(LOCALBIN)/deploy | kubectl apply --server-side -f -

.PHONY: undeploy
undeploy: kustomize ## Remove the operator; CRDs go too, and with them every tenant and exposure.
	$(KUSTOMIZE) build config/default | kubectl delete --ignore-not-found --wait=false -f -

.PHONY: bundle
bundle: manifests kustomize ## Write the OLM bundle (bundle/) and its file-based catalog entry (catalog/) for IMG and VERSION, and validate them (operator-framework's library, with the OperatorHub suite).
	$(KUSTOMIZE) build config/default | go run ./hack/bundle -version $(VERSION) -image $(IMG) -bundle-image $(BUNDLE_IMG) -out bundle -catalog catalog
	cd hack/olm-validate && go run . -k8s-version 1.31 ../../bundle

.PHONY: docker-build
docker-build: ## Build the container image (needs a Docker engine); --version prints the image tag.
	docker build --build-arg VERSION=$(lastword $(subst :, ,$(IMG))) -t $(IMG) .

.PHONY: docker-build-agent
docker-build-agent: ## Build the HAProxy agent image (haproxy 2.6 plus this binary's haproxy-agent subcommand).
	docker build --target haproxy-agent --build-arg VERSION=$(lastword $(subst :, ,$(AGENT_IMG))) -t $(AGENT_IMG) .

##@ Tools

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Install controller-gen into bin/.
$(CONTROLLER_GEN): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)

.PHONY: crd-ref-docs
crd-ref-docs: $(CRD_REF_DOCS) ## Install crd-ref-docs into bin/.
$(CRD_REF_DOCS): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install github.com/elastic/crd-ref-docs@$(CRD_REF_DOCS_VERSION)

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Install kustomize into bin/.
$(KUSTOMIZE): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

.PHONY: promtool
promtool: $(PROMTOOL) ## Build promtool (the alerting rules' unit tests) into bin/ (first time only).
$(PROMTOOL): | $(LOCALBIN)
	@echo "building promtool $(PROMETHEUS_VERSION) into bin/ (first time only)"
	GOBIN=$(LOCALBIN) go install github.com/prometheus/prometheus/cmd/promtool@$(PROMETHEUS_VERSION)

.PHONY: ghz
ghz: $(GHZ) ## Install ghz (a gRPC load client, for make bench-dataplane) into bin/.
$(GHZ): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install github.com/bojand/ghz/cmd/ghz@$(GHZ_VERSION)

.PHONY: helm
helm: $(HELM) ## Install helm v4 into bin/.
$(HELM): | $(LOCALBIN)
	@echo "building helm $(HELM_VERSION) into bin/ (first time only)"
	GOBIN=$(LOCALBIN) go install helm.sh/helm/v4/cmd/helm@$(HELM_VERSION)
