# The Londiste job image (issue #13): the replay worker (`londiste worker`, the ECS service) and
# the copy jobs (`londiste copy <table>`, one ECS task per table) of a LondisteNode
# (infra/constructs/londiste-node.ts). Configured from the environment and the node's database
# secret, no .ini file; logs JSON (LOG_FORMAT=json). Multi-arch base: build it for linux/arm64,
# which the construct's tasks run on:
#   docker build --platform linux/arm64 -t skytools-londiste .
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# Production dependencies only; no install scripts are needed by them (esbuild and embedded
# PostgreSQL, the ones that have scripts, are dev dependencies).
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

FROM node:24-slim
# TLS to RDS is verify-full by default: RDS's CA bundle (all regions), as Lambda's runtime ships it.
ADD --chmod=644 https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem /etc/ssl/certs/rds-global-bundle.pem
ENV NODE_ENV=production LOG_FORMAT=json NODE_EXTRA_CA_CERTS=/etc/ssl/certs/rds-global-bundle.pem
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
# Node 24 runs the TypeScript sources directly (type stripping): no build step.
COPY package.json ./
COPY bin ./bin
COPY cli ./cli
COPY layers ./layers
COPY sql ./sql
# The base image's unprivileged user (uid 1000); the task definitions run as 1000 too.
USER node
ENTRYPOINT ["node", "bin/skytools.js"]
CMD ["londiste", "worker"]
