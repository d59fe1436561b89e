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
#     -e CONSENT_FINGERPRINT_KEY=… -e CONSENT_LINK_SIGNING_KEY=… \
#     consent-service
#
# One-off commands use the same image: `docker run … consent-service consent-service migrate`,
# `docker run … consent-service consent-service keys create --name N --scope S`.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------------
# Build stage: a virtualenv in /opt/venv with the dependencies, and the project installed from /app.
# Every dependency ships wheels for CPython 3.11 on linux amd64/arm64, so no compiler is needed.
# ---------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /app

# Dependencies first, read from pyproject.toml, so that a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt

# Then the project itself. It is installed *editable* on purpose: cli/database.py finds the Alembic config
# at Path(consent_service.__file__).parent.parent / "alembic.ini", and alembic.ini and alembic/ live at
# the repository top level, outside the package. A plain `pip install /app` would put the package in
# site-packages, where that path points at nothing. Editable, the package is imported from
# /app/consent_service, so the path is /app/alembic.ini, which this stage copies in.
# (README.md is copied because pyproject.toml names it as the package's readme.)
COPY README.md alembic.ini ./
COPY alembic ./alembic
COPY consent_service ./consent_service
RUN pip install --no-cache-dir --no-deps -e /app \
 && python -m compileall -q /app/consent_service /app/alembic \
 && python -c "import consent_service.cli as c; assert c.ALEMBIC_INI.is_file(), c.ALEMBIC_INI"

# ---------------------------------------------------------------------------------------------------
# Runtime stage: the same base image, the virtualenv and the source tree at the same paths, no pip
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
COPY --from=build /app /app

WORKDIR /app
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
