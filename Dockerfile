# The Xuncha image: web (gunicorn) and scheduler run from the same image with different commands.
# Stage 1 bundles the browser code (bpmn-js, ECharts) from the npm registry; nothing is fetched at run time.
FROM node:20-slim AS assets
WORKDIR /src/web/frontend
COPY web/frontend/package.json web/frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/frontend/build.mjs ./
COPY web/frontend/src ./src
RUN node build.mjs

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    XUNCHA_INSTANCE_DIR=/var/lib/xuncha \
    XUNCHA_LOG_FORMAT=json \
    PROMETHEUS_MULTIPROC_DIR=/tmp/xuncha-metrics
# Chinese TrueType fonts for the PDF reports (宋体-like AR PL UMing, 黑体-like WenQuanYi Zen Hei).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fonts-arphic-uming fonts-wqy-zenhei \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY setup.cfg pyproject.toml README.md alembic.ini ./
COPY engine engine
COPY models models
COPY web web
COPY migrations migrations
COPY workflows workflows
COPY --from=assets /src/web/static/build web/static/build
RUN pip install --no-cache-dir -e . && useradd --system --home /var/lib/xuncha xuncha \
    && mkdir -p /var/lib/xuncha && chown xuncha /var/lib/xuncha
USER xuncha
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
# Prometheus' per-worker files start empty on every start of the web container.
CMD ["sh", "-c", "rm -rf \"$PROMETHEUS_MULTIPROC_DIR\" && mkdir -p \"$PROMETHEUS_MULTIPROC_DIR\" && exec gunicorn -c python:web.gunicorn_conf web.wsgi:app"]
