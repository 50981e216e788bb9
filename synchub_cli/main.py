"""The ``synchub`` command: tasks, data sources and interfaces of a SyncHub API, for people and scripts.

Tables for people, --json for scripts. Exit codes a script can trust:

\b
  0  done                           5  not authenticated / not allowed (401, 403)
  1  anything else                  6  invalid request (400, 413, 415, 422)
  2  usage                          7  API unreachable or failing (5xx)
  3  not found (404)                8  the watched task failed
  4  wrong state, conflict (409)    9  the watched task was cancelled
"""

from __future__ import annotations

import functools
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer
from rich.console import Console, Group
from rich.table import Table

from synchub_cli.client import ApiError, SyncHubClient, Unreachable

app = typer.Typer(help=__doc__, no_args_is_help=True, rich_markup_mode=None, pretty_exceptions_enable=False)
tasks_app = typer.Typer(help="Sync tasks: create, follow, cancel, retry, summarise.", no_args_is_help=True)
sources_app = typer.Typer(help="Data sources the tasks read from.", no_args_is_help=True)
schedules_app = typer.Typer(
    help="Schedules: tasks created by themselves (EventBridge Scheduler expressions).", no_args_is_help=True
)
interfaces_app = typer.Typer(help="Interfaces (streams) of a data source.", no_args_is_help=True)
tables_app = typer.Typer(help="Lake tables: the Iceberg tables syncs land in.", no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")
app.add_typer(sources_app, name="sources")
app.add_typer(schedules_app, name="schedules")
app.add_typer(interfaces_app, name="interfaces")
app.add_typer(tables_app, name="tables")

# Piped output is not squeezed into 80 columns (a terminal's own width is used when there is one).
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)
STATUS_EXIT = {404: 3, 409: 4, 401: 5, 403: 5, 400: 6, 413: 6, 415: 6, 422: 6}
FINAL_EXIT = {"success": 0, "failed": 8, "cancelled": 9}
STATUS_STYLE = {"pending": "yellow", "running": "cyan", "success": "green", "failed": "red", "cancelled": "magenta"}


@dataclass
class Settings:
    client: SyncHubClient
    json: bool
    ws_url: str | None


def _settings(ctx: typer.Context) -> Settings:
    return ctx.find_root().obj


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (one document; `watch`: one line per update).")]


