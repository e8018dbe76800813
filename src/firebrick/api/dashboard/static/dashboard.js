// Firebrick's dashboard: signs in, then reads the Block Storage API with the token it got,
// polling so that statuses move live. No framework, no build step, nothing from elsewhere.
import * as views from "./views.js";

const VOLUME_POLL_MS = 1000;
const PANEL_POLL_MS = 3000;
const MICROVERSION = "volume 3.71";
const STORE = "firebrick.dashboard.session";
const $ = (id) => document.getElementById(id);

const state = {
  config: null, session: null, admin: false, selected: null,
  volumes: new Map(), timer: null, panelsTimer: null, busy: false,
};

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, params = {}, { version = MICROVERSION } = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v != null));
  const url = `/v3/${encodeURIComponent(state.session.project_id)}${path}${query.size ? `?${query}` : ""}`;
  const resp = await fetch(url, {
    headers: { "X-Auth-Token": state.session.token, "OpenStack-API-Version": version,
               Accept: "application/json" },
    cache: "no-store",
  });
  if (resp.status === 401) { signOut("Your session has ended; sign in again."); throw new ApiError(401, "unauthorized"); }
  if (!resp.ok) {
    let message = resp.statusText;
    try { const body = await resp.json(); message = Object.values(body)[0].message || message; } catch { /* not JSON */ }
    throw new ApiError(resp.status, message);
  }
  return { body: await resp.json(), date: new Date(resp.headers.get("Date") || Date.now()) };
}

// --- signing in ------------------------------------------------------------------------

async function signIn(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  try {
    let session;
    if (state.config.auth_strategy === "keystone") {
      const resp = await fetch("/dashboard/login", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          username: $("login-username").value, password: $("login-password").value,
          project: $("login-project").value, user_domain: $("login-domain").value,
          project_domain: $("login-domain").value,
        }),
      });
      const body = await resp.json();
      if (!resp.ok) throw new Error(Object.values(body)[0].message);
      session = body;
    } else {
      const user = $("login-user").value.trim() || "admin";
      const project = $("login-noauth-project").value.trim();
      if (!project) throw new Error("A project is needed.");
      session = { token: `${user}:${project}`, project_id: project, project_name: project,
                  user_name: user, roles: ["admin"] };
    }
    $("login-password").value = "";
    await start(session);
  } catch (error) {
    $("login-error").textContent = error.message;
  }
}

function signOut(reason = "") {
  clearInterval(state.timer);
  clearInterval(state.panelsTimer);
  sessionStorage.removeItem(STORE);
  state.session = null;
  state.selected = null;
  $("app").hidden = true;
  $("logout").hidden = true;
  $("live").hidden = true;
  $("whoami").textContent = "";
  $("login").hidden = false;
  $("login-error").textContent = reason;
}

async function start(session) {
  state.session = session;
  await api("/volumes", { limit: 1 });  // the token works (or throws)
  sessionStorage.setItem(STORE, JSON.stringify(session));
  // Policy decides what an admin is: whoever may list the services.
  state.admin = await api("/os-services").then(() => true, () => false);
  document.body.classList.toggle("is-admin", state.admin);
  $("whoami").textContent = `${session.user_name} · ${session.project_name}${state.admin ? " · admin" : ""}`;
  $("login").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
  $("live").hidden = false;
  $("pools-panel").hidden = !state.admin;
  $("services-panel").hidden = !state.admin;
  await refreshVolumes();
  await refreshPanels();
  state.timer = setInterval(refreshVolumes, VOLUME_POLL_MS);
  state.panelsTimer = setInterval(refreshPanels, PANEL_POLL_MS);
}

// --- volumes, live ---------------------------------------------------------------------

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function refreshVolumes() {
  if (state.busy || !state.session) return;
  state.busy = true;
  try {
    const search = $("search").value.trim();
    const params = { limit: 200, sort: "created_at:desc", status: $("status-filter").value };
    if (state.admin) params.all_tenants = 1;
    if (search && !UUID.test(search)) params["name~"] = search;
    let volumes;
    if (UUID.test(search)) {
      volumes = await api(`/volumes/${search}`).then((r) => [r.body.volume], () => []);
    } else {
      volumes = (await api("/volumes/detail", params)).body.volumes;
    }
    renderVolumes(volumes);
    $("live").classList.remove("stale");
    $("updated").textContent = new Date().toLocaleTimeString();
    if (state.selected) await refreshTimeline();
  } catch (error) {
    $("live").classList.add("stale");
  } finally {
    state.busy = false;
  }
}

