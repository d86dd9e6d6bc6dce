"""Time from a click on Compose to playable audio on the local page, and whether the page stays
responsive meanwhile.

Starts `compose serve`'s app on a free loopback port, drives headless Chromium (Debian's chromium +
chromedriver, through selenium): for a folk tune and a 3-chorus blues it clicks Compose and waits
until the audio element can play; prints those times (median of --repeats, after one warm-up that
loads the model) and, while a blues is composing, the latency of the page's status route.

    python bench/web_latency.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import tempfile
import threading
import time
import urllib.request


def start_server():
    import uvicorn

    from composer.web.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(None, tempfile.mkdtemp()), host="127.0.0.1", port=port,
                                        log_level="warning"))
    threading.Thread(target=srv.run, daemon=True).start()
    while not srv.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", srv


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)


def click_to_audio(driver, url: str, style: str, fields: dict) -> float:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    driver.get(url)
    wait = WebDriverWait(driver, 300)
    wait.until(lambda d: len(Select(d.find_element(By.ID, "style")).options) >= 4)
    Select(driver.find_element(By.ID, "style")).select_by_value(style)
    for name, value in fields.items():
        el = driver.find_element(By.NAME, name)
        el.clear()
        el.send_keys(value)
    driver.execute_script("window.__t0 = performance.now();"
                          "document.getElementById('player').addEventListener('canplay',"
                          " () => { window.__t1 = performance.now(); }, {once: true});")
    driver.find_element(By.ID, "compose").click()
    wait.until(lambda d: d.execute_script("return window.__t1 !== undefined"))
    return driver.execute_script("return (window.__t1 - window.__t0) / 1000")


def status_latency_while_busy(url: str) -> list[float]:
    """Status-route latencies (s) sampled while a blues composes in another request."""
    body = b"--x\r\nContent-Disposition: form-data; name=\"style\"\r\n\r\nblues\r\n--x--\r\n"
    req = urllib.request.Request(url + "/api/compose", data=body, method="POST",
                                 headers={"Content-Type": "multipart/form-data; boundary=x"})
    t = threading.Thread(target=lambda: urllib.request.urlopen(req, timeout=300).read())
    t.start()
    out = []
    while t.is_alive():
        t0 = time.perf_counter()
        with urllib.request.urlopen(url + "/api/status", timeout=30) as r:
            busy = json.loads(r.read())["busy"]
        if busy:
            out.append(time.perf_counter() - t0)
        time.sleep(0.05)
    t.join()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        raise SystemExit("needs chromium and chromedriver (Debian: apt-get install chromium chromium-driver)")
    url, srv = start_server()
    driver = browser()
    try:
        cases = {"folk tune": ("folk", {}), "3-chorus blues": ("blues", {"bars": "36"})}
        for label, (style, fields) in cases.items():
            click_to_audio(driver, url, style, {**fields, "seed": "100"})  # warm-up: loads the model
            times = [click_to_audio(driver, url, style, {**fields, "seed": str(i)}) for i in range(args.repeats)]
            print(f"{label:15s} click -> playable audio: median {statistics.median(times):.2f} s "
                  f"(min {min(times):.2f}, max {max(times):.2f}, {args.repeats} runs)")
        lat = status_latency_while_busy(url)
        if lat:
            print(f"while a blues composes: status route answered {len(lat)} times, median "
                  f"{1000 * statistics.median(lat):.1f} ms, max {1000 * max(lat):.1f} ms")
    finally:
        driver.quit()
        srv.should_exit = True


if __name__ == "__main__":
    main()
