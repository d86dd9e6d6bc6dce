// The composer page: fill the controls from /api/styles, post the form to /api/compose, show the result.
"use strict";
const $ = (id) => document.getElementById(id);
const KEYS = ["C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"];
const COLORS = ["#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037", "#ad1457"];
let styles = [];
const results = {};

function setStatus(text) { $("status").textContent = text; }

function chooseStyle() {
  const s = styles.find((x) => x.name === $("style").value);
  if (!s) return;
  $("description").textContent = s.description;
  $("tempo").placeholder = s.tempo;
  $("temperature").placeholder = s.temperature;
  $("top_p").placeholder = s.top_p;
  $("bars").placeholder = s.bars ? `${s.bars} (style default)` : "the model ends the piece";
  $("key").disabled = !s.keyed;
  document.querySelectorAll("[data-option]").forEach((el) => {
    el.hidden = !s.options.includes(el.dataset.option);
    el.querySelectorAll("input,select").forEach((i) => { if (el.hidden) i.value = ""; });
  });
}

async function loadStyles() {
  KEYS.forEach((k) => $("key").add(new Option(k, k)));
  const r = await fetch("/api/styles");
  const data = await r.json();
  styles = data.styles;
  styles.forEach((s) => $("style").add(new Option(s.label, s.name)));
  data.scales.forEach((name) => $("scale").add(new Option(name, name)));
  $("style").value = styles.some((s) => s.name === "folk") ? "folk" : styles[0].name;
  chooseStyle();
  setStatus(`${styles.length} styles and models · up to ${data.limits.bars} bars · nothing leaves this machine`);
}

function drawRoll(res) {
  const c = $("roll"), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const notes = res.notes;
  if (!notes.length) return;
  const pitched = notes.filter((n) => !res.tracks[n[0]].drum);
  const ps = (pitched.length ? pitched : notes).map((n) => n[1]);
  const lo = Math.min(...ps) - 2, hi = Math.max(...ps) + 2;
  const sx = c.width / Math.max(res.seconds, 0.001), sy = c.height / (hi - lo + 1);
  res.chords.forEach(([t, name]) => {
    g.fillStyle = "#999"; g.font = "11px sans-serif"; g.fillText(name, t * sx + 2, 11);
    g.fillStyle = "#eee"; g.fillRect(t * sx, 14, 1, c.height);
  });
  notes.forEach(([tr, p, t, d, v]) => {
    const y = res.tracks[tr].drum ? c.height - 4 - (p % 12) * 2 : c.height - (p - lo + 1) * sy;
    g.globalAlpha = 0.35 + 0.65 * (v / 127);
    g.fillStyle = COLORS[tr % COLORS.length];
    g.fillRect(t * sx, y, Math.max(d * sx - 1, 1.5), res.tracks[tr].drum ? 2 : Math.max(sy - 1, 1.5));
  });
  g.globalAlpha = 1;
}

function show(res) {
  $("result").hidden = false;
  $("error").hidden = true;
  $("output").hidden = false;
  $("title").textContent = `#${res.id} · ${res.style} · seed ${res.seed} · ${res.seconds.toFixed(1)} s`;
  $("notation").innerHTML = "";
  if (res.abc && window.ABCJS) ABCJS.renderAbc("notation", res.abc, { responsive: "resize" });
  drawRoll(res);
  $("player").src = res.urls.wav;
  $("downloads").innerHTML = "";
  Object.entries(res.urls).forEach(([kind, url]) => {
    const a = document.createElement("a");
    a.href = url; a.download = url.split("/").pop(); a.textContent = `Download ${kind.toUpperCase()}`;
    a.id = `download-${kind}`;
    $("downloads").append(a);
  });
  $("command").textContent = res.command;
}

function addHistory(res) {
  results[res.id] = res;
  const li = document.createElement("li");
  li.textContent = `${res.style}, seed ${res.seed} — ${res.command}`;
  li.onclick = () => show(results[res.id]);
  $("history").prepend(li);
}

async function compose(ev) {
  ev.preventDefault();
  $("compose").disabled = true;
  $("busy").hidden = false;
  const t0 = performance.now();
  try {
    const r = await fetch("/api/compose", { method: "POST", body: new FormData($("controls")) });
    const res = await r.json();
    if (!r.ok) {
      $("result").hidden = false; $("output").hidden = true;
      $("error").hidden = false; $("error").textContent = res.error;
      return;
    }
    show(res);
    addHistory(res);
    setStatus(`composed in ${((performance.now() - t0) / 1000).toFixed(2)} s (click to playable audio)`);
  } catch (e) {
    $("result").hidden = false; $("output").hidden = true;
    $("error").hidden = false; $("error").textContent = `the server did not answer (${e})`;
  } finally {
    $("compose").disabled = false;
    $("busy").hidden = true;
  }
}

$("style").addEventListener("change", chooseStyle);
$("controls").addEventListener("submit", compose);
loadStyles().catch((e) => setStatus(`could not load styles: ${e}`));
