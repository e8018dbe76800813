// Rendering: data in, DOM out. Text always goes in as text (never as HTML).

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Cinder's timestamps are naive UTC.
export function parseTime(text) {
  if (!text) return null;
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text}Z`);
}

export function clock(text) {
  const at = parseTime(text);
  return at ? at.toISOString().replace("T", " ").slice(0, 19) : "—";
}

export function ms(value) {
  if (value === null || value === undefined) return "—";
  if (value >= 1000) return `${(value / 1000).toFixed(value >= 10000 ? 1 : 2)} s`;
  if (value >= 100) return `${Math.round(value)} ms`;
  return `${value.toFixed(value >= 10 ? 1 : 2)} ms`;
}

export function age(seconds) {
  if (seconds === null || Number.isNaN(seconds)) return "—";
  if (seconds < 120) return `${Math.max(0, Math.round(seconds))} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

export const badge = (status) => el("span", { class: `status ${status}` }, status);

export function volumeRow(volume, { selected, onOpen }) {
  const row = el(
    "tr",
    { class: `volume${selected ? " selected" : ""}`, dataset: { volumeId: volume.id },
      onclick: () => onOpen(volume.id) },
    el("td", { class: "name" }, volume.name || "—"),
    el("td", { class: "mono", title: volume.id }, volume.id.slice(0, 8)),
    el("td", {}, badge(volume.status)),
    el("td", { class: "num" }, `${volume.size} GiB`),
    el("td", { class: "admin-only mono", title: volume["os-vol-tenant-attr:tenant_id"] || "" },
       (volume["os-vol-tenant-attr:tenant_id"] || "").slice(0, 8)),
    el("td", { class: "admin-only mono" }, volume["os-vol-host-attr:host"] || "—"),
    el("td", {}, clock(volume.created_at)),
  );
  return row;
}

function taskRow(task, total) {
  const bar = el("div", { class: "task-bar" });
  const scale = total > 0 ? 100 / total : 0;
  if (task.start_ms !== null && task.duration_ms !== null) {
    const span = el("div", { class: `span ${task.outcome}` });
    span.style.left = `${task.start_ms * scale}%`;
    span.style.width = `${task.duration_ms * scale}%`;
    bar.append(span);
  }
  if (task.revert_start_ms !== undefined && task.revert_end_ms !== null) {
    const revert = el("div", { class: "revert", title: "reverted" });
    revert.style.left = `${task.revert_start_ms * scale}%`;
    revert.style.width = `${(task.revert_end_ms - task.revert_start_ms) * scale}%`;
    bar.append(revert);
  }
  return [
    el("div", { class: "task", dataset: { outcome: task.outcome } },
       el("span", { class: "task-name" }, task.name),
       bar,
       el("span", { class: "task-duration" }, ms(task.duration_ms)),
       el("span", {}, badge(task.outcome)),
       task.error ? el("span", { class: "task-error" }, task.error) : null),
  ];
}

export function flowRun(run) {
  const verdict = run.outcome === "success" ? "available" : run.outcome;
  return el(
    "div", { class: "run", dataset: { outcome: run.outcome, attempt: run.attempt } },
    el("div", { class: "run-head" },
       el("span", { class: "attempt" }, `Attempt ${run.attempt}`),
       el("span", { class: "mono" }, run.flow),
       run.host ? el("span", { class: "run-host mono" }, `on ${run.host}`) : null,
       el("span", { class: "run-outcome" }, badge(verdict)),
       el("span", { class: "count" }, `${clock(run.started_at)} · ${ms(run.duration_ms)}`)),
    run.reason
      ? el("p", { class: "run-reason" },
           run.outcome === "rescheduled" ? `Failed${run.host ? ` on ${run.host}` : ""}: ${run.reason}`
                                         : run.reason)
      : null,
    el("div", { class: "tasks" }, run.tasks.map((t) => taskRow(t, run.duration_ms))),
  );
}

// The scheduler explains a refusal one pool a line: "pool <name>: <why>".
function verdictsOf(message) {
  if (message.verdicts) return message.verdicts;
  return message.user_message.split("\n").filter((line) => line.startsWith("pool ") && line.includes(": "))
    .map((line) => { const [pool, ...why] = line.slice(5).split(": "); return { pool, reason: why.join(": ") }; });
}

export function messageItem(message) {
  const verdicts = verdictsOf(message);
  return el(
    "li", { dataset: { messageId: message.id } },
    el("span", { class: "when" }, clock(message.created_at)),
    message.user_message.split("\n")[0],
    verdicts.length
      ? el("ul", { class: "verdicts" },
           verdicts.map((v) => el("li", { class: "verdict" },
                                  el("span", { class: "mono" }, v.pool), `: ${v.reason}`)))
      : null,
  );
}

