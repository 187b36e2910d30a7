# syntax=docker/dockerfile:1
#
# One image for both parts of ai-circuit-breaker:
#   docker run IMAGE controller ...   (the control plane, deployed by the Helm chart)
#   docker run IMAGE sidecar ...      (the proxy; the injector adds it to opted-in pods)
#
#   docker build -t ai-circuit-breaker:0.1.0 .
#
# Runtime: Node.js 24 LTS on Debian bookworm-slim, the same major as the `node` devDependency
# that npm scripts and tests run on (test/cluster/install/dockerfile.test.ts checks both agree).
# Slim rather than distroless: the fixed entrypoint runs `node` from PATH (distroless keeps it
# in /nodejs/bin), the chart's preStop hook runs `sleep`, and a shell helps `kubectl exec` when
# debugging. The image holds only production dependencies, runs as UID 65532 and writes nothing
# outside mounted volumes, so it runs with a read-only root filesystem.

ARG NODE_VERSION=24.21.0

# ---- build: TypeScript -> dist/ (all dependencies; nothing of this stage ships but dist/)
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the `node` devDependency's preinstall would fetch a second Node.js; no
# build step needs an install script. Only the image's own node is on PATH.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- deps: production dependencies only (no `node` devDependency, no compiler, no test tools)
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# No production dependency has an install script. Type declarations and source maps are not
# needed at run time (about 40 MB of @kubernetes/client-node alone).
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete

# ---- runtime
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="ai-circuit-breaker" \
      org.opencontainers.image.description="Circuit breakers, fallback and fast failure for AI provider calls from Kubernetes workloads: sidecar proxy and controller." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/node:${NODE_VERSION}-bookworm-slim"
# npm, npx, corepack and yarn are build tools: not in the runtime's PATH, not in its scanners'
# findings.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx \
      /usr/local/bin/corepack /opt/yarn* /usr/local/bin/yarn /usr/local/bin/yarnpkg
# HOME and TMPDIR point at /tmp: the chart mounts an emptyDir there; nothing else is written.
ENV NODE_ENV=production \
    HOME=/tmp \
    TMPDIR=/tmp \
    NODE_OPTIONS=--max-semi-space-size=8
WORKDIR /app
# Owned by root and read-only for the runtime user.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# `aicb --version` reads it.
COPY package.json ./
USER 65532:65532
# 15400 sidecar proxy (loopback), 15401 sidecar admin, 15402 controller delivery (HTTPS),
# 15403 controller admin, 15404 controller webhook (HTTPS).
EXPOSE 15400 15401 15402 15403 15404
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["--help"]
