#!/usr/bin/env bash
# Lets a Helm release take over the operator's CRDs that were installed without Helm (make
# install, kubectl apply, an earlier release installed with another name): Helm refuses to
# install over objects that lack its ownership label and annotations ("invalid ownership
# metadata"). Tenants and exposures are not touched.
#   hack/helm-adopt-crds.sh <release> <namespace>
set -euo pipefail
release="${1:?usage: $0 <release> <namespace>}"
namespace="${2:?usage: $0 <release> <namespace>}"
crds=$(kubectl get crd -o name | grep '\.exposure\.inference\.dev$' || true)
if [ -z "$crds" ]; then
  echo "no exposure.inference.dev CRDs in this cluster: nothing to adopt"
  exit 0
fi
# shellcheck disable=SC2086
kubectl label --overwrite $crds app.kubernetes.io/managed-by=Helm
# shellcheck disable=SC2086
kubectl annotate --overwrite $crds meta.helm.sh/release-name="$release" meta.helm.sh/release-namespace="$namespace"
echo "the CRDs now belong to release $release in $namespace: helm install $release ... --namespace $namespace"
