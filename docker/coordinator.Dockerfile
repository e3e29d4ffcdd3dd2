# The coordinator image. Build from the repository root:
#   docker build -f docker/coordinator.Dockerfile -t cleanroom-coordinator .
# No key or certificate is in the image: `init` creates them in the /data volume on first start.
FROM python:3.11.14-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY cleanroom ./cleanroom
COPY clients ./clients
RUN python -m venv /opt/cleanroom && /opt/cleanroom/bin/pip install --no-cache-dir .

FROM python:3.11.14-slim-bookworm
COPY --from=build /opt/cleanroom /opt/cleanroom
COPY docker/entrypoint.sh /usr/local/bin/cleanroom-entrypoint
# A fixed non-root user, so volumes shared with the `invite` step keep one owner.
RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin cleanroom \
    && mkdir -p /data /exchange \
    && chown cleanroom:cleanroom /data /exchange \
    && chmod 0700 /data
ENV PATH=/opt/cleanroom/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CLEANROOM_DATA_DIR=/data \
    CLEANROOM_GRPC_LISTEN=0.0.0.0:50051 \
    CLEANROOM_HTTP_LISTEN=127.0.0.1:8080 \
    CLEANROOM_LOG_FORMAT=json
USER 10001:10001
VOLUME ["/data"]
EXPOSE 50051
# /readyz on the loopback HTTP port: the store is open and gRPC serves.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["cleanroom-entrypoint", "healthcheck"]
# SIGTERM: in-flight calls get [shutdown] grace_seconds, then the coordinator exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["cleanroom-entrypoint"]
CMD ["coordinator"]
