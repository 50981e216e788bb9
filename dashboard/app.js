// SyncHub dashboard: tasks, a task's live progress, data sources and statistics, on the HTTP API and the
// live-status WebSocket. Plain browser JavaScript: no build step, nothing fetched from the internet.
"use strict";

const state = { config: null, socket: null, watchers: new Map() };
const TERMINAL = ["success", "failed", "cancelled"];
const TOKEN_KEY = "synchub.token";  // the access token, in the browser's local storage

// ---------------------------------------------------------------------------------------------- plumbing
// Only sign-in or a pasted token set it: a token in a link would sign a person in as someone else (and stay
// in the browser's history).
function token() {
  return localStorage.getItem(TOKEN_KEY) || "";
}

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token()) headers["Authorization"] = "Bearer " + token();
  const response = await fetch(state.config.api_base + "/api/sync" + path,
    { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = new Error((data && (data.code + ": " + data.detail)) || response.statusText);
    error.status = response.status;
    error.problem = data;
    throw error;
  }
  return data;
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function toast(message, error = false) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.className = "toast" + (error ? " error" : "");
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 5000);
}

const rows = (task) => (task.processed_rows || 0).toLocaleString("en") +
  (task.total_rows ? " / " + task.total_rows.toLocaleString("en") : "");
const statusCell = (status) => el("span", { class: "status " + status, "data-status": status }, status);
function bar(percent, small) {
  const fill = el("div");
  fill.style.width = Math.min(100, percent || 0) + "%";  // through the CSSOM: the CSP refuses style attributes
  return el("div", { class: "progress" + (small ? " small" : ""), role: "progressbar",
    "aria-valuenow": Math.round(percent || 0), "aria-valuemin": 0, "aria-valuemax": 100 }, fill);
}

// ---------------------------------------------------------------------------------------------- sign-in
// The user pool's sign-in pages, with the authorization code flow and PKCE (config.sign_in: a public client).
const base64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
  .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const callbackUrl = () => location.origin + location.pathname;

async function signIn() {
  const signin = state.config.sign_in;
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const nonce = base64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem("synchub.sign-in", JSON.stringify({ verifier, nonce, hash: location.hash }));
  location.assign(signin.authorize_url + "?" + new URLSearchParams({
    response_type: "code", client_id: signin.client_id, redirect_uri: callbackUrl(), scope: signin.scope,
    state: nonce, code_challenge: challenge, code_challenge_method: "S256" }));
}

async function finishSignIn() {
  const answer = new URLSearchParams(location.search);
  if (!state.config.sign_in || !(answer.has("code") || answer.has("error"))) return;
  const pending = JSON.parse(sessionStorage.getItem("synchub.sign-in") || "null");
  sessionStorage.removeItem("synchub.sign-in");
  history.replaceState(null, "", callbackUrl() + ((pending && pending.hash) || ""));
  if (answer.has("error")) throw new Error("Sign-in failed: " + (answer.get("error_description") || answer.get("error")));
  if (!pending || pending.nonce !== answer.get("state")) throw new Error("Sign-in failed: the answer is not for this browser's request.");
  const response = await fetch(state.config.sign_in.token_url, { method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", client_id: state.config.sign_in.client_id,
      code: answer.get("code"), redirect_uri: callbackUrl(), code_verifier: pending.verifier }) });
  const tokens = await response.json();
  if (!response.ok) throw new Error("Sign-in failed: " + (tokens.error_description || tokens.error));
  localStorage.setItem(TOKEN_KEY, tokens.access_token);
}

function signOut() {
  localStorage.removeItem(TOKEN_KEY);
  const signin = state.config.sign_in;
  if (signin && signin.logout_url) {
    location.assign(signin.logout_url + "?" + new URLSearchParams({ client_id: signin.client_id, logout_uri: callbackUrl() }));
  } else {
    location.reload();
  }
}

