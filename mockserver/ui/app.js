// vismock dashboard: polls the admin API's JSON every second and acts through the same API.
// No framework, no build step, nothing fetched from anywhere but this server.
"use strict";

(function () {
  const POLL_MS = 1000;
  const JOURNAL_LIMIT = 60;
  const TOKEN_KEY = "vismock.adminToken";
  const ENTITY_TYPES = [
    "VirtualMachine", "HostSystem", "ComputeResource", "ClusterComputeResource", "Datacenter",
    "Datastore", "StoragePod", "Folder", "ResourcePool", "VirtualApp", "Network",
    "DistributedVirtualPortgroup", "VmwareDistributedVirtualSwitch",
  ];
  const STATES = ["queued", "running", "success", "error"];

  // The admin API is the folder above the page: /_vismock/ui/ -> /_vismock
  const API = window.location.pathname.replace(/\/ui\/?[^/]*$/, "");

  const state = {
    clock: null, clockFetchedAt: 0, lastJournalId: 0, polling: false,
    taskRows: new Map(), inventory: null, inventoryText: "",
  };

  // -- small DOM helpers (textContent only: nothing from the server is parsed as HTML)
  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // -- the admin API
  function token() {
    return window.sessionStorage.getItem(TOKEN_KEY) || "";
  }

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(method, path, body) {
    const headers = { "Accept": "application/json" };
    if (token()) headers["Authorization"] = "Bearer " + token();
    const init = { method, headers, cache: "no-store" };
    // The admin API takes a POST, PUT or PATCH only as JSON, with a body or without: the one type
    // another site's page cannot make a browser send without asking first (faces/guard.py).
    if (method !== "GET") headers["Content-Type"] = "application/json";
    if (body !== undefined) init.body = JSON.stringify(body);
    const response = await fetch(API + path, init);
    let data = null;
    try { data = await response.json(); } catch (error) { data = null; }
    if (!response.ok) {
      const message = (data && data.error) || (response.status + " " + response.statusText);
      throw new ApiError(response.status, message);
    }
    return data;
  }

  async function act(label, method, path, body) {
    try {
      await api(method, path, body);
      toast(label);
    } catch (error) {
      toast(error.message, true);
      handleAccess(error);
    }
    await refresh();
  }

  function toast(text, isError) {
    const node = el("div", { class: "toast" + (isError ? " error" : ""), role: "status", text });
    $("toasts").append(node);
    setTimeout(() => node.remove(), isError ? 6000 : 2500);
  }

  function handleAccess(error) {
    if (!(error instanceof ApiError)) return;
    if (error.status === 401) {
      document.body.classList.add("locked");
      $("auth").hidden = false;
      $("auth-message").textContent = token()
        ? "The admin token was refused. Enter the token the server was started with (--admin-token)."
        : "This server needs its admin token (vismock serve --admin-token).";
    } else if (error.status === 403) {
      $("forbidden").hidden = false;
      $("forbidden").textContent = error.message;
    }
  }

  // -- polling
  async function refresh() {
    if (state.polling) return;
    state.polling = true;
    try {
      const face = $("journal-face").value;
      const journalQuery = "?limit=" + JOURNAL_LIMIT + (face ? "&face=" + encodeURIComponent(face) : "");
      const [tasks, faults, clock, journal, inventory] = await Promise.all([
        api("GET", "/tasks"),
        api("GET", "/faults"),
        api("GET", "/clock"),
        $("journal-pause").checked ? Promise.resolve(null) : api("GET", "/journal" + journalQuery),
        api("GET", "/inventory"),
      ]);
      setConnection(true);
      document.body.classList.remove("locked");
      $("auth").hidden = true;
      $("forbidden").hidden = true;
      renderClock(clock);
      renderInventory(inventory.entities, clonesOf(tasks.tasks));
      renderTasks(tasks.tasks);
      renderFaults(faults.faults);
      if (journal) renderJournal(journal.entries);
    } catch (error) {
      const problem = !(error instanceof ApiError) ? "server unreachable"
        : error.status === 401 ? "admin token needed"
        : error.status === 403 ? "not allowed from here"
        : error.message;
      setConnection(false, problem);
      handleAccess(error);
    } finally {
      state.polling = false;
    }
  }

  function setConnection(ok, message) {
    $("connection-dot").className = "dot " + (ok ? "ok" : "bad");
    $("connection-text").textContent = ok ? "live" : message;
  }

  function loop() {
    refresh().finally(() => setTimeout(loop, POLL_MS));
  }

  // -- clock
  function parseTime(text) {
    return text ? new Date(text) : null;
  }

  function renderClock(clock) {
    state.clock = clock;
    state.clockFetchedAt = performance.now();
    const badge = $("clock-state");
    badge.textContent = clock.frozen ? "frozen" : "running";
    badge.className = "badge " + (clock.frozen ? "frozen" : "running");
    const offset = clock.offset_seconds;
    $("clock-offset").textContent = Math.abs(offset) < 0.5 ? "real time" : "real time " + signed(offset);
    $("clock-freeze").disabled = clock.frozen;
    $("clock-resume").disabled = !clock.frozen;
    tickClock();
  }

  function mockNow() {
    if (!state.clock) return null;
    const base = parseTime(state.clock.now).getTime();
    const elapsed = state.clock.frozen ? 0 : performance.now() - state.clockFetchedAt;
    return new Date(base + elapsed);
  }

  function tickClock() {
    const now = mockNow();
    if (!now) return;
    const iso = now.toISOString();
    $("clock-now").textContent = iso.slice(11, 19);
    $("clock-date").textContent = iso.slice(0, 10) + " UTC";
  }

  function signed(seconds) {
    const sign = seconds < 0 ? "−" : "+";
    return sign + duration(Math.abs(seconds));
  }

  function duration(seconds) {
    if (seconds < 1) return Math.round(seconds * 1000) + " ms";
    if (seconds < 60) return (Math.round(seconds * 10) / 10) + " s";
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min " + Math.floor(seconds % 60) + " s";
    const hours = Math.floor(minutes / 60);
    if (hours < 48) return hours + " h " + (minutes % 60) + " min";
    return Math.floor(hours / 24) + " days";
  }

  function formatTime(text) {
    const date = parseTime(text);
    if (!date) return "";
    const now = mockNow();
    const iso = date.toISOString();
    return now && iso.slice(0, 10) === now.toISOString().slice(0, 10)
      ? iso.slice(11, 19)
      : iso.slice(0, 10) + " " + iso.slice(11, 16);
  }

  // -- tasks
  function entityOf(info, spec) {
    for (const type of ENTITY_TYPES) {
      if (info[type] !== undefined) return { type, id: info[type], name: info.entityName };
    }
    return spec.entity ? { type: spec.entity.type, id: spec.entity.id, name: spec.entity.name } : null;
  }

  function progressOf(info) {
    if (typeof info.progress === "number") return info.progress;
    if (info.state === "success") return 100;
    return info.state === "queued" ? 0 : null;
  }

  function renderTasks(tasks) {
    const body = $("tasks-body");
    $("tasks-empty").hidden = tasks.length > 0;
    $("task-count").textContent = tasks.length;
    const counts = Object.fromEntries(STATES.map((name) => [name, 0]));
    const seen = new Set();
    tasks.forEach((task, index) => {
      counts[task.info.state] = (counts[task.info.state] || 0) + 1;
      seen.add(task.id);
      let row = state.taskRows.get(task.id);
      if (!row) {
        row = buildTaskRow(task.id);
        state.taskRows.set(task.id, row);
      }
      updateTaskRow(row, task);
      if (body.children[index] !== row.tr) body.insertBefore(row.tr, body.children[index] || null);
    });
    for (const [id, row] of state.taskRows) {
      if (!seen.has(id)) { row.tr.remove(); state.taskRows.delete(id); }
    }
    const summary = $("task-summary");
    summary.replaceChildren(
      ...STATES.filter((name) => counts[name]).map((name) =>
        el("span", { class: "pill state-" + name, text: counts[name] + " " + name })),
    );
  }

  function buildTaskRow(id) {
    const cells = {
      task: el("td"), entity: el("td"), mode: el("td"), state: el("td"),
      progress: el("td"), started: el("td", { class: "nowrap" }), actions: el("td", { class: "actions" }),
    };
    const fill = el("div", { class: "bar-fill" });
    const pct = el("span", { class: "pct" });
    cells.progress.append(el("div", { class: "progress-cell" }, el("div", { class: "bar" }, fill), pct));
    const advance = el("button", {
      text: "Advance", title: "take the next manual step", "data-testid": "advance-" + id,
      onclick: () => act(id + " advanced", "POST", "/tasks/" + encodeURIComponent(id) + "/advance", { steps: 1 }),
    });
    const restart = el("button", {
      text: "↻", title: "restart: start the lifecycle over", "aria-label": "restart " + id, "data-testid": "restart-" + id,
      onclick: () => act(id + " restarted", "POST", "/tasks/" + encodeURIComponent(id) + "/restart"),
    });
    cells.actions.append(advance, restart);
    const tr = el("tr", { "data-testid": "task-" + id }, ...Object.values(cells));
    const power = el("div", { class: "entity-power" });
    return { tr, cells, fill, pct, advance, power, entityId: null };
  }

  function updateTaskRow(row, task) {
    const { info, spec } = task;
    const c = row.cells;
    c.task.replaceChildren(
      el("div", { class: "task-id", text: task.id }),
      el("div", { class: "task-name", text: info.name || spec.name }),
    );
    const entity = entityOf(info, spec);
    c.entity.replaceChildren(...(entity
      ? [el("div", { text: entity.name || entity.id }), el("div", { class: "entity-id", text: entity.type + " " + entity.id }), row.power]
      : [el("span", { class: "muted", text: "—" })]));
    row.entityId = entity ? entity.id : null;
    showEntityPower(row);
    c.mode.replaceChildren(el("span", { class: "mode mode-" + spec.progression, text: spec.progression }));
    const pill = el("span", { class: "pill state-" + info.state, text: info.state });
    c.state.replaceChildren(pill);
    if (info.error) {
      c.state.append(el("span", { class: "fault-name", text: info.error.fault, title: info.error.localizedMessage || "" }));
    }
    c.state.dataset.state = info.state;
    row.tr.dataset.state = info.state;
    const progress = progressOf(info);
    row.fill.className = "bar-fill state-" + info.state;
    row.fill.style.width = (progress === null ? 100 : progress) + "%";
    row.pct.textContent = progress === null ? "" : progress + "%";
    c.progress.dataset.progress = progress === null ? "" : String(progress);
    const start = parseTime(info.startTime);
    const end = parseTime(info.completeTime) || mockNow();
    c.started.replaceChildren(
      el("div", { text: formatTime(info.startTime) || "not started" }),
      start && end ? el("div", { class: "task-name", text: (info.completeTime ? "took " : "for ") + duration(Math.max(0, (end - start) / 1000)) }) : "",
    );
    c.started.title = info.queueTime ? "queued " + info.queueTime : "";
    const terminal = info.state === "success" || info.state === "error";
    row.advance.hidden = spec.progression !== "manual";
    row.advance.disabled = terminal;
  }

  // -- fault rules
  function renderFaults(faults) {
    $("faults-empty").hidden = faults.length > 0;
    $("fault-count").textContent = faults.length;
    $("faults-clear").disabled = faults.length === 0;
    $("faults-list").replaceChildren(...faults.map((rule) => {
      const selectors = [
        rule.task ? "task " + rule.task : null,
        rule.face ? "face " + rule.face : null,
        rule.operation ? "operation " + rule.operation : null,
      ].filter(Boolean).join(", ") || "every request";
      const effect = {
        error: (rule.fault || "SystemError") + (rule.message ? ": " + rule.message : ""),
        status: "HTTP " + rule.http_status + " " + (rule.fault || ""),
        delay: "wait " + rule.delay_seconds + " s",
        malformed: "body cut in half",
        drop: "connection closed, no answer",
      }[rule.action];
      const remaining = rule.times === null ? "unlimited" : rule.times + " more";
      const chance = rule.probability < 1 ? ", p=" + rule.probability : "";
      return el("li", { "data-testid": "fault-" + rule.id },
        el("div", { class: "rule-main" },
          el("div", {}, el("span", { class: "rule-action", text: rule.action }), " ",
            el("span", { class: "rule-detail", text: effect })),
          el("div", { class: "rule-meta", text: "#" + rule.id + " · " + selectors + " · " + remaining + chance })),
        el("button", {
          text: "×", title: "remove this rule", "aria-label": "remove rule " + rule.id,
          onclick: () => act("rule #" + rule.id + " removed", "DELETE", "/faults/" + rule.id),
        }));
    }));
  }

  function faultFormBody() {
    const action = $("fault-action").value;
    const body = { action };
    const task = $("fault-task").value.trim();
    const face = $("fault-face").value;
    const times = $("fault-times").value.trim();
    if (task) body.task = task;
    if (face) body.face = face;
    body.times = times ? Number(times) : null;
    if (action === "error" || action === "status") {
      const fault = $("fault-fault").value.trim();
      const message = $("fault-message").value.trim();
      if (fault) body.fault = fault;
      if (message) body.message = message;
    }
    if (action === "status") body.http_status = Number($("fault-status").value);
    if (action === "delay") body.delay_seconds = Number($("fault-delay").value);
    return body;
  }

  function showFaultOptions() {
    const action = $("fault-action").value;
    for (const label of document.querySelectorAll(".fault-form .opt")) {
      label.hidden = !label.classList.contains("opt-" + action);
    }
  }

  // -- journal
  function outcomeClass(outcome) {
    if (outcome === "ok") return "outcome-ok";
    if (outcome === "fault-injected") return "outcome-injected";
    return "outcome-bad";
  }

  function renderJournal(entries) {
    const newest = entries.length ? entries[entries.length - 1].id : 0;
    const previous = state.lastJournalId;
    $("journal-empty").hidden = entries.length > 0;
    $("journal-body").replaceChildren(...entries.slice().reverse().map((entry) =>
      el("tr", { class: previous && entry.id > previous ? "fresh" : "", "data-testid": "journal-" + entry.id },
        el("td", { class: "nowrap mono", text: entry.time.slice(11, 23) }),
        el("td", {}, el("span", { class: "face face-" + entry.face, text: entry.face })),
        el("td", { text: entry.operation }),
        el("td", { class: "mono", text: entry.task_ids.join(", ") }),
        el("td", { text: entry.user || "" }),
        el("td", { class: outcomeClass(entry.outcome), text: entry.outcome }),
        el("td", { class: "num", text: entry.http_status }),
        el("td", { class: "num", text: entry.latency_ms.toFixed(1) }))));
    state.lastJournalId = Math.max(previous, newest);
  }

  // -- inventory: the virtual machines by host, with their power states
  const POWER = {
    poweredOn: { label: "powered on", class: "power-on" },
    poweredOff: { label: "powered off", class: "power-off" },
    suspended: { label: "suspended", class: "power-suspended" },
  };

  function powerPill(powerState) {
    const power = POWER[powerState];
    if (!power) return el("span", { class: "muted", text: "—" });
    return el("span", { class: "power " + power.class, "data-power": powerState },
      el("span", { class: "power-dot", "aria-hidden": "true" }), power.label);
  }

  function ancestor(byId, entity, type) {
    let current = entity;
    for (let hops = 0; current && hops < 64; hops += 1) {
      if (current.type === type) return current;
      current = byId.get(current.parent);
    }
    return null;
  }

  function folderPath(byId, vm) {
    // The VM's folder below its datacenter's vm folder: "" (at the top), "prod", "prod/web"...
    const names = [];
    let current = byId.get(vm.parent);
    for (let hops = 0; current && current.type === "Folder" && hops < 64; hops += 1) {
      const parent = byId.get(current.parent);
      if (!parent || parent.type === "Datacenter") break;
      names.unshift(current.name);
      current = parent;
    }
    return names.join("/");
  }

  // The VMs that succeeded CloneVM_Task tasks made: the clone's id -> its source's id (the task's entity).
  function clonesOf(tasks) {
    const clones = {};
    for (const { info } of tasks) {
      if (info.name === "CloneVM_Task" && info.state === "success" && info.result && info.VirtualMachine) {
        clones[info.result] = info.VirtualMachine;
      }
    }
    return clones;
  }

  function renderInventory(entities, clones) {
    const text = JSON.stringify([entities, clones]);
    if (text === state.inventoryText) return;
    state.inventoryText = text;
    const byId = new Map(entities.map((entity) => [entity.id, entity]));
    state.inventory = byId;
    const vms = entities.filter((entity) => entity.type === "VirtualMachine");
    const hosts = entities.filter((entity) => entity.type === "HostSystem");
    const counts = {};
    for (const vm of vms) counts[vm.powerState] = (counts[vm.powerState] || 0) + 1;
    $("inventory-count").textContent = vms.length ? vms.length + " VMs" : "";
    $("inventory-summary").replaceChildren(...Object.keys(POWER).filter((name) => counts[name]).map((name) =>
      el("span", { class: "power " + POWER[name].class }, el("span", { class: "power-dot" }), counts[name] + " " + POWER[name].label)));
    const kinds = [["Datacenter", "datacenter"], ["ClusterComputeResource", "cluster"], ["HostSystem", "host"],
      ["Datastore", "datastore"], ["Network", "network"]];
    $("inventory-totals").textContent = kinds.map(([type, word]) => {
      const n = entities.filter((entity) => entity.type === type).length;
      return n ? n + " " + word + (n === 1 ? "" : "s") : null;
    }).filter(Boolean).join(" · ");
    $("inventory-empty").hidden = vms.length > 0;
    const rows = [];
    const groups = [...hosts, null];
    for (const host of groups) {
      const members = vms.filter((vm) => (host ? vm.host === host.id : !byId.has(vm.host)));
      if (!members.length && !host) continue;
      rows.push(hostRow(byId, host, members.length));
      for (const vm of members) rows.push(vmRow(byId, vm, clones[vm.id]));
    }
    $("inventory-body").replaceChildren(...rows);
    refreshTaskEntities();
  }

  function hostRow(byId, host, vmCount) {
    if (!host) return el("tr", { class: "group" }, el("td", { colspan: 4, text: "Not on a known host" }));
    const compute = byId.get(host.parent);
    const datacenter = ancestor(byId, host, "Datacenter");
    const where = [
      compute && compute.type === "ClusterComputeResource" ? "cluster " + compute.name : "standalone host",
      datacenter ? datacenter.name : null,
    ].filter(Boolean).join(" · ");
    return el("tr", { class: "group", "data-testid": "host-" + host.id },
      el("td", { colspan: 3 },
        el("span", { class: "host-name", text: host.name }), " ",
        el("span", { class: "muted small", text: host.id + " · " + where + " · " + vmCount + " VM" + (vmCount === 1 ? "" : "s") })),
      el("td", {}, host.connectionState && host.connectionState !== "connected"
        ? el("span", { class: "pill state-error", text: host.connectionState })
        : powerPill(host.powerState)));
  }

  function vmRow(byId, vm, sourceId) {
    const folder = folderPath(byId, vm);
    const source = sourceId ? byId.get(sourceId) : null;
    return el("tr", { "data-testid": "entity-" + vm.id, "data-power": vm.powerState || "" },
      el("td", { class: "vm-name" }, vm.name, vm.template ? el("span", { class: "tag", text: "template" }) : null,
        sourceId ? el("span", { class: "tag clone-tag", title: sourceId, text: "clone of " + (source ? source.name : sourceId) }) : null,
        snapshotTree(vm)),
      el("td", { class: "mono muted", text: vm.id }),
      el("td", { class: "muted", text: folder ? "vm/" + folder : "vm" }),
      el("td", {}, powerPill(vm.powerState)));
  }

  // A VM's snapshots, listed by the admin API depth first with their paths ("base/patched"): nested
  // lists as the tree is, the current snapshot marked.
  function snapshotTree(vm) {
    const snapshots = vm.snapshots || [];
    if (!snapshots.length) return null;
    const tree = el("ul", { class: "snapshots", "data-testid": "snapshots-" + vm.id, "aria-label": "snapshots" });
    const items = new Map();  // path -> its item
    for (const snapshot of snapshots) {
      const parent = items.get(snapshot.path.slice(0, Math.max(0, snapshot.path.length - snapshot.name.length - 1)));
      let list = tree;
      if (parent) list = parent.querySelector(":scope > ul") || parent.appendChild(el("ul", {}));
      const item = el("li", {
        class: snapshot.current ? "snapshot current" : "snapshot",
        "data-testid": "snapshot-" + snapshot.id,
        "data-current": snapshot.current,
        title: [POWER[snapshot.state] ? POWER[snapshot.state].label : null, formatTime(snapshot.createTime)]
          .filter(Boolean).join(" · taken "),
      }, el("span", { class: "snapshot-name", text: snapshot.name }),
      snapshot.current ? el("span", { class: "tag current-tag", text: "current" }) : null);
      list.append(item);
      items.set(snapshot.path, item);
    }
    return tree;
  }

  function refreshTaskEntities() {
    for (const row of state.taskRows.values()) showEntityPower(row);
  }

  function showEntityPower(row) {
    const entity = state.inventory && row.entityId ? state.inventory.get(row.entityId) : null;
    row.power.replaceChildren(...(entity && POWER[entity.powerState] ? [powerPill(entity.powerState)] : []));
  }

  // -- wiring
  function readTokenFromFragment() {
    const match = window.location.hash.match(/token=([^&]+)/);
    if (match) {
      window.sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
      history.replaceState(null, "", window.location.pathname + window.location.search);
    }
  }

  function wire() {
    $("clock-freeze").addEventListener("click", () => act("clock frozen", "POST", "/clock/freeze", {}));
    $("clock-resume").addEventListener("click", () => act("clock running", "POST", "/clock/resume"));
    for (const button of document.querySelectorAll("button.step")) {
      const seconds = Number(button.dataset.seconds);
      button.addEventListener("click", () => act("clock +" + seconds + " s", "POST", "/clock/advance", { seconds }));
    }
    $("clock-advance-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const seconds = Number($("clock-advance-seconds").value);
      act("clock +" + seconds + " s", "POST", "/clock/advance", { seconds });
    });
    $("reset").addEventListener("click", () => {
      if (window.confirm("Reset everything? Tasks go back to the loaded file; journal, fault rules and sessions are cleared; the clock is real again.")) {
        act("reset done", "POST", "/reset");
      }
    });
    $("reload").addEventListener("click", async () => {
      try {
        const result = await api("POST", "/reload");
        toast(result.changed
          ? "reloaded: " + result.tasks + " task(s), " + result.entities + " inventory entities"
          : "reloaded: the file is unchanged");
      } catch (error) {
        toast(error.message, true);
        handleAccess(error);
      }
      await refresh();
    });
    $("fault-action").addEventListener("change", showFaultOptions);
    $("fault-form").addEventListener("submit", (event) => {
      event.preventDefault();
      act("fault rule added", "POST", "/faults", faultFormBody());
    });
    $("faults-clear").addEventListener("click", () => act("fault rules cleared", "DELETE", "/faults"));
    $("journal-clear").addEventListener("click", () => act("journal cleared", "DELETE", "/journal"));
    $("journal-face").addEventListener("change", refresh);
    $("auth-form").addEventListener("submit", (event) => {
      event.preventDefault();
      window.sessionStorage.setItem(TOKEN_KEY, $("auth-token").value);
      $("auth-token").value = "";
      refresh();
    });
    showFaultOptions();
  }

  document.addEventListener("DOMContentLoaded", () => {
    readTokenFromFragment();
    wire();
    loop();
    setInterval(tickClock, 250);
  });
})();
