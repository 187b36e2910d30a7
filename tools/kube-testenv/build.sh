#!/usr/bin/env bash
# Build the real Kubernetes binaries the tests run, from the Go module proxy,
# into a per-version cache directory outside the repository.
#
#   ASSETS=$(tools/kube-testenv/build.sh)          # kube-apiserver, etcd, helm (test:cluster)
#   NODE=$(tools/kube-testenv/build.sh --node)     # kubelet, kube-controller-manager,
#                                                  # kube-scheduler, kube-proxy, coredns (test:e2e)
#   (stdout: only the directory path)
#
# - If KUBEBUILDER_ASSETS names a directory that holds the set's executables,
#   that directory is printed and nothing is built.
# - Otherwise the binaries live in
#     ${AICB_KUBE_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ai-circuit-breaker/kube-testenv}/<key>/
#   with <key> k8s-<v>-etcd-<v>-helm-<v> (default set) or
#   k8s-<v>-node-coredns-<v>-<hash of coredns/main.go and go.sum> (--node): the two sets are built and cached apart, so test:cluster never
#   waits for the node binaries.
#   A complete directory is reused as is; a missing one is built into a
#   temporary directory next to it and renamed into place, so an interrupted
#   build never leaves a half-filled cache.
#
# Versions come from the wrapper modules beside this script (go.mod + go.sum
# are the pin):
#   apiserver/  k8s.io/kubernetes (every command built from it) and
#               go.etcd.io/etcd/server/v3. The
#               k8s.io/kubernetes module replaces its 31 staging modules
#               with ./staging/src/...; those replaces do not apply to a
#               dependency, so this module replaces each of them with the
#               published v0.<minor>.<patch>. To move to another 1.34 patch:
#               rewrite every "=> k8s.io/<m> v0.34.N" line, then
#               `go get k8s.io/kubernetes@v1.34.N go.etcd.io/etcd/server/v3@<the
#               etcd version that release's go.mod requires> && go mod tidy`.
#   helm/       helm.sh/helm/v3 (a separate module so that the two dependency
#               graphs cannot move each other).
#   coredns/    github.com/coredns/coredns, as a main package that imports the
#               plugins the test cluster's Corefile uses (separate for the same
#               reason).
# Progress goes to stderr. Needs Go >= 1.24 and access to the Go module proxy
# (or a warm module cache).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
case "${1:-}" in
'') SET=control-plane BINARIES=(kube-apiserver etcd helm) ;;
--node) SET=node BINARIES=(kubelet kube-controller-manager kube-scheduler kube-proxy coredns) ;;
*)
	printf 'usage: %s [--node]\n' "$0" >&2
	exit 2
	;;
esac
MIN_GO_MINOR=24 # go1.24: the "go 1.24.0" line of k8s.io/kubernetes 1.34 and helm 3.19

log() { printf 'kube-testenv: %s\n' "$*" >&2; }

