#!/usr/bin/python3
"""Loads an `odfbench report` HTML file from disk in headless Chromium and checks it
as a reader's browser sees it, over the DevTools protocol on --remote-debugging-pipe
(Python stdlib only):

- no console error, no uncaught exception, no network request but the file itself;
- every expected figure is an inline SVG that rendered (non-zero box, drawn paths
  and text);
- every expected section holds its tables, each with rows;
- a full-page screenshot is saved.

    report_browser.py REPORT.html SCREENSHOT.png --figures a,b --sections x,y [--chromium PATH]
"""
import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


class Browser:
    """Chromium with the DevTools protocol on fds 3 (to it) and 4 (from it)."""

    def __init__(self, exe, profile):
        to_r, self.to_w = os.pipe()
        self.from_r, from_w = os.pipe()
        # The child sees to_r as its fd 3 and from_w as its fd 4: copied high first,
        # so neither dup2 clobbers the other's source; pass_fds keeps 3 and 4 open.
        def fds():
            r, w = os.dup(to_r), os.dup(from_w)
            hi_r, hi_w = os.dup2(r, 100), os.dup2(w, 101)
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)
        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
            preexec_fn=fds, pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(to_r)
        os.close(from_w)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None, timeout=60):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            m = self.read(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def read(self, deadline):
        while b"\0" not in self.buf:
            if time.time() > deadline:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self.from_r, 1 << 20)
            if not chunk:
                err = self.proc.stderr.read().decode(errors="replace")[-2000:]
                raise RuntimeError("Chromium closed the pipe: " + err)
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def wait_event(self, method, timeout=60):
        deadline = time.time() + timeout
        for m in self.events:
            if m.get("method") == method:
                return m
        while True:
            m = self.read(deadline)
            self.events.append(m)
            if m.get("method") == method:
                return m

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


PAGE_FACTS = """(() => {
  const figs = [...document.querySelectorAll('figure[data-figure]')].map(f => {
    const s = f.querySelector('svg'); const r = s ? s.getBoundingClientRect() : {width: 0, height: 0};
    return {name: f.dataset.figure, svg: !!s, width: r.width, height: r.height,
            paths: s ? s.querySelectorAll('path,use,rect').length : 0, texts: s ? s.querySelectorAll('text').length : 0,
            caption: (f.querySelector('figcaption') || {}).textContent || ''};
  });
  const sections = [...document.querySelectorAll('section')].map(s => ({id: s.id,
    tables: [...s.querySelectorAll('table')].map(t => t.querySelectorAll('tbody tr').length)}));
  const external = [...document.querySelectorAll('script,link,img,iframe,object,embed')].length;
  return JSON.stringify({figs, sections, external, title: document.title});
})()"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("report")
    ap.add_argument("screenshot")
    ap.add_argument("--figures", default="")
    ap.add_argument("--sections", default="")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    a = ap.parse_args()
    url = "file://" + os.path.abspath(a.report)
    problems = []
    with tempfile.TemporaryDirectory(prefix="odfbench-chromium-") as profile:
        b = Browser(a.chromium, profile)
        try:
            target = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            s = b.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                b.send(f"{domain}.enable", session=s)
            b.send("Emulation.setDeviceMetricsOverride", {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
                   session=s)
            b.events.clear()
            b.send("Page.navigate", {"url": url}, session=s)
            b.wait_event("Page.loadEventFired")
            facts = json.loads(b.send("Runtime.evaluate", {"expression": PAGE_FACTS, "returnByValue": True}, session=s)
                               ["result"]["value"])
            size = b.send("Page.getLayoutMetrics", session=s)["cssContentSize"]
            height = min(int(size["height"]) + 1, 16000)
            b.send("Emulation.setDeviceMetricsOverride", {"width": 1400, "height": height, "deviceScaleFactor": 1, "mobile": False},
                   session=s)
            shot = b.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=s)
            with open(a.screenshot, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            time.sleep(0.2)
            b.send("Runtime.evaluate", {"expression": "1"}, session=s)  # flush late events
        finally:
            b.close()
    for m in b.events:
        meth, p = m.get("method"), m.get("params", {})
        if meth == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
            problems.append(f"console {p['type']}: " + " ".join(str(x.get("value", x.get("description", ""))) for x in p.get("args", [])))
        elif meth == "Runtime.exceptionThrown":
            problems.append("exception: " + json.dumps(p.get("exceptionDetails", {}))[:300])
        elif meth == "Log.entryAdded" and p["entry"].get("level") in ("error", "warning"):
            problems.append(f"log {p['entry']['level']}: {p['entry'].get('text', '')} {p['entry'].get('url', '')}")
        elif meth == "Network.requestWillBeSent" and p["request"]["url"] != url:
            problems.append("network request: " + p["request"]["url"][:200])
    if facts["external"]:
        problems.append(f"{facts['external']} script/link/img/iframe elements: the report must be self-contained")
    figs = {f["name"]: f for f in facts["figs"]}
    for name in filter(None, a.figures.split(",")):
        f = figs.get(name)
        if not f or not f["svg"]:
            problems.append(f"figure {name}: missing")
        elif f["width"] < 200 or f["height"] < 100 or f["paths"] < 10 or f["texts"] < 5:
            problems.append(f"figure {name}: not rendered ({f})")
        elif "n = " not in f["caption"] or "interval" not in f["caption"]:
            problems.append(f"figure {name}: caption lacks n or the interval method: {f['caption'][:200]}")
    secs = {s["id"]: s["tables"] for s in facts["sections"]}
    for sid in filter(None, a.sections.split(",")):
        if sid not in secs:
            problems.append(f"section {sid}: missing")
        elif not secs[sid] or not all(secs[sid]):
            problems.append(f"section {sid}: tables {secs[sid]} (want at least one, none empty)")
    for p in problems:
        print("FAIL:", p)
    print(f"report_browser: {len(figs)} figures, sections {sorted(secs)}, screenshot {a.screenshot} "
          f"({os.path.getsize(a.screenshot)} bytes, 1400x{height})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
