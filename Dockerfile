# syntax=docker/dockerfile:1
# 1. opa at the pinned version, and the policies compiled to a WASM bundle.
FROM golang:1.26-bookworm AS policy
RUN GOBIN=/usr/local/bin go install github.com/open-policy-agent/opa@v1.22.2
WORKDIR /src
COPY policies/ policies/
RUN opa test policies/ && \
    opa build -t wasm -e tenantgate/authz/decision --ignore '*_test.rego' -o /bundle.tar.gz policies/

# 2. TypeScript compiled, production dependencies only (better-sqlite3 builds here).
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src/ src/
RUN npx tsc -p tsconfig.json && npm prune --omit=dev

# 3. Slim runtime, non-root. The bundle is prebuilt, so the image needs no opa.
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    TENANTGATE_POLICIES__BUNDLE_FILE=/app/policy/bundle.tar.gz \
    TENANTGATE_SERVER__ADDRESS=0.0.0.0:9191 \
    TENANTGATE_STORE__PATH=/data/tenantgate.db
WORKDIR /app
COPY --from=build /app/node_modules node_modules/
COPY --from=build /app/dist dist/
COPY --from=policy /bundle.tar.gz policy/bundle.tar.gz
COPY package.json ./
COPY bin/ bin/
COPY proto/ proto/
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 9191
ENTRYPOINT ["node", "bin/tenantgate.js"]
CMD ["serve"]
