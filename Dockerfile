# syntax=docker/dockerfile:1
# Job Center image: one image for every process; the service chooses the entry.
#   server (default): node dist/server/main.js   (board + API + /healthz + /metrics)
#   worker:           node dist/workers/main.js
#   producer:         node dist/producers/main.js
# Build: docker build -t job-center .     Run everything: docker compose up -d (see docker-compose.yml)

# The LTS line the image runs; .ci/run runs the whole suite on this line (see "Supported Node.js" in the README).
ARG NODE_VERSION=24

# --- build: all dependencies, TypeScript → dist/ -----------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workers ./workers
COPY producers ./producers
COPY contracts ./contracts
COPY server ./server
RUN npm run build

# --- runtime: production dependencies and compiled JavaScript only (no tsx, no TypeScript) ----
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    LOG_FORMAT=json \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The official image's unprivileged user; the app writes nothing to disk.
USER node
EXPOSE 3000
# Checks the server (the default command). Worker and producer containers serve no HTTP:
# docker-compose.yml turns this check off for them and relies on restart policies instead.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself, so workers finish their jobs on `docker stop`.
CMD ["node", "dist/server/main.js"]
