#!/usr/bin/env bash
# Build an image from a Dockerfile with buildah (no Docker daemon) and write it as a
# docker-archive that `ctr images import` loads into containerd.
#
#   tools/image/build.sh CONTEXT DOCKERFILE NAME ARCHIVE
#   e.g. tools/image/build.sh . Dockerfile docker.io/library/ai-circuit-breaker:e2e /tmp/aicb.tar
#
# The FROM image node:<v>-bookworm-slim is assembled locally first (node-base.sh) and is never
# pulled (--pull=never). Buildah's storage, its layer cache and the Dockerfile's npm cache mount
# live in ${AICB_IMAGE_CACHE:-~/.cache/ai-circuit-breaker/buildah}, so a rebuild of unchanged
# stages is quick and nothing is written to the host's own container storage (the layer cache
# grows with each changed build; delete that directory to reclaim it).
#
# Prints one line on stdout: `<archive bytes> <image size as buildah lists it>` (the archive holds
# the uncompressed layers). Progress on stderr.
set -euo pipefail

CONTEXT=${1:?usage: build.sh CONTEXT DOCKERFILE NAME ARCHIVE}
DOCKERFILE=${2:?usage: build.sh CONTEXT DOCKERFILE NAME ARCHIVE}
NAME=${3:?usage: build.sh CONTEXT DOCKERFILE NAME ARCHIVE}
ARCHIVE=${4:?usage: build.sh CONTEXT DOCKERFILE NAME ARCHIVE}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${AICB_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ai-circuit-breaker/buildah}

log() { printf 'image: %s\n' "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}
[[ $(id -u) == 0 ]] || die "buildah runs as root here (no user namespaces are set up)"
command -v buildah >/dev/null || die "buildah is not installed (apt-get install buildah)"

mkdir -p "$CACHE/root" "$CACHE/runroot" "$CACHE/tmp"
# buildah keeps RUN --mount=type=cache directories under $TMPDIR (default /var/tmp).
export TMPDIR="$CACHE/tmp"
# One build at a time per storage.
exec 9>"$CACHE/.lock"
flock 9

bash "$HERE/node-base.sh" "$CACHE/root" "$CACHE/runroot"
BUILDAH=(buildah --root "$CACHE/root" --runroot "$CACHE/runroot" --storage-driver overlay)

WORK=$(mktemp -d "$CACHE/tmp/build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
VOLUMES=()
# Where npm reaches its registry through a TLS-inspecting proxy (npm's `cafile` is set), the
# build's npm needs that CA too: given at build time through npm's global config directory
# (/usr/local/etc), which leaves nothing in the image.
CAFILE=$(npm config get cafile 2>/dev/null || true)
if [[ -n $CAFILE && $CAFILE != null && -f $CAFILE ]]; then
	mkdir "$WORK/etc"
	cp "$CAFILE" "$WORK/etc/ca.pem"
	echo 'cafile=/usr/local/etc/ca.pem' >"$WORK/etc/npmrc"
	VOLUMES+=(--volume "$WORK/etc:/usr/local/etc:ro")
fi

start=$SECONDS
log "buildah build -f $DOCKERFILE -t $NAME $CONTEXT ..."
"${BUILDAH[@]}" build --quiet --pull=never --layers --network host "${VOLUMES[@]}" \
	--file "$DOCKERFILE" --tag "$NAME" "$CONTEXT" >&2
log "built $NAME in $((SECONDS - start))s"
rm -f "$ARCHIVE"
"${BUILDAH[@]}" push --quiet "$NAME" "docker-archive:$ARCHIVE:$NAME" >&2
printf '%s %s\n' "$(stat -c %s "$ARCHIVE")" "$("${BUILDAH[@]}" images --format '{{.Size}}' "$NAME")"
