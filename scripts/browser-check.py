#!/usr/bin/env python3
"""Opens one local HTML page in headless Chromium over the DevTools protocol and reports, as
JSON on stdout, what a person's browser would have shown and done:

  {"dom": <what the page's check expression returned>, "errors": [...], "requests": [...],
   "screenshot": "<path>"}

errors: uncaught exceptions, console errors and browser log errors (a Content-Security-Policy
violation is one); requests: every URL the page asked for other than itself (file:, data:,
about: are the page's own). The DevTools protocol runs over a pipe (--remote-debugging-pipe:
JSON messages ended by NUL on file descriptors 3 and 4), so this needs Python's standard
library and the chromium package, nothing else: no chromedriver, no Selenium, no port.

usage: browser-check.py PAGE.html SCREENSHOT.png CHECK_EXPRESSION [TIMEOUT_SECONDS]
The browser: $CHROMIUM, else chromium, else chromium-browser. With $BROWSER_CHECK_CLIP set
to a CSS selector, the screenshot is of that element only (the README's picture:
BROWSER_CHECK_CLIP=.figure).
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--hide-scrollbars",
    "--window-size=1400,1000",
    "--remote-debugging-pipe",
]


class Browser:
    def __init__(self, binary, profile):
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        # The browser reads commands on fd 3 and writes answers to fd 4: the shell puts
        # the pipe's ends there, then becomes the browser.
        redirect = f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w}'
        self.proc = subprocess.Popen(
            ["sh", "-c", redirect, binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(to_browser_r, from_browser_w),
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_browser, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def read(self, deadline):
        while b"\0" not in self.buf:
            if time.monotonic() > deadline:
                raise TimeoutError("the browser did not answer in time")
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise EOFError("the browser closed the pipe")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method, params=None, session=None, deadline=None):
        wanted = self.send(method, params, session)
        while True:
            msg = self.read(deadline)
            if msg.get("id") == wanted:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, method, deadline):
        for i, e in enumerate(self.events):
            if e.get("method") == method:
                return self.events.pop(i)
        while True:
            msg = self.read(deadline)
            if msg.get("method") == method:
                return msg
            self.events.append(msg)


def main():
    page, shot, check = sys.argv[1], sys.argv[2], sys.argv[3]
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 60
    binary = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not binary:
        print("browser-check: no chromium (apt-get install chromium)", file=sys.stderr)
        return 2
    deadline = time.monotonic() + timeout
    url = "file://" + os.path.abspath(page)
    with tempfile.TemporaryDirectory(prefix="browser-check-") as profile:
        b = Browser(binary, profile)
        try:
            target = b.call("Target.createTarget", {"url": "about:blank"}, deadline=deadline)
            s = b.call(
                "Target.attachToTarget",
                {"targetId": target["targetId"], "flatten": True},
                deadline=deadline,
            )["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                b.call(f"{domain}.enable", session=s, deadline=deadline)
            b.call("Page.navigate", {"url": url}, session=s, deadline=deadline)
            b.wait_event("Page.loadEventFired", deadline)
            dom = b.call(
                "Runtime.evaluate",
                {"expression": check, "returnByValue": True, "awaitPromise": True},
                session=s,
                deadline=deadline,
            )
            height = b.call(
                "Runtime.evaluate",
                {"expression": "document.documentElement.scrollHeight", "returnByValue": True},
                session=s,
                deadline=deadline,
            )["result"].get("value", 1000)
            b.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": 1400, "height": min(int(height), 6000), "deviceScaleFactor": 1, "mobile": False},
                session=s,
                deadline=deadline,
            )
            shot_params = {"format": "png"}
            clip = os.environ.get("BROWSER_CHECK_CLIP")
            if clip:
                rect = b.call(
                    "Runtime.evaluate",
                    {
                        "expression": "(r => ({x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height}))"
                        f"(document.querySelector({json.dumps(clip)}).getBoundingClientRect())",
                        "returnByValue": True,
                    },
                    session=s,
                    deadline=deadline,
                )["result"]["value"]
                shot_params["clip"] = {**rect, "scale": 1}
            png = b.call("Page.captureScreenshot", shot_params, session=s, deadline=deadline)
            with open(shot, "wb") as f:
                f.write(base64.b64decode(png["data"]))
            # Let late events (a timer's error, a lazy request) arrive.
            b.call("Runtime.evaluate", {"expression": "new Promise(r => setTimeout(r, 300))", "awaitPromise": True}, session=s, deadline=deadline)
        finally:
            try:
                b.send("Browser.close")
                b.proc.wait(timeout=10)
            except Exception:
                b.proc.kill()
                b.proc.wait()
    errors, requests = [], []
    for e in b.events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            errors.append("exception: " + (d.get("exception", {}).get("description") or d.get("text", "")))
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            errors.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            errors.append("log: " + p["entry"].get("text", ""))
        elif m == "Network.requestWillBeSent":
            u = p.get("request", {}).get("url", "")
            if not (u == url or u.startswith(("data:", "about:"))):
                requests.append(u)
    if dom.get("exceptionDetails"):
        errors.append("check: " + json.dumps(dom["exceptionDetails"]))
    print(json.dumps({"dom": dom.get("result", {}).get("value"), "errors": errors, "requests": requests, "screenshot": shot}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
