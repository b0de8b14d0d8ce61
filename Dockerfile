# Vigil: one process running every role (`vigil start`). Node.js 24 runs the TypeScript
# sources directly (type stripping); only the web console is built (esbuild, first stage).
#   docker build -t vigil .        (or: docker compose up --build, see docker-compose.yml)

# The web console's files (console/dist), built with the dev dependencies that bundle it.
FROM node:24-slim AS console
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY console ./console
COPY schemas/json ./schemas/json
COPY schemas/api-resources.ts ./schemas/api-resources.ts
COPY scripts/build-console.ts ./scripts/build-console.ts
RUN node scripts/build-console.ts

FROM node:24-slim

ENV NODE_ENV=production \
    VIGIL_PORT=7700 \
    VIGIL_HOST=0.0.0.0 \
    VIGIL_DATA_DIR=/var/lib/vigil

WORKDIR /app

# Dependencies first, so that source changes reuse this layer.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY . .
COPY --from=console /app/console/dist ./console/dist
# The embedded store's template (initdb once at build time, copied on a first start).
RUN node platform/embedded/prepare-store-template.ts

# Embedded mode (no service URLs set) keeps its data in VIGIL_DATA_DIR.
RUN mkdir -p /var/lib/vigil && chown node:node /var/lib/vigil
VOLUME ["/var/lib/vigil"]

USER node
EXPOSE 7700

HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=6 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.VIGIL_PORT || 7700) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

CMD ["node", "cli/main.ts", "start"]
