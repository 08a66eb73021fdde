# The mcp-operator image: the controller (`mcp-operator controller`), the gateway sidecar
# (`mcp-operator gateway proxy ...`), and the self-contained gateway runtime that the stdio init container copies
# into a server's pod (`mcp-operator gateway install-runtime --to /opt/mcp-gateway`).
#
# Build without a Docker engine:  scripts/images.sh operator   (buildah; see README "Container image")
#
# NODE_IMAGE is pinned by version. scripts/images.sh constructs an image of that name locally (Debian bookworm
# minbase + the same Node 24 release + npm) when none can be pulled; pin by digest in a registry-backed build.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

FROM ${NODE_IMAGE} AS build
# patchelf: gives the gateway runtime a RUNPATH to the libraries shipped beside it (see below).
RUN apt-get update && apt-get install -y --no-install-recommends patchelf && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
# Dev dependencies too: rolldown and postject build the runtime. `npm ci`: exactly what package-lock.json records
# (test/unit/package-lock.test.ts keeps it in step with package.json). No install scripts: the only allowed one
# fetches the `node` devDependency, and this stage already runs the pinned Node.
# The optional `build-ca` secret is a CA bundle for networks that intercept TLS (scripts/images.sh passes the
# host's); it never lands in a layer.
RUN --mount=type=secret,id=build-ca \
    if [ -s /run/secrets/build-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/build-ca; fi; \
    npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
# One executable: Node with the bundled gateway embedded (single executable application), plus the C++ runtime
# libraries it links (RUNPATH $ORIGIN/lib, set by patchelf), so that it needs only glibc in a server's image.
RUN node src/cli/main.ts gateway build-runtime --out dist \
 && ./dist/mcp-gateway --help >/dev/null
# The controller as one JavaScript file: no type stripping at run time, only the modules it loads (about 90 MiB
# less RSS than running the sources; bench/RESULTS.md). bin/mcp-operator.js runs it for `controller`.
RUN node src/cli/controller-bundle.ts --out dist/controller.cjs
# Production dependencies only from here on (npm may consult the registry, hence the CA secret again).
RUN --mount=type=secret,id=build-ca \
    if [ -s /run/secrets/build-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/build-ca; fi; \
    npm prune --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund

FROM ${NODE_IMAGE}
ARG NODE_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="mcp-operator" \
      org.opencontainers.image.description="Kubernetes operator and gateway that run MCP servers as hardened, observable network services" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/mcp-operator/mcp-operator" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
ENV NODE_ENV=production
# The controller is a small, long-lived process: young-generation semi-spaces of 2 MiB (V8 grows them to 16 MiB
# under load) and two malloc arenas keep its memory near what it holds (bench/controller.ts runs with these).
ENV NODE_OPTIONS=--max-semi-space-size=2 \
    MALLOC_ARENA_MAX=2 \
    MCP_OPERATOR_CONTROLLER_BUNDLE=/app/dist/controller.cjs
WORKDIR /app
# Production dependencies only, and the sources Node runs directly (type stripping); all owned by root and
# read-only to the runtime user.
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/bin ./bin
COPY --from=build /src/src ./src
COPY --from=build /src/dist ./dist
RUN ln -s /app/bin/mcp-operator.js /usr/local/bin/mcp-operator \
 && mcp-operator version \
 && mcp-operator controller --help >/dev/null
# 65532: the conventional "nonroot" uid; numeric so `runAsNonRoot` can verify it without /etc/passwd.
USER 65532:65532
ENTRYPOINT ["mcp-operator"]
CMD ["controller"]
