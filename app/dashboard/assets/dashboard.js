// The buildstate dashboard. The read key lives in sessionStorage and travels only in the
// X-API-Key header (HTTP) or the connection_init payload (GraphQL websocket), never in a URL.
"use strict";

(() => {
  const STORE = "buildstate.readKey";
  const params = new URLSearchParams(location.search);
  const refreshSeconds = Math.min(Math.max(Number(params.get("refresh")) || 10, 1), 600);
  const $ = (id) => document.getElementById(id);
  const state = { timer: null, refreshes: 0, inflight: null, live: null, builds: [] };

  class AuthError extends Error {}

  const readKey = () => sessionStorage.getItem(STORE);

  async function api(path) {
    const response = await fetch(path, {
      headers: { "X-API-Key": readKey() || "", Accept: "application/json" },
      cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer",
    });
    if (response.status === 401 || response.status === 403) {
      const body = await response.json().catch(() => ({}));
      throw new AuthError(body.detail || `HTTP ${response.status}`);
    }
    if (!response.ok) throw new Error(`${path.split("?")[0]}: HTTP ${response.status}`);
    return response.json();
  }

  // ---- formatting ---------------------------------------------------------------------------
  const fmtInt = (n) => Number(n).toLocaleString("en-US");
  function fmtDuration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 90) return `${Math.round(seconds)} s`;
    const minutes = seconds / 60;
    if (minutes < 90) return `${Math.round(minutes)} min`;
    const h = Math.floor(minutes / 60), m = Math.round(minutes % 60);
    return m ? `${h} h ${m} min` : `${h} h`;
  }
  function fmtAgo(iso) {
    const s = (Date.now() - new Date(iso).getTime()) / 1000;
    if (s < 60) return "just now";
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return new Date(iso).toISOString().slice(0, 10);
  }
  function cell(row, content, cls) {
    const td = document.createElement("td");
    if (content instanceof Node) td.appendChild(content); else td.textContent = content ?? "–";
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }
  function badge(status) {
    const span = document.createElement("span");
    span.className = `badge ${status}`;
    span.textContent = status;
    return span;
  }

  // ---- rendering ----------------------------------------------------------------------------
  const STATUS_ORDER = ["running", "pending", "failed", "completed", "cancelled"];

  function renderKpis(s) {
    const total = s.builds_by_status.reduce((a, c) => a + c.count, 0);
    const by = Object.fromEntries(s.builds_by_status.map((c) => [c.status, c.count]));
    $("kpi-builds").textContent = fmtInt(total);
    $("kpi-builds").dataset.value = total;
    $("kpi-builds-note").textContent =
      `${fmtInt(by.running || 0)} running · ${fmtInt(by.failed || 0)} failed · ${fmtInt(by.completed || 0)} completed`;
    const done = s.resume_success_by_day.reduce((a, d) => a + d.completed, 0);
    const ended = s.resume_success_by_day.reduce((a, d) => a + d.completed + d.failed, 0);
    const rate = s.resume_success_rate;
    $("kpi-success-rate").textContent = rate === null ? "–" : `${Math.round(rate * 1000) / 10}%`;
    $("kpi-success-rate").dataset.value = rate === null ? "" : rate;
    $("kpi-success-note").textContent = ended ? `${done} of ${ended} finished resumes completed` : "no resume has finished yet";
    $("kpi-time-to-resume").textContent = fmtDuration(s.median_time_to_resume_seconds);
    $("kpi-time-to-resume").dataset.value = s.median_time_to_resume_seconds ?? "";
    const saved = s.build_minutes_saved;
    $("kpi-minutes-saved").textContent = `${fmtInt(Math.round(saved * 10) / 10)} min`;
    $("kpi-minutes-saved").dataset.value = saved;
    $("kpi-saved-note").textContent = saved >= 60
      ? `≈ ${(saved / 60).toFixed(1)} build hours over ${s.resumes_started} resumes`
      : `over ${s.resumes_started} resume${s.resumes_started === 1 ? "" : "s"}, instead of restarting`;
  }

  function renderCharts(s) {
    const statuses = [...s.builds_by_status].sort(
      (a, b) => STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status));
    Charts.hbars($("chart-status"), statuses.map((c) => ({ label: c.status, value: c.count, cls: c.status })),
      { label: "Builds by status", emptyText: "No builds in this period." });
    Charts.vbars($("chart-failures"), s.failures_by_state.map((f) => ({
      label: String(f.state_code), sublabel: f.state_name || "", value: f.count,
      title: `state ${f.state_code}${f.state_name ? " " + f.state_name : ""}`, cls: "failed",
    })), { label: "Failures by state", emptyText: "No failures in this period." });
    Charts.rateLine($("chart-resume-rate"), s.resume_success_by_day.map((d) => ({
      label: d.day.slice(5), value: d.rate ?? 0, detail: `${d.completed} completed, ${d.failed} failed`,
    })), { label: "Resume success rate by day" });
  }

  function progress(build) {
    const bar = document.createElement("div");
    bar.className = "progress";
    bar.setAttribute("role", "img");
    const done = build.steps.filter((st) => st.state === "done").length;
    bar.setAttribute("aria-label", `${done} of ${build.steps.length} states done`);
    for (const step of build.steps) {
      const seg = document.createElement("span");
      seg.className = `step ${step.state}`;
      seg.title = `${step.code}${step.name ? " " + step.name : ""}: ${step.state}`;
      bar.appendChild(seg);
    }
    return bar;
  }

  function renderTables(s) {
    const body = $("recent-builds").tBodies[0];
    body.replaceChildren();
    for (const b of s.recent_builds) {
      const row = body.insertRow();
      row.dataset.buildId = b.id;
      cell(row, b.project_id);
      cell(row, `#${b.build_number}`);
      cell(row, badge(b.status));
      cell(row, progress(b), "progress-cell");
      cell(row, b.failed_state !== null && b.status === "failed"
        ? `failed at ${b.failed_state}` : `at ${b.current_state}`);
      cell(row, String(b.resume_count), "num");
      cell(row, fmtAgo(b.updated_at));
    }
    $("recent-empty").hidden = s.recent_builds.length > 0;
    const open = $("open-resumes").tBodies[0];
    open.replaceChildren();
    for (const r of s.open_resume_requests) {
      const row = open.insertRow();
      row.dataset.requestId = r.id;
      cell(row, r.project_id);
      cell(row, `#${r.build_number}`);
      cell(row, badge(r.status));
      cell(row, String(r.resume_from_state), "num");
      cell(row, r.requested_by);
      cell(row, r.request_source);
      cell(row, r.resume_reason, "reason");
      cell(row, fmtAgo(r.created_at));
    }
    $("open-empty").hidden = s.open_resume_requests.length > 0;
  }

  function query() {
    const q = new URLSearchParams({ recent: "12" });
    if ($("project").value) q.set("project_id", $("project").value);
    const days = Number($("since").value);
    if (days) q.set("since", new Date(Date.now() - days * 86400000).toISOString());
    return q.toString();
  }

  async function refresh() {
    if (state.inflight) {
      // Asked again while loading (a filter changed): load once more when this one ends.
      state.again = true;
      return state.inflight;
    }
    state.inflight = (async () => {
      try {
        const summary = await api(`/dashboard/summary?${query()}`);
        renderKpis(summary);
        renderCharts(summary);
        renderTables(summary);
        state.builds = summary.recent_builds;
        $("board-error").hidden = true;
        $("last-updated").textContent = new Date().toLocaleTimeString("en-GB");
        $("last-updated").dateTime = new Date().toISOString();
        state.refreshes += 1;
        document.body.dataset.refreshes = String(state.refreshes);
        if (state.live) state.live.follow(summary);
      } catch (err) {
        if (err instanceof AuthError) return signOut(`The key was refused: ${err.message}`);
        $("board-error").textContent = `Could not refresh: ${err.message}`;
        $("board-error").hidden = false;
      } finally {
        state.inflight = null;
        if (state.again) {
          state.again = false;
          refresh();
        }
      }
    })();
    return state.inflight;
  }

  async function loadProjects() {
    const select = $("project");
    const chosen = select.value;
    const projects = await api("/projects?limit=500");
    select.replaceChildren(new Option("All projects", ""));
    for (const p of projects) select.appendChild(new Option(p.name === p.id ? p.id : `${p.name} (${p.id})`, p.id));
    select.value = chosen;
  }

  // ---- live updates: GraphQL subscriptions over graphql-transport-ws ---------------------------
  class Live {
    constructor(onEvent) {
      this.onEvent = onEvent;
      this.subs = new Map(); // key -> operation id
      this.nextId = 1;
      this.backoff = 1000;
      this.closed = false;
      this.connect();
    }
    setStatus(text, ok) {
      $("live-text").textContent = text;
      $("live").classList.toggle("on", !!ok);
    }
    connect() {
      const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
      this.ws = new WebSocket(url, "graphql-transport-ws");
      this.acked = false;
      this.ws.onopen = () => this.ws.send(JSON.stringify({ type: "connection_init", payload: { "X-API-Key": readKey() } }));
      this.ws.onmessage = (m) => this.message(JSON.parse(m.data));
      this.ws.onclose = () => {
        this.acked = false;
        this.subs.clear();
        this.setStatus(`polling every ${refreshSeconds}s`, false);
        if (!this.closed) setTimeout(() => this.connect(), this.backoff);
        this.backoff = Math.min(this.backoff * 2, 30000);
      };
    }
    message(msg) {
      if (msg.type === "connection_ack") {
        this.acked = true;
        this.backoff = 1000;
        this.setStatus("live", true);
        if (this.wanted) this.follow(this.wanted);
      } else if (msg.type === "ping") {
        this.ws.send(JSON.stringify({ type: "pong" }));
      } else if (msg.type === "next") {
        this.onEvent(msg.payload);
      } else if (msg.type === "error" || msg.type === "complete") {
        // The server ended it (an error, or the credential check): the next follow() may ask again.
        for (const [k, id] of this.subs) if (id === msg.id) this.subs.delete(k);
      }
    }
    subscribe(key, query, variables) {
      const id = String(this.nextId++);
      this.subs.set(key, id);
      this.ws.send(JSON.stringify({ id, type: "subscribe", payload: { query, variables } }));
    }
    // Follow the builds on screen and the projects they belong to.
    follow(summary) {
      this.wanted = summary;
      if (!this.acked) return;
      const want = new Map();
      for (const b of summary.recent_builds.slice(0, 12)) {
        want.set(`b:${b.id}`, ["subscription DashboardBuild($id: ID!) { buildEvents(buildId: $id) { id action } }", { id: b.id }]);
      }
      const projects = $("project").value ? [$("project").value] : [...new Set(summary.recent_builds.map((b) => b.project_id))];
      for (const p of projects.slice(0, 10)) {
        want.set(`p:${p}`, ["subscription DashboardResumes($p: ID!) { resumeRequestUpdates(projectId: $p) { event { id action } } }", { p }]);
      }
      for (const [k, id] of this.subs) {
        if (!want.has(k)) {
          this.ws.send(JSON.stringify({ id, type: "complete" }));
          this.subs.delete(k);
        }
      }
      for (const [k, [q, v]] of want) if (!this.subs.has(k)) this.subscribe(k, q, v);
    }
    close() {
      this.closed = true;
      if (this.ws) this.ws.close();
    }
  }

  let pending = null;
  function soon() {
    // Several events in a burst cause one refresh.
    if (pending) return;
    pending = setTimeout(() => { pending = null; refresh(); }, 250);
  }

  // ---- sign in / out ------------------------------------------------------------------------
  function showLogin(message) {
    $("board").hidden = true;
    $("controls").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("api-key").focus();
  }

  async function showBoard() {
    $("login").hidden = true;
    $("board").hidden = false;
    $("controls").hidden = false;
    try {
      await loadProjects();
    } catch (err) {
      if (err instanceof AuthError) return signOut(`The key was refused: ${err.message}`);
    }
    await refresh();
    clearInterval(state.timer);
    state.timer = setInterval(refresh, refreshSeconds * 1000);
    if (!state.live && readKey()) state.live = new Live(soon);
  }

  function signOut(message) {
    sessionStorage.removeItem(STORE);
    clearInterval(state.timer);
    if (state.live) state.live.close();
    state.live = null;
    showLogin(message);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const value = $("api-key").value.trim();
      if (!value) return;
      sessionStorage.setItem(STORE, value);
      $("api-key").value = "";
      showBoard();
    });
    $("sign-out").addEventListener("click", () => signOut(""));
    $("project").addEventListener("change", refresh);
    $("since").addEventListener("change", refresh);
    if (readKey()) showBoard(); else showLogin("");
  });
})();
