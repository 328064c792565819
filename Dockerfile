# One image for both services of docker-compose.yml: `python -m bkapps` (Bokeh server) and
# `gunicorn --config gunicorn.conf.py` (Flask site).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 aperture
WORKDIR /app

COPY . .
# Editable install: the site's templates/ and static/ live beside the packages, not inside them.
RUN pip install -e . \
    # The instance folder holds generated development secrets; a named volume shares it between
    # the two containers so that both sign with the same key.
    && mkdir -p /app/instance \
    && chown aperture:aperture /app/instance

USER aperture
EXPOSE 8000 5006
CMD ["gunicorn", "--config", "gunicorn.conf.py"]
