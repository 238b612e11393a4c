#!/usr/bin/env bash
# Install helm into the git-ignored cache $REPO/.cache/bin, built from the
# Go module proxy with `go install`. Reused on later runs. Prints the path of the helm binary on stdout
# (last line); progress goes to stderr.
#
#   bash .ci/install-helm.sh          -> /path/to/repo/.cache/bin/helm
#
# No kubeconform: its schemas come from the internet; the chart tests validate the rendered objects with the
# schemas of the PyPI package kubernetes-validate instead (see charts/vigil/README.md).
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
# The Kubernetes minor version helm's k8s.io modules implement (v0.37 for helm v3.22.0): helm's own Makefile
# stamps it into the binary; a bare `go install` would leave the default 1.20 for .Capabilities and lint.
HELM_K8S_MINOR="${HELM_K8S_MINOR:-37}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${VIGIL_TOOLS_BIN:-$REPO/.cache/bin}"
mkdir -p "$BIN"

want="${HELM_VERSION#v}"
if [[ -x "$BIN/helm" ]] && "$BIN/helm" version --short 2>/dev/null | grep -q "^v${want}"; then
    echo "helm ${HELM_VERSION}: cached in $BIN" >&2
elif command -v helm >/dev/null 2>&1 && [[ "$(command -v helm)" != "$BIN/helm" ]] && helm version --short 2>/dev/null | grep -q "^v3\."; then
    # A helm 3 on PATH is good enough; link it into the cache so callers have one path.
    ln -sf "$(command -v helm)" "$BIN/helm"
    echo "helm: using $(command -v helm) from PATH" >&2
else
    command -v go >/dev/null 2>&1 || { echo "install-helm: go is needed to build helm" >&2; exit 1; }
    echo "helm ${HELM_VERSION}: building with go install (Go module proxy)..." >&2
    ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
    for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
        ldflags+=" -X ${pkg}.k8sVersionMajor=1 -X ${pkg}.k8sVersionMinor=${HELM_K8S_MINOR}"
    done
    GOBIN="$BIN" CGO_ENABLED=0 go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}" >&2
fi

"$BIN/helm" version --short >&2
echo "$BIN/helm"