function facts(pairs) {
  return el("dl", { class: "facts" },
            pairs.filter(([, v]) => v !== null && v !== undefined)
                 .map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

export function timeline(volume, data, extras) {
  const milestones = facts([
    ["Status", badge(volume.status)],
    ["Size", `${volume.size} GiB`],
    ["Pool", data.host],
    ["Accepted", clock(data.created_at)],
    ["Scheduled", data.scheduled_at ? `${clock(data.scheduled_at)} (attempt ${data.scheduling_attempts})` : "—"],
    ["Available", clock(data.launched_at)],
  ]);
  const list = (items, render, none) =>
    items && items.length ? el("ul", { class: "sublist" }, items.map(render))
                          : el("p", { class: "empty" }, none);
  return el(
    "div", { class: "timeline", dataset: { volumeId: volume.id } },
    milestones,
    el("h3", {}, "Flow runs"),
    data.runs.length ? data.runs.map(flowRun) : el("p", { class: "empty" }, "No finished flow run yet."),
    el("h3", {}, "Messages"),
    list(data.messages, messageItem, "No user messages."),
    el("h3", {}, "Snapshots"),
    list(extras.snapshots, (s) => el("li", {}, `${s.name || s.id.slice(0, 8)} `, badge(s.status),
                                     ` ${s.size} GiB`), "No snapshots."),
    el("h3", {}, "Attachments"),
    list(volume.attachments, (a) => el("li", {}, `server ${a.server_id || "—"} `,
                                       `${a.device || ""} since ${clock(a.attached_at)}`),
         "Not attached."),
    el("h3", {}, "Backups"),
    extras.backups === null ? el("p", { class: "empty" }, "Backups are not available here.")
      : list(extras.backups, (b) => el("li", {}, `${b.name || b.id.slice(0, 8)} `, badge(b.status),
                                       ` ${b.size} GiB`), "No backups."),
  );
}

const GiB = (value) => (typeof value === "number" ? value : Number(value));

export function pool(p) {
  const caps = p.capabilities || {};
  const total = GiB(caps.total_capacity_gb);
  const free = GiB(caps.free_capacity_gb);
  const allocated = GiB(caps.allocated_capacity_gb ?? 0);
  const provisioned = Math.max(GiB(caps.provisioned_capacity_gb ?? allocated), allocated);
  const ratio = GiB(caps.max_over_subscription_ratio ?? 1) || 1;
  const reserved = GiB(caps.reserved_percentage ?? 0) || 0;
  const limit = total * (1 - reserved / 100) * (caps.thin_provisioning_support ? ratio : 1);
  const physical = el("div", { class: "bar physical" });
  const used = el("div", { class: "used" });
  used.style.width = `${total > 0 ? Math.min(100, ((total - free) / total) * 100) : 0}%`;
  physical.append(used);
  const virtual = el("div", { class: "bar provisioned" });
  const alloc = el("div", { class: "allocated" });
  const scale = Math.max(limit, provisioned) || 1;
  alloc.style.width = `${Math.min(100, (provisioned / scale) * 100)}%`;
  const mark = el("div", { class: "limit", title: "over-subscription limit" });
  mark.style.left = `calc(${Math.min(100, (limit / scale) * 100)}% - 2px)`;
  virtual.append(alloc, mark);
  const fixed = (n) => (Number.isFinite(n) ? n.toFixed(n >= 100 ? 0 : 1) : "?");
  return el(
    "div", { class: "pool", dataset: { pool: p.name } },
    el("div", { class: "pool-name" }, p.name),
    el("div", { class: "bar-label" }, el("span", {}, "physical"),
       el("span", {}, `${fixed(total - free)} used · ${fixed(free)} free of ${fixed(total)} GiB`)),
    physical,
    el("div", { class: "bar-label" }, el("span", {}, "provisioned"),
       el("span", {}, `${fixed(provisioned)} of ${fixed(limit)} GiB (×${ratio})`)),
    virtual,
  );
}

export function serviceRow(service, now) {
  const seen = parseTime(service.updated_at);
  const seconds = seen ? (now - seen) / 1000 : null;
  return el(
    "tr", { dataset: { binary: service.binary, host: service.host } },
    el("td", {}, service.binary),
    el("td", { class: "mono", title: service.host }, service.host),
    el("td", {}, badge(service.state), service.status === "disabled" ? " disabled" : ""),
    el("td", { class: "num heartbeat" }, age(seconds)),
  );
}
