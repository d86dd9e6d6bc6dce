"""`compose serve`: the local page. A thin Starlette layer over ``web.jobs``.

One generation runs at a time (a lock: a second click waits its turn), off the event loop, so the
page and the downloads stay responsive while a model samples. Results live in a temporary folder
for the life of the server; nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import tempfile
import time
from pathlib import Path

from ..errors import ComposerError, InputError

__all__ = ["create_app", "serve"]

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
_FILE = re.compile(r"^[0-9]{1,6}$")
_UPLOADS = (".mid", ".midi", ".abc")
_MEDIA = {".mid": "audio/midi", ".abc": "text/vnd.abc; charset=utf-8", ".musicxml": "application/vnd.recordare.musicxml+xml",
          ".wav": "audio/wav"}


def _missing(e: ImportError):
    return InputError(f"the web page needs Starlette and uvicorn ({e.name} is missing): pip install 'composer[web]'")


def create_app(runs_dir: str | Path | None = None, work_dir: str | Path | None = None):
    """The ASGI app. ``runs_dir`` is searched for trained checkpoints to offer beside the styles."""
    try:
        from starlette.applications import Starlette
        from starlette.concurrency import run_in_threadpool
        from starlette.requests import Request
        from starlette.responses import FileResponse, JSONResponse, Response
        from starlette.routing import Mount, Route
        from starlette.staticfiles import StaticFiles
    except ImportError as e:
        raise _missing(e) from None

    from .jobs import LIMITS, ComposeRequest, compose, find_checkpoints, style_catalogue

    work = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="compose-serve-"))
    state = {"history": [], "lock": asyncio.Lock(), "busy": False, "uploads": 0, "scores": {}}

    def error(message: str, status: int = 400) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def styles(request: Request) -> Response:
        found = find_checkpoints(runs_dir)
        from ..constraints import SCALE_NAMES

        return JSONResponse({"styles": await run_in_threadpool(style_catalogue, found), "scales": list(SCALE_NAMES),
                             "limits": {"bars": LIMITS["bars"], "upload_bytes": LIMITS["upload_bytes"]}})

    async def status(request: Request) -> Response:
        return JSONResponse({"busy": state["busy"], "generations": len(state["history"])})

    async def history(request: Request) -> Response:
        return JSONResponse({"history": state["history"]})

    async def compose_route(request: Request) -> Response:
        size = int(request.headers.get("content-length") or 0)
        if size > LIMITS["upload_bytes"] + 65_536:
            if size < 64 * LIMITS["upload_bytes"]:  # read it away, so the browser sees the answer, not a reset
                async for _ in request.stream():
                    pass
            return error(f"the request is over {LIMITS['upload_bytes'] // 1000} kB", 413)
        try:
            async with request.form(max_files=1, max_fields=40) as form:
                fields = {k: v for k, v in form.items() if isinstance(v, str)}
                upload = form.get("upload")
                if upload is not None and not isinstance(upload, str):
                    data = await upload.read(LIMITS["upload_bytes"] + 1)
                    if len(data) > LIMITS["upload_bytes"]:
                        return error(f"the upload is over {LIMITS['upload_bytes'] // 1000} kB", 413)
                    if data:
                        suffix = Path(upload.filename or "").suffix.lower()
                        if suffix not in _UPLOADS:
                            return error(f"uploads are MIDI or ABC files ({', '.join(_UPLOADS)}), not {upload.filename!r}")
                        state["uploads"] += 1
                        name = re.sub(r"[^\w.-]", "_", Path(upload.filename).name)[-80:]  # shown in the command
                        path = work / "uploads" / str(state["uploads"]) / name
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.write_bytes(data)
                        fields["upload"] = str(path)
        except Exception as e:  # a malformed multipart body
            return error(f"the request could not be read ({type(e).__name__})")
        try:
            req = ComposeRequest.from_form(fields, find_checkpoints(runs_dir))
        except ComposerError as e:
            return error(str(e))
        async with state["lock"]:  # one model at a time; later clicks queue here
            state["busy"] = True
            number = len(state["history"]) + 1
            out = work / str(number)
            t0 = time.perf_counter()
            try:
                result, state["scores"][number] = await run_in_threadpool(compose, req, out)
            except ComposerError as e:
                shutil.rmtree(out, ignore_errors=True)
                return error(str(e))
            except Exception as e:  # a bug: keep serving, say so
                log.exception("generation failed")
                shutil.rmtree(out, ignore_errors=True)
                return error(f"internal error ({type(e).__name__}: {e})", 500)
            finally:
                state["busy"] = False
            result.update(id=number, wall_s=round(time.perf_counter() - t0, 3),
                          urls={k: f"/files/{number}/{v}" for k, v in result["files"].items()})
            state["history"].append({k: result[k] for k in ("id", "style", "seed", "command", "seconds", "urls")})
        return JSONResponse(result)

    async def files(request: Request) -> Response:
        number, name = request.path_params["number"], request.path_params["name"]
        if not _FILE.match(number) or name not in {f"piece{s}" for s in _MEDIA}:
            return error("no such file", 404)
        path = work / number / name
        score = state["scores"].get(int(number))
        if not path.is_file() and score is not None and path.suffix == ".musicxml":
            from ..io import write

            try:
                await run_in_threadpool(write, score, path)
            except ComposerError as e:
                return error(f"this piece has no MusicXML form: {e}", 404)
        if not path.is_file():
            return error("no such file", 404)
        return FileResponse(path, media_type=_MEDIA[path.suffix], filename=name)

    routes = [
        Route("/", index),
        Route("/api/styles", styles),
        Route("/api/status", status),
        Route("/api/history", history),
        Route("/api/compose", compose_route, methods=["POST"]),
        Route("/files/{number}/{name}", files),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes)


def serve(host: str = "127.0.0.1", port: int = 8000, runs_dir: str | Path | None = None) -> None:
    """Serve the page until Ctrl-C. Listens on loopback unless ``host`` says otherwise."""
    try:
        import uvicorn
    except ImportError as e:
        raise _missing(e) from None
    app = create_app(runs_dir)
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("listening on %s: other machines on the network can use this page", host)
    log.info("composer page on http://%s:%d/ (Ctrl-C stops it)", host if ":" not in host else f"[{host}]", port)
    uvicorn.run(app, host=host, port=port, log_level="warning")
