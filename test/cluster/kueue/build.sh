#!/usr/bin/env bash
# Builds Kueue (the batch admission controller `rigshift bench-scale` compares against) from the Go module
# proxy into the local cluster's git-ignored cache, with the CRDs and webhook manifests of the same version.
# The version is pinned by go.mod/go.sum beside this script; a stamp of those files, this script and the Go
# version decides whether the cached binary is reused. Kept apart from ../build.sh: it is only the benchmark's.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
out="${RIGSHIFT_CLUSTER_BIN:-$root/.cache/cluster/bin}"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
version=$(awk '$1 == "sigs.k8s.io/kueue" {print $2}' "$here/go.mod")
manifests="$out/kueue-manifests"
want=$( (cat "$here/go.mod" "$here/go.sum" "$here/build.sh"; go version) | sha256sum | cut -c1-16)
if [ -f "$out/.stamp-kueue" ] && [ "$(cat "$out/.stamp-kueue")" = "$want" ] && [ -x "$out/kueue" ] \
  && [ -f "$manifests/webhooks.yaml" ]; then
  echo "kueue-build: kueue $version up to date"
  exit 0
fi
mkdir -p "$out"
start=$SECONDS
echo "kueue-build: building kueue $version (minutes on first build)"
cd "$here"
go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kueue/pkg/version.GitVersion=$version" -o "$out/kueue" \
  sigs.k8s.io/kueue/cmd/kueue
src=$(go list -m -f '{{.Dir}}' sigs.k8s.io/kueue)
rm -rf "$manifests" && mkdir -p "$manifests/crds"
cp "$src"/config/components/crd/bases/*.yaml "$manifests/crds/"
cp "$src/config/components/webhook/manifests.yaml" "$manifests/webhooks.yaml"
chmod -R u+w "$manifests"
echo "$version" > "$manifests/VERSION"
echo "$want" > "$out/.stamp-kueue"
echo "kueue-build: built in $((SECONDS - start))s"
