# Skewless — every target installs what it needs first (scripts/tools.sh, idempotent, cached in .tools/).
# Node >= 22 comes from node_modules/.bin (the `node` dev dependency), so it wins over the machine's Node.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/.tools/bin:$(PATH)
TOOLS := scripts/tools.sh
VITEST := vitest run
# The V8 heap cap we run the control plane with: without one, V8 lets push garbage pile up (peak RSS
# ~370 MB in the fan-out benchmark, ~250 MB with this cap, same latency). Deployments set it in NODE_OPTIONS.
CONTROL_PLANE_HEAP_MB := 128
CLUSTER_TEST := e2e/test/local-cluster.test.ts e2e/test/cluster-dns.test.ts e2e/test/envoy-ingress.test.ts testbed/test/local-cluster-logs.test.ts

.DEFAULT_GOAL := help
.PHONY: help tools deps-node test test-control-plane test-client lint typecheck check-imports \
	bench-control-plane bench-client bench-cluster e2e cluster-up cluster-down gen-protos format clean
.PHONY: report reproduce validate-manifests images

help: ## List the targets.
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-22s %s\n", $$1, $$2}'

tools: ## Install every external tool (Node deps, Kubernetes binaries, etcd, Envoy, k6) into .tools/.
	@$(TOOLS) all

deps-node: ## Install npm packages (Node 22 included) when package-lock.json changed.
	@$(TOOLS) debian node

test: deps-node lint typecheck check-imports ## Lint, type-check, import rules, then every test (real apiservers, Envoys, a local cluster).
	@$(TOOLS) cluster envoy browser docker kind actionlint registry
	$(VITEST) $(addprefix --exclude ,$(CLUSTER_TEST))
	@# A local cluster's ~30 processes would starve the timing-sensitive tests on 2 cores: its suites run alone, after
	@# them, one cluster at a time.
	$(VITEST) --no-file-parallelism $(CLUSTER_TEST)

test-control-plane: deps-node ## Control-plane tests only (real kube-apiserver, grpc-js-xds, Envoy).
	@$(TOOLS) etcd kube-apiserver envoy
	$(VITEST) control-plane

test-client: deps-node ## Client-library tests only (simulations, then real gRPC on loopback, one real kube-apiserver).
	@$(TOOLS) etcd kube-apiserver
	$(VITEST) client

lint: deps-node ## Formatting and lint rules (biome).
	biome check .

typecheck: deps-node ## TypeScript strict type-check of every package, and of the k6 scripts against @types/k6.
	tsc -p tsconfig.json
	tsc -p e2e/k6/tsconfig.json

check-imports: deps-node ## No import cycles; package and layer boundaries hold.
	depcruise --config .dependency-cruiser.cjs shared control-plane client testbed load e2e cli

images: deps-node ## Build skewless/control-plane, backend and load (:dev) with Docker (the testbed's own dockerd if none answers).
	@$(TOOLS) docker
	scripts/images.sh

validate-manifests: deps-node ## Render every overlay (local, kind, k3s) and server-side dry-run it against a real kube-apiserver.
	@$(TOOLS) etcd kube-apiserver kubectl
	$(VITEST) testbed/test/manifests.test.ts

bench-control-plane: deps-node ## 1,000 ADS subscribers, 5,000 endpoints: change → last subscriber latency and RSS.
	node --max-old-space-size=$(CONTROL_PLANE_HEAP_MB) control-plane/bench/fanout.ts

bench-client: deps-node ## Per-pick cost of every strategy; throughput vs grpc-js round_robin and pick_first.
	npm run bench -w @skewless/client

# The cluster `make e2e` runs on: local (embedded, no containers: the default), kind or k3s (both need Docker:
# the machine's engine if one answers, else one the testbed starts, and our images from `make images`), or
# existing (KUBECONFIG; CONTEXT=, REGISTRY= our images are pushed to, CONFIRM_CONTEXT= for production-looking).
CLUSTER ?= local
DOCKER_ENGINE := node testbed/src/docker/docker-engine-cli.ts exec --

e2e: deps-node ## The main job: boot a cluster (CLUSTER=local|kind|k3s|existing), deploy, run the scenarios, write results/, tear down.
ifeq ($(CLUSTER),local)
	@$(TOOLS) cluster browser
	node cli/src/main.ts e2e --cluster $(CLUSTER) $(if $(SCENARIO),--scenario $(SCENARIO))
else
	@$(TOOLS) kubectl docker $(filter kind,$(CLUSTER))
	@$(MAKE) --no-print-directory images
	$(DOCKER_ENGINE) node cli/src/main.ts e2e --cluster $(CLUSTER) $(if $(SCENARIO),--scenario $(SCENARIO)) \
		$(if $(CONTEXT),--context $(CONTEXT)) $(if $(CONFIRM_CONTEXT),--confirm-context $(CONFIRM_CONTEXT)) \
		$(if $(REGISTRY),--registry $(REGISTRY)) $(if $(IMAGE_TAG),--image-tag $(IMAGE_TAG)) \
		$(if $(K3S_PULL),--k3s-pull $(K3S_PULL)) $(if $(IMAGES_ON_NODES),--images-on-nodes)
endif

reproduce: deps-node ## Reproduce an incident from a scenario file: make reproduce FILE=examples/incident-4x-skew.yaml
	@$(TOOLS) cluster
	node cli/src/main.ts reproduce $(or $(FILE),$(error FILE=<scenario file> is required, e.g. FILE=examples/incident-4x-skew.yaml))

report: deps-node ## Render results/report.html from results/*.json (a static page with charts).
	node e2e/src/report/main.ts --results results --out results/report.html

cluster-up: deps-node ## Boot a local cluster and keep it running (prints the KUBECONFIG to export).
	@$(TOOLS) cluster
	node cli/src/main.ts cluster up

cluster-down: deps-node ## Remove kept local clusters and anything a crashed run left behind.
	node cli/src/main.ts cluster down

bench-cluster: deps-node ## Local cluster boot time (tools built → all pods Ready) and its memory; last line is JSON.
	@$(TOOLS) cluster
	node e2e/bench/cluster-boot.ts

gen-protos: deps-node ## Regenerate shared/src/generated from the protos bundled in @grpc/grpc-js-xds.
	node scripts/gen-protos.ts

format: deps-node ## Rewrite files in the project's format.
	biome check --write .

clean: ## Remove installed tools and packages (a later target reinstalls them).
	rm -rf .tools node_modules
