# One image for the Bokeh replicas and the site of docker-compose.yml: `python -m bkapps` (Bokeh
# server) and `gunicorn --config gunicorn.conf.py` (Flask site).
# BASE_IMAGE: any Debian-like image with python3 (>= 3.11) and its venv module; the default is
# Docker Hub's. Where no registry can be reached, deploy/base-image/build makes one locally.
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH

RUN useradd --create-home --uid 10001 aperture
WORKDIR /app

# Dependencies first, in their own layer: a change to the code alone does not reinstall them.
# Editable install: the site's templates/ and static/ live beside the packages, not inside them.
COPY setup.cfg pyproject.toml README.md ./
RUN for package in web aperture bkruntime bkapps showcase; do mkdir -p $package && touch $package/__init__.py; done \
    && python3 -m venv /opt/venv \
    && pip install -e .
COPY . .
# The instance folder holds generated development secrets; a named volume shares it between
# the containers so that all sign with the same key.
RUN mkdir -p /app/instance && chown aperture:aperture /app/instance

USER aperture
EXPOSE 8000 5006
CMD ["gunicorn", "--config", "gunicorn.conf.py"]
