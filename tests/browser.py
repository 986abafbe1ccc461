#!/usr/bin/env python3
"""Drives Debian's headless Chromium through the DevTools protocol on a pipe
(--remote-debugging-pipe: JSON messages ended by NUL, commands on fd 3,
answers on fd 4) for pages that draw after their load event, which
--screenshot and --dump-dom do not wait for (Perfetto's UI loads a trace in
a WebAssembly worker). Opens URL, waits until the JavaScript condition
--until is true, prints the value of each --eval expression on a line of its
own, and saves a screenshot.

   browser.py URL --until JS [--eval JS ...] [--screenshot PNG]
              [--timeout SECONDS] [--size WIDTH,HEIGHT] [--profile DIR]

Exit status 0 when the condition held, 1 when it did not within the time
(the evaluations and the screenshot are still made: they say why), 2 when
Chromium could not be driven."""
import argparse
import base64
import fcntl
import json
import os
import subprocess
import sys
import time


class Browser:
    def __init__(self, args):
        cmd_r, self.cmd_w = os.pipe()
        self.ans_r, ans_w = os.pipe()
        # Chromium's ends go to fds 3 and 4 in the child: first moved above
        # them, so neither dup2 can overwrite the other's source.
        hi_r = fcntl.fcntl(cmd_r, fcntl.F_DUPFD_CLOEXEC, 10)
        hi_w = fcntl.fcntl(ans_w, fcntl.F_DUPFD_CLOEXEC, 10)

        def fds():
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        self.proc = subprocess.Popen(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--user-data-dir=" + args.profile, "--window-size=" + args.size,
             "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=fds, pass_fds=(3, 4))
        for fd in (cmd_r, ans_w, hi_r, hi_w):
            os.close(fd)
        self.buf = b""
        self.next_id = 0
        self.session = None

    def send(self, method, params=None, session=True):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        while True:                      # events in between are not needed
            while b"\0" not in self.buf:
                chunk = os.read(self.ans_r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\0", 1)
            ans = json.loads(line)
            if ans.get("id") == self.next_id:
                if "error" in ans:
                    raise RuntimeError(f"{method}: {ans['error']}")
                return ans.get("result", {})

    def evaluate(self, expr):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True})
        return r.get("result", {}).get("value")

    def close(self):
        try:
            self.send("Browser.close", session=False)
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--until", required=True)
    ap.add_argument("--eval", action="append", default=[])
    ap.add_argument("--screenshot")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--size", default="1280,800")
    ap.add_argument("--profile", default="/tmp/winmem-browser")
    a = ap.parse_args()
    b = Browser(a)
    try:
        target = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        b.session = b.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        w, h = (int(x) for x in a.size.split(","))
        b.send("Emulation.setDeviceMetricsOverride",
               {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": False})
        b.send("Page.enable")
        b.send("Page.navigate", {"url": a.url})
        held = False
        end = time.monotonic() + a.timeout
        while time.monotonic() < end:
            if b.evaluate(a.until):
                held = True
                break
            time.sleep(0.25)
        if held:
            time.sleep(0.5)              # the frame after the state that made it true
        for e in a.eval:
            print(b.evaluate(e))
        if a.screenshot:
            png = b.send("Page.captureScreenshot", {"format": "png"})["data"]
            with open(a.screenshot, "wb") as f:
                f.write(base64.b64decode(png))
    except (RuntimeError, OSError, KeyError, ValueError) as e:
        print(f"browser.py: {e}", file=sys.stderr)
        return 2
    finally:
        b.close()
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
