# syntax=docker/dockerfile:1
# The agent-runtime image for hosts with registry access (CI, releases). Without a registry,
# `npm run build:runtime-image` builds the same /app tree on a scratch image from local files.
# Build from the repository root:
#   docker build -f deploy/docker/agent-runtime.Dockerfile -t agentfleet/agent-runtime:<version> .

FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY apps ./apps
COPY libs ./libs
COPY tools ./tools
COPY .swcrc tsconfig.base.json ./
# --ignore-scripts: the npm "node" package would download a second Node binary; this stage has one.
# swc's native binding comes from an optional dependency and needs no install script.
RUN npm ci --ignore-scripts --no-audit --no-fund
RUN node node_modules/@swc/cli/bin/swc.js apps libs tools -d dist --quiet \
 && node dist/tools/runtime-image/build.js --app-dir /out/app

FROM node:24-slim
ENV NODE_ENV=production HOME=/tmp
# only what the agent-runtime loads (traced by the build tool): its compiled code, the libs it
# requires and their node_modules (zod); owned by root and read-only to the job's user
COPY --from=build /out/app /app
WORKDIR /app
# the image's own unprivileged user (uid 1000); runtimes still pass an explicit non-root --user
USER node
ENTRYPOINT ["node", "/app/dist/apps/agent-runtime/src/main.js"]
