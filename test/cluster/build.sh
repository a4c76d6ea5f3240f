#!/usr/bin/env bash
# Builds the local cluster's binaries from the Go module proxy into a git-ignored cache:
#   etcd 3.6.x, kube-apiserver / kube-scheduler / kube-controller-manager 1.35.x, kwok 0.8.x.
# Versions are pinned by the go.mod/go.sum files beside this script. A stamp records the hash of those
# files, this script and the Go version; when it matches, the cached binaries are reused.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${RIGSHIFT_CLUSTER_BIN:-$root/.cache/cluster/bin}"
mkdir -p "$out"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
stamp_of() {
  (cat "$here/$1/go.mod" "$here/$1/go.sum" "$here/build.sh"; go version) | sha256sum | cut -c1-16
}
k8s_version=$(awk '$1 == "k8s.io/kubernetes" {print $2}' "$here/kubernetes/go.mod")
k8s_minor=$(echo "$k8s_version" | cut -d. -f2)
version_pkg=k8s.io/component-base/version
k8s_ldflags="-s -w -X $version_pkg.gitVersion=$k8s_version -X $version_pkg.gitMajor=1 -X $version_pkg.gitMinor=$k8s_minor -X $version_pkg.gitTreeState=clean -X $version_pkg.buildDate=1970-01-01T00:00:00Z"
kwok_version=$(awk '$1 == "sigs.k8s.io/kwok" {print $2}' "$here/kwok/go.mod")

build() { # module, binaries (as "output=package" pairs), ldflags
  local mod=$1 ldflags=$2; shift 2
  local want; want=$(stamp_of "$mod")
  if [ -f "$out/.stamp-$mod" ] && [ "$(cat "$out/.stamp-$mod")" = "$want" ]; then
    local ok=1
    for pair in "$@"; do [ -x "$out/${pair%%=*}" ] || ok=0; done
    if [ $ok = 1 ]; then echo "cluster-build: $mod up to date"; return; fi
  fi
  local start=$SECONDS
  for pair in "$@"; do
    echo "cluster-build: building ${pair%%=*} (${pair#*=})"
    (cd "$here/$mod" && go build -trimpath -ldflags "$ldflags" -o "$out/${pair%%=*}" "${pair#*=}")
  done
  echo "$want" > "$out/.stamp-$mod"
  echo "cluster-build: $mod built in $((SECONDS - start))s"
}

total=$SECONDS
build etcd "-s -w" etcd=go.etcd.io/etcd/server/v3
build kubernetes "$k8s_ldflags" \
  kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
  kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler \
  kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager
build kwok "-s -w" kwok=sigs.k8s.io/kwok/cmd/kwok
build pki "-s -w" rigshift-pki=.
echo "cluster-build: done in $((SECONDS - total))s; $(du -sh "$out" | cut -f1) in $out"
