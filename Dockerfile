# syntax=docker/dockerfile:1
# akhbar: one image for `akhbar setup`, `akhbar connectors` and `akhbar worker` (see docker-compose.yml).
#
# The base is pinned to a Python patch release on a Debian release (python:3.11.14-slim-bookworm): builds are
# repeatable and an upgrade is a reviewed one-line change. To pin the exact bytes as well, pass the digest:
#   docker build --build-arg PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:<digest> .
# (`docker buildx imagetools inspect python:3.11.14-slim-bookworm` prints it.)
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# ---- build: a virtualenv with the dependencies, then the project itself --------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

# A compiler only for dependencies that would lack a wheel on this platform; it stays in this stage.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# Dependencies first (from pyproject.toml alone), so editing the code does not reinstall them.
WORKDIR /app
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt

# The project, installed in place (editable) so that files it finds next to its code, such as config/,
# resolve to /app/config: the directory compose mounts from the host.
COPY README.md ./
COPY pipeline ./pipeline
COPY connectors ./connectors
COPY processors ./processors
COPY config ./config
RUN pip install --no-deps -e . \
 && python -c "import pipeline.settings, connectors.config, processors.records"

# ---- runtime: the virtualenv and the code, no compiler, a non-root user ---------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="akhbar" \
      org.opencontainers.image.description="Streaming pipeline for Arabic news: connectors, Faust processors, setup" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    AKHBAR_DATA_DIR=/data \
    AKHBAR_FEEDS_CONFIG=/app/config/feeds.yaml

RUN groupadd --system --gid 10001 akhbar \
 && useradd --system --uid 10001 --gid akhbar --home-dir /app --no-create-home --shell /usr/sbin/nologin akhbar \
 && mkdir -p /data \
 && chown akhbar:akhbar /data

COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app

WORKDIR /app
# No VOLUME here: compose mounts named volumes on /data (a new named volume starts with this directory's
# owner, akhbar), and one-shot runs such as `setup` leave no anonymous volumes behind.
USER akhbar:akhbar

ENTRYPOINT ["akhbar"]
CMD ["--help"]