function signInPrompt() {
  if (state.config.auth === "iam") {
    return el("p", { class: "card", id: "sign-in-needed" }, "This SyncHub takes only requests signed with AWS " +
      "credentials (AuthMode iam), which a browser cannot make: use the API or the synchub command.");
  }
  const paste = el("form", { onsubmit: (e) => {
    e.preventDefault();
    localStorage.setItem(TOKEN_KEY, new FormData(e.target).get("token"));
    location.reload();
  } }, el("label", {}, "or paste an access token", el("input", { name: "token", size: 60 })),
    el("button", { type: "submit", class: "secondary" }, "Use it"));
  return el("div", { class: "card", id: "sign-in-needed" },
    el("p", {}, localStorage.getItem(TOKEN_KEY) ? "Your session has ended." : "This SyncHub needs you to sign in."),
    state.config.sign_in ? el("p", {}, el("button", { id: "sign-in", onclick: signIn }, "Sign in")) : null, paste);
}

// ---------------------------------------------------------------------------------------------- live feed
function connectFeed() {
  if (!state.config.ws_url) return;
  const url = state.config.ws_url + (token() ? "/?token=" + encodeURIComponent(token()) : "");
  const socket = new WebSocket(url);
  const live = document.getElementById("live");
  socket.onopen = () => {
    state.socket = socket;
    live.textContent = "live";
    live.classList.add("on");
    const ids = [...state.watchers.keys()];
    if (ids.length) socket.send(JSON.stringify({ action: "subscribe", task_ids: ids }));
  };
  socket.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (!data.task_id) return;
    const watcher = state.watchers.get(data.task_id);
    if (watcher) watcher(data.task);
  };
  socket.onclose = () => {
    state.socket = null;
    live.textContent = "offline (polling)";
    live.classList.remove("on");
    setTimeout(connectFeed, 3000);
  };
}

function watch(taskId, onTask) {
  state.watchers.set(taskId, onTask);
  if (state.socket) state.socket.send(JSON.stringify({ action: "subscribe", task_ids: [taskId] }));
  // A GET now and then as well: changes before the subscription, or a feed that is down.
  const poll = setInterval(async () => {
    if (!state.watchers.has(taskId)) return clearInterval(poll);
    try { onTask(await api("GET", "/tasks/" + taskId)); } catch (error) { /* the next poll tries again */ }
  }, state.socket ? 5000 : 1500);
  return () => {
    state.watchers.delete(taskId);
    clearInterval(poll);
    if (state.socket) state.socket.send(JSON.stringify({ action: "unsubscribe", task_ids: [taskId] }));
  };
}

// ---------------------------------------------------------------------------------------------- views
let leaveView = () => {};
let routing = 0;  // the latest navigation: a slower, earlier one must not paint over it

async function tasksView(view, params) {
  const query = new URLSearchParams({ size: "10" });
  for (const key of ["status", "data_source_id", "next_token"]) if (params.get(key)) query.set(key, params.get(key));
  const [listing, sources] = await Promise.all([api("GET", "/tasks?" + query), api("GET", "/data-sources?size=100")]);
  const filter = (name, options) => el("select", { name, onchange: (e) => {
      const next = new URLSearchParams(params);
      next.delete("next_token");
      if (e.target.value) next.set(name, e.target.value); else next.delete(name);
      location.hash = "#/tasks?" + next;
    } }, el("option", { value: "" }, "any"),
    options.map((o) => el("option", { value: o, selected: params.get(name) === o }, o)));
  const sourceIds = sources.data_sources.map((s) => s.id);
  const create = el("form", { class: "toolbar", id: "create-task", onsubmit: async (e) => {
      e.preventDefault();
      const form = new FormData(e.target);
      const body = { data_source_id: form.get("source"), task_type: form.get("type") };
      if (form.get("batch_size")) body.parameters = { batch_size: Number(form.get("batch_size")) };
      try {
        const task = await api("POST", "/tasks", body);
        toast("created " + task.id);
        location.hash = "#/tasks/" + task.id;
      } catch (error) { toast(error.message, true); }
    } },
    el("label", {}, "data source", el("select", { name: "source" }, sourceIds.map((id) => el("option", { value: id }, id)))),
    el("label", {}, "type", el("select", { name: "type" },
      ["full_sync", "incremental_sync", "realtime_sync"].map((t) => el("option", { value: t }, t)))),
    el("label", {}, "batch size", el("input", { name: "batch_size", type: "number", min: 1, placeholder: "1000" })),
    el("button", { type: "submit" }, "Create task"));
  const table = el("table", { id: "tasks" },
    el("thead", {}, el("tr", {}, ["id", "data source", "type", "status", "progress", "rows", "created"].map((h) => el("th", {}, h)))),
    el("tbody", {}, listing.tasks.map((task) => el("tr", { class: "row", "data-id": task.id,
      onclick: () => { location.hash = "#/tasks/" + task.id; } },
      el("td", {}, task.id), el("td", {}, task.data_source_id), el("td", {}, task.task_type),
      el("td", {}, statusCell(task.status)), el("td", {}, bar(task.progress, true)), el("td", {}, rows(task)),
      el("td", {}, (task.created_at || "").slice(0, 19).replace("T", " "))))));
  const paging = listing.pagination;
  const pager = el("div", { class: "pager" }, `${paging.total} tasks`,
    params.get("next_token") ? el("button", { class: "secondary", onclick: () => history.back() }, "Previous") : null,
    paging.next_token ? el("button", { class: "secondary", id: "next-page", onclick: () => {
      const next = new URLSearchParams(params);
      next.set("next_token", paging.next_token);
      location.hash = "#/tasks?" + next;
    } }, "Next") : null);
  view.replaceChildren(create,
    el("div", { class: "toolbar" }, el("label", {}, "status", filter("status", ["pending", "running", "paused", "success", "failed", "cancelled"])),
      el("label", {}, "data source", filter("data_source_id", sourceIds))),
    table, pager);
}

