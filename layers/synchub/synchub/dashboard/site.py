"""The dashboard's files and where each is served: ``index.html`` at the root, the rest under ``dashboard/``
(the paths index.html links to), plus ``dashboard/config.json`` written for the stack that serves it.
The local stack serves the same layout that the deployed bucket holds."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Literal

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
    content_type: str
    body: bytes


def _site(entries: Iterable[tuple[str, Callable[[], bytes]]]) -> dict[str, SiteFile]:
    files = {}
    for name, read in entries:
        content_type = CONTENT_TYPES.get(PurePosixPath(name).suffix.lower())
        if content_type is None or "/" in name:
            continue
        key = INDEX if name == INDEX else f"dashboard/{name}"
        files[key] = SiteFile(key, content_type, read())
    if INDEX not in files:
        raise FileNotFoundError(f"the dashboard has no {INDEX}")
    return files


def site_files(site_dir: Path) -> dict[str, SiteFile]:
    """Every file of the site in ``site_dir`` (its top level only, by suffix), keyed by where it is served."""
    return _site((path.name, path.read_bytes) for path in sorted(site_dir.iterdir()) if path.is_file())


def site_files_in_zip(archive: bytes) -> dict[str, SiteFile]:
    """The same from a zip of the site folder (the DashboardSite layer's content)."""
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        return _site((info.filename, partial(opened.read, info)) for info in opened.infolist() if not info.is_dir())


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
