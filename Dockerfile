# syntax=docker/dockerfile:1
#
# consent-service image.
#
#   docker build -t consent-service .
#   docker run --rm -p 8000:8000 -v consent-data:/data consent-service          # embedded: SQLite in /data
#
# Production: give it PostgreSQL and the secrets (it refuses to start, naming what is missing):
#   docker run --rm -p 8000:8000 \
#     -e CONSENT_DATABASE_URL=postgresql://consent:…@db:5432/consent \
#     -e CONSENT_FINGERPRINT_KEY=… -e CONSENT_LINK_SIGNING_KEY=… -e CONSENT_ENCRYPTION_KEY=… \
#     consent-service
#
# One-off commands use the same image: `docker run … consent-service consent-service migrate`,
# `docker run … consent-service consent-service keys create --name N --scope S`.

# The base image, pinned by digest so that a rebuild gets the same Python and Debian until the pin
# is moved on purpose (for security updates, refresh it with each release). To refresh:
#   docker pull python:3.11-slim && docker image inspect --format '{{index .RepoDigests 0}}' python:3.11-slim
# (or `docker buildx imagetools inspect python:3.11-slim`, its first "Digest:") and paste it below.
# That is the digest of the multi-platform index, so amd64 and arm64 builds both resolve it.
ARG PYTHON_IMAGE=python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

# ---------------------------------------------------------------------------------------------------
# Build stage: a virtualenv in /opt/venv with the locked dependencies, then the project's own wheel.
# Every locked dependency ships wheels for CPython 3.11 on linux amd64/arm64, so no compiler is needed.
# ---------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src

# Dependencies first, exactly as locked (versions and hashes), so a code change does not reinstall them
# and a new upstream release cannot change the image. The lock includes the setuptools that builds
# the wheel below.
COPY requirements/runtime.lock requirements/
RUN pip install --require-hashes -r requirements/runtime.lock

# Then the project, as a plain wheel: the migrations travel inside it (setup.py maps the top-level
# alembic/ folder to consent_service/_migrations), so nothing is needed from the source tree at run
# time. The last line proves it from outside /src: `migrate` would find its scripts in site-packages.
COPY pyproject.toml setup.py README.md LICENSE ./
COPY alembic ./alembic
COPY consent_service ./consent_service
RUN pip wheel --no-deps --no-build-isolation -w /tmp/dist . \
 && pip install --no-deps /tmp/dist/consent_service-*.whl \
 && cd / \
 && python -c "import consent_service.cli.database as d; m = d.migrations(); assert 'site-packages' in str(m) and (m / 'env.py').is_file(), m"

# ---------------------------------------------------------------------------------------------------
# Runtime stage: the same base image and the virtualenv at the same path, no source tree, no pip
# cache, no build files, and an unprivileged user.
# ---------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="consent-service" \
      org.opencontainers.image.description="Consent and communications-preference service with a suppression list"

# Embedded mode (no CONSENT_DATABASE_URL) keeps its SQLite file and generated secrets in /data.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CONSENT_DATA_DIR=/data

RUN groupadd --system --gid 10001 consent \
 && useradd --system --uid 10001 --gid consent --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin consent \
 && mkdir -p /data \
 && chown consent:consent /data \
 && chmod 0700 /data

# Owned by root and read-only to the service user: the code cannot be changed by the process running it.
COPY --from=build /opt/venv /opt/venv

WORKDIR /data
USER consent:consent
VOLUME ["/data"]
EXPOSE 8000

# Liveness only (the process answers). Slim images have no curl, so Python's urllib does the request.
# Readiness (database reachable) is /health/ready; point the load balancer at that one.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=4).status == 200 else 1)"]

# `serve` brings the schema up to date itself (it runs the same code as `consent-service migrate`)
# before it starts, and on an empty database prints a first admin API key once, to the container log.
# So `serve` alone is enough here. With several replicas on one PostgreSQL, run
# `consent-service migrate` once as a release step before rolling them out, so they do not race each
# other to migrate, and make the first key with `consent-service keys create` so none is logged.
# Add `--workers N` to run several worker processes in one container.
CMD ["consent-service", "serve", "--host", "0.0.0.0", "--port", "8000"]