async function taskView(view, taskId) {
  let task = await api("GET", "/tasks/" + taskId);
  const progress = bar(task.progress);
  progress.id = "task-progress";
  const figures = el("div", { id: "task-figures" });
  const facts = el("dl", { class: "facts" });
  const actions = el("div", { class: "toolbar" });
  const output = el("div", { class: "card", id: "task-output" });
  let outputOf = null;  // the status whose output is shown
  const showOutput = async () => {
    if (!["success", "failed", "cancelled"].includes(task.status) || outputOf === task.status) return;
    outputOf = task.status;
    try {
      const found = await api("GET", `/tasks/${taskId}/output?preview=5`);
      if (found.destination === "iceberg") {
        const name = found.table.split(".").pop();
        output.replaceChildren(el("h3", {}, "Output: lake table "),
          el("p", { id: "output-table" }, el("a", { href: "#/tables/" + name }, found.table),
            found.snapshot_id === null ? " (nothing committed)"
              : ` · snapshot ${found.snapshot_id} · ${(found.rows_added ?? 0).toLocaleString("en")} rows added, ` +
                `${(found.rows_removed ?? 0).toLocaleString("en")} removed`));
        return;
      }
      const preview = found.preview || [];
      const columns = [...new Set(preview.flatMap((row) => Object.keys(row)))];
      const cell = (value) => el("td", {}, value !== null && typeof value === "object" ? JSON.stringify(value) : String(value ?? ""));
      output.replaceChildren(
        el("h3", {}, `Output: ${found.rows.toLocaleString("en")} rows in ${found.parts.length} file(s)`),
        el("table", { id: "output-files" },
          el("thead", {}, el("tr", {}, el("th", {}, "file"), el("th", {}, "rows"), el("th", {}, "bytes"))),
          el("tbody", {}, found.parts.map((part) => el("tr", {},
            el("td", {}, el("a", { href: part.url, rel: "noopener" }, part.key.split("/").pop())),
            cell(part.rows.toLocaleString("en")), cell(part.bytes === null ? "" : part.bytes.toLocaleString("en")))))),
        preview.length ? el("h3", {}, "First rows") : null,
        preview.length ? el("table", { id: "output-preview" },
          el("thead", {}, el("tr", {}, columns.map((column) => el("th", {}, column)))),
          el("tbody", {}, preview.map((row) => el("tr", {}, columns.map((column) => cell(row[column])))))) : null);
    } catch (error) {
      output.replaceChildren(el("p", {}, "Output: " + error.message));
    }
  };
  const render = (next) => {
    task = next;
    showOutput();
    progress.setAttribute("aria-valuenow", Math.round(task.progress || 0));
    progress.firstChild.style.width = Math.min(100, task.progress || 0) + "%";
    figures.replaceChildren(statusCell(task.status), ` ${Math.round(task.progress || 0)}% · ${rows(task)} rows`,
      task.speed ? ` · ${Math.round(task.speed).toLocaleString("en")} rows/s` : "",
      task.estimated_time ? ` · ETA ${Math.round(task.estimated_time)} s` : "");
    facts.replaceChildren(...Object.entries(task).filter(([, v]) => v !== null && v !== undefined)
      .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, typeof v === "object" ? JSON.stringify(v) : String(v))]));
    actions.replaceChildren(
      el("button", { id: "pause", class: "secondary",
        disabled: !["pending", "running", "paused"].includes(task.status) || task.cancel_requested
          || (task.status === "running" && task.pause_requested),
        onclick: async () => {
          const verb = task.status === "paused" ? "resume" : "pause";
          try { const answer = await api("POST", `/tasks/${taskId}/${verb}`); render(answer); toast(`${verb} sent`); }
          catch (error) { toast(error.message, true); }
        } }, task.status === "paused" ? "Resume" : task.pause_requested ? "Pausing…" : "Pause"),
      el("button", { id: "cancel", disabled: !["pending", "running", "paused"].includes(task.status) || task.cancel_requested,
        onclick: async () => {
          try { const answer = await api("POST", `/tasks/${taskId}/cancel`); render(answer); toast("cancel sent"); }
          catch (error) { toast(error.message, true); }
        } }, task.cancel_requested && task.status === "running" ? "Cancelling…" : "Cancel"),
      el("button", { id: "retry", class: "secondary", disabled: task.status !== "failed", onclick: async () => {
          try { const retry = await api("POST", `/tasks/${taskId}/retry`, {}); location.hash = "#/tasks/" + retry.id; }
          catch (error) { toast(error.message, true); }
        } }, "Retry"));
  };
  render(task);
  view.replaceChildren(el("p", {}, el("a", { href: "#/tasks" }, "← tasks")), el("h2", {}, taskId),
    el("div", { class: "card" }, progress, figures, actions), output, el("div", { class: "card" }, facts));
  return watch(taskId, (next) => { if (next.id === taskId) render(next); });
}

