# syntax=docker/dockerfile:1
# The rigshift operator image: `docker build -t rigshift .` then the chart runs `rigshift run --leader-elect ...`.
# Three stages: compile TypeScript with the dev dependencies, install the production dependencies alone, and a
# runtime with only those, the compiled dist/, the launcher and the CRDs, as a non-root user.
ARG NODE_IMAGE=node:20.20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are here; the build runs below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="rigshift" \
      org.opencontainers.image.description="Moves GPU nodes between crypto mining and rented AI training, whichever pays more" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/rigshift/rigshift"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY crds ./crds
# The same numeric user as the chart's runAsUser, so runAsNonRoot can verify it; files stay root-owned and
# read-only to it (the chart also mounts the root filesystem read-only).
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["node", "/app/bin/rigshift.js"]
CMD ["run"]