die() {
	log "ERROR: $*"
	cat >&2 <<'EOF'
kube-testenv: The cluster tests need kube-apiserver, etcd and helm (test:e2e also needs
kube-testenv: kubelet, kube-controller-manager, kube-scheduler, kube-proxy and coredns).
kube-testenv: Provide them either way:
kube-testenv:   1. set KUBEBUILDER_ASSETS to a directory that holds them, executable
kube-testenv:      (Kubernetes 1.34, etcd 3.6, helm 3, CoreDNS 1.12), or
kube-testenv:   2. install Go >= 1.24 with network access to the Go module proxy
kube-testenv:      (GOPROXY, default https://proxy.golang.org) and rerun this script.
EOF
	exit 1
}

has_all() { # dir -> 0 when every binary is there and executable
	local b
	for b in "${BINARIES[@]}"; do
		[[ -f "$1/$b" && -x "$1/$b" ]] || return 1
	done
}

# --- 1. Binaries supplied by the caller -------------------------------------
if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
	if has_all "$KUBEBUILDER_ASSETS"; then
		(cd "$KUBEBUILDER_ASSETS" && pwd -P)
		exit 0
	fi
	log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS does not hold executable ${BINARIES[*]}; building them instead"
fi

# --- 2. Pinned versions (read from go.mod, so a cache hit needs no Go) ------
modver() { # go.mod module -> version from its require lines
	awk -v m="$2" '
		$1 == "require" && $2 == m { print $3; exit }
		$1 == m && $2 ~ /^v/ { print $2; exit }' "$1"
}
K8S_VERSION=$(modver "$HERE/apiserver/go.mod" k8s.io/kubernetes)
ETCD_VERSION=$(modver "$HERE/apiserver/go.mod" go.etcd.io/etcd/server/v3)
HELM_VERSION=$(modver "$HERE/helm/go.mod" helm.sh/helm/v3)
COREDNS_VERSION=$(modver "$HERE/coredns/go.mod" github.com/coredns/coredns)
[[ $K8S_VERSION =~ ^v1\.([0-9]+)\.[0-9]+$ ]] || die "cannot read the k8s.io/kubernetes version from $HERE/apiserver/go.mod"
K8S_MINOR=${BASH_REMATCH[1]}
[[ -n $ETCD_VERSION && -n $HELM_VERSION && -n $COREDNS_VERSION ]] ||
	die "cannot read the etcd/helm/coredns versions from $HERE/{apiserver,helm,coredns}/go.mod"

CACHE_ROOT=${AICB_KUBE_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ai-circuit-breaker/kube-testenv}
if [[ $SET == node ]]; then
	# The plugin list is code in coredns/main.go, not a version: its hash is part of the key.
	PLUGINS=$(cat "$HERE/coredns/main.go" "$HERE/coredns/go.sum" | sha256sum | cut -c1-8)
	KEY="k8s-$K8S_VERSION-node-coredns-$COREDNS_VERSION-$PLUGINS"
else
	KEY="k8s-$K8S_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION"
fi
mkdir -p "$CACHE_ROOT"
CACHE_ROOT=$(cd "$CACHE_ROOT" && pwd -P)
DEST="$CACHE_ROOT/$KEY"

if has_all "$DEST"; then
	log "using cached $DEST"
	printf '%s\n' "$DEST"
	exit 0
fi

# --- 3. Go toolchain ----------------------------------------------------------
# GOTOOLCHAIN=local: use the Go that is installed, never fetch another one.
export GOTOOLCHAIN=local
command -v go >/dev/null 2>&1 || die "go is not on PATH"
GO_VERSION=$(cd / && go env GOVERSION 2>/dev/null) || die "'go env GOVERSION' failed"
[[ $GO_VERSION =~ ^go1\.([0-9]+) ]] || die "cannot parse the Go version '$GO_VERSION'"
((BASH_REMATCH[1] >= MIN_GO_MINOR)) || die "$GO_VERSION is too old; Go >= 1.$MIN_GO_MINOR is needed"

# One build at a time per cache (two parallel 2-core builds would only thrash).
if command -v flock >/dev/null 2>&1; then
	exec 9>"$CACHE_ROOT/.lock"
	flock 9
	if has_all "$DEST"; then # another process finished it while we waited
		log "using cached $DEST"
		printf '%s\n' "$DEST"
		exit 0
	fi
fi

# --- 4. Build -----------------------------------------------------------------
TMP=$(mktemp -d "$CACHE_ROOT/.tmp-$KEY.XXXXXX")
CHILD=
trap 'rm -rf "$TMP"' EXIT
# On INT/TERM stop the running go build and exit, so the EXIT trap cleans up.
trap '[[ -n $CHILD ]] && kill "$CHILD" 2>/dev/null; exit 130' INT
trap '[[ -n $CHILD ]] && kill "$CHILD" 2>/dev/null; exit 143' TERM

# Fit a 2-core machine: two compile jobs, two OS threads each.
export GOMAXPROCS=2 CGO_ENABLED=0
GOBUILD=(go build -p 2 -trimpath)

# Mirrors kube::version::ldflags and kube::golang::build_binaries in
# k8s.io/kubernetes hack/lib: -s -w, -trimpath, tags selinux,notest,grpcnotrace.
# No git checkout here, so gitCommit stays empty and buildDate at its default.
K8S_LDFLAGS="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	K8S_LDFLAGS+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$K8S_MINOR"
	K8S_LDFLAGS+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit="
done
# etcd's version.Version is a constant; only the git SHA is set by its build.
ETCD_LDFLAGS="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=go-module-$ETCD_VERSION"
# As helm's Makefile: version, and the default Kubernetes version that
# "helm template"/"helm lint" assume (otherwise v1.20), taken from client-go.
HELM_CLIENT_GO=$(modver "$HERE/helm/go.mod" k8s.io/client-go)
[[ $HELM_CLIENT_GO =~ ^v0\.([0-9]+)\. ]] || die "cannot read k8s.io/client-go from $HERE/helm/go.mod"
HELM_LDFLAGS="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
HELM_LDFLAGS+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
	HELM_LDFLAGS+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=${BASH_REMATCH[1]}"
done

build() { # moddir out ldflags tags pkg
	log "building $2 ($5) ..."
	local start=$SECONDS
	# In the background + wait, so that a signal is handled at once.
	(cd "$HERE/$1" && exec "${GOBUILD[@]}" -tags "$4" -ldflags "$3" -o "$TMP/$2" "$5") >&2 &
	CHILD=$!
	wait "$CHILD" || die "go build of $5 failed (see the messages above)"
	CHILD=
	log "built $2 in $((SECONDS - start))s"
}

# As CoreDNS's Makefile: the git commit is the only thing it stamps; its version is a constant.
COREDNS_LDFLAGS="-s -w -X github.com/coredns/coredns/coremain.GitCommit=go-module-$COREDNS_VERSION"

K8S_TAGS=selinux,notest,grpcnotrace
log "building $KEY with $GO_VERSION into $DEST (cold: several minutes, module downloads included)"
if [[ $SET == node ]]; then
	for cmd in kubelet kube-controller-manager kube-scheduler kube-proxy; do
		build apiserver "$cmd" "$K8S_LDFLAGS" "$K8S_TAGS" "k8s.io/kubernetes/cmd/$cmd"
	done
	build coredns coredns "$COREDNS_LDFLAGS" "" .
else
	build apiserver kube-apiserver "$K8S_LDFLAGS" "$K8S_TAGS" k8s.io/kubernetes/cmd/kube-apiserver
	build apiserver etcd "$ETCD_LDFLAGS" "" go.etcd.io/etcd/server/v3
	build helm helm "$HELM_LDFLAGS" "" helm.sh/helm/v3/cmd/helm
fi

# Smoke test before publishing: each binary runs and reports the pinned version.
check() { # binary expected-substring args...
	local out
	out=$("$TMP/$1" "${@:3}" 2>&1) || die "$1 ${*:3} failed: $out"
	[[ $out == *"$2"* ]] || die "$1 ${*:3} printed '$out', expected it to contain '$2'"
	log "$1: ${out//$'\n'/; }"
}
if [[ $SET == node ]]; then
	for cmd in kubelet kube-controller-manager kube-scheduler kube-proxy; do
		check "$cmd" "Kubernetes $K8S_VERSION" --version
	done
	check coredns "CoreDNS-${COREDNS_VERSION#v}" -version
else
	check kube-apiserver "Kubernetes $K8S_VERSION" --version
	check etcd "etcd Version: ${ETCD_VERSION#v}" --version
	check helm "$HELM_VERSION" version --short
fi

# Publish atomically. A leftover incomplete $DEST (e.g. a binary deleted by
# hand) is moved aside first; rename(2) of a directory is atomic.
if [[ -e $DEST ]]; then
	OLD=$(mktemp -d "$CACHE_ROOT/.old-$KEY.XXXXXX")
	mv "$DEST" "$OLD/" && rm -rf "$OLD"
fi
if ! mv -T "$TMP" "$DEST" 2>/dev/null; then
	has_all "$DEST" || die "could not move $TMP to $DEST"
fi

log "done: $DEST"
printf '%s\n' "$DEST"