async function sourcesView(view) {
  const listing = await api("GET", "/data-sources?size=100");
  view.replaceChildren(el("table", { id: "sources" },
    el("thead", {}, el("tr", {}, ["id", "name", "type", "secrets", "notify", "created"].map((h) => el("th", {}, h)))),
    el("tbody", {}, listing.data_sources.map((s) => el("tr", {},
      el("td", {}, s.id), el("td", {}, s.name), el("td", {}, s.type), el("td", {}, s.has_secrets ? "yes" : ""),
      el("td", {}, s.notify_url || ""), el("td", {}, (s.created_at || "").slice(0, 19).replace("T", " ")))))));
}

async function schedulesView(view) {
  const listing = await api("GET", "/schedules?size=100");
  const row = (s) => el("tr", { "data-schedule": s.id },
    el("td", {}, s.id), el("td", {}, s.name), el("td", {}, s.data_source_id), el("td", {}, s.task_type),
    el("td", {}, `${s.expression} (${s.timezone || "UTC"})`), el("td", {}, el("span", { class: "status " + (s.state === "enabled" ? "success" : "paused"), "data-state": s.state }, s.state)),
    el("td", {}, (s.next_run_at || "").slice(0, 19).replace("T", " ")),
    el("td", {}, (s.last_run_at || "").slice(0, 19).replace("T", " ")),
    el("td", {}, s.last_task_id ? el("a", { href: "#/tasks/" + s.last_task_id }, s.last_outcome || "") : (s.last_outcome || "")),
    el("td", {}, `${s.runs} / ${s.skipped_runs} skipped`),
    el("td", {},
      el("button", { class: "secondary state", onclick: async () => {
        const verb = s.state === "enabled" ? "pause" : "resume";
        try { await api("POST", `/schedules/${s.id}/${verb}`); toast(`${s.id}: ${verb}d`); route(); }
        catch (error) { toast(error.message, true); }
      } }, s.state === "enabled" ? "Pause" : "Resume"),
      el("button", { class: "secondary trigger", onclick: async () => {
        try { const run = await api("POST", `/schedules/${s.id}/trigger`); location.hash = "#/tasks/" + run.task.id; }
        catch (error) { toast(error.message, true); }
      } }, "Run now")));
  view.replaceChildren(listing.schedules.length
    ? el("table", { id: "schedules" },
      el("thead", {}, el("tr", {}, ["id", "name", "source", "type", "expression", "state", "next run (UTC)",
        "last run (UTC)", "last outcome", "runs", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, listing.schedules.map(row)))
    : el("p", { class: "card" }, "No schedules yet: POST /api/sync/schedules or `synchub schedules create` makes one."));
}

function barChart(id, title, points, color) {
  const width = 520, height = 200, left = 48, bottom = 24, max = Math.max(1, ...points.map((p) => p.value));
  const step = (width - left) / Math.max(1, points.length);
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("id", id);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", title);
  const add = (tag, attributes, text) => {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    svg.append(node);
  };
  add("text", { x: 0, y: 12 }, max.toLocaleString("en"));
  add("line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom, stroke: "#ccc" });
  points.forEach((point, n) => {
    const h = (height - bottom - 16) * point.value / max;
    add("rect", { x: left + n * step + 2, y: height - bottom - h, width: Math.max(1, step - 4), height: h,
      fill: point.color || color,
      "data-label": point.label, "data-value": point.value }, undefined);
    if (points.length <= 14 || n % Math.ceil(points.length / 10) === 0) {
      add("text", { x: left + n * step + 2, y: height - 6 }, point.label);
    }
  });
  return el("div", { class: "card" }, el("h3", {}, title), svg);
}

const bytesShown = (n) => n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : `${Math.ceil(n / 1024)} KB`;
const when = (iso) => (iso || "").slice(0, 19).replace("T", " ");

async function tablesView(view) {
  const listing = await api("GET", "/tables");
  view.replaceChildren(listing.items.length
    ? el("table", { id: "tables" },
      el("thead", {}, el("tr", {}, ["table", "source", "rows", "data files", "size", "last commit (UTC)", "by task"]
        .map((h) => el("th", {}, h)))),
      el("tbody", {}, listing.items.map((t) => el("tr", {},
        el("td", {}, el("a", { href: "#/tables/" + t.name }, t.table)),
        el("td", {}, [t.data_source_id, t.interface_id].filter(Boolean).join(" / ")),
        el("td", {}, t.rows.toLocaleString("en")), el("td", {}, String(t.data_files)), el("td", {}, bytesShown(t.bytes)),
        el("td", {}, when(t.last_commit && t.last_commit.committed_at)),
        el("td", {}, t.last_commit && t.last_commit.task_id
          ? el("a", { href: "#/tasks/" + t.last_commit.task_id }, t.last_commit.task_id) : "")))))
    : el("p", { class: "card" }, "No lake tables yet: a sync of a data source whose destination is iceberg makes one."));
}

async function tableView(view, name) {
  const [table, preview] = await Promise.all([api("GET", "/tables/" + name), api("GET", `/tables/${name}/preview?limit=5`)]);
  const columns = table.columns.map((c) => c.name);
  const cell = (value) => el("td", {}, value !== null && typeof value === "object" ? JSON.stringify(value) : String(value ?? ""));
  view.replaceChildren(
    el("div", { class: "card" }, el("h3", {}, table.table),
      `${table.rows.toLocaleString("en")} rows · ${table.data_files} data files · ${bytesShown(table.bytes)} · ` +
      `${table.snapshot_count} snapshots · ${table.location}`),
    el("div", { class: "card" }, el("h3", {}, "Latest commits"),
      el("table", { id: "table-commits" },
        el("thead", {}, el("tr", {}, ["committed (UTC)", "operation", "task", "added", "removed", "rows"].map((h) => el("th", {}, h)))),
        el("tbody", {}, table.snapshots.map((s) => el("tr", {},
          el("td", {}, when(s.committed_at)), el("td", {}, s.operation || ""),
          el("td", {}, s.task_id ? el("a", { href: "#/tasks/" + s.task_id }, s.task_id) : ""),
          el("td", {}, s.rows_added.toLocaleString("en")), el("td", {}, s.rows_removed.toLocaleString("en")),
          el("td", {}, s.rows === null ? "" : s.rows.toLocaleString("en"))))))),
    el("div", { class: "card" }, el("h3", {}, "Columns"),
      el("table", { id: "table-columns" }, el("tbody", {}, table.columns.map((c) => el("tr", {},
        el("td", {}, c.name), el("td", {}, c.type)))))),
    el("div", { class: "card" }, el("h3", {}, "First rows"),
      el("table", { id: "table-preview" },
        el("thead", {}, el("tr", {}, columns.map((column) => el("th", {}, column)))),
        el("tbody", {}, preview.rows.map((row) => el("tr", {}, columns.map((column) => cell(row[column]))))))));
}

async function statisticsView(view, params) {
  const days = Number(params.get("days") || 7);
  const end = new Date();
  const start = new Date(end.getTime() - (days - 1) * 86400000);
  const query = new URLSearchParams({ start_time: start.toISOString().slice(0, 10) + "T00:00:00Z",
    end_time: end.toISOString() });
  if (params.get("data_source_id")) query.set("data_source_id", params.get("data_source_id"));
  const stats = await api("GET", "/tasks/statistics?" + query);
  const colors = { pending: "#b45309", running: "#0e7490", success: "#15803d", failed: "#b91c1c", cancelled: "#6b7385", paused: "#999" };
  view.replaceChildren(
    el("div", { class: "toolbar" }, el("label", {}, "window", el("select", { id: "window", onchange: (e) => {
      location.hash = "#/statistics?days=" + e.target.value; } },
      [7, 30, 90].map((d) => el("option", { value: d, selected: d === days }, `last ${d} days`))))),
    el("div", { class: "card" }, `${stats.total_tasks} tasks · ${stats.success_rate === null ? "none finished" : stats.success_rate + "% successful"} · ` +
      `${stats.processed_rows.toLocaleString("en")} rows · ${stats.engine_statistics.running_tasks} running now`),
    el("div", { class: "charts" },
      barChart("chart-status", "Status breakdown", stats.status_breakdown
        .map((s) => ({ label: s.status, value: s.count, color: colors[s.status] })), "#2563eb"),
      barChart("chart-daily-tasks", "Tasks per day", stats.daily.map((d) => ({ label: d.date.slice(5), value: d.total_tasks })), "#0e7490"),
      barChart("chart-daily-rows", "Rows per day", stats.daily.map((d) => ({ label: d.date.slice(5), value: d.processed_rows })), "#15803d")));
}

async function route() {
  leaveView();
  leaveView = () => {};
  const current = ++routing;
  // Each navigation renders into its own element, shown only if no later navigation started meanwhile.
  const view = el("div");
  const [path, search] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(search || "");
  const parts = (path || "/tasks").split("/").filter(Boolean);
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.view === parts[0]);
  let leave = () => {};
  try {
    if (parts[0] === "tasks" && parts[1]) leave = await taskView(view, parts[1]);
    else if (parts[0] === "sources") await sourcesView(view);
    else if (parts[0] === "schedules") await schedulesView(view);
    else if (parts[0] === "tables" && parts[1]) await tableView(view, parts[1]);
    else if (parts[0] === "tables") await tablesView(view);
    else if (parts[0] === "statistics") await statisticsView(view, params);
    else await tasksView(view, params);
  } catch (error) {
    if (error.status === 401) {
      view.replaceChildren(signInPrompt());
    } else {
      view.replaceChildren(el("p", { class: "card" }, "Could not load: " + error.message));
    }
  }
  if (current !== routing) return leave();
  leaveView = leave;
  document.getElementById("view").replaceChildren(view);
}

(async function start() {
  state.config = await (await fetch("dashboard/config.json")).json();
  try { await finishSignIn(); } catch (error) { toast(error.message, true); }
  const signOutButton = document.getElementById("sign-out");
  signOutButton.hidden = state.config.auth === "none" || !localStorage.getItem(TOKEN_KEY);
  signOutButton.addEventListener("click", signOut);
  window.addEventListener("hashchange", route);
  connectFeed();
  await route();
})();
