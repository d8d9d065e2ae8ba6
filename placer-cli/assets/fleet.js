"use strict";
(function () {
  const REFRESH_MS = 5000;
  const $ = (id) => document.getElementById(id);
  let doc = null;
  // Failing apps first (then by name) until a header is clicked.
  let sortKey = "status";
  let ascending = true;

  const escapes = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  const esc = (value) => String(value).replace(/[&<>"']/g, (c) => escapes[c]);
  const time = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  function ago(iso) {
    if (!iso) return "";
    const seconds = Math.max(0, Math.round((Date.parse(doc.now) - Date.parse(iso)) / 1000));
    if (seconds < 90) return seconds + " s ago";
    if (seconds < 5400) return Math.round(seconds / 60) + " min ago";
    if (seconds < 172800) return (seconds / 3600).toFixed(1) + " h ago";
    return Math.round(seconds / 86400) + " d ago";
  }
  const rank = { failed: 0, degraded: 1, ok: 2 };
  const when = (iso) => (iso ? Date.parse(iso) : -Infinity);

  // Each column: its heading, how its rows sort, and its cell.
  const columns = [
    { key: "app", head: "app", sort: (r) => r.app,
      cell: (r) => '<a href="/?app=' + encodeURIComponent(r.app) + '">' + esc(r.app) + "</a>" },
    { key: "status", head: "status", sort: (r) => rank[r.status] ?? 1,
      cell: (r) => '<span class="state ' + esc(r.status) + '">' + esc(r.status) + "</span>" },
    { key: "regions", head: "regions", num: true, sort: (r) => r.regions.length,
      cell: (r) => String(r.regions.length) },
    { key: "codes", head: "deployed in", sort: (r) => r.regions.join(" "), cls: "codes",
      cell: (r) => esc(r.regions.join(" ")), title: (r) => r.regions.join(" ") },
    { key: "change", head: "last change", sort: (r) => when(r.last_change && r.last_change.at),
      cell: (r) => (r.last_change
        ? '<span class="act-' + esc(r.last_change.action) + '">' + esc(r.last_change.action + " " + r.last_change.region) + "</span> " + esc(ago(r.last_change.at))
        : '<span class="muted">none</span>') },
    { key: "tick", head: "last tick", sort: (r) => when(r.last_tick_at),
      cell: (r) => (r.last_tick_at ? esc(ago(r.last_tick_at)) : '<span class="muted">none yet</span>') },
    { key: "error", head: "error", sort: (r) => r.error || "", cls: "error",
      cell: (r) => esc(r.error || ""), title: (r) => r.error || "" },
    { key: "forecast", head: "forecast", sort: (r) => r.forecast, cell: (r) => esc(r.forecast) },
    { key: "rtt", head: "mean RTT", num: true, sort: (r) => (r.mean_rtt_ms === null ? Infinity : r.mean_rtt_ms),
      cell: (r) => (r.mean_rtt_ms === null ? "–" : r.mean_rtt_ms.toFixed(0) + " ms") },
    { key: "mode", head: "mode", sort: (r) => (r.dry_run ? 0 : 1),
      cell: (r) => (r.dry_run ? '<span class="state dry">dry run</span>' : '<span class="state live">live</span>') },
    { key: "role", head: "role", sort: (r) => r.role, cell: (r) => esc(r.role) },
  ];

  function renderHead() {
    $("fleet-head").innerHTML = columns.map((c) => {
      const sorted = c.key === sortKey ? ' aria-sort="' + (ascending ? "ascending" : "descending") + '"' : "";
      return "<th" + (c.num ? ' class="num"' : "") + sorted + '><button type="button" data-sort="' + c.key + '">' + esc(c.head) + "</button></th>";
    }).join("");
  }

  // Names sort as people read them: sim-2 before sim-10.
  const collator = new Intl.Collator("en", { numeric: true });
  function compare(a, b) {
    if (typeof a === "string" && typeof b === "string") return collator.compare(a, b);
    if (a < b) return -1;
    if (a > b) return 1;
    return 0;
  }

  function renderRows() {
    if (!doc) return;
    const filter = $("filter").value.trim().toLowerCase();
    const column = columns.find((c) => c.key === sortKey);
    const rows = doc.apps
      .filter((r) => !filter || r.app.toLowerCase().includes(filter))
      .map((r) => ({ row: r, key: column.sort(r) }));
    const direction = ascending ? 1 : -1;
    rows.sort((a, b) => direction * compare(a.key, b.key) || compare(a.row.app, b.row.app));
    // One assignment: the browser lays the table out once.
    document.querySelector("#fleet tbody").innerHTML = rows.map(({ row }) => {
      const failing = row.status !== "ok";
      return '<tr data-app="' + esc(row.app) + '"' + (failing ? ' class="failing"' : "") + ">" +
        columns.map((c) => "<td" + (c.num ? ' class="num"' : c.cls ? ' class="' + c.cls + '"' : "") +
          (c.title ? ' title="' + esc(c.title(row)) + '"' : "") + ">" + c.cell(row) + "</td>").join("") +
        "</tr>";
    }).join("");
    $("empty").hidden = rows.length > 0;
    $("shown").textContent = rows.length === doc.apps.length
      ? doc.apps.length + " apps"
      : rows.length + " of " + doc.apps.length + " apps shown";
  }

  function render(d) {
    for (const app of d.apps) app.role = d.role;
    doc = d;
    const failing = d.apps.filter((r) => r.status !== "ok").length;
    $("count").textContent = d.apps.length + " apps";
    const pill = $("failing");
    pill.textContent = failing + " failing";
    pill.className = "pill " + (failing ? "failing" : "ok");
    $("role").textContent = d.role + (d.role === "follower" && d.leader ? " (leader: " + d.leader + ")" : "");
    $("next-tick").textContent = d.next_tick_at ? "next tick " + time(d.next_tick_at) : d.interval_seconds ? "" : "no periodic ticks";
    renderRows();
    $("updated").textContent = "Updated " + time(d.now) + "; refreshes every " + REFRESH_MS / 1000 + " s.";
    $("updated").classList.remove("error");
  }

  async function refresh() {
    try {
      const response = await fetch("/api/fleet", { cache: "no-store" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      render(await response.json());
    } catch (err) {
      $("updated").textContent = "Could not refresh (" + err.message + "); retrying.";
      $("updated").classList.add("error");
    }
  }

  $("fleet-head").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-sort]");
    if (!button) return;
    const key = button.dataset.sort;
    ascending = key === sortKey ? !ascending : true;
    sortKey = key;
    renderHead();
    renderRows();
  });
  $("filter").addEventListener("input", renderRows);
  renderHead();
  refresh();
  setInterval(refresh, REFRESH_MS);
})();
