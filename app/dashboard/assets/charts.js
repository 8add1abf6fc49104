// Small hand-rolled SVG charts for the dashboard: bars and a line. Text goes in through
// textContent only, so names typed by API clients can never become markup.
"use strict";

const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, content, attrs) {
    const t = el("text", Object.assign({ x, y }, attrs || {}), parent);
    t.textContent = content;
    return t;
  }

  function frame(container, width, height, label) {
    container.replaceChildren();
    const svg = el("svg", {
      viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", "aria-label": label,
      preserveAspectRatio: "xMidYMid meet",
    });
    container.appendChild(svg);
    return svg;
  }

  function empty(container, message) {
    container.replaceChildren();
    const p = document.createElement("p");
    p.className = "empty";
    p.textContent = message;
    container.appendChild(p);
  }

  // Horizontal bars: one row per item, value at the end of the bar.
  function hbars(container, items, opts) {
    const o = Object.assign({ label: "chart", emptyText: "Nothing to show yet." }, opts || {});
    if (!items.length || items.every((i) => !i.value)) return empty(container, o.emptyText);
    const row = 28, left = 110, width = 460, height = items.length * row + 8;
    const max = Math.max(...items.map((i) => i.value), 1);
    const svg = frame(container, width, height, o.label);
    items.forEach((item, n) => {
      const y = 4 + n * row;
      const w = Math.max(item.value ? 3 : 0, ((width - left - 50) * item.value) / max);
      text(svg, left - 8, y + 17, item.label, { "text-anchor": "end", class: "axis" });
      const bar = el("rect", {
        x: left, y: y + 3, width: w, height: row - 10, rx: 3,
        class: `bar ${item.cls || ""}`, "data-value": item.value,
      }, svg);
      el("title", {}, bar).textContent = `${item.label}: ${item.value}`;
      text(svg, left + w + 6, y + 17, String(item.value), { class: "value" });
    });
  }

  // Vertical bars with labels under them.
  function vbars(container, items, opts) {
    const o = Object.assign({ label: "chart", emptyText: "Nothing to show yet." }, opts || {});
    if (!items.length) return empty(container, o.emptyText);
    const width = 460, height = 220, bottom = 44, top = 18, left = 30;
    const max = Math.max(...items.map((i) => i.value), 1);
    const slot = (width - left - 10) / items.length;
    const barW = Math.min(48, slot * 0.7);
    const svg = frame(container, width, height, o.label);
    el("line", { x1: left, y1: height - bottom, x2: width - 5, y2: height - bottom, class: "grid" }, svg);
    items.forEach((item, n) => {
      const h = ((height - bottom - top) * item.value) / max;
      const x = left + n * slot + (slot - barW) / 2;
      const y = height - bottom - h;
      const bar = el("rect", {
        x, y, width: barW, height: Math.max(h, 1), rx: 3,
        class: `bar ${item.cls || ""}`, "data-value": item.value,
      }, svg);
      el("title", {}, bar).textContent = `${item.title || item.label}: ${item.value}`;
      text(svg, x + barW / 2, y - 5, String(item.value), { "text-anchor": "middle", class: "value" });
      text(svg, x + barW / 2, height - bottom + 16, item.label, { "text-anchor": "middle", class: "axis" });
      if (item.sublabel) {
        text(svg, x + barW / 2, height - bottom + 31,
          item.sublabel.length > 16 ? `${item.sublabel.slice(0, 15)}…` : item.sublabel,
          { "text-anchor": "middle", class: "axis small" });
      }
    });
  }

  // A 0..1 series over days, drawn as a line with a point per day.
  function rateLine(container, points, opts) {
    const o = Object.assign({ label: "chart", emptyText: "No resume has finished yet." }, opts || {});
    if (!points.length) return empty(container, o.emptyText);
    const width = 940, height = 220, left = 44, right = 16, top = 14, bottom = 34;
    const svg = frame(container, width, height, o.label);
    const plotW = width - left - right, plotH = height - top - bottom;
    const xAt = (n) => left + (points.length === 1 ? plotW / 2 : (plotW * n) / (points.length - 1));
    const yAt = (v) => top + plotH * (1 - v);
    for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
      el("line", { x1: left, x2: width - right, y1: yAt(tick), y2: yAt(tick), class: "grid" }, svg);
      text(svg, left - 6, yAt(tick) + 4, `${Math.round(tick * 100)}%`, { "text-anchor": "end", class: "axis" });
    }
    const d = points.map((p, n) => `${n ? "L" : "M"}${xAt(n).toFixed(1)},${yAt(p.value).toFixed(1)}`).join(" ");
    el("path", { d, class: "line" }, svg);
    const every = Math.ceil(points.length / 10);
    points.forEach((p, n) => {
      const c = el("circle", { cx: xAt(n), cy: yAt(p.value), r: 4.5, class: "point", "data-value": p.value }, svg);
      el("title", {}, c).textContent = `${p.label}: ${Math.round(p.value * 100)}% (${p.detail || ""})`;
      if (n % every === 0 || n === points.length - 1) {
        text(svg, xAt(n), height - 10, p.label, { "text-anchor": "middle", class: "axis" });
      }
    });
  }

  return { hbars, vbars, rateLine };
})();