function renderVolumes(volumes) {
  state.volumes = new Map(volumes.map((v) => [v.id, v]));
  const rows = volumes.map((v) => views.volumeRow(v, { selected: v.id === state.selected, onOpen: openTimeline }));
  $("volumes").tBodies[0].replaceChildren(...rows);
  $("volumes-empty").hidden = volumes.length > 0;
  $("volume-count").textContent = `(${volumes.length})`;
}

// --- a volume's timeline ---------------------------------------------------------------

async function openTimeline(volumeId) {
  state.selected = volumeId;
  for (const row of $("volumes").tBodies[0].rows) {
    row.classList.toggle("selected", row.dataset.volumeId === volumeId);
  }
  $("timeline-panel").hidden = false;
  await refreshTimeline();
}

async function refreshTimeline() {
  const volumeId = state.selected;
  const all = state.admin ? { all_tenants: 1 } : {};
  const [volume, data, snapshots, backups] = await Promise.all([
    state.volumes.get(volumeId) ? Promise.resolve(state.volumes.get(volumeId))
      : api(`/volumes/${volumeId}`).then((r) => r.body.volume, () => null),
    api(`/volumes/${volumeId}/timeline`).then((r) => r.body.timeline, () => null),
    api("/snapshots/detail", { volume_id: volumeId, ...all }).then((r) => r.body.snapshots, () => []),
    api("/backups/detail", { volume_id: volumeId, ...all }).then((r) => r.body.backups, () => null),
  ]);
  if (volumeId !== state.selected) return;  // another volume was opened meanwhile
  if (!volume || !data) {
    $("timeline-title").textContent = "";
    $("timeline").replaceChildren(views.el("p", { class: "empty" }, "This volume is gone."));
    return;
  }
  $("timeline-title").textContent = `${volume.name || ""} ${volume.id}`;
  $("timeline").replaceChildren(views.timeline(volume, data, { snapshots, backups }));
}

function closeTimeline() {
  state.selected = null;
  $("timeline-panel").hidden = true;
  for (const row of $("volumes").tBodies[0].rows) row.classList.remove("selected");
}

// --- pools, services, messages ---------------------------------------------------------

async function refreshPanels() {
  if (!state.session) return;
  const jobs = [
    api("/messages", {}, { version: "volume 3.3" }).then(({ body }) => {
      const latest = body.messages.sort((a, b) => (a.created_at < b.created_at ? 1 : -1)).slice(0, 12);
      $("messages").replaceChildren(...(latest.length ? latest.map(views.messageItem)
        : [views.el("li", { class: "empty" }, "No messages.")]));
    }),
  ];
  if (state.admin) {
    jobs.push(api("/scheduler-stats/get_pools", { detail: "true" }).then(({ body }) => {
      $("pools").replaceChildren(...body.pools.map(views.pool));
    }));
    jobs.push(api("/os-services").then(({ body, date }) => {
      const now = Math.max(date.getTime(), Date.now());
      $("services").tBodies[0].replaceChildren(...body.services.map((s) => views.serviceRow(s, now)));
    }));
  }
  await Promise.allSettled(jobs);
}

// --- boot --------------------------------------------------------------------------------

async function boot() {
  state.config = await (await fetch("/dashboard/config", { cache: "no-store" })).json();
  const keystone = state.config.auth_strategy === "keystone";
  $("login-keystone").hidden = !keystone;
  $("login-noauth").hidden = keystone;
  $("login-form").addEventListener("submit", signIn);
  $("logout").addEventListener("click", () => signOut());
  $("timeline-close").addEventListener("click", closeTimeline);
  $("status-filter").addEventListener("change", refreshVolumes);
  $("search").addEventListener("input", () => setTimeout(refreshVolumes, 250));
  const saved = sessionStorage.getItem(STORE);
  if (saved) {
    try { await start(JSON.parse(saved)); return; } catch { sessionStorage.removeItem(STORE); }
  }
  $("login").hidden = false;
}

boot();
