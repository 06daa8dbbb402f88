# syntax=docker/dockerfile:1
# 1. opa at the pinned version; the policies' own tests; OPA's builtins module for WASI (docs/policies.md).
FROM golang:1.26-bookworm AS policy
RUN GOBIN=/usr/local/bin go install github.com/open-policy-agent/opa@v1.22.2
WORKDIR /src
COPY policies/ policies/
RUN opa test policies/
COPY tools/opa-builtins/ tools/opa-builtins/
RUN cd tools/opa-builtins && GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags='-s -w' -o /out/opa-builtins.wasm .

# 2. TypeScript compiled; the policies built into a WASM bundle by tenantgate (with its input projection);
#    then production dependencies only (better-sqlite3 builds here).
FROM node:20-bookworm AS build
WORKDIR /app
COPY --from=policy /usr/local/bin/opa /usr/local/bin/opa
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src/ src/
COPY bin/ bin/
COPY proto/ proto/
COPY policies/ policies/
RUN npx tsc -p tsconfig.json && \
    node bin/tenantgate.js policy build -o /app/policy/bundle.tar.gz && \
    npm prune --omit=dev

# 3. Slim runtime, non-root. The bundle is prebuilt, so the image needs no opa (plain Rego bundles, which tenantgate
#    compiles when it loads them, need an image with opa). tzdata: the zones' abbreviations for time.format.
FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends tzdata && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    TENANTGATE_POLICIES__BUNDLE_FILE=/app/policy/bundle.tar.gz \
    TENANTGATE_SERVER__ADDRESS=0.0.0.0:9191 \
    TENANTGATE_STORE__PATH=/data/tenantgate.db \
    TENANTGATE_OPA_BUILTINS_WASM=/app/lib/opa-builtins.wasm
WORKDIR /app
COPY --from=build /app/node_modules node_modules/
COPY --from=build /app/dist dist/
COPY --from=build /app/policy/bundle.tar.gz policy/bundle.tar.gz
COPY --from=policy /out/opa-builtins.wasm lib/opa-builtins.wasm
COPY package.json ./
COPY bin/ bin/
COPY proto/ proto/
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 9191
# Run directly: its #! line starts node with the server's V8 flags (bin/tenantgate.js says why).
ENTRYPOINT ["bin/tenantgate.js"]
CMD ["serve"]
