"""The deployment files a team would run as is (no Docker engine here, so they are read and checked):
compose wires postgres → migrate → web and scheduler, the image builds the browser bundles and carries
the Chinese fonts, and what they name exists in the repository."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_compose_runs_postgres_a_one_shot_migration_the_web_and_the_scheduler():
    services = COMPOSE["services"]
    assert set(services) == {"postgres", "migrate", "web", "scheduler"}
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "scheduler"):
        assert services[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
        assert services[name]["restart"] == "unless-stopped"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "gunicorn -c python:web.gunicorn_conf web.wsgi:app" in " ".join(services["web"]["command"])
    assert services["scheduler"]["command"] == ["xuncha", "scheduler"]


def test_the_application_connects_as_its_own_role_and_only_the_migration_as_the_owner():
    services = COMPOSE["services"]
    owner = services["postgres"]["environment"]["POSTGRES_USER"]
    assert owner in services["migrate"]["environment"]["DATABASE_URL"]
    assert "--grant-to" in services["migrate"]["command"]
    app_role = services["migrate"]["command"][services["migrate"]["command"].index("--grant-to") + 1]
    for name in ("web", "scheduler"):
        url = services[name]["environment"]["DATABASE_URL"]
        assert url.startswith(f"postgresql://{app_role}:") and owner not in url
        assert services[name]["environment"]["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert services["web"]["ports"] == ["127.0.0.1:8000:8000"]  # behind a reverse proxy, never bare


def test_the_image_bundles_the_front_end_and_installs_the_fonts_the_reports_need():
    assert re.search(r"^FROM node:\S+ AS assets$", DOCKERFILE, re.M)
    assert "npm ci" in DOCKERFILE and "node build.mjs" in DOCKERFILE
    assert "COPY --from=assets /src/web/static/build web/static/build" in DOCKERFILE
    assert "fonts-arphic-uming" in DOCKERFILE and "fonts-wqy-zenhei" in DOCKERFILE
    assert "USER xuncha" in DOCKERFILE and "HEALTHCHECK" in DOCKERFILE
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE, re.M):
        for path in source.split():
            assert (ROOT / path).exists(), path


def test_the_entry_points_the_files_name_exist():
    conf = importlib.import_module("web.gunicorn_conf")
    assert conf.preload_app is True and callable(conf.child_exit)
    assert (ROOT / "web" / "wsgi.py").is_file()
    assert (ROOT / "web" / "frontend" / "package-lock.json").is_file()
