#!/usr/bin/env bash
# Builds kube-apiserver, etcd, kube-controller-manager (garbage collector, namespace
# controller, ...) for envtest and the local control plane, and kube-proxy for the data-plane
# tests, from the Go module proxy and caches
# them in bin/k8s/<version>/. Prints the asset directory on stdout (everything else goes to stderr), so
# callers can do: export KUBEBUILDER_ASSETS=$(hack/build-envtest-assets.sh)
#
# Why: setup-envtest downloads prebuilt binaries from a bucket that is not reachable everywhere;
# the Go module proxy is. The first build takes several minutes; later runs are instant.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.37.1}"
ETCD_VERSION="${ETCD_VERSION:-v3.5.35}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${ROOT}/bin/k8s/${K8S_VERSION}"
STAGING_VERSION="v0${K8S_VERSION#v1}" # v1.37.2 -> v0.37.2

log() { echo "build-envtest-assets: $*" >&2; }

if [[ -x "${DEST}/kube-apiserver" && -x "${DEST}/etcd" && -x "${DEST}/kube-controller-manager" && -x "${DEST}/kube-proxy" ]]; then
  echo "${DEST}"
  exit 0
fi
mkdir -p "${DEST}"
command -v go >/dev/null || { log "go is required"; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "${WORK}"' EXIT
export GOFLAGS=-mod=mod GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

if [[ ! -x "${DEST}/etcd" ]]; then
  log "building etcd ${ETCD_VERSION} (first time only)..."
  # etcd's server module carries replace directives, so `go install pkg@version` refuses it:
  # build it from a throw-away module instead.
  mkdir -p "${WORK}/etcd" && (
    cd "${WORK}/etcd"
    go mod init envtest-etcd >/dev/null 2>&1
    printf 'package main\n\nimport _ "go.etcd.io/etcd/server/v3/etcdmain"\n\nfunc main() {}\n' > main.go
    go get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}" >&2
    go mod tidy >&2
    rm main.go
    go build -o "${DEST}/etcd" -ldflags "-s -w" go.etcd.io/etcd/server/v3 >&2
  )
fi

# kube-apiserver and kube-controller-manager come from one throw-away module.
k8s_module() {
  [[ -f "${WORK}/k8s/go.mod" ]] && return 0
  mkdir -p "${WORK}/k8s" && cd "${WORK}/k8s"
  go mod init envtest-assets >&2 2>/dev/null
  go mod download "k8s.io/kubernetes@${K8S_VERSION}" >&2
  gomod="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/${K8S_VERSION}.mod"
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with local
  # directories; point each replace at the published release instead.
  {
    echo "require k8s.io/kubernetes ${K8S_VERSION}"
    echo "replace ("
    sed -n '/^replace (/,/^)/p' "${gomod}" | awk '/=> \.\/staging/ {print "\t" $1 " => " $1 " '"${STAGING_VERSION}"'"}'
    echo ")"
  } >> go.mod
  cat > main.go <<'GO'
package main

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	_ "k8s.io/kubernetes/cmd/kube-proxy/app"
)

func main() {}
GO
  go mod tidy >&2
  rm main.go
}

k8s_build() { # binary name
  k8s_module
  cd "${WORK}/k8s"
  go build -o "${DEST}/$1" \
    -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "${STAGING_VERSION}" | cut -d. -f2)" \
    "k8s.io/kubernetes/cmd/$1" >&2
}

if [[ ! -x "${DEST}/kube-apiserver" ]]; then
  log "building kube-apiserver ${K8S_VERSION} (first time only, about 5-10 minutes)..."
  k8s_build kube-apiserver
fi
if [[ ! -x "${DEST}/kube-controller-manager" ]]; then
  log "building kube-controller-manager ${K8S_VERSION} (first time only, a few minutes)..."
  k8s_build kube-controller-manager
fi
if [[ ! -x "${DEST}/kube-proxy" ]]; then
  # Not envtest's: the data-plane tests run it in a network namespace standing in for a node,
  # so that the NodePorts the operator allocates forward real packets.
  log "building kube-proxy ${K8S_VERSION} (first time only, a few minutes)..."
  k8s_build kube-proxy
fi
log "assets ready in ${DEST}"
echo "${DEST}"
