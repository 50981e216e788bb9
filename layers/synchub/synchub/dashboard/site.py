"""The dashboard's files and where each is served: ``index.html`` at the root, the rest under ``dashboard/``
(the paths index.html links to), plus ``dashboard/config.json`` written for the stack that serves it.
The local stack serves the same layout that the deployed bucket holds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
INDEX = "index.html"
CONFIG_KEY = "dashboard/config.json"


@dataclass(frozen=True)
class SiteFile:
    key: str
    path: Path
    content_type: str


def site_files(site_dir: Path) -> dict[str, SiteFile]:
    """Every file of the site in ``site_dir`` (its top level only, by suffix), keyed by where it is served."""
    files = {}
    for path in sorted(site_dir.iterdir()):
        content_type = CONTENT_TYPES.get(path.suffix.lower())
        if content_type is None or not path.is_file():
            continue
        key = INDEX if path.name == INDEX else f"dashboard/{path.name}"
        files[key] = SiteFile(key, path, content_type)
    if INDEX not in files:
        raise FileNotFoundError(f"no {INDEX} in {site_dir}")
    return files


class SignIn(BaseModel):
    """OAuth 2.0 authorization code flow with PKCE against the user pool's sign-in pages (public client)."""

    model_config = ConfigDict(extra="forbid")

    authorize_url: str = Field(pattern=r"^https?://")
    token_url: str = Field(pattern=r"^https?://")
    client_id: str = Field(min_length=1)
    scope: str = "synchub/read synchub/write"
    logout_url: str | None = Field(default=None, pattern=r"^https?://")


class DashboardConfig(BaseModel):
    """``dashboard/config.json``: where the dashboard finds the API and the live feed, and how callers sign in."""

    model_config = ConfigDict(extra="forbid")

    # "" means the API is on the dashboard's own origin (the local stack; CloudFront's /api/* behaviour).
    api_base: str = ""
    ws_url: str = ""
    auth: Literal["cognito", "iam", "none"] = "none"
    sign_in: SignIn | None = None
