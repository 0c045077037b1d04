# chatrelay: one image for the API and the worker (choose with the command).
# Debian-based Node 20: the Temporal worker's native module needs glibc, so not Alpine.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/build-bundle.ts scripts/build-dashboard.ts ./scripts/
COPY web ./web
# Compiles to dist/, prebuilds the workflow bundle (workers start without webpack) and builds the
# dashboard into dist/dashboard (the API serves it under /dashboard).
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The worker's build id (Worker Versioning, docs/upgrades.md), e.g.
#   docker build --build-arg BUILD_ID=$(git rev-parse HEAD) .
# Left empty, the worker takes the hash of its prebuilt workflow bundle. Last, so that a new id
# reuses every layer above.
ARG BUILD_ID=""
ENV BUILD_ID=${BUILD_ID}
USER node
EXPOSE 8080 9464
# The API by default; the worker runs the same image with: node dist/worker/main.js
CMD ["node", "dist/api/main.js"]
