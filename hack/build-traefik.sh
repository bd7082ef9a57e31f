#!/usr/bin/env bash
# Builds Traefik, the real ingress controller and Gateway the data-plane tests send traffic
# through, from the Go module proxy, and caches it in bin/traefik-<version>. Prints the binary's
# path on stdout (everything else goes to stderr):
#   TRAEFIK=$(hack/build-traefik.sh)
#
# Why v3.7: its ingress-nginx provider honours the timeouts the operator writes
# (proxy-read-timeout, proxy-send-timeout); v3.6 ignores them. v3.7.13 does not build from the
# module proxy as it is; three workarounds, all in this script:
#   1. go.mod replaces github.com/traefik/traefik/dynamic/ext with ./pkg/config/dynamic/ext, a
#      nested module the module zip leaves out. It holds two empty extension structs (ext.HTTP,
#      ext.Router) embedded in the dynamic configuration: written here as such.
#   2. The proxy refuses the github.com/containous/go-http-auth version v3.7 pins: the version
#      v3.6 used (the fork's API is the same) replaces it.
#   3. The proxy refuses the SDKs of six of lego's ACME DNS providers (edgedns, huaweicloud,
#      oraclecloud, sakuracloud, ucloud, yandexcloud). lego is built from a copy without those
#      six providers; Traefik then cannot solve DNS challenges with them, which no test needs.
# The first build takes about 7 minutes on two cores; later runs are instant.
set -euo pipefail

TRAEFIK_VERSION="${TRAEFIK_VERSION:-v3.7.13}"
LEGO_MODULE=github.com/go-acme/lego/v5
HTTP_AUTH_FORK=github.com/containous/go-http-auth@v0.4.1-0.20200324110947-a37a7636d23e
REFUSED_DNS_PROVIDERS=(edgedns huaweicloud oraclecloud sakuracloud ucloud yandexcloud)
REFUSED_MODULES=(
  github.com/akamai/AkamaiOPEN-edgegrid-golang/v13
  github.com/huaweicloud/huaweicloud-sdk-go-v3
  github.com/nrdcg/oci-go-sdk/common/v1065
  github.com/nrdcg/oci-go-sdk/dns/v1065
  github.com/sacloud/sacloud-sdk-go
  github.com/ucloud/ucloud-sdk-go
  github.com/yandex-cloud/go-sdk/services/dns
)
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${ROOT}/bin/traefik-${TRAEFIK_VERSION}"

log() { echo "build-traefik: $*" >&2; }

if [[ -x "${DEST}" ]]; then
  echo "${DEST}"
  exit 0
fi
command -v go >/dev/null || { log "go is required"; exit 1; }
mkdir -p "${ROOT}/bin"

WORK="$(mktemp -d)"
trap 'chmod -R u+w "${WORK}" 2>/dev/null; rm -rf "${WORK}"' EXIT
export GOFLAGS=-mod=mod GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

# moddir prints where the module cache holds module@version, downloading it first.
moddir() { go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'; }

log "building Traefik ${TRAEFIK_VERSION} from the module proxy (first time only, several minutes)..."
SRC="$(moddir "github.com/traefik/traefik/v3@${TRAEFIK_VERSION}")"
[[ -d "${SRC}" ]] || { log "the module proxy did not give github.com/traefik/traefik/v3@${TRAEFIK_VERSION}"; exit 1; }
# The module cache is read-only: build from a copy of the module's source.
cp -r "${SRC}" "${WORK}/traefik"
chmod -R u+w "${WORK}/traefik"
cd "${WORK}/traefik"

# 1. The nested extension module.
if grep -q 'dynamic/ext => ./pkg/config/dynamic/ext' go.mod && [[ ! -f pkg/config/dynamic/ext/go.mod ]]; then
  mkdir -p pkg/config/dynamic/ext
  printf 'module github.com/traefik/traefik/dynamic/ext\n\ngo 1.24\n' > pkg/config/dynamic/ext/go.mod
  cat > pkg/config/dynamic/ext/ext.go <<'EOF'
// Package ext holds the extension points of Traefik's dynamic configuration: none here.
package ext

// HTTP is embedded in the HTTP configuration.
type HTTP struct{}

// Router is embedded in an HTTP router.
type Router struct{}
EOF
fi

# 2. The go-http-auth fork.
go mod edit -replace "github.com/abbot/go-http-auth=${HTTP_AUTH_FORK}"

# 3. lego without the DNS providers whose SDKs the proxy refuses.
LEGO_VERSION="$(go list -m -f '{{.Version}}' "${LEGO_MODULE}")"
cp -r "$(moddir "${LEGO_MODULE}@${LEGO_VERSION}")" "${WORK}/lego"
chmod -R u+w "${WORK}/lego"
for p in "${REFUSED_DNS_PROVIDERS[@]}"; do
  rm -rf "${WORK}/lego/providers/dns/${p}"
  # The generated registry: the provider's import and its case (one return line).
  sed -i -e "\#\"${LEGO_MODULE}/providers/dns/${p}\"#d" \
    -e "/^\tcase \"${p}\"\(, \"[a-z0-9]*\"\)*:\$/,+1d" "${WORK}/lego/providers/dns/zz_gen_dns_providers.go"
done
for m in "${REFUSED_MODULES[@]}"; do
  go mod edit -droprequire="${m}"
  (cd "${WORK}/lego" && go mod edit -droprequire="${m}")
done
go mod edit -replace "${LEGO_MODULE}=${WORK}/lego"

go build -trimpath -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=${TRAEFIK_VERSION}" -o "${DEST}.tmp" ./cmd/traefik >&2
mv "${DEST}.tmp" "${DEST}"
log "built ${DEST}"
echo "${DEST}"
