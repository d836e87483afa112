# The Xuncha image: web (gunicorn) and scheduler run from the same image with different commands.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 XUNCHA_INSTANCE_DIR=/var/lib/xuncha
WORKDIR /app
COPY setup.cfg pyproject.toml README.md alembic.ini ./
COPY engine engine
COPY models models
COPY web web
COPY migrations migrations
COPY workflows workflows
RUN pip install --no-cache-dir -e . && useradd --system --home /var/lib/xuncha xuncha \
    && mkdir -p /var/lib/xuncha && chown xuncha /var/lib/xuncha
USER xuncha
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "4", "web:create_app()"]
