"""``aiaas plugin new``: write a complete, installable plugin project for one modality.

The project is rendered from the templates next to this module (``string.Template``,
``${name}`` placeholders; ``__package__`` in a path becomes the package's name). What every
plugin has is under ``common/``; what a modality needs beyond the core's generic parts
(a model for images and text, a preprocessor, adapter, model and floor for sequences) is
under its own folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from aiaas.errors import UserError

TEMPLATES = Path(__file__).parent / "templates"
NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Kind:
    """What differs between the modalities' projects, besides their template files."""

    task: str  # the default task name
    sample: str  # where the README's `aiaas train` finds the sample `aiaas sample --out data` writes
    quickstart_rows: int
    contract_rows: int
    registers: str  # what plugin.py registers beyond the task, its label schema and adapter
    files: tuple[tuple[str, str], ...]  # the package's own modules, for the README's map


KINDS = {
    "tabular": Kind("outcome", "data/records.csv", 5000, 600, "", (
        ("schemas.py", "the input model: the fields a client sends"), ("sample.py", "the seeded sample-data generator"))),
    "image": Kind("inspection", "data", 600, 90, ", architecture", (
        ("models.py", "the CNN builder (torch, imported when used)"), ("sample.py", "the seeded sample-image generator"))),
    "text": Kind("topic", "data/messages.csv", 3000, 300, ", architecture", (
        ("schemas.py", "the input model: the message"), ("models.py", "the embedding-bag builder (torch, imported when used)"),
        ("sample.py", "the seeded sample-message generator"))),
    "sequence": Kind("next-outcome", "data/sequences.jsonl", 3000, 400, ", preprocessor, architectures", (
        ("schemas.py", "the input model: the events"), ("adapters.py", "reads JSON Lines"),
        ("preprocess.py", "events -> ids (a vocabulary fitted on training)"), ("models.py", "the GRU and the classical floor"),
        ("sample.py", "the seeded sample-sequence generator"))),
}
MODALITIES = tuple(KINDS)


@dataclass(frozen=True)
class Scaffold:
    name: str
    industry: str
    modality: str
    task: str

    @property
    def package(self) -> str:
        return "aiaas_" + self.name.replace("-", "_")

    def values(self) -> dict[str, str]:
        from aiaas import __version__
        from aiaas.hookspecs import HOOK_API_VERSION

        major, kind = HOOK_API_VERSION.split(".")[0], KINDS[self.modality]
        files = "".join(f"| `{self.package}/{f}` | {what} |\n" for f, what in kind.files)
        return {
            "name": self.name, "package": self.package, "dist": f"aiaas-{self.name}", "industry": self.industry,
            "modality": self.modality, "task_name": f"{self.industry}/{self.task}", "task_slug": self.task,
            "task_module": self.task.replace("-", "_"), "Class": "".join(p.title() for p in re.split(r"[-_]", self.name)),
            "api": f">={HOOK_API_VERSION},<{int(major) + 1}", "aiaas_version": __version__,
            "quickstart_rows": str(kind.quickstart_rows), "contract_rows": str(kind.contract_rows),
            "sample_path": kind.sample, "files": files, "registers": kind.registers,
            "explains": "" if self.modality == "sequence" else ", explains",
        }


def new_plugin(name: str, industry: str | None, modality: str, task: str | None, directory: Path) -> list[Path]:
    """Write the project into ``directory`` (which must not exist or be empty); return the files written."""
    if not NAME.match(name):
        raise UserError(f"plugin name {name!r}: use lower-case letters, digits and single hyphens, starting with a letter")
    industry = industry or name
    if not re.match(r"^[a-z][a-z0-9_-]*$", industry):
        raise UserError(f"--industry {industry!r}: use lower-case letters, digits, - and _, starting with a letter")
    if modality not in MODALITIES:
        raise UserError(f"--modality {modality!r}: choose one of {', '.join(MODALITIES)}")
    task = task or KINDS[modality].task
    if not re.match(r"^[a-z][a-z0-9-]*$", task):
        raise UserError(f"--task {task!r}: use lower-case letters, digits and -, starting with a letter")
    if directory.exists() and any(directory.iterdir()):
        raise UserError(f"{directory} is not empty; choose a new folder with --dir")
    scaffold = Scaffold(name, industry, modality, task)
    values = scaffold.values()
    written = []
    for root in (TEMPLATES / "common", TEMPLATES / modality):
        for source in sorted(root.rglob("*.tmpl")):
            relative = source.relative_to(root).with_suffix("")  # drops .tmpl
            relative = Path(str(relative).replace("__package__", scaffold.package).replace("test_task.py", f"test_{values['task_module']}.py"))
            target = directory / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(Template(source.read_text(encoding="utf-8")).substitute(values), encoding="utf-8")
            written.append(target)
    return written
