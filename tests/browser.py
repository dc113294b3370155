"""Open a Snakemake HTML report in headless Chromium (Debian's `chromium`) and walk it the way a
person would: every category and subcategory of the navigation, every result opened (images
decoded, captions rendered, tables framed), with console errors and uncaught exceptions recorded.

The report is instrumented, not changed: a probe script goes first in <head> (so it sees errors of
every later script) and, once the page has loaded, drives the page's own React app (``app``,
``categories``, ``results`` are the report's globals) and writes what it found as JSON into the
DOM, which ``chromium --dump-dom`` prints."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

PROBE = r"""<script>
window.__probe = {errors: [], subcategories: {}, results: {}};
(function () {
  const p = window.__probe;
  const original = console.error;
  console.error = function (...a) { p.errors.push(a.map(String).join(" ")); original.apply(console, a); };
  window.addEventListener("error", e => p.errors.push("uncaught: " + (e.message || e.type)));
  window.addEventListener("unhandledrejection", e => p.errors.push("unhandled rejection: " + e.reason));
  const tick = () => new Promise(r => setTimeout(r, 0));
  const text = html => { const d = document.createElement("div"); d.innerHTML = html; return d.textContent.trim(); };
  async function walk() {
    const out = document.createElement("pre");
    out.id = "metagen-probe";
    document.body.appendChild(out);
    const save = () => { out.textContent = JSON.stringify(p); };
    p.done = false;
    save();
    try {
      for (const cat of Object.keys(categories)) {
        for (const sub of Object.keys(categories[cat])) {
          app.setView({navbarMode: "menu"});  // a person goes back up between subcategories
          await tick();
          app.setView({navbarMode: "subcategory", category: cat, subcategory: sub});
          await tick();
          p.subcategories[cat + " / " + sub] =
            [...document.querySelectorAll("table tbody tr")].map(tr => tr.innerText.replace(/\s+/g, " ").trim());
        }
      }
      for (const path of Object.keys(results)) {
        const r = results[path], seen = {mime: r.mime_type, caption: false, shown: false};
        app.showResultInfo(path);
        await tick();
        const first = text(r.caption).slice(0, 40);
        seen.caption = first.length > 0 && document.querySelector("#app").innerText.replace(/\s+/g, " ").includes(first.replace(/\s+/g, " "));
        if (r.mime_type.startsWith("image/")) {
          app.setView({content: "img", contentPath: r.data_uri, resultPath: path});
          await tick();
          const img = [...document.querySelectorAll("img")].find(i => i.getAttribute("src") === r.data_uri);
          if (img) {
            for (let i = 0; i < 100 && !(img.complete && img.naturalWidth > 0); i++) await tick();
            seen.shown = img.naturalWidth > 0;
          }
        } else if (r.mime_type === "text/html") {
          // the page the report frames: its table, decoded from the embedded data URI
          const page = new TextDecoder().decode(Uint8Array.from(atob(r.data_uri.split(",")[1]), c => c.charCodeAt(0)));
          seen.shown = page.includes('<table id="metagen-table">') && page.includes("<td");
        }
        p.results[path] = seen;
        save();
      }
    } catch (e) { p.errors.push("probe: " + e); }
    p.done = true;
    save();
  }
  window.addEventListener("load", () => setTimeout(walk, 0));
})();
</script>"""

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                  "--enable-logging=stderr", "--v=0"]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def walk_report(report: Path, work: Path, timeout: float = 120) -> dict:
    """The probe's findings for ``report``, plus ``console``: the console messages Chromium logged
    at error level (its own stderr lines about D-Bus and the like are not the page's)."""
    html = report.read_text(encoding="utf-8")
    probed = work / "probed_report.html"
    probed.write_text(html.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    res = subprocess.run([chromium(), *CHROMIUM_FLAGS, "--virtual-time-budget=60000", "--dump-dom",
                          probed.as_uri()], capture_output=True, text=True, timeout=timeout)
    m = re.search(r'<pre id="metagen-probe">(.*?)</pre>', res.stdout, re.S)
    if not m:
        raise AssertionError(f"the probe did not finish (chromium rc {res.returncode}):\n{res.stderr[-3000:]}")
    found = json.loads(m.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
                       .replace("&#39;", "'").replace("&amp;", "&"))
    found["console"] = [line for line in res.stderr.splitlines() if "CONSOLE" in line and ":ERROR:" in line]
    return found


def screenshot(report: Path, out: Path, timeout: float = 120) -> Path:
    """The report's first screen as a PNG (1280x800)."""
    subprocess.run([chromium(), *CHROMIUM_FLAGS, "--virtual-time-budget=10000", "--window-size=1280,800",
                    f"--screenshot={out}", report.as_uri()], capture_output=True, timeout=timeout, check=True)
    return out
