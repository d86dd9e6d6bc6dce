"""`compose serve`: the request checks, a real server over HTTP, and the page in headless Chromium."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import mido
import pytest

pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")

from composer.errors import InputError  # noqa: E402
from composer.web.jobs import ComposeRequest  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def test_request_from_the_page_fields_and_its_command():
    req = ComposeRequest.from_form({"style": "folk", "seed": "7", "meter": "6/8", "temperature": "0.9", "bars": ""}, {})
    assert (req.style, req.seed, req.bars, req.temperature, req.options) == ("folk", 7, None, 0.9, {"meter": "6/8"})
    assert req.command() == "compose generate --style folk --key C --seed 7 --temperature 0.9 --meter 6/8 -o piece.mid"
    locked = ComposeRequest.from_form({"style": "folk", "scale": "dorian", "scale_strength": "0.5", "form": "AABB"}, {})
    assert locked.control == {"scale": "dorian", "scale_strength": 0.5} and locked.options == {"form": "AABB"}
    assert locked.command().endswith("--form AABB --scale dorian --scale-strength 0.5 -o piece.mid")
    run = ComposeRequest.from_form({"style": "run:x"}, {"run:x": Path("runs/x")})
    assert run.checkpoint == "runs/x" and run.style is None and "--checkpoint runs/x" in run.command()
    for bad, why in (({"bars": "999"}, "bars must be between 1 and 128"), ({"tempo": "fast"}, "tempo must be a number"),
                     ({"temperature": "0"}, "temperature must be between"), ({"prime": "x" * 5000}, "over 4000"),
                     ({"vary": "2"}, "vary must be between 0.0 and 1.0")):
        with pytest.raises(InputError, match=why):
            ComposeRequest.from_form(bad, {})


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real uvicorn server on a free loopback port, with a runs folder holding one broken run."""
    from composer.web.app import create_app

    runs = tmp_path_factory.mktemp("runs")
    (runs / "broken").mkdir()
    (runs / "broken" / "config.json").write_text("{not json")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(runs, tmp_path_factory.mktemp("work")), host="127.0.0.1",
                                       port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _post(url: str, fields: dict, upload: tuple[str, bytes] | None = None) -> tuple[int, dict]:
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    for k, v in fields.items():
        body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    if upload:
        body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="upload"; filename="{upload[0]}"\r\n'
                   f"Content-Type: application/octet-stream\r\n\r\n".encode() + upload[1] + b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    req = urllib.request.Request(url, data=body.getvalue(), method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_styles_compose_download_history(server):
    status, body = _get(server + "/api/styles")
    styles = {s["name"]: s for s in json.loads(body)["styles"]}
    assert {"blues", "folk", "jazz", "drums"} <= set(styles) and not any(n.startswith("run:") for n in styles)
    assert "meter" in styles["folk"]["options"] and "fill_every" in styles["drums"]["options"]
    status, res = _post(server + "/api/compose", {"style": "jazz", "seed": "2", "bars": "8"})
    assert status == 200, res
    assert res["command"].startswith("compose generate --style jazz --key C --seed 2 --bars 8")
    assert set(res["urls"]) >= {"midi", "wav", "musicxml"} and res["notes"] and res["chords"]
    status, midi = _get(server + res["urls"]["midi"])
    assert status == 200 and mido.MidiFile(file=io.BytesIO(midi)).tracks
    status, wav = _get(server + res["urls"]["wav"])
    assert status == 200 and wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
    status, xml = _get(server + res["urls"]["musicxml"])  # written on demand
    assert status == 200 and b"score-partwise" in xml
    history = json.loads(_get(server + "/api/history")[1])["history"]
    assert history[-1]["id"] == res["id"] and history[-1]["command"] == res["command"]


def test_bad_requests_are_4xx_and_the_server_keeps_serving(server):
    status, res = _post(server + "/api/compose", {"style": "nope"})
    assert status == 400 and "unknown style 'nope'" in res["error"]
    status, res = _post(server + "/api/compose", {"style": "folk", "scale": "klingon"})
    assert status == 400 and "unknown scale" in res["error"].lower() and "dorian" in res["error"]
    status, res = _post(server + "/api/compose", {"style": "folk", "bars": "100000"})
    assert status == 400 and "bars must be between" in res["error"]
    status, res = _post(server + "/api/compose", {"style": "folk"}, ("song.png", b"\x89PNG junk"))
    assert status == 400 and "MIDI or ABC" in res["error"]
    status, res = _post(server + "/api/compose", {"style": "folk"}, ("tune.abc", b"\xff\xfe not a tune \x00"))
    assert status == 400 and res["error"]
    status, res = _post(server + "/api/compose", {"style": "folk"}, ("big.mid", b"0" * 1_100_000))
    assert status == 413 and "over 1000 kB" in res["error"]
    status, res = _post(server + "/api/compose", {"style": "jazz"}, ("tune.abc", b"X:1\nK:C\nCDEF|\n"))
    assert status == 400 and "cannot continue" in res["error"]
    for path in ("/files/1/../../../etc/passwd", "/files/1/config.json", "/files/999/piece.mid"):
        assert _get(server + path)[0] == 404
    assert _get(server + "/")[0] == 200  # still serving


def test_an_uploaded_tune_is_continued(server):
    tune = b"X:1\nT:up\nM:6/8\nL:1/8\nK:G\n|:GAB cde|d2B G3|GAB cde|d2B G3:|\n"
    status, res = _post(server + "/api/compose", {"style": "folk", "seed": "1"}, ("tune.abc", tune))
    assert status == 200, res
    assert "--prime 'M:6/8 K:Cmaj |: c d e f g a | g 2 e c 3 | c d e f g a | g 2 e c 3 :|'" in res["command"]
    assert "M:6/8" in res["abc"]


def test_an_uploaded_melody_is_accompanied(server):
    from composer.io.midi import midi_bytes
    from composer.score import Score, TimeSignature, Track

    melody = [(i * 480, 480, p, 90) for i, p in enumerate([60, 62, 64, 65, 67, 65, 64, 62] * 4)]
    song = Score(tracks=[Track("Melody", 0, False, melody)], time_signatures=[TimeSignature(0, 4, 4)])
    status, res = _post(server + "/api/compose", {"use": "drums", "seed": "4"}, ("song.mid", midi_bytes(song)))
    assert status == 200, res
    assert res["command"] == "compose accompany song.mid --add drums --seed 4 -o piece.mid"
    assert [t["drum"] for t in res["tracks"]] == [False, True]
    status, res = _post(server + "/api/compose", {"use": "kazoo"}, ("song.mid", midi_bytes(song)))
    assert status == 400 and "not 'kazoo'" in res["error"]


def test_page_answers_while_a_generation_runs(server):
    """Generation runs off the event loop: the status route answers (and says busy) meanwhile."""
    done = {}
    t = threading.Thread(target=lambda: done.update(r=_post(server + "/api/compose", {"style": "blues", "bars": "48"})))
    t.start()
    seen_busy = False
    while t.is_alive():
        status, body = _get(server + "/api/status")
        assert status == 200
        seen_busy |= json.loads(body)["busy"]
        time.sleep(0.02)
    t.join()
    assert done["r"][0] == 200 and seen_busy


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                    reason="no chromium + chromedriver here (Debian: apt-get install chromium chromium-driver; .ci/run does)")
def test_in_headless_chromium(server):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1200,1400"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        driver.get(server + "/")
        wait = WebDriverWait(driver, 120)
        wait.until(lambda d: len(Select(d.find_element(By.ID, "style")).options) >= 4)
        Select(driver.find_element(By.ID, "style")).select_by_value("folk")
        driver.find_element(By.NAME, "meter").send_keys("6/8")
        seed = driver.find_element(By.ID, "seed")
        seed.clear()
        seed.send_keys("5")
        driver.find_element(By.ID, "compose").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#notation svg"))
        audio = driver.find_element(By.ID, "player")
        assert audio.get_attribute("src").endswith("/piece.wav")
        wait.until(lambda d: d.execute_script("return document.getElementById('player').readyState") >= 1)
        assert "--seed 5" in driver.find_element(By.ID, "command").text
        href = driver.find_element(By.ID, "download-midi").get_attribute("href")
        status, midi = _get(href)
        assert status == 200 and mido.MidiFile(file=io.BytesIO(midi)).tracks
        assert driver.find_elements(By.CSS_SELECTOR, "#history li")
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "web-folk.png"))
        assert (ARTIFACTS / "web-folk.png").stat().st_size > 10_000
        # A bad parameter shows a message on the page; the page still works after it.
        bars = driver.find_element(By.ID, "bars")
        bars.send_keys("500")
        driver.execute_script("document.getElementById('bars').removeAttribute('max')")
        driver.find_element(By.ID, "compose").click()
        wait.until(lambda d: d.find_element(By.ID, "error").is_displayed())
        assert "bars must be between" in driver.find_element(By.ID, "error").text
    finally:
        driver.quit()
    assert os.path.exists(ARTIFACTS / "web-folk.png")
