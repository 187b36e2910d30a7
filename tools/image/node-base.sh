#!/usr/bin/env bash
# Assemble the Dockerfile's base image, node:<NODE_VERSION>-bookworm-slim, locally: there is no
# registry to pull it from here, and buildah uses an image that is already in its storage under
# the FROM name instead of pulling it. So the Dockerfile users build is the one the tests build.
#
#   tools/image/node-base.sh BUILDAH_ROOT BUILDAH_RUNROOT
#
# What the official image is, rebuilt from Debian packages and the npm registry:
# - Debian bookworm, `debootstrap --variant=minbase` (what bookworm-slim is: essential packages
#   and apt, no docs);
# - the Node.js binary of the npm `node` package (the project's pinned runtime, the official
#   linux-x64 build), at /usr/local/bin/node as in the official image;
# - npm from the npm registry under /usr/local/lib/node_modules/npm, with npm and npx in
#   /usr/local/bin (the Dockerfile's build stages run npm; its runtime stage deletes them);
# - the `node` user and group (1000), ENV NODE_VERSION, CMD ["node"].
# The official image also ships yarn and corepack; nothing here uses them.
#
# Skipped when the image is already in that storage. Progress on stderr; nothing on stdout.
# Needs root, debootstrap, buildah, the repository's node_modules (npm ci) and access to a
# Debian mirror (DEBIAN_MIRROR) and the npm registry.
set -euo pipefail

ROOT=${1:?usage: node-base.sh BUILDAH_ROOT BUILDAH_RUNROOT}
RUNROOT=${2:?usage: node-base.sh BUILDAH_ROOT BUILDAH_RUNROOT}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# npm of the Node.js 24 line; the build stages only run `npm ci` and `npm run build`.
NPM_VERSION=11.21.1

log() { printf 'node-base: %s\n' "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

NODE_VERSION=$(sed -n 's/^ARG NODE_VERSION=//p' "$REPO/Dockerfile")
[[ $NODE_VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "no ARG NODE_VERSION=X.Y.Z in $REPO/Dockerfile"
NAME="docker.io/library/node:$NODE_VERSION-bookworm-slim"
BUILDAH=(buildah --root "$ROOT" --runroot "$RUNROOT" --storage-driver overlay)

# The stored base is reused while this script is unchanged.
RECIPE=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)
FOUND_RECIPE=$("${BUILDAH[@]}" inspect --type image \
	--format '{{index .OCIv1.Config.Labels "io.aicircuit.base-recipe"}}' "$NAME" 2>/dev/null || true)
if [[ $FOUND_RECIPE == "$RECIPE" ]]; then
	log "$NAME is already in $ROOT"
	exit 0
fi

NODE_BIN="$REPO/node_modules/node/bin/node"
[[ -x $NODE_BIN ]] || die "$NODE_BIN is missing: run npm ci first (the node devDependency)"
FOUND=$("$NODE_BIN" --version)
[[ $FOUND == "v$NODE_VERSION" ]] ||
	die "the node devDependency is $FOUND but the Dockerfile wants v$NODE_VERSION; align them"
for tool in debootstrap buildah npm; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done

WORK=$(mktemp -d /var/tmp/aicb-node-base.XXXXXX)
CTR=
cleanup() {
	[[ -n $CTR ]] && "${BUILDAH[@]}" rm "$CTR" >/dev/null 2>&1
	rm -rf "$WORK"
}
trap cleanup EXIT

start=$SECONDS
log "debootstrap --variant=minbase bookworm from $MIRROR ..."
# Its log goes to a file; shown only when it fails.
if ! debootstrap --variant=minbase bookworm "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
	tail -n 30 "$WORK/debootstrap.log" >&2
	die "debootstrap failed"
fi
R="$WORK/rootfs"
# As the slim images: no package lists, caches or logs, no documentation but the copyright
# files, no man pages or translations; device nodes come from the runtime.
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/cache/apt/*.bin "$R"/var/cache/apt/archives/*.deb \
	"$R"/var/log/* "$R"/dev/* "$R"/debootstrap "$R"/usr/share/man/* "$R"/usr/share/info/* \
	"$R"/usr/share/locale/* "$R"/usr/share/lintian "$R"/usr/share/linda
find "$R/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
find "$R/usr/share/doc" -mindepth 1 -type d -empty -delete
log "debootstrap done in $((SECONDS - start))s"

install -m 0755 "$NODE_BIN" "$R/usr/local/bin/node"
ln -s node "$R/usr/local/bin/nodejs"
mkdir -p "$R/usr/local/lib/node_modules/npm"
(cd "$WORK" && npm pack --silent "npm@$NPM_VERSION" >/dev/null)
tar -xzf "$WORK/npm-$NPM_VERSION.tgz" -C "$R/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$R/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$R/usr/local/bin/npx"
echo 'node:x:1000:' >>"$R/etc/group"
echo 'node:x:1000:1000::/home/node:/bin/bash' >>"$R/etc/passwd"
mkdir -p "$R/home/node" && chown 1000:1000 "$R/home/node"
chroot "$R" /usr/local/bin/node --version >/dev/null || die "node does not run in the assembled root"

tar -C "$R" -cf "$WORK/rootfs.tar" .
CTR=$("${BUILDAH[@]}" from --pull=never scratch)
"${BUILDAH[@]}" add "$CTR" "$WORK/rootfs.tar" / >/dev/null
"${BUILDAH[@]}" config \
	--env "NODE_VERSION=$NODE_VERSION" \
	--env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	--cmd node \
	--label "org.opencontainers.image.description=node:$NODE_VERSION-bookworm-slim assembled locally by tools/image/node-base.sh" \
	--label "io.aicircuit.base-recipe=$RECIPE" \
	"$CTR"
"${BUILDAH[@]}" commit --quiet "$CTR" "$NAME" >/dev/null
log "$NAME assembled in $((SECONDS - start))s"
