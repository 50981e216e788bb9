"""The whole local stack in one process: emulator, resources, functions, HTTP API, queue pollers, schedules."""

from __future__ import annotations

import base64
import json
import logging
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3

from local import api_gateway, demo
from local.auth import ALL_SCOPES, Denied, LocalUserPool, authorize
from local.demo_brokers import DemoBrokers
from local.lambda_runtime import STOPPING, FunctionLoadError, LocalFunction
from local.resources import Stack, create_resources, function_environment
from local.scheduler import LocalScheduler
from local.sign_in import LocalSignIn
from local.state import LocalState
from local.streams import StreamEventSource
from local.template import FunctionSpec, api_auth, functions, layer_dirs, load_template
from local.websocket import MANAGEMENT_PATH, LocalWebSocketApi
from synchub.models.schedule_expressions import Expression, InvalidExpression

log = logging.getLogger("local")
DASHBOARD_DIR = Path(__file__).resolve().parent.parent / "dashboard"

DUMMY_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


def use_emulator(endpoint_url: str) -> None:
    """Point every boto3 client of this process at the emulator, with dummy credentials."""
    os.environ.update(DUMMY_AWS_ENV)
    os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)


def start_emulator(port: int) -> Any:
    """Start moto's server on 127.0.0.1:``port`` in a background thread.

    DynamoDB requests are handled one at a time: moto checks a condition and applies the write in two
    steps, while DynamoDB does both atomically; serialising them keeps conditional writes honest when the
    API and the engine race locally.
    """
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    from local import moto_dynamodb, moto_glue

    moto_dynamodb.install()
    moto_glue.install()  # Glue's optimistic version check: concurrent table commits retry instead of losing rows
    dynamodb_lock = threading.Lock()

    def atomic_dynamodb(app: Any) -> Any:
        def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
            if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
                with dynamodb_lock:
                    return list(app(environ, start_response))
            return app(environ, start_response)

        return wsgi

    class PromptRequestHandler(MotoRequestHandler):
        # A response goes out as it is written (headers, then body): with Nagle's algorithm the body waited for
        # the client's delayed ACK of the headers, up to 40 ms a request, where AWS answers in a few.
        disable_nagle_algorithm = True

    class AtomicMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = atomic_dynamodb(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=PromptRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    server = AtomicMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    use_emulator(f"http://127.0.0.1:{port}")
    return server


class BurstHttpServer(ThreadingHTTPServer):
    """The local API's server: a listen backlog for a burst of clients (the standard library's is 5, so the
    sixth client connecting at once is refused or reset)."""

    request_queue_size = 128
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up before its answer (a stopping engine, a cancelled curl) is no error of ours."""
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            log.debug("%s hung up before its answer", client_address[0])
            return
        super().handle_error(request, client_address)


def install_functions(template: dict[str, Any], stack: Stack) -> dict[str, LocalFunction]:
    """Put the layers on the import path, set the functions' environment, and load nothing yet."""
    for directory in layer_dirs(template):
        if str(directory) not in sys.path:
            sys.path.insert(0, str(directory))
    specs = functions(template)
    merged: dict[str, str] = {}
    for spec in specs.values():
        for key, value in function_environment(stack, spec.environment).items():
            if key in merged and merged[key] != value:
                log.warning("functions disagree on %s; the local stack shares one environment", key)
            merged[key] = value
    os.environ.update(merged)
    return {logical_id: LocalFunction(spec, region=stack.region) for logical_id, spec in specs.items()}


@dataclass
class LocalStack:
    port: int = 8080
    moto_port: int = 4566
    # The WebSocket API (0: a free port).
    ws_port: int = 8081
    engine: bool = True
    schedules: bool = True
    demo_postgres: bool = True
    # Kafka (tansu), Redis and MQTT demo sources, where their brokers are here.
    demo_brokers: bool = True
    # Enforce the template's API auth (AuthMode cognito) with a local user pool; off keeps the API open.
    auth: bool = False
    # Where to keep the state between runs (`make run`: .local-state/); None: nothing outlives the process.
    state_dir: Path | None = None
    host: str = "127.0.0.1"
    template: dict[str, Any] = field(default_factory=load_template)

    # The engine's maximum concurrency (the template's EngineMaxConcurrency): a machine has no account limit.
    engine_concurrency: int = 10

    @property
    def parameters(self) -> dict[str, str]:
        return {"AuthMode": "cognito" if self.auth else "none", "EngineMaxConcurrency": str(self.engine_concurrency)}

    def start(self) -> None:
        self.emulator = start_emulator(self.moto_port)
        self.stack = create_resources(self.template, parameters=self.parameters)
        self.api_auth = api_auth(self.template, self.stack.parameters)
        self.user_pool = LocalUserPool()
        self.demo_token = self.user_pool.issue("demo", ALL_SCOPES) if self.api_auth.mode == "cognito" else None
        self.functions = install_functions(self.template, self.stack)
        self.routes = api_gateway.routes_of({k: f.spec for k, f in self.functions.items()})
        self.stop_event = threading.Event()
        self.demo = demo.DemoDataset()
        self.httpd = BurstHttpServer((self.host, self.port), _handler_for(self))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        # The dashboard client's callback URLs: the dashboard, by either name of this machine.
        self.sign_in = LocalSignIn(self.user_pool, [f"http://{name}:{self.port}/" for name in (self.host, "localhost")])
        self.websocket = LocalWebSocketApi(self.template, self.functions, host=self.host, port=self.ws_port)
        self.websocket.start()
        os.environ.update(
            {
                "TOKEN_URL": f"http://{self.host}:{self.port}/_local/token" if self.auth else "",
                # The WebSocket $connect function checks tokens against the local user pool's keys.
                "JWKS_URL": f"http://{self.host}:{self.port}/_local/jwks.json",
                "WEBSOCKET_ENDPOINT": f"http://{self.host}:{self.port}{MANAGEMENT_PATH}",
                # Sources and webhooks on this machine (and its networks) are the point of trying them locally.
                "ALLOW_LOCAL_DESTINATIONS": "true",
            }
        )
        self.state = LocalState(self.state_dir, self.stack, self.template) if self.state_dir else None
        if self.state:
            restored = self.state.restore()
            if restored:
                log.info("restored %d tasks and their data from %s", restored, self.state_dir)
        demo.seed(self.base_url)
        self.postgres = None
        if self.demo_postgres:
            import tempfile

            # Without a state dir, one folder per API port: a later start on that port finds a server a killed
            # run left there.
            self._pg_dir = (
                str(self.state_dir / "postgres")
                if self.state_dir
                else os.path.join(tempfile.gettempdir(), f"synchub-pg-{self.port}")
            )
            Path(self._pg_dir).mkdir(parents=True, exist_ok=True)
            self.postgres = demo.start_demo_postgres(self._pg_dir)
            if self.postgres:
                demo.seed_postgres(self.postgres)
        self.brokers = DemoBrokers().start() if self.demo_brokers else None
        self.threads = [threading.Thread(target=self.httpd.serve_forever, name="api", daemon=True)]
        if self.engine:
            for function in self.functions.values():
                for props in function.spec.events_of("DynamoDB"):
                    source = StreamEventSource.from_template(
                        function, props, self.stack, boto3.client("dynamodbstreams")
                    )
                    self.threads.append(
                        threading.Thread(
                            target=source.run,
                            args=(self.stop_event,),
                            name=f"stream-{function.spec.logical_id}",
                            daemon=True,
                        )
                    )
                for props in function.spec.events_of("SQS"):
                    # Lambda polls with up to the mapping's maximum concurrency, each batch in an environment
                    scaling = props.get("ScalingConfig") or {}
                    concurrency = int(self.stack.resolve(scaling.get("MaximumConcurrency") or 1))
                    function.concurrency = max(function.concurrency, concurrency)
                    self.threads.extend(
                        threading.Thread(
                            target=self._poll_queue,
                            args=(function, props),
                            name=f"sqs-{function.spec.logical_id}-{n}",
                            daemon=True,
                        )
                        for n in range(concurrency)
                    )
        if self.schedules and "ScheduleGroup" in self.stack.refs:
            self.scheduler = LocalScheduler(
                self.stack.refs["ScheduleGroup"],
                {self.stack.attributes[logical_id]["Arn"]: function for logical_id, function in self.functions.items()},
            )
            self.threads.append(
                threading.Thread(target=self.scheduler.run, args=(self.stop_event,), name="scheduler", daemon=True)
            )
        if self.schedules:
            for function in self.functions.values():
                for props in function.spec.events_of("Schedule"):
                    self.threads.append(
                        threading.Thread(
                            target=self._run_schedule,
                            args=(function, props),
                            name=f"cron-{function.spec.logical_id}",
                            daemon=True,
                        )
                    )
        if self.state:
            self.threads.append(
                threading.Thread(target=self.state.keep_saving, args=(self.stop_event,), name="state", daemon=True)
            )
        for thread in self.threads:
            thread.start()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def websocket_url(self) -> str:
        return self.websocket.url

    def dashboard_config(self) -> Any:
        """What DashboardSiteDeployment writes to dashboard/config.json, for this stack."""
        from synchub.dashboard.site import DashboardConfig, SignIn

        sign_in = None
        if self.api_auth.mode == "cognito":
            sign_in = SignIn(
                authorize_url=f"{self.base_url}/_local/authorize",
                token_url=f"{self.base_url}/_local/token",
                client_id=self.sign_in.client_id,
            )
        return DashboardConfig(api_base="", ws_url=self.websocket_url, auth=self.api_auth.mode, sign_in=sign_in)

    @cached_property
    def dashboard_csp(self) -> str:
        """The template's Content-Security-Policy for the dashboard, connecting to this stack's live feed."""
        config = self.template["Resources"]["DashboardHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
        policy = config["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
        directives = [d.strip() for d in policy.split(";")]
        local_feed = self.websocket_url.split("/", 3)[:3]
        return "; ".join(
            f"connect-src 'self' {'/'.join(local_feed)}" if d.startswith("connect-src ") else d for d in directives
        )

    def stop(self, drain_seconds: float = 4.0) -> None:
        """Stop taking work, let running invocations hand over (their remaining time reads 0, so the engine
        checkpoints at its next batch), save the state, then stop the emulator and the demo servers."""
        self.stop_event.set()
        STOPPING.set()
        self.websocket.stop()
        self.httpd.shutdown()
        deadline = time.monotonic() + drain_seconds
        while any(function.busy for function in self.functions.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        cut_off = [logical_id for logical_id, function in self.functions.items() if function.busy]
        if cut_off:
            log.warning("stopping while %s still run; their tasks go on at the next start", ", ".join(cut_off))
            logging.getLogger("synchub").setLevel(logging.CRITICAL)  # they can only fail against the stopped emulator
        if self.state:
            try:
                self.state.save()
                log.info("state saved in %s (make run ARGS=--fresh starts empty)", self.state_dir)
            except Exception:  # noqa: BLE001 - stopping anyway; the last periodic save stays
                log.warning("saving the local state failed", exc_info=True)
        self.emulator.stop()
        if self.brokers:
            self.brokers.stop()
        self.stop_postgres()

    def stop_postgres(self, *, immediately: bool = False) -> None:
        """Stop the embedded PostgreSQL (at once with ``immediately``: a second signal while stopping)."""
        if getattr(self, "postgres", None):
            demo.stop_postgres(self._pg_dir, immediately=immediately)
            if not self.state_dir and not immediately:
                import shutil

                shutil.rmtree(self._pg_dir, ignore_errors=True)

    # ---- SQS event sources --------------------------------------------------------------------
    def _poll_queue(self, function: LocalFunction, props: dict[str, Any]) -> None:
        source = QueueEventSource.from_template(function, props, self.stack, boto3.client("sqs"))
        while not self.stop_event.is_set():
            try:
                source.poll_once(wait_seconds=20)  # long polling, as Lambda polls (an idle poller costs nothing)
            except Exception:  # emulator shutting down, or a bug in the poller itself
                if self.stop_event.is_set():
                    return
                log.exception("polling %s failed", source.queue_url)
                time.sleep(1)

    # ---- schedules ----------------------------------------------------------------------------
    def _run_schedule(self, function: LocalFunction, props: dict[str, Any]) -> None:
        interval = schedule_seconds(str(props.get("Schedule", "rate(1 minute)")))
        while not self.stop_event.wait(interval):
            event = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": "123456789012",
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "region": self.stack.region,
                "resources": [],
                "detail": {},
            }
            try:
                function.invoke(event)
            except Exception:
                log.exception("scheduled run of %s failed", function.spec.logical_id)


def schedule_seconds(expression: str) -> float:
    """Seconds between runs of a ``rate(...)`` expression (cron expressions run every minute locally)."""
    try:
        parsed = Expression.parse(expression)
    except InvalidExpression:
        return 60.0
    return parsed.every.total_seconds() if parsed.every else 60.0


@dataclass
class QueueEventSource:
    """An SQS event source mapping: receive a batch, invoke the function, delete what succeeded."""

    function: LocalFunction
    sqs: Any
    queue_url: str
    queue_arn: str
    region: str
    batch_size: int = 10
    reports_failures: bool = False

    @classmethod
    def from_template(
        cls, function: LocalFunction, props: dict[str, Any], stack: Stack, sqs: Any
    ) -> "QueueEventSource":
        queue_arn = stack.resolve(props["Queue"])
        queue_url = next(a["QueueUrl"] for a in stack.attributes.values() if a.get("Arn") == queue_arn)
        return cls(
            function,
            sqs,
            queue_url,
            queue_arn,
            stack.region,
            min(10, int(props.get("BatchSize", 10))),
            "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
        )

    def poll_once(self, wait_seconds: int = 0) -> int:
        """One receive → invoke → delete round; returns how many messages were delivered."""
        received = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return 0
        event = {"Records": [_sqs_record(message, self.queue_arn, self.region) for message in received]}
        try:
            response = self.function.invoke(event)
        except FunctionLoadError:
            log.exception("%s could not be loaded; its batch returns to the queue now", self.function.spec.logical_id)
            for start in range(0, len(received), 10):
                self.sqs.change_message_visibility_batch(
                    QueueUrl=self.queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                        for i, m in enumerate(received[start : start + 10])
                    ],
                )
            return len(received)
        except Exception:
            log.exception(
                "%s failed; its batch returns to the queue after the visibility timeout", self.function.spec.logical_id
            )
            return len(received)
        failed = set()
        if self.reports_failures and isinstance(response, dict):
            failed = {item.get("itemIdentifier") for item in response.get("batchItemFailures") or []}
        done = [m for m in received if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start : start + 10])
                ],
            )
        return len(received)


