"""Headless Chromium driven over the DevTools protocol on a pipe: load a local page, record every request and
console message, take a full-page screenshot. Standard library only (no websocket client, no Selenium).

Chromium reads protocol messages from file descriptor 3 and writes to 4 (``--remote-debugging-pipe``), each a JSON
document ending in a NUL byte.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--no-default-browser-check", "--disable-sync",
         "--disable-extensions", "--mute-audio", "--hide-scrollbars")


def find_chromium() -> str | None:
    """Path of a Chromium binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageLoad:
    """What happened while a page loaded.

    Parameters
    ----------
    requests : list of str
        URL of every request the page made (the document itself included).
    console : list of str
        Console messages and log entries of level warning or error, and uncaught exceptions.
    screenshot : bytes
        Full-page PNG.
    size : tuple of int
        ``(width, height)`` of the page in CSS pixels.
    values : dict
        Results of the expressions passed to :meth:`Chromium.load`.
    """

    requests: list = field(default_factory=list)
    console: list = field(default_factory=list)
    screenshot: bytes = b""
    size: tuple = (0, 0)
    values: dict = field(default_factory=dict)


class Chromium:
    """A headless Chromium process; a context manager.

    Parameters
    ----------
    binary : str | None
        Chromium executable; found on PATH when None.
    timeout_s : float
        Longest wait for any one protocol answer.
    flags : tuple of str
        More command-line flags, e.g. ``--allow-file-access-from-files`` so that a local page may read a local
        caption file with ``<track>``.
    """

    def __init__(self, binary: str | None = None, timeout_s: float = 60.0, flags: tuple = ()):
        self.binary = binary or find_chromium()
        if self.binary is None:
            raise FileNotFoundError("chromium not found")
        self.timeout_s = timeout_s
        self.profile = tempfile.mkdtemp(prefix="twitchcam-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        cmd = " ".join([f"exec {self.binary!s}", *FLAGS, *flags, "--remote-debugging-pipe",
                        f"--user-data-dir={self.profile}", f"3<&{to_chrome_r}", f"4>&{from_chrome_w}"])
        self.proc = subprocess.Popen(["bash", "-c", cmd], pass_fds=(to_chrome_r, from_chrome_w),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._from_chrome], [], [], remaining)[0]:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Call a DevTools method and return its result; events that arrive meanwhile go to :attr:`events`."""
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout_s
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, session: str) -> dict:
        """Wait for an event of a session (one already received counts)."""
        deadline = time.monotonic() + self.timeout_s
        for i, ev in enumerate(self.events):
            if ev.get("method") == method and ev.get("sessionId") == session:
                return self.events.pop(i)
        while True:
            ev = self._read_message(deadline)
            if ev.get("method") == method and ev.get("sessionId") == session:
                return ev
            self.events.append(ev)

    def load(self, url: str, width: int, height: int = 900, mobile: bool = False,
             expressions: dict | None = None, settle_s: float = 0.3) -> PageLoad:
        """Open ``url`` in a new tab of the given viewport, wait for it to load, and take a full-page screenshot.

        Parameters
        ----------
        url : str
            Page to open (e.g. a ``file://`` URL).
        width, height : int
            Viewport in CSS pixels.
        mobile : bool
            Emulate a phone (mobile viewport meta tag honoured).
        expressions : dict of str to str | None
            JavaScript expressions to evaluate after load (awaiting promises), by name.
        settle_s : float
            Extra time after the load event for late requests and messages.
        """
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=session)
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}, session)
        self.events = [e for e in self.events if e.get("sessionId") != session]
        self.send("Page.navigate", {"url": url}, session)
        self.wait_for("Page.loadEventFired", session)
        time.sleep(settle_s)
        values = {}
        for name, expr in (expressions or {}).items():
            res = self.send("Runtime.evaluate", {"expression": expr, "awaitPromise": True, "returnByValue": True},
                            session)
            values[name] = res.get("result", {}).get("value")
        metrics = self.send("Page.getLayoutMetrics", session=session)
        content = metrics["cssContentSize"]
        size = (int(content["width"]), int(content["height"]))
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": size[1], "deviceScaleFactor": 1, "mobile": mobile}, session)
        shot = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session)
        self.send("Runtime.evaluate", {"expression": "0"}, session)  # flush pending events
        out = PageLoad(screenshot=base64.b64decode(shot["data"]), size=size, values=values)
        for ev in self.events:
            if ev.get("sessionId") != session:
                continue
            method, p = ev.get("method"), ev.get("params", {})
            if method == "Network.requestWillBeSent":
                out.requests.append(p["request"]["url"])
            elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                out.console.append(f"console.{p['type']}: " + " ".join(str(a.get("value", a.get("description")))
                                                                       for a in p.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                out.console.append(f"exception: {p['exceptionDetails'].get('text')}")
            elif method == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                out.console.append(f"log {p['entry']['level']}: {p['entry']['text']} {p['entry'].get('url', '')}")
        self.send("Target.closeTarget", {"targetId": target})
        self.events = [e for e in self.events if e.get("sessionId") != session]
        return out

    def close(self) -> None:
        """Close the browser and remove its profile."""
        try:
            self.send("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def screenshot(html: str | Path, out_png: str | Path, width: int, mobile: bool = False) -> PageLoad:
    """Open a local HTML file in a fresh headless Chromium and save a full-page screenshot."""
    with Chromium() as browser:
        load = browser.load(Path(html).resolve().as_uri(), width, mobile=mobile)
    Path(out_png).write_bytes(load.screenshot)
    return load
