// Live view of a training run: polls its state and redraws one line chart per series.
(function () {
  "use strict";
  const script = document.currentScript;
  const stateUrl = script.dataset.stateUrl;
  const SVG = "http://www.w3.org/2000/svg";

  function series(state) {
    const out = {};
    for (const e of state.epochs) {
      for (const values of [e.losses, e.metrics]) {
        for (const [name, value] of Object.entries(values || {})) {
          if (typeof value !== "number") continue;
          const title = (state.names && state.names[name]) || name;
          (out[title] = out[title] || []).push([e.epoch, value]);
        }
      }
    }
    return out;
  }

  function gate(state) {
    const box = document.getElementById("run-gate");
    if (!box) return;
    const checkpoint = state.checkpoint;
    if (!checkpoint) { box.replaceChildren(); return; }
    const heading = document.createElement("p");
    heading.textContent = `${checkpoint.sha256.slice(0, 12)}: ${checkpoint.gate_display}` +
      (checkpoint.serving ? " ✔" : "");
    const list = document.createElement("ul");
    for (const check of checkpoint.checks) {
      const item = document.createElement("li");
      item.textContent = `${check.passed ? "✔" : "✘"} ${check.sentence}`;
      list.appendChild(item);
    }
    box.replaceChildren(heading, list);
  }

  function chart(title, points) {
    const w = 320, h = 160, pad = 32;
    const xs = points.map(p => p[0]), ys = points.map(p => p[1]);
    const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
    const y0 = Math.min(...ys), y1 = Math.max(...ys, y0 + 1e-9);
    const sx = x => pad + (x - x0) / (x1 - x0) * (w - 2 * pad);
    const sy = y => h - pad - (y - y0) / (y1 - y0) * (h - 2 * pad);
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    svg.setAttribute("width", w);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", `${title}: ${ys.map(v => v.toFixed(3)).join(", ")}`);
    const add = (tag, attrs, text) => {
      const el = document.createElementNS(SVG, tag);
      for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
      if (text !== undefined) el.textContent = text;
      svg.appendChild(el);
    };
    add("rect", {x: 0, y: 0, width: w, height: h, fill: "#fff", stroke: "#ccc"});
    add("text", {x: pad, y: 16, "font-size": 12}, title);
    add("text", {x: 2, y: pad, "font-size": 10}, y1.toPrecision(4));
    add("text", {x: 2, y: h - pad, "font-size": 10}, y0.toPrecision(4));
    add("polyline", {points: points.map(p => `${sx(p[0])},${sy(p[1])}`).join(" "), fill: "none",
                     stroke: "#0b57d0", "stroke-width": 2});
    return svg;
  }

  function render(state) {
    const best = state.best_metric !== null && state.best_metric !== undefined
      ? ` — ${(state.names && state.names[state.metric_name]) || state.metric_name} ${state.best_metric.toFixed(3)} (epoch ${state.best_epoch})`
      : "";
    document.getElementById("run-status").textContent =
      `${state.status_display} · ${state.phase_display} · ${Math.round(state.progress * 100)}%` + best +
      (state.error ? ` — ${state.error}` : "");
    document.getElementById("run-progress").value = state.progress;
    gate(state);
    const charts = document.getElementById("charts");
    charts.replaceChildren(...Object.entries(series(state)).map(([t, p]) => chart(t, p)));
    const samples = document.getElementById("samples");
    samples.replaceChildren(...state.epochs.filter(e => e.samples).map(e => {
      const fig = document.createElement("figure");
      const img = document.createElement("img");
      img.src = e.samples; img.alt = `epoch ${e.epoch}`; img.height = 112;
      const cap = document.createElement("figcaption");
      cap.textContent = `epoch ${e.epoch}`;
      fig.append(img, cap);
      return fig;
    }));
    return !state.finished;
  }

  let keepGoing = render(JSON.parse(document.getElementById("run-state").textContent));
  async function poll() {
    if (!keepGoing) return;
    try {
      const response = await fetch(stateUrl, {headers: {Accept: "application/json"}});
      if (response.ok) keepGoing = render(await response.json());
    } catch (e) { /* a missed poll is retried */ }
    setTimeout(poll, 3000);
  }
  setTimeout(poll, 3000);
})();
