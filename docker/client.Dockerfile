# The party's client image. Build from the repository root:
#   docker build -f docker/client.Dockerfile -t cleanroom-client .
# No key is in the image: `enroll` creates the party's key pair in the /profile volume, on its machine.
FROM python:3.11.14-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY cleanroom ./cleanroom
COPY clients ./clients
# The fast extra: Intel crypto_mb blinds our own hashed keys where the CPU has AVX-512 IFMA (OpenSSL otherwise).
RUN python -m venv /opt/cleanroom && /opt/cleanroom/bin/pip install --no-cache-dir '.[fast]'

FROM python:3.11.14-slim-bookworm
COPY --from=build /opt/cleanroom /opt/cleanroom
COPY docker/entrypoint.sh /usr/local/bin/cleanroom-entrypoint
RUN useradd --system --uid 10001 --user-group --home-dir /profile --shell /usr/sbin/nologin cleanroom \
    && mkdir -p /profile /exchange \
    && chown cleanroom:cleanroom /profile /exchange \
    && chmod 0700 /profile
ENV PATH=/opt/cleanroom/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CLEANROOM_PROFILE=/profile
USER 10001:10001
VOLUME ["/profile"]
# Enrolled, with a certificate still valid: what every command of the client needs first.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["cleanroom-entrypoint", "client-healthcheck"]
ENTRYPOINT ["cleanroom-entrypoint"]
CMD ["client", "--help"]
