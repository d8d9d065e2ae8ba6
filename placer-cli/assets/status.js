"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const REFRESH_MS = 3000;
  const params = new URLSearchParams(location.search);
  let app = params.get("app");
  let doc = null;

  function el(tag, attrs, children, ns) {
    const node = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of [].concat(children || [])) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const svg = (tag, attrs, children) => el(tag, attrs, children, SVG);
  const $ = (id) => document.getElementById(id);
  const num = (v, digits) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits === undefined ? 1 : digits));
  const time = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 90) return seconds + " s";
    if (seconds < 5400) return Math.round(seconds / 60) + " min";
    return (seconds / 3600).toFixed(1) + " h";
  }

  function renderHeader(d) {
    const mode = $("mode");
    mode.textContent = d.dry_run ? "dry run" : "live";
    mode.className = "pill " + (d.dry_run ? "dry" : "live");
    const status = $("status");
    status.textContent = d.status;
    status.className = "pill " + d.status;
    $("policy").textContent = d.policy + " policy";
    $("app-name").textContent = d.apps.length > 1 ? "" : "app: " + d.app;
    const picker = $("app-picker");
    picker.hidden = d.apps.length < 2;
    $("fleet-link").hidden = d.apps.length < 2;
    const select = $("app-select");
    if (select.options.length !== d.apps.length) {
      select.replaceChildren(...d.apps.map((name) => el("option", { value: name }, name)));
    }
    select.value = d.app;
    const config = $("config");
    config.replaceChildren(...[
      el("code", {}, d.config.path),
      " loaded " + time(d.config.loaded_at),
      d.config.error ? el("span", { class: "error" }, " — rejected, previous config in force: " + d.config.error) : null,
    ].filter((node) => node !== null));
    $("source").textContent = d.traffic_source;
    $("backend").textContent = d.deployment_backend;
    $("platform").textContent = d.platform_regions;
    renderNextTick();
    $("budget-row").hidden = !d.budget;
    if (d.budget) {
      $("budget").textContent = num(d.budget.spent_machine_hours) + " of " + num(d.budget.machine_hours) + " machine-hours spent";
    }
  }

  function renderNextTick() {
    if (!doc) return;
    const node = $("next-tick");
    if (!doc.interval_seconds) {
      node.textContent = "no periodic ticks (POST /trigger runs one)";
    } else if (!doc.next_tick_at) {
      node.textContent = "every " + duration(doc.interval_seconds);
    } else {
      const left = (Date.parse(doc.next_tick_at) - Date.now()) / 1000;
      node.textContent = time(doc.next_tick_at) + (left > 0 ? " (in " + duration(left) + ")" : " (due)");
    }
  }

  function regionClasses(r) {
    const classes = ["region"];
    if (r.deployed) classes.push("deployed");
    if (r.planned === "deploy") classes.push("planned-deploy");
    if (r.planned === "remove") classes.push("planned-remove");
    if (r.cooldown_seconds) classes.push("cooldown");
    if (r.backoff_seconds) classes.push("backoff");
    return classes.join(" ");
  }

  // The geometry (dots, great-circle serving lines, one label layout per
  // map width, shown by a container query) comes laid out in d.map.
  function renderMap(d) {
    const byCode = new Map(d.regions.map((r) => [r.code, r]));
    const links = d.map.links.map((link) => {
      const r = byCode.get(link.from);
      const title = link.from + " → " + link.to + ": " + num(r.served_from.rtt_ms, 0) + " ms RTT (" + num(r.requests, 0) + " requests)";
      return svg("g", { class: "link-group", "data-from": link.from, "data-to": link.to }, [
        svg("title", {}, title),
        svg("path", { class: "link-hit", d: link.path }),
        svg("path", { class: "link", d: link.path }),
      ]);
    });
    const dots = d.map.dots.map((dot) => {
      const r = byCode.get(dot.code);
      const words = [r.code + " " + r.city, num(r.requests, 0) + " requests", r.deployed ? "deployed" : "not deployed"];
      if (r.machines) words.push(machinesText(r.machines));
      if (r.planned) words.push(r.planned + " planned");
      if (r.cooldown_seconds) words.push("cooldown " + duration(r.cooldown_seconds));
      if (r.backoff_seconds) words.push("backing off " + duration(r.backoff_seconds));
      return svg("circle", { class: regionClasses(r), cx: dot.x, cy: dot.y, r: dot.r, "data-region": r.code, "data-requests": r.requests },
        svg("title", {}, words.join(" · ")));
    });
    const tiers = new Map();
    for (const label of d.map.labels) {
      if (!tiers.has(label.tier)) tiers.set(label.tier, svg("g", { class: label.tier, "font-size": label.font }));
      const group = tiers.get(label.tier);
      if (label.leader) { // under every label of the tier
        const [x1, y1, x2, y2] = label.leader;
        group.prepend(svg("line", { class: "leader", x1: x1, y1: y1, x2: x2, y2: y2 }));
      }
      group.append(svg("text", { class: "region-label", x: label.x, y: label.y, "text-anchor": "middle", "dominant-baseline": "central", "data-region": label.text.split(" ")[0] }, label.text));
    }
    $("links").replaceChildren(...links);
    $("dots").replaceChildren(...dots);
    $("labels").replaceChildren(...tiers.values());
  }

  function renderTicks(d) {
    $("no-ticks").hidden = d.recent_ticks.length > 0;
    $("ticks").replaceChildren(...d.recent_ticks.map((t) => {
      const head = el("div", {}, [
        el("span", { class: "when" }, time(t.at)),
        t.dry_run ? el("span", { class: "muted" }, " · dry run") : null,
      ]);
      let body;
      if (t.error) {
        body = el("div", {}, "Failed: " + t.error);
      } else if (t.actions.length === 0) {
        body = el("div", { class: "muted" }, "No change; " + t.skipped + " region" + (t.skipped === 1 ? "" : "s") + " left as they were.");
      } else {
        body = el("ul", {}, t.actions.map((a) => el("li", { class: a.failed ? "failed" : null }, [
          el("span", { class: "act-" + a.action }, a.action + " " + a.region + (a.machines ? " " + a.machines : "")),
          " — " + a.reason + " ",
          el("span", { class: "muted" }, "(" + a.outcome + ")"),
        ])));
      }
      const failed = t.error || t.actions.some((a) => a.failed);
      return el("li", { class: "tick" + (failed ? " failed" : ""), "data-at": t.at }, [head, body]);
    }));
  }

  function sparkline(r) {
    const w = 120, h = 28, pad = 2;
    const values = r.history;
    const marks = [];
    if (doc.policy === "threshold") {
      if (r.deploy_threshold !== null) marks.push(["deploy", r.deploy_threshold]);
      if (r.remove_threshold !== null) marks.push(["remove", r.remove_threshold]);
    }
    const top = Math.max(1, ...values, ...marks.map((m) => m[1]));
    const py = (v) => h - pad - (h - 2 * pad) * (v / top);
    const step = values.length > 1 ? (w - 2 * pad) / (values.length - 1) : 0;
    const points = values.map((v, i) => (pad + i * step).toFixed(1) + "," + py(v).toFixed(1)).join(" ");
    return svg("svg", { class: "spark", viewBox: "0 0 " + w + " " + h, role: "img", "aria-label": r.code + " traffic history" }, [
      ...marks.map(([kind, v]) => svg("line", { class: kind, x1: 0, x2: w, y1: py(v), y2: py(v) }, svg("title", {}, kind + " threshold " + num(v)))),
      values.length > 1 ? svg("polyline", { points: points }) : null,
    ]);
  }

  // "3 running · 1 standby → 5": as listed, and the count wanted.
  function machinesText(m) {
    let text = m.running + " running";
    if (m.standby) text += " · " + m.standby + " standby";
    if (m.target !== m.running) text += " → " + m.target;
    return text;
  }

  function renderRegions(d) {
    const latency = d.policy === "latency";
    const counts = d.regions.some((r) => r.machines);
    const heads = ["region", "traffic", "requests"].concat(counts ? ["machines"] : []).concat(["short avg", "long avg"])
      .concat(latency ? ["served from", "RTT", "gain"] : ["deploy at", "remove at"])
      .concat(["latest decision"]);
    const numeric = new Set(["requests", "short avg", "long avg", "RTT", "gain", "deploy at", "remove at"]);
    $("regions-head").replaceChildren(...heads.map((h) => el("th", { class: numeric.has(h) ? "num" : null }, h)));
    const rows = [...d.regions].sort((a, b) => b.requests - a.requests || a.code.localeCompare(b.code));
    document.querySelector("#regions tbody").replaceChildren(...rows.map((r) => {
      const tags = [];
      if (r.deployed) tags.push(el("span", { class: "tag deployed" }, "deployed"));
      if (r.planned) tags.push(el("span", { class: "tag " + r.planned }, r.planned));
      if (r.cooldown_seconds) tags.push(el("span", { class: "tag cooldown" }, "cooldown " + duration(r.cooldown_seconds)));
      if (r.backoff_seconds) tags.push(el("span", { class: "tag remove" }, "backoff " + duration(r.backoff_seconds)));
      const cells = [
        el("td", {}, [el("strong", {}, r.code), " ", el("span", { class: "muted" }, r.city), ...tags]),
        el("td", {}, sparkline(r)),
        el("td", { class: "num" }, num(r.requests, 0)),
      ];
      if (counts) cells.push(el("td", { class: "machines", title: r.machines ? r.machines.reason : null }, r.machines ? machinesText(r.machines) : "–"));
      cells.push(
        el("td", { class: "num" }, num(r.short)),
        el("td", { class: "num" }, num(r.long)),
      );
      if (latency) {
        const s = r.served_from;
        cells.push(el("td", {}, s ? s.region : r.deployed ? "itself" : "–"));
        cells.push(el("td", { class: "num" }, s ? num(s.rtt_ms, 0) + " ms" : "–"));
        cells.push(el("td", { class: "num" }, s ? num(s.gain_ms, 0) + " ms" : "–"));
      } else {
        cells.push(el("td", { class: "num" }, num(r.deploy_threshold)));
        cells.push(el("td", { class: "num" }, num(r.remove_threshold)));
      }
      cells.push(el("td", { class: "reason" }, r.reason || ""));
      return el("tr", { "data-region": r.code }, cells);
    }));
  }

  function render(d) {
    doc = d;
    renderHeader(d);
    renderMap(d);
    renderTicks(d);
    renderRegions(d);
    $("updated").textContent = "Updated " + time(d.now) + "; refreshes every " + REFRESH_MS / 1000 + " s.";
    $("updated").classList.remove("error");
  }

  async function refresh() {
    try {
      const response = await fetch("/api/status" + (app ? "?app=" + encodeURIComponent(app) : ""), { cache: "no-store" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      render(await response.json());
    } catch (err) {
      $("updated").textContent = "Could not refresh (" + err.message + "); retrying.";
      $("updated").classList.add("error");
    }
  }

  $("app-select").addEventListener("change", (event) => {
    app = event.target.value;
    const url = new URL(location.href);
    url.searchParams.set("app", app);
    history.replaceState(null, "", url);
    refresh();
  });
  refresh();
  setInterval(refresh, REFRESH_MS);
  setInterval(renderNextTick, 1000);
})();
