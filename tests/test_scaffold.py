"""`aiaas plugin new` for every modality: the project installs with pip, its own tests (the kit's
PluginContract and a train-and-serve test) pass, and `aiaas train` / `aiaas serve` pick it up
with no other step. The projects are installed into a throw-away virtual environment layered on
this one, so the environment the other tests see never changes."""

from __future__ import annotations

import base64
import html
import io
import json
import os
import site
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aiaas.scaffold import KINDS, MODALITIES

pytestmark = pytest.mark.slow
TASK = {modality: kind.task for modality, kind in KINDS.items()}


def _png() -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (24, 24), dtype=np.uint8)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


INSTANCE = {
    "tabular": {"age_days": 30.0, "value": 900.0, "events_last_30d": 9, "channel": "phone"},
    "image": {"image": _png(), "filename": "part.png"},
    "text": {"text": "the courier was late and the parcel arrived at the wrong address"},
    "sequence": {"events": ["visit", "complaint", "refund"]},
}


def _layered_venv(root: Path) -> Path:
    """A virtual environment that sees this one's packages (aiaas, torch, pytest) and installs into its own."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    own = subprocess.run([str(python), "-c", "import site; print(site.getsitepackages()[0])"], capture_output=True, text=True, check=True)
    Path(own.stdout.strip(), "layered.pth").write_text(f"import site; site.addsitedir({site.getsitepackages()[0]!r})\n")
    return python


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _try_in_console(port: int, task: str, modality: str) -> None:
    """The console's Try it for a scaffolded task, which has no console code of its own: the form made from
    its schema (filled from its own validation record), posted back as it is, answers and is drawn."""
    import re

    import httpx

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        form = client.get(f"/console/tasks/{task}/try")
        assert form.status_code == 200, form.text[:500]
        values = dict(re.findall(r'<input[^>]* name="([^"]+)" value="([^"]*)"', form.text))
        values.update({name: html.unescape(text) for name, text in re.findall(r'<textarea[^>]* name="([^"]+)"[^>]*>([^<]*)</textarea>', form.text)})
        values.update(re.findall(r'<select[^>]* name="([^"]+)"[^>]*>\s*(?:<option[^>]*>[^<]*</option>\s*)*?<option value="([^"]*)" selected', form.text))
        files = {"files": ("part.png", base64.b64decode(INSTANCE["image"]["image"]), "image/png")} if modality == "image" else None
        answered = client.post(f"/console/tasks/{task}/try", data=values, files=files)
        assert answered.status_code == 200 and "training data" in answered.text, (modality, answered.text[-1500:])


def _post(port: int, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_new_plugin_of_every_modality_installs_passes_its_tests_trains_and_serves(tmp_path: Path) -> None:
    python = _layered_venv(tmp_path / "venv")
    env = {**os.environ, "AIAAS_HOME": str(tmp_path / "home")}
    projects = []
    for modality in MODALITIES:
        project = tmp_path / f"acme-{modality}"
        made = subprocess.run([str(python), "-m", "aiaas", "plugin", "new", f"acme-{modality}", "--modality", modality, "--dir", str(project)],
                              capture_output=True, text=True, env=env)
        assert made.returncode == 0, made.stderr
        projects.append(str(project))

    installed = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-build-isolation", *sum((["-e", p] for p in projects), [])],
                               capture_output=True, text=True, env=env)
    assert installed.returncode == 0, installed.stderr[-3000:]

    tested = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib", *projects],
                            capture_output=True, text=True, env=env, cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout[-5000:]
    assert " failed" not in tested.stdout and "error" not in tested.stdout.splitlines()[-1], tested.stdout[-2000:]

    listed = subprocess.run([str(python), "-m", "aiaas", "plugins", "--json"], capture_output=True, text=True, env=env, check=True)
    plugins = {row["name"]: row for row in json.loads(listed.stdout)}
    for modality in MODALITIES:
        assert plugins[f"acme-{modality}"]["status"] == "ok", plugins[f"acme-{modality}"]
        assert f"acme-{modality}/{TASK[modality]}" in plugins[f"acme-{modality}"]["registered"]["tasks"]

    for modality in MODALITIES:
        task = f"acme-{modality}/{TASK[modality]}"
        sample = subprocess.run([str(python), "-m", "aiaas", "sample", task, "--out", str(tmp_path / "data" / modality), "--rows", "300"],
                                capture_output=True, text=True, env=env)
        assert sample.returncode == 0, sample.stderr
        data = next(p for p in (tmp_path / "data" / modality).iterdir()) if modality != "image" else tmp_path / "data" / modality
        trained = subprocess.run([str(python), "-m", "aiaas", "train", task, "--data", str(data), "--epochs", "2", "--promote", "--force", "--json"],
                                 capture_output=True, text=True, env=env)
        assert trained.returncode == 0, trained.stderr[-3000:]
        assert json.loads(trained.stdout)["promoted"] is True

    port = _free_port()
    server = subprocess.Popen([str(python), "-m", "aiaas", "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5).read()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read() if server.poll() is not None else "no answer"
                time.sleep(0.3)
        for modality in MODALITIES:
            status, answer = _post(port, f"/v1/acme-{modality}/{TASK[modality]}/predict", {"instances": [INSTANCE[modality]]})
            assert status == 200, (modality, answer)
            assert answer["predictions"][0]["label"] and answer["model"]["version"] == 1
            _try_in_console(port, f"acme-{modality}/{TASK[modality]}", modality)
    finally:
        server.terminate()
        server.wait(20)


@pytest.mark.parametrize(("args", "message"), [
    (["Insurance"], "plugin name 'Insurance': use lower-case letters"),
    (["claims", "--modality", "audio"], "--modality 'audio': choose one of tabular, image, text, sequence"),
    (["claims", "--task", "Claims Triage"], "--task 'Claims Triage'"),
])
def test_plugin_new_refuses_bad_names_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = subprocess.run([sys.executable, "-m", "aiaas", "plugin", "new", *args, "--dir", str(tmp_path / "p")], capture_output=True, text=True)
    assert result.returncode == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "p").exists()


def test_plugin_new_never_writes_over_a_folder_with_files(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "mine.py").write_text("keep me")
    result = subprocess.run([sys.executable, "-m", "aiaas", "plugin", "new", "claims", "--dir", str(tmp_path / "p")], capture_output=True, text=True)
    assert result.returncode == 2 and "is not empty" in result.stderr
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["mine.py"]
