# crmstatus: a slim image that runs as a non-root user and reports health through `crmstatus health`.
# Build: docker build -t crmstatus .     Run: see deploy/compose.yaml and deploy/README.md.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY crmstatus crmstatus
COPY engine engine
COPY server server
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /srv/crmstatus crmstatus
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY configs /srv/crmstatus/configs
WORKDIR /srv/crmstatus
USER crmstatus
ENV CRMSTATUS_LISTEN=0.0.0.0:50051 \
    CRMSTATUS_CONFIG_DIR=/srv/crmstatus/configs \
    CRMSTATUS_METRICS_LISTEN=0.0.0.0:9464 \
    CRMSTATUS_LOG_FORMAT=json
EXPOSE 50051 9464
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["crmstatus", "health", "127.0.0.1:50051"]
# SIGTERM lets in-flight calls finish (CRMSTATUS_SHUTDOWN_GRACE) before the process exits.
STOPSIGNAL SIGTERM
CMD ["crmstatus", "serve"]
