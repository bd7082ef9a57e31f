#!/usr/bin/env bash
# Soak: every data-plane path holds a long SSE stream (default 30m) and a long gRPC stream
# (default 1h), each test in its own process with its own control plane, all at once, and
# prints what happened to each stream. Needs root (network namespaces), like the data-plane
# tests. Not in CI.
#   SOAK_SSE=30m SOAK_GRPC=1h hack/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
sse="${SOAK_SSE:-30m}"
grpc="${SOAK_GRPC:-1h}"
export TRAEFIK="${TRAEFIK:-$(hack/build-traefik.sh)}"
export KUBEBUILDER_ASSETS="${KUBEBUILDER_ASSETS:-$(hack/build-envtest-assets.sh)}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
go test -c -o "$out/dataplane.test" ./test/dataplane
tests=$("$out/dataplane.test" -test.list '^Test' | grep -v '^TestMain$')
echo "soak: SSE streams of $sse, gRPC streams of $grpc, on: $(echo $tests | tr '\n' ' ')"
pids=()
for t in $tests; do
  (cd test/dataplane && DATAPLANE_SSE="$sse" DATAPLANE_GRPC="$grpc" \
    "$out/dataplane.test" -test.run "^$t\$" -test.v -test.timeout 3h >"$out/$t.log" 2>&1; echo $? >"$out/$t.rc") &
  pids+=($!)
done
wait "${pids[@]}" || true
status=0
printf '\n%-28s %-6s %s\n' TEST RESULT "LONG STREAMS"
for t in $tests; do
  rc=$(cat "$out/$t.rc")
  result=PASS
  if [ "$rc" != 0 ]; then result=FAIL; status=1; fi
  printf '%-28s %-6s\n' "$t" "$result"
  grep -o 'long stream, .*' "$out/$t.log" | sed 's/^/    /' || true
  if [ "$rc" != 0 ]; then grep -E -- '--- FAIL|_test.go:[0-9]+:' "$out/$t.log" | head -20 | sed 's/^/    /'; fi
done
exit $status
