# syntax=docker/dockerfile:1
# The worker image. Build from the repository root:
#   docker build -f deploy/docker/worker.Dockerfile -t agentfleet/worker:<version> .
# The Helm chart (helm/agentfleet) runs it with a read-only root filesystem as uid 1000.

FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json .swcrc tsconfig.base.json ./
COPY apps ./apps
COPY libs ./libs
# --ignore-scripts: the npm "node" package would download a second Node binary; this stage has one.
# swc's native binding comes from an optional dependency and needs no install script.
RUN npm ci --ignore-scripts --no-audit --no-fund
# swc rewrites the @agentfleet/* imports to relative paths, so the workspace links are not needed at run time
RUN node node_modules/@swc/cli/bin/swc.js apps libs -d dist --quiet \
      --ignore '**/*.spec.ts,**/*.int-spec.ts,libs/testing/**' \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/@agentfleet

FROM node:24-slim
ENV NODE_ENV=production HOME=/tmp
WORKDIR /app
# owned by root and read-only to the process' user
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/libs ./dist/libs
COPY --from=build /src/dist/apps/worker ./dist/apps/worker
# AGENTFLEET_WORKER_HEALTH_PORT=0 turns the health server (and so this HEALTHCHECK) off
# the image's own unprivileged user (uid 1000)
USER node
# no public HTTP: /healthz, /readyz and /metrics on the health port
EXPOSE 9465
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.AGENTFLEET_WORKER_HEALTH_PORT||9465)+'/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "/app/dist/apps/worker/src/main.js"]