def _sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        # Lambda's event spells SQS message attributes in camelCase.
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _form(text: str) -> dict[str, str]:
    """A query string or form body as a dict (the last value of a repeated name)."""
    return {k: v[-1] for k, v in parse_qs(text).items()}


LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})


def _loopback_host(host: str, own: str) -> bool:
    """Whether a Host header names this machine (with or without a port)."""
    name = host[: host.index("]") + 1] if host.startswith("[") and "]" in host else host.rsplit(":", 1)[0]
    return name.lower() in LOOPBACK_NAMES | {own}


def _handler_for(local: LocalStack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "SyncHubLocal/1.0"

        def log_message(self, fmt: str, *args: Any) -> None:
            # the API's requests; the stack's own endpoints (demo data, tokens) only when debugging
            level = logging.DEBUG if self.path.startswith(("/_local/", "/dashboard/")) else logging.INFO
            log.log(level, "%s %s", self.address_string(), fmt % args)

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _problem(self, status: int, code: str, title: str, detail: str) -> None:
            from synchub.api.resolver import PROBLEM_JSON, problem_response

            self._send(
                status, problem_response(status, code, title, detail).body.encode(), {"Content-Type": PROBLEM_JSON}
            )

        def _dispatch(self) -> None:
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            if not _loopback_host(self.headers.get("Host") or "", local.host):
                # A page whose DNS name was rebound to 127.0.0.1 must not reach the API or mint tokens.
                self._problem(
                    403,
                    "HOST_NOT_ALLOWED",
                    "Host not allowed",
                    "The local stack answers only requests addressed to localhost or 127.0.0.1.",
                )
                return
            if path.startswith(MANAGEMENT_PATH + "/"):
                status, headers, payload = local.websocket.manage(self.command, path[len(MANAGEMENT_PATH) :], body)
                self._send(status, payload, headers)
                return
            if path == "/" or path.startswith("/dashboard/"):
                self._dashboard(path)
                return
            if path == "/_local/jwks.json":
                self._send(200, json.dumps(local.user_pool.jwks()).encode(), {"Content-Type": "application/json"})
                return
            if path == "/_local/authorize" and local.api_auth.mode == "cognito":
                answer = local.sign_in.authorize(_form(query if self.command == "GET" else body.decode()), self.command)
                self._send(answer.status, answer.body, answer.headers)
                return
            if path.rstrip("/") == "/_local/token" and local.api_auth.mode == "cognito":
                # GET with a query, or an OAuth2 POST (form body): client credentials as Swagger UI sends them,
                # or the dashboard's authorization code
                params = _form(query or body.decode("utf-8", "replace"))
                if self.command == "POST" and params.get("grant_type") == "authorization_code":
                    answer = local.sign_in.exchange(params)
                    self._send(answer.status, answer.body, answer.headers)
                else:
                    self._issue_token(params)
                return
            if path.startswith("/_local/"):
                status, payload = local.demo.serve(path, query)
                self._send(status, json.dumps(payload).encode(), {"Content-Type": "application/json"})
                return
            route, params, path_exists = api_gateway.match(local.routes, self.command, path)
            if route is None:
                if path_exists:
                    self._problem(
                        405, "METHOD_NOT_ALLOWED", "Method not allowed", f"{self.command} is not supported on {path}."
                    )
                else:
                    self._problem(404, "NOT_FOUND", "Not found", f"No route for {path}.")
                return
            decision = authorize(
                local.api_auth, local.user_pool, self.command, route.resource, list(self.headers.items())
            )
            if isinstance(decision, Denied):
                from synchub.api.resolver import PROBLEM_JSON

                self._send(
                    decision.status,
                    decision.problem_body().encode(),
                    {"Content-Type": PROBLEM_JSON, **decision.headers},
                )
                return
            event = api_gateway.proxy_event(
                route,
                self.command,
                path,
                query,
                list(self.headers.items()),
                body,
                params,
                source_ip=self.client_address[0],
                authorizer=decision,
            )
            try:
                result = local.functions[route.function].invoke(event)
            except Exception:
                log.exception("%s raised", route.function)
                self._problem(502, "BAD_GATEWAY", "Bad gateway", "The function failed (see the stack's log).")
                return
            headers = dict(result.get("headers") or {})
            for name, values in (result.get("multiValueHeaders") or {}).items():
                headers[name] = ", ".join(values)
            raw = result.get("body") or ""
            payload = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
            self._send(int(result.get("statusCode", 200)), payload, headers)

        def _dashboard(self, path: str) -> None:
            """The dashboard's files (``dashboard/``, read at each request) in the bucket's layout, its config for
            this stack, and the Content-Security-Policy CloudFront adds."""
            from synchub.dashboard.site import CONFIG_KEY, INDEX, site_files

            key = INDEX if path == "/" else path.lstrip("/")
            headers = {"Content-Security-Policy": local.dashboard_csp, "Cache-Control": "no-cache"}
            if key == CONFIG_KEY:
                self._send(
                    200,
                    local.dashboard_config().model_dump_json(exclude_none=True).encode(),
                    {**headers, "Content-Type": "application/json"},
                )
                return
            found = site_files(DASHBOARD_DIR).get(key)
            if found is None:
                self._problem(404, "NOT_FOUND", "Not found", f"No dashboard file {key}.")
                return
            self._send(200, found.body, {**headers, "Content-Type": found.content_type})

        def _issue_token(self, params: dict[str, str]) -> None:
            """Stands in for the user pool's token endpoint: ?user=NAME&scope=synchub/read+synchub/write."""
            scopes = params.get("scope", " ".join(ALL_SCOPES)).split()
            ttl = params.get("expires_in", "43200")
            if not ttl.lstrip("-").isdigit():
                self._problem(400, "MALFORMED_REQUEST", "Malformed request", "expires_in must be an integer.")
                return
            token = local.user_pool.issue(params.get("user", "demo")[:128], scopes, ttl_seconds=int(ttl))
            payload = {"access_token": token, "token_type": "Bearer", "expires_in": int(ttl), "scope": " ".join(scopes)}
            self._send(200, json.dumps(payload).encode(), {"Content-Type": "application/json"})

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch  # noqa: N815

        def __getattr__(self, name: str) -> Any:
            # Any other method (TRACE, QUERY, …) gets the same routing: a problem, never the server's HTML 501.
            if name.startswith("do_"):
                return self._dispatch
            raise AttributeError(name)

    return Handler


def function_specs(template: dict[str, Any] | None = None) -> dict[str, FunctionSpec]:
    return functions(template or load_template())
