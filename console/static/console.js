// Reelay console: live updates over Server-Sent Events, and ages that tick. No framework, no build step.
// Fragments come from the server's escaping templates; they are parsed into a <template>, never run.
"use strict";

(function () {
  function fragment(html) {
    const holder = document.createElement("template");
    holder.innerHTML = html.trim();
    return holder.content;
  }

  function duration(seconds) {
    if (seconds < 10) return seconds.toFixed(1) + " s";
    if (seconds < 60) return Math.round(seconds) + " s";
    let minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min " + Math.floor(seconds % 60) + " s";
    let hours = Math.floor(minutes / 60);
    minutes %= 60;
    if (hours < 24) return hours + " h " + minutes + " min";
    return Math.floor(hours / 24) + " d " + (hours % 24) + " h";
  }

  function tickAges() {
    const now = Date.now() / 1000;
    document.querySelectorAll("[data-since]").forEach(function (cell) {
      const since = parseFloat(cell.getAttribute("data-since"));
      if (!isNaN(since)) cell.textContent = duration(Math.max(0, now - since));
    });
  }

  function connect(url, handlers) {
    const dot = document.querySelector("[data-testid=connection]");
    const source = new EventSource(url);
    source.addEventListener("open", function () {
      if (dot) { dot.hidden = false; dot.classList.remove("off"); dot.textContent = "live"; }
    });
    source.addEventListener("error", function () {
      if (!dot) return;
      dot.classList.add("off");
      // CLOSED: the browser gave up (the session ended, so the feed answered with the sign-in page).
      dot.textContent = source.readyState === EventSource.CLOSED ? "not live: reload the page" : "reconnecting";
    });
    Object.keys(handlers).forEach(function (name) {
      source.addEventListener(name, function (event) { handlers[name](JSON.parse(event.data)); });
    });
    return source;
  }

  function liveJobsList(table) {
    const body = table.querySelector("tbody");
    const ids = Array.from(body.querySelectorAll("tr[data-job-id]")).map(function (row) {
      return row.getAttribute("data-job-id");
    });
    const url = table.getAttribute("data-live") + "&ids=" + encodeURIComponent(ids.join(","));
    function put(data, onTop) {
      const row = fragment(data.html).firstElementChild;
      if (!row) return;
      const existing = document.getElementById("job-" + data.id);
      if (existing) { existing.replaceWith(row); }
      else if (onTop) { row.classList.add("fresh"); body.prepend(row); }
      const empty = document.querySelector("[data-testid=no-jobs]");
      if (empty) empty.remove();
    }
    connect(url, {
      row: function (data) { put(data, false); },
      added: function (data) { put(data, true); },
    });
  }

  function liveJob(holder) {
    const live = document.getElementById("job-live");
    const actions = document.getElementById("job-actions");
    connect(holder.getAttribute("data-live"), {
      job: function (data) {
        live.replaceChildren(fragment(data.html));
        // An open confirm step is left alone unless the actions it offers changed.
        const fresh = fragment(data.actions);
        const open = actions.querySelector("details[open]");
        const before = Array.from(actions.querySelectorAll("details")).map(function (d) { return d.dataset.testid; });
        const after = Array.from(fresh.querySelectorAll("details")).map(function (d) { return d.dataset.testid; });
        if (!open || before.join() !== after.join()) actions.replaceChildren(fresh);
        document.title = "Job " + data.id + " · " + data.status + " · Reelay";
      },
      gone: function () { live.prepend(fragment('<p class="flash refused">This job no longer exists.</p>')); },
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const table = document.querySelector("table.jobs[data-live]");
    if (table) liveJobsList(table);
    const job = document.querySelector(".job[data-live]");
    if (job) liveJob(job);
    window.setInterval(tickAges, 1000);
  });
})();
