"""Configuration, read once from the environment with laptop-safe defaults."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("XUNCHA_INSTANCE_DIR", ROOT / "instance"))


def _secret_key() -> str:
    """A stable per-installation key: from the environment, else generated once into instance/."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


REQUEST_ALLOWANCE = 1024 * 1024


def _max_upload_bytes() -> int:
    return int(os.environ.get("XUNCHA_MAX_UPLOAD_BYTES", 20 * 1024 * 1024))


def from_environment() -> dict[str, object]:
    https = os.environ.get("XUNCHA_HTTPS", "0") == "1"
    return {
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'xuncha.db'}"),
        "SECRET_KEY": _secret_key(),
        "WORKFLOWS_DIR": Path(os.environ.get("XUNCHA_WORKFLOWS_DIR", ROOT / "workflows")),
        # Each uploaded file is checked against MAX_UPLOAD_BYTES by the engine, which names the file;
        # a whole request may carry the form around it too.
        "MAX_UPLOAD_BYTES": _max_upload_bytes(),
        "MAX_CONTENT_LENGTH": _max_upload_bytes() + REQUEST_ALLOWANCE,
        "ATTACHMENTS_DIR": Path(os.environ.get("XUNCHA_ATTACHMENTS_DIR", INSTANCE_DIR / "attachments")),
        "DEPLOY_SHIPPED_WORKFLOWS": os.environ.get("XUNCHA_DEPLOY_SHIPPED", "1") == "1",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Served over HTTPS (XUNCHA_HTTPS=1): HSTS, and the session cookie only travels encrypted.
        "HTTPS": https,
        "SESSION_COOKIE_SECURE": https,
        # A page session ends this long after logging in, or after this long without a request.
        "PERMANENT_SESSION_LIFETIME": int(os.environ.get("XUNCHA_SESSION_SECONDS", 8 * 3600)),
        "SESSION_IDLE_SECONDS": int(os.environ.get("XUNCHA_SESSION_IDLE_SECONDS", 30 * 60)),
        # Login lock-out (engine/login_guard.py): failures per name, per address, within the window.
        "LOGIN_ACCOUNT_FAILURES": int(os.environ.get("XUNCHA_LOGIN_ACCOUNT_FAILURES", 5)),
        "LOGIN_IP_FAILURES": int(os.environ.get("XUNCHA_LOGIN_IP_FAILURES", 20)),
        "LOGIN_WINDOW_SECONDS": int(os.environ.get("XUNCHA_LOGIN_WINDOW_SECONDS", 15 * 60)),
        "LOGIN_LOCK_SECONDS": int(os.environ.get("XUNCHA_LOGIN_LOCK_SECONDS", 15 * 60)),
        # Reverse proxies in front of gunicorn whose X-Forwarded-For to trust (the client's address
        # counts login failures per address; behind an untrusted proxy every client would share one).
        "TRUSTED_PROXIES": int(os.environ.get("XUNCHA_TRUSTED_PROXIES", 0)),
        "WTF_CSRF_TIME_LIMIT": None,
        # How long an Idempotency-Key's answer is kept for a retry (the scheduler prunes older ones).
        "IDEMPOTENCY_RETENTION_HOURS": float(os.environ.get("XUNCHA_IDEMPOTENCY_RETENTION_HOURS", 24)),
    }