@app.callback()
def options(
    ctx: typer.Context,
    url: Annotated[
        Optional[str],
        typer.Option(
            envvar="SYNCHUB_URL",
            help="API base URL (default: make run's, http://127.0.0.1:8080; deployed: the stack's ApiUrl).",
        ),
    ] = None,
    token: Annotated[Optional[str], typer.Option(envvar="SYNCHUB_TOKEN", help="Access token (Bearer).")] = None,
    ws_url: Annotated[
        Optional[str],
        typer.Option(
            "--ws-url",
            envvar="SYNCHUB_WS_URL",
            help="Live-status WebSocket (the stack's WebSocketUrl; locally the API port + 1).",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    ctx.obj = Settings(SyncHubClient.from_env(url, token), json_output, ws_url)


def command(target: typer.Typer, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a command whose API errors become a message on stderr (or the problem as JSON) and an exit code."""

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            ctx = next((a for a in [*args, *kwargs.values()] if isinstance(a, typer.Context)), None)
            as_json = bool(kwargs.get("json_output")) or bool(ctx and _settings(ctx).json)
            try:
                return function(*args, **kwargs)
            except ApiError as error:
                _problem(error.problem, as_json)
                raise typer.Exit(STATUS_EXIT.get(error.status, 7 if error.status >= 500 else 1)) from None
            except Unreachable as error:
                _problem(
                    {"status": None, "code": "UNREACHABLE", "title": "API unreachable", "detail": str(error)}, as_json
                )
                raise typer.Exit(7) from None

        return target.command(name)(run)

    return register


def _problem(problem: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(problem, indent=2))
        return
    err.print(
        f"[red]error[/red] {problem.get('code') or problem.get('title')} "
        f"({problem.get('status') or 'no answer'}): {problem.get('detail', '')}",
        highlight=False,
    )
    for field_error in problem.get("errors") or []:
        where = ".".join(str(part) for part in field_error.get("loc", []))
        err.print(f"  {where}: {field_error.get('msg')}", highlight=False)


def _json(ctx: typer.Context, json_output: bool) -> bool:
    return json_output or _settings(ctx).json


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _object(text: Optional[str], what: str) -> Any:
    """A JSON value from the command line: inline JSON, or @file."""
    if text is None:
        return None
    raw = Path(text[1:]).read_text() if text.startswith("@") else text
    try:
        return json.loads(raw)
    except ValueError as error:
        raise typer.BadParameter(f"{what} is not JSON: {error}") from None


# Fields answers carry that a replacement does not take: `get --json`, edit, `update` just works.
READ_ONLY_FIELDS = frozenset(
    {"id", "data_source_id", "created_at", "updated_at", "created_by", "has_secrets", "notify_secret_set"}
)


def _replacement(text: str) -> Any:
    body = _object(text, "the definition")
    return {k: v for k, v in body.items() if k not in READ_ONLY_FIELDS} if isinstance(body, dict) else body


def _status(status: str | None) -> str:
    style = STATUS_STYLE.get(status or "", "white")
    return f"[{style}]{status}[/{style}]"


def _rows(task: dict[str, Any]) -> str:
    total = task.get("total_rows")
    return f"{task.get('processed_rows') or 0:,}" + (f" / {total:,}" if total else "")


def _task_table(tasks: list[dict[str, Any]], title: str | None = None) -> Table:
    table = Table(title=title, show_lines=False)
    for name in ("id", "data source", "type", "status", "progress", "rows", "created"):
        table.add_column(name, no_wrap=name in ("id", "created"))
    for task in tasks:
        table.add_row(
            task["id"],
            task["data_source_id"],
            task["task_type"],
            _status(task["status"]),
            f"{task.get('progress') or 0:.0f}%",
            _rows(task),
            (task.get("created_at") or "")[:19],
        )
    return table


def _details(record: dict[str, Any]) -> Table:
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for key, value in record.items():
        if value is None:
            continue
        shown = (
            _status(value)
            if key == "status"
            else (json.dumps(value) if isinstance(value, (dict, list)) else str(value))
        )
        table.add_row(key, shown)
    return table


def _delete(ctx: typer.Context, json_output: bool, path: str, name: str) -> None:
    _settings(ctx).client.request("DELETE", path)
    if _json(ctx, json_output):
        _print_json({"deleted": name})
    else:
        out.print(f"{name}: deleted")


def _show(ctx: typer.Context, json_output: bool, data: Any, render: Callable[[Any], Any]) -> None:
    if _json(ctx, json_output):
        _print_json(data)
    else:
        out.print(render(data))


# ---------------------------------------------------------------------------------------------- tasks
@command(tasks_app, "create")
def tasks_create(
    ctx: typer.Context,
    data_source_id: Annotated[str, typer.Option("--source", "-s", help="Data source id.")],
    task_type: Annotated[
        str, typer.Option("--type", "-t", help="full_sync, incremental_sync or realtime_sync.")
    ] = "full_sync",
    interface_id: Annotated[Optional[str], typer.Option("--interface", "-i")] = None,
    parameters: Annotated[Optional[str], typer.Option("--parameters", "-p", help="JSON object (or @file).")] = None,
    notify_url: Annotated[Optional[str], typer.Option("--notify-url", help="Gets a signed webhook at the end.")] = None,
    idempotency_key: Annotated[Optional[str], typer.Option("--idempotency-key", help="Repeat-safe create.")] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the task to its end (exit code by its outcome).")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Create a sync task (and, with --wait, follow it to its end)."""
    body: dict[str, Any] = {"data_source_id": data_source_id, "task_type": task_type}
    for key, value in (
        ("interface_id", interface_id),
        ("parameters", _object(parameters, "--parameters")),
        ("notify_url", notify_url),
    ):
        if value is not None:
            body[key] = value
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    task = _settings(ctx).client.request("POST", "/tasks", body=body, headers=headers)[1]
    if wait:
        _watch(ctx, task["id"], json_output)
        return
    _show(ctx, json_output, task, _details)


@command(tasks_app, "list")
def tasks_list(
    ctx: typer.Context,
    status: Annotated[Optional[str], typer.Option("--status")] = None,
    data_source_id: Annotated[Optional[str], typer.Option("--source", "-s")] = None,
    page: Annotated[int, typer.Option(min=1)] = 1,
    size: Annotated[int, typer.Option(min=1, max=100)] = 10,
    next_token: Annotated[Optional[str], typer.Option("--next-token")] = None,
    schedule_id: Annotated[
        Optional[str], typer.Option("--schedule", help="A schedule's runs (no other filter).")
    ] = None,
    task_type: Annotated[
        Optional[str], typer.Option("--type", "-t", help="full_sync, incremental_sync or realtime_sync.")
    ] = None,
    created_after: Annotated[Optional[str], typer.Option("--after", help="Created after (RFC 3339).")] = None,
    created_before: Annotated[Optional[str], typer.Option("--before", help="Created before (RFC 3339).")] = None,
    json_output: JsonOption = False,
) -> None:
    """List tasks, newest first."""
    data = _settings(ctx).client.request(
        "GET",
        "/tasks",
        params={
            "status": status,
            "data_source_id": data_source_id,
            "page": page,
            "size": size,
            "next_token": next_token,
            "schedule_id": schedule_id,
            "task_type": task_type,
            "created_after": created_after,
            "created_before": created_before,
        },
    )[1]

    def render(listing: dict[str, Any]) -> Table:
        paging = listing["pagination"]
        title = (
            f"tasks — page {paging['page']} of {paging['total_pages']} ({paging['total']} in all)"
            if paging.get("total") is not None
            else f"tasks — page {paging['page']}"
        )
        table = _task_table(listing["tasks"], title)
        if paging.get("next_token"):
            table.caption = f"next page: --next-token {paging['next_token']}"
        return table

    _show(ctx, json_output, data, render)


@command(tasks_app, "get")
def tasks_get(ctx: typer.Context, task_id: str, json_output: JsonOption = False) -> None:
    """Show one task (with live progress while it runs)."""
    _show(ctx, json_output, _settings(ctx).client.request("GET", f"/tasks/{task_id}")[1], _details)


@command(tasks_app, "output")
def tasks_output(
    ctx: typer.Context,
    task_id: str,
    head: Annotated[Optional[int], typer.Option("--head", min=1, max=100, help="Also show the first N rows.")] = None,
    download: Annotated[
        Optional[Path], typer.Option("--download", help="Save the parts and the manifest in this folder.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """What a task wrote: its files in the data lake (rows, bytes), and with --head its first rows."""
    output = _settings(ctx).client.request("GET", f"/tasks/{task_id}/output", params={"preview": head})[1]
    if download is not None:
        download.mkdir(parents=True, exist_ok=True)
        for item in [*output["parts"], *([output["manifest"]] if output.get("manifest") else [])]:
            target = download / item["key"].rsplit("/", 1)[-1]
            target.write_bytes(_settings(ctx).client.fetch(item["url"]))
            err.print(f"saved {target}", highlight=False)

    def render(found: dict[str, Any]) -> Any:
        where = (
            f"s3://{found['bucket']}/{found['prefix']}/"
            if found["destination"] == "s3"
            else f"DynamoDB table {found['table']}, partition {found['partition']}"
        )
        summary = f"{task_id} ({found['status']}): {found['rows']} rows in {where}"
        table = Table()
        for column in ("file", "rows", "bytes"):
            table.add_column(column, justify="left" if column == "file" else "right")
        for part in found["parts"]:
            table.add_row(part["key"].rsplit("/", 1)[-1], str(part["rows"]), str(part.get("bytes") or ""))
        if not found.get("preview"):
            return Group(summary, table)
        rows = Table(title=f"first {len(found['preview'])} rows")
        columns = list(dict.fromkeys(key for row in found["preview"] for key in row))
        for column in columns:
            rows.add_column(column)
        for row in found["preview"]:
            rows.add_row(
                *(
                    json.dumps(row.get(c)) if isinstance(row.get(c), (dict, list)) else str(row.get(c, ""))
                    for c in columns
                )
            )
        return Group(summary, table, rows)

    _show(ctx, json_output, output, render)


@command(tasks_app, "update")
def tasks_update(
    ctx: typer.Context,
    task_id: str,
    config: Annotated[str, typer.Option("--config", "-c", help="The new config: JSON object (or @file).")],
    json_output: JsonOption = False,
) -> None:
    """Replace a pending task's config."""
    task = _settings(ctx).client.request("PUT", f"/tasks/{task_id}", body={"config": _object(config, "--config")})[1]
    _show(ctx, json_output, task, _details)


def _act(
    ctx: typer.Context, json_output: bool, task_id: str, verb: str, accepted: str, done: Callable[[dict[str, Any]], str]
) -> None:
    """POST /tasks/{id}/<verb>; say what happened: ``accepted`` when the engine acts later (202), else ``done``."""
    status, task = _settings(ctx).client.request("POST", f"/tasks/{task_id}/{verb}")
    if _json(ctx, json_output):
        _print_json(task)
    else:
        out.print(f"{task_id}: {accepted if status == 202 else done(task)}")


@command(tasks_app, "cancel")
def tasks_cancel(ctx: typer.Context, task_id: str, json_output: JsonOption = False) -> None:
    """Cancel a task (a running one stops at its next batch)."""
    _act(
        ctx,
        json_output,
        task_id,
        "cancel",
        "cancel requested; the engine stops it at its next batch",
        lambda task: _status(task["status"]),
    )


@command(tasks_app, "pause")
def tasks_pause(ctx: typer.Context, task_id: str, json_output: JsonOption = False) -> None:
    """Pause a task (a running one at its next batch, its checkpoint kept; a pending one at once)."""
    _act(
        ctx,
        json_output,
        task_id,
        "pause",
        "pause requested; the engine pauses it at its next batch",
        lambda task: _status(task["status"]),
    )


@command(tasks_app, "resume")
def tasks_resume(ctx: typer.Context, task_id: str, json_output: JsonOption = False) -> None:
    """Resume a paused task from its checkpoint."""
    _act(
        ctx,
        json_output,
        task_id,
        "resume",
        "resumed; it continues from its checkpoint",
        lambda task: f"pause request withdrawn ({_status(task['status'])})",
    )


@command(tasks_app, "retry")
def tasks_retry(
    ctx: typer.Context,
    task_id: str,
    restart: Annotated[bool, typer.Option(help="Start over instead of resuming from the checkpoint.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Retry a failed task (a new task, resuming from the failed one's checkpoint)."""
    task = _settings(ctx).client.request("POST", f"/tasks/{task_id}/retry", body={"restart": restart})[1]
    _show(ctx, json_output, task, _details)


@command(tasks_app, "delete")
def tasks_delete(ctx: typer.Context, task_id: str, json_output: JsonOption = False) -> None:
    """Delete a finished task."""
    _delete(ctx, json_output, f"/tasks/{task_id}", task_id)


@command(tasks_app, "stats")
def tasks_stats(
    ctx: typer.Context,
    data_source_id: Annotated[Optional[str], typer.Option("--source", "-s")] = None,
    start_time: Annotated[Optional[str], typer.Option("--start", help="RFC 3339 (default: 7 days ago).")] = None,
    end_time: Annotated[Optional[str], typer.Option("--end", help="RFC 3339 (default: now).")] = None,
    json_output: JsonOption = False,
) -> None:
    """Task statistics over a window (by day of creation)."""
    data = _settings(ctx).client.request(
        "GET",
        "/tasks/statistics",
        params={"data_source_id": data_source_id, "start_time": start_time, "end_time": end_time},
    )[1]

    def render(stats: dict[str, Any]) -> Table:
        period = stats.get("period") or {}
        table = Table(
            title=f"statistics {period.get('start_time', '')[:10]} → {period.get('end_time', '')[:10]}",
            show_header=False,
        )
        table.add_column(style="bold")
        table.add_column(justify="right")
        for key in (
            "total_tasks",
            "successful_tasks",
            "failed_tasks",
            "cancelled_tasks",
            "success_rate",
            "avg_duration_sec",
            "processed_rows",
        ):
            table.add_row(key, f"{stats.get(key)}")
        for entry in stats.get("status_breakdown") or []:
            table.add_row(f"  {entry['status']}", str(entry["count"]))
        for key, value in (stats.get("engine_statistics") or {}).items():
            table.add_row(f"engine {key}", str(value))
        for day in stats.get("daily") or []:
            if day["total_tasks"]:
                table.add_row(
                    f"day {day['date']}",
                    f"{day['total_tasks']} tasks, {day['successful_tasks']} ok, "
                    f"{day['failed_tasks']} failed, {day['processed_rows']:,} rows",
                )
        return table

    _show(ctx, json_output, data, render)


@command(tasks_app, "watch")
def tasks_watch(ctx: typer.Context, task_id: str, json_output: JsonOption = False) -> None:
    """Follow a task to its end with a live progress bar (exit code by its outcome)."""
    _watch(ctx, task_id, json_output)


def _watch(ctx: typer.Context, task_id: str, json_output: bool) -> None:
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    from synchub_cli.watch import follow

    settings = _settings(ctx)
    ws_url = settings.client.websocket_url(settings.ws_url)
    if _json(ctx, json_output):
        final = follow(settings.client, task_id, ws_url, lambda t: print(json.dumps(t), flush=True))
    else:
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rows]} rows"),
            TextColumn("{task.fields[speed]}"),
            TextColumn("{task.fields[eta]}"),
            TextColumn("{task.fields[status]}"),
        )
        with Progress(*columns, console=err, transient=False) as bar:
            handle = bar.add_task(task_id, total=100, rows="0", speed="", eta="", status="")

            def show(task: dict[str, Any]) -> None:
                speed = f"{task['speed']:,.0f} rows/s" if task.get("speed") else ""
                eta = f"ETA {task['estimated_time']:.0f} s" if task.get("estimated_time") else ""
                bar.update(
                    handle,
                    completed=task.get("progress") or 0,
                    rows=_rows(task),
                    speed=speed,
                    eta=eta,
                    status=_status(task["status"]),
                )

            final = follow(settings.client, task_id, ws_url, show)
        out.print(
            f"{task_id}: {_status(final['status'])}, {_rows(final)} rows"
            + (f" — {final['error_code']}: {final.get('error_message')}" if final.get("error_code") else "")
        )
    raise typer.Exit(FINAL_EXIT.get(final.get("status", ""), 1))


# ---------------------------------------------------------------------------------------------- sources
def _source_table(sources: list[dict[str, Any]]) -> Table:
    table = Table(title="data sources")
    for name in ("id", "name", "type", "secrets", "notify", "created"):
        table.add_column(name)
    for source in sources:
        table.add_row(
            source["id"],
            source["name"],
            source["type"],
            "yes" if source.get("has_secrets") else "",
            source.get("notify_url") or "",
            (source.get("created_at") or "")[:19],
        )
    return table


@command(sources_app, "create")
def sources_create(
    ctx: typer.Context,
    definition: Annotated[
        str,
        typer.Argument(
            help="The data source: JSON object or @file ({id?, name, type, connection_config, params_config?, …})."
        ),
    ],
    json_output: JsonOption = False,
) -> None:
    """Register a data source (credential fields go to Secrets Manager and come back masked).

    \b
    Examples:
      synchub sources create '{"id": "shop", "name": "shop", "type": "postgresql",
        "connection_config": {"host": "db.internal", "database": "shop", "user": "sync", "password": "…"},
        "params_config": {"table_name": "orders", "cursor_field": "updated_at"}}'
      synchub sources create '{"id": "clicks", "name": "clicks", "type": "kafka",
        "connection_config": {"bootstrap_servers": "broker-1:9092,broker-2:9092"},
        "params_config": {"topic": "clicks", "value_format": "json", "consumer_group": "synchub-clicks"}}'
      synchub sources create '{"id": "sensors", "name": "sensors", "type": "mqtt",
        "connection_config": {"host": "mqtt.internal", "port": 1883, "username": "sync", "password": "…"},
        "params_config": {"topic_filter": "plant/+/temperature", "qos": 1}}'
      synchub sources create '{"id": "events", "name": "events", "type": "redis",
        "connection_config": {"host": "cache.internal", "port": 6379, "password": "…"},
        "params_config": {"stream_key": "events"}}'
    """
    source = _settings(ctx).client.request("POST", "/data-sources", body=_object(definition, "the definition"))[1]
    _show(ctx, json_output, source, _details)


@command(sources_app, "list")
def sources_list(
    ctx: typer.Context,
    page: Annotated[int, typer.Option(min=1)] = 1,
    size: Annotated[int, typer.Option(min=1, max=100)] = 20,
    json_output: JsonOption = False,
) -> None:
    """List data sources."""
    data = _settings(ctx).client.request("GET", "/data-sources", params={"page": page, "size": size})[1]
    _show(ctx, json_output, data, lambda listing: _source_table(listing["data_sources"]))


@command(sources_app, "get")
def sources_get(ctx: typer.Context, data_source_id: str, json_output: JsonOption = False) -> None:
    """Show one data source (secrets masked)."""
    _show(ctx, json_output, _settings(ctx).client.request("GET", f"/data-sources/{data_source_id}")[1], _details)


@command(sources_app, "update")
def sources_update(
    ctx: typer.Context,
    data_source_id: str,
    definition: Annotated[
        str,
        typer.Argument(
            help="The whole data source: JSON object or @file, e.g. `get --json` "
            "edited (a masked secret keeps its stored value)."
        ),
    ],
    json_output: JsonOption = False,
) -> None:
    """Replace a data source."""
    source = _settings(ctx).client.request("PUT", f"/data-sources/{data_source_id}", body=_replacement(definition))[1]
    _show(ctx, json_output, source, _details)


@command(sources_app, "delete")
def sources_delete(ctx: typer.Context, data_source_id: str, json_output: JsonOption = False) -> None:
    """Delete a data source that has no pending or running task."""
    _delete(ctx, json_output, f"/data-sources/{data_source_id}", data_source_id)


@command(sources_app, "test")
def sources_test(
    ctx: typer.Context,
    data_source_id: str,
    interface_id: Annotated[
        Optional[str], typer.Option("--interface", "-i", help="Read this interface's stream.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Read the first rows of a data source as a sync would (exit 1 when the source fails)."""
    result = _settings(ctx).client.request(
        "POST", f"/data-sources/{data_source_id}/test", params={"interface_id": interface_id}
    )[1]
    if _json(ctx, json_output):
        _print_json(result)
    elif result["ok"]:
        out.print(
            f"[green]ok[/green] {data_source_id}: first read {result['rows_read']} rows in {result['latency_ms']:.0f} ms"
            + (f", {result['total_rows']:,} in all" if result.get("total_rows") else "")
        )
        if result.get("sample"):
            table = Table(title="first rows")
            for column in result["sample"][0]:
                table.add_column(str(column))
            for row in result["sample"]:
                table.add_row(*(str(row.get(column, "")) for column in result["sample"][0]))
            out.print(table)
    else:
        out.print(f"[red]failed[/red] {data_source_id} ({result['error_kind']}): {result['error_message']}")
    if not result["ok"]:
        raise typer.Exit(1)


# ---------------------------------------------------------------------------------------------- interfaces
@command(interfaces_app, "create")
def interfaces_create(
    ctx: typer.Context,
    data_source_id: str,
    definition: Annotated[str, typer.Argument(help="The interface: JSON object or @file.")],
    json_output: JsonOption = False,
) -> None:
    """Add an interface (a stream) to a data source."""
    found = _settings(ctx).client.request(
        "POST", f"/data-sources/{data_source_id}/interfaces", body=_object(definition, "the definition")
    )[1]
    _show(ctx, json_output, found, _details)


@command(interfaces_app, "list")
def interfaces_list(
    ctx: typer.Context,
    data_source_id: str,
    size: Annotated[int, typer.Option(min=1, max=100)] = 20,
    next_token: Annotated[Optional[str], typer.Option("--next-token")] = None,
    json_output: JsonOption = False,
) -> None:
    """List a data source's interfaces."""
    data = _settings(ctx).client.request(
        "GET", f"/data-sources/{data_source_id}/interfaces", params={"size": size, "next_token": next_token}
    )[1]

    def render(listing: dict[str, Any]) -> Table:
        table = Table(title=f"interfaces of {data_source_id}")
        for name in ("id", "name", "created"):
            table.add_column(name)
        for item in listing["interfaces"]:
            table.add_row(item["id"], str(item.get("name") or ""), (item.get("created_at") or "")[:19])
        return table

    _show(ctx, json_output, data, render)


@command(interfaces_app, "get")
def interfaces_get(ctx: typer.Context, data_source_id: str, interface_id: str, json_output: JsonOption = False) -> None:
    """Show one interface."""
    found = _settings(ctx).client.request("GET", f"/data-sources/{data_source_id}/interfaces/{interface_id}")[1]
    _show(ctx, json_output, found, _details)


@command(interfaces_app, "update")
def interfaces_update(
    ctx: typer.Context,
    data_source_id: str,
    interface_id: str,
    definition: Annotated[str, typer.Argument(help="The whole interface: JSON object or @file.")],
    json_output: JsonOption = False,
) -> None:
    """Replace an interface."""
    found = _settings(ctx).client.request(
        "PUT", f"/data-sources/{data_source_id}/interfaces/{interface_id}", body=_replacement(definition)
    )[1]
    _show(ctx, json_output, found, _details)


@command(interfaces_app, "delete")
def interfaces_delete(
    ctx: typer.Context, data_source_id: str, interface_id: str, json_output: JsonOption = False
) -> None:
    """Delete an interface."""
    _delete(
        ctx,
        json_output,
        f"/data-sources/{data_source_id}/interfaces/{interface_id}",
        f"{data_source_id}/{interface_id}",
    )


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())


# ---------------------------------------------------------------------------------------------- schedules
def _schedule_table(schedules: list[dict[str, Any]]) -> Table:
    table = Table(title="schedules")
    for name in (
        "id",
        "name",
        "source",
        "type",
        "expression",
        "state",
        "next run",
        "last run",
        "last outcome",
        "runs",
        "skipped",
    ):
        table.add_column(name)
    for item in schedules:
        table.add_row(
            item["id"],
            item["name"],
            item["data_source_id"],
            item["task_type"],
            f"{item['expression']} {item.get('timezone') or 'UTC'}",
            item["state"],
            (item.get("next_run_at") or "")[:19],
            (item.get("last_run_at") or "")[:19],
            item.get("last_outcome") or "",
            str(item.get("runs", 0)),
            str(item.get("skipped_runs", 0)),
        )
    return table


@command(schedules_app, "create")
def schedules_create(
    ctx: typer.Context,
    definition: Annotated[
        str,
        typer.Argument(
            help="The schedule: JSON object or @file ({id?, name, data_source_id, "
            "task_type, expression, timezone?, overlap?, …})."
        ),
    ],
    json_output: JsonOption = False,
) -> None:
    """Create a schedule.

    \b
    Examples:
      synchub schedules create '{"name": "nightly", "data_source_id": "ds_pg_demo",
        "task_type": "incremental_sync", "expression": "cron(0 2 * * ? *)", "timezone": "Europe/Paris"}'
      synchub schedules create '{"name": "every minute", "data_source_id": "ds_123", "task_type": "full_sync",
        "expression": "rate(1 minute)", "overlap": "skip"}'
    """
    schedule = _settings(ctx).client.request("POST", "/schedules", body=_object(definition, "the definition"))[1]
    _show(ctx, json_output, schedule, _details)


@command(schedules_app, "list")
def schedules_list(
    ctx: typer.Context,
    size: Annotated[int, typer.Option(min=1, max=100)] = 20,
    next_token: Annotated[Optional[str], typer.Option("--next-token")] = None,
    json_output: JsonOption = False,
) -> None:
    """List schedules with their next and last runs."""
    data = _settings(ctx).client.request("GET", "/schedules", params={"size": size, "next_token": next_token})[1]
    _show(ctx, json_output, data, lambda listing: _schedule_table(listing["schedules"]))


@command(schedules_app, "get")
def schedules_get(ctx: typer.Context, schedule_id: str, json_output: JsonOption = False) -> None:
    """Show one schedule."""
    _show(ctx, json_output, _settings(ctx).client.request("GET", f"/schedules/{schedule_id}")[1], _details)


@command(schedules_app, "update")
def schedules_update(
    ctx: typer.Context,
    schedule_id: str,
    definition: Annotated[str, typer.Argument(help="The whole schedule: JSON object or @file.")],
    json_output: JsonOption = False,
) -> None:
    """Replace a schedule."""
    schedule = _settings(ctx).client.request(
        "PUT", f"/schedules/{schedule_id}", body=_object(definition, "the definition")
    )[1]
    _show(ctx, json_output, schedule, _details)


@command(schedules_app, "pause")
def schedules_pause(ctx: typer.Context, schedule_id: str, json_output: JsonOption = False) -> None:
    """Pause a schedule: it creates no task until resumed."""
    _show(ctx, json_output, _settings(ctx).client.request("POST", f"/schedules/{schedule_id}/pause")[1], _details)


@command(schedules_app, "resume")
def schedules_resume(ctx: typer.Context, schedule_id: str, json_output: JsonOption = False) -> None:
    """Resume a paused schedule."""
    _show(ctx, json_output, _settings(ctx).client.request("POST", f"/schedules/{schedule_id}/resume")[1], _details)


@command(schedules_app, "trigger")
def schedules_trigger(ctx: typer.Context, schedule_id: str, json_output: JsonOption = False) -> None:
    """Run a schedule once now (by its overlap rule)."""
    run = _settings(ctx).client.request("POST", f"/schedules/{schedule_id}/trigger")[1]
    if _json(ctx, json_output):
        _print_json(run)
    else:
        out.print(f"{schedule_id}: {run['outcome']} task {run['task']['id']}")


@command(schedules_app, "delete")
def schedules_delete(ctx: typer.Context, schedule_id: str) -> None:
    """Delete a schedule (the tasks it created stay)."""
    _settings(ctx).client.request("DELETE", f"/schedules/{schedule_id}")
    out.print(f"{schedule_id}: deleted")


# --------------------------------------------------------------------------------------------- tables
def _commit_text(commit: dict[str, Any] | None) -> str:
    if not commit:
        return ""
    return f"{(commit.get('committed_at') or '')[:19]} {commit.get('task_id') or ''}".strip()


@command(tables_app, "list")
def tables_list(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List the lake tables: rows, data files, bytes and last commit."""
    data = _settings(ctx).client.request("GET", "/tables")[1]

    def render(listing: dict[str, Any]) -> Table:
        table = Table(title="lake tables")
        for name in ("name", "data source", "interface", "rows", "files", "bytes", "last commit"):
            table.add_column(name, no_wrap=name in ("name", "last commit"))
        for item in listing["items"]:
            table.add_row(
                item["name"],
                str(item.get("data_source_id") or ""),
                str(item.get("interface_id") or ""),
                f"{item['rows']:,}",
                f"{item['data_files']:,}",
                f"{item['bytes']:,}",
                _commit_text(item.get("last_commit")),
            )
        return table

    _show(ctx, json_output, data, render)


@command(tables_app, "show")
def tables_show(ctx: typer.Context, name: str, json_output: JsonOption = False) -> None:
    """Show a lake table: its columns with their types and its latest snapshots with their tasks."""
    data = _settings(ctx).client.request("GET", f"/tables/{name}")[1]

    def render(found: dict[str, Any]) -> Group:
        columns = Table(title=f"{found['table']}: {found['rows']:,} rows in {found['data_files']:,} files")
        for heading in ("column", "type", "required"):
            columns.add_column(heading)
        for column in found["columns"]:
            columns.add_row(column["name"], column["type"], "yes" if column["required"] else "")
        snapshots = Table(title=f"latest snapshots (of {found['snapshot_count']})")
        for heading in ("snapshot", "committed", "operation", "task", "added", "removed", "rows"):
            snapshots.add_column(heading, no_wrap=heading in ("snapshot", "committed"))
        for snapshot in found["snapshots"][:10]:
            snapshots.add_row(
                str(snapshot["snapshot_id"]),
                (snapshot.get("committed_at") or "")[:19],
                str(snapshot.get("operation") or ""),
                str(snapshot.get("task_id") or ""),
                f"{snapshot['rows_added']:,}",
                f"{snapshot['rows_removed']:,}",
                "" if snapshot.get("rows") is None else f"{snapshot['rows']:,}",
            )
        return Group(columns, snapshots)

    _show(ctx, json_output, data, render)


@command(tables_app, "head")
def tables_head(
    ctx: typer.Context,
    name: str,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, help="rows to show")] = 10,
    json_output: JsonOption = False,
) -> None:
    """Show a lake table's first rows."""
    data = _settings(ctx).client.request("GET", f"/tables/{name}/preview", params={"limit": limit})[1]

    def render(found: dict[str, Any]) -> Table:
        table = Table(title=f"{found['name']} (snapshot {found['snapshot_id']})")
        names = list(found["rows"][0]) if found["rows"] else []
        for column in names:
            table.add_column(column)
        for row in found["rows"]:
            table.add_row(*("" if row[c] is None else str(row[c]) for c in names))
        return table

    _show(ctx, json_output, data, render)


@command(tables_app, "query")
def tables_query(
    ctx: typer.Context,
    sql: Annotated[str, typer.Argument(help="SQL over the lake tables, each named by its table name")],
    database: Annotated[
        str, typer.Option(envvar="SYNCHUB_LAKE_DATABASE", help="the stack's Glue database (LakeDatabaseName)")
    ] = "synchub",
    json_output: JsonOption = False,
) -> None:
    """Run SQL over lake tables with DuckDB, reading them with pyiceberg from the Glue catalog and S3: the
    local emulator while `make run` runs (or AWS_ENDPOINT_URL), else your AWS credentials. Each table the SQL
    names is read whole into memory: for tables that fit, else use Athena."""
    from synchub_cli.lake import run_query  # duckdb and pyiceberg load only for this command

    columns, rows = run_query(sql, database)
    if _json(ctx, json_output):
        _print_json({"columns": columns, "rows": [dict(zip(columns, row)) for row in rows]})
        return
    table = Table()
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row))
    out.print(table)
