// erpbridge console: progress of a running run, and the mapping page's table → columns switch.
// Plain JavaScript, no library; the pages work without it (a reload shows the same figures).
"use strict";

function pollRun(element) {
  const url = element.dataset.runUrl;
  const bar = element.querySelector(".progress");
  const inProgress = element.dataset.inProgress.split(" ");  // the statuses the server still polls
  const tick = async () => {
    let answer;
    try {
      answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    } catch (error) {
      setTimeout(tick, 1000);
      return;
    }
    if (answer.status === 404) { setTimeout(tick, 500); return; }  // the run is starting
    if (!answer.ok) { return; }
    const run = await answer.json();
    const status = run.status;
    if (!inProgress.includes(status)) {
      // The server renders a finished run in full (who asked, files, errors) and without polling.
      window.location.reload();
      return;
    }
    document.querySelectorAll("[data-field]").forEach((cell) => {
      const path = cell.dataset.field.split(".");
      let value = run;
      for (const part of path) { value = value == null ? null : value[part]; }
      if (value !== undefined && value !== null) { cell.textContent = typeof value === "number" ? value.toLocaleString("en") : value; }
    });
    const badge = document.getElementById("run-status");
    if (badge) {
      badge.textContent = status;
      badge.className = "state busy";
    }
    if (bar) {
      bar.querySelector("div").style.width = run.progress + "%";
      bar.setAttribute("aria-valuenow", run.progress);
    }
    setTimeout(tick, 700);
  };
  tick();
}

function mappingTables() {
  const rows = document.querySelectorAll("tr.table-row");
  const show = (name) => {
    document.querySelectorAll("section.columns").forEach((s) => { s.hidden = s.id !== "columns-" + name; });
    rows.forEach((r) => r.classList.toggle("selected", r.dataset.table === name));
  };
  rows.forEach((row) => {
    row.addEventListener("click", () => { show(row.dataset.table); history.replaceState(null, "", "#" + row.dataset.table); });
    row.addEventListener("keydown", (event) => { if (event.key === "Enter") { show(row.dataset.table); } });
  });
  const first = window.location.hash.slice(1) || (rows[0] && rows[0].dataset.table);
  if (first) { show(first); }
}

document.addEventListener("DOMContentLoaded", () => {
  const run = document.querySelector("[data-run-url]");
  if (run) { pollRun(run); }
  if (document.querySelector("tr.table-row")) { mappingTables(); }
});
