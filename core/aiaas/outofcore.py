"""Training on data larger than the memory a run may use (``aiaas train --max-memory``).

The data is never held whole. It is read as a stream of chunks through the adapter's stream form
(``aiaas.dataplane.chunks``), pass after pass:

1. a time split reads its time column twice to find the cuts (``aiaas.dataplane.split``);
2. every row gets its split from the row alone; the training rows are summarised for each
   preprocessor that merges partial states (``summarize``/``merge``/``finish``), each split keeps a
   bounded uniform sample (``aiaas.dataplane.sample``), and the labels are counted;
3. per preprocessor, the training rows are encoded chunk by chunk into a spill on disk
   (``aiaas.dataplane.spill``) that the model trains from: torch and Keras read it chunk by chunk
   each epoch, ``gbdt`` builds LightGBM's binned dataset from it. A model that cannot stream (the
   linear floor) fits on the training sample.

Validation and test are their samples, whole when they fit: calibration, the operating point,
the metrics, the floor's verdict and the input checks come from them, and the report says how
many rows each held of how many. The column checks run on the training sample and say so.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aiaas import labels as label_codec
from aiaas.dataplane.chunks import Chunks, chunks_of
from aiaas.dataplane.sample import BottomK
from aiaas.dataplane.spill import TARGETS, Spill
from aiaas.dataplane.split import NAMES, TRAIN, StreamSplit, numeric_time, plan, row_hashes
from aiaas.dataset import Dataset
from aiaas.errors import InvalidInput, UserError
from aiaas.loading import instances

if TYPE_CHECKING:
    from rich.progress import Progress

    from aiaas.plugins import Host
    from aiaas.records import LabelSchema, Task

SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
PROBE_ROWS = 2048
SHARE_CHUNK, SHARE_SAMPLES, SHARE_TREES = 0.05, 0.3, 0.4
"""Of ``--max-memory``: one chunk and its copies, the three samples, a tree model's binned rows."""


def parse_size(text: str | int) -> int:
    """``"2GB"``, ``"512M"``, ``"1.5GiB"`` or a number of bytes."""
    if isinstance(text, int):
        return text
    match = SIZE.match(str(text))
    if not match:
        raise UserError(f"--max-memory {text!r}: give a size such as 2GB or 512MB")
    number, unit = float(match.group(1)), match.group(2).lower()
    size = int(number * 1024 ** " kmgt".index(unit or " "))
    if size < 64 * 1024**2:
        raise UserError(f"--max-memory {text}: at least 64MB")
    return size


@dataclass(frozen=True)
class Budget:
    """How a memory bound becomes rows: ``bytes_per_row`` is measured on the first chunk."""

    total: int
    bytes_per_row: float

    @property
    def chunk_rows(self) -> int:
        return int(np.clip(SHARE_CHUNK * self.total / (6 * self.bytes_per_row), 512, 1_000_000))

    @property
    def sample_rows(self) -> int:
        """Rows each split's sample may hold (records, their encoding and the copies evaluation makes)."""
        return int(np.clip(SHARE_SAMPLES * self.total / (3 * 4 * self.bytes_per_row), 1000, 5_000_000))


@dataclass
class Streamed:
    """What the passes over the stream found, shared by every candidate of a run."""

    chunks: Chunks
    plan: StreamSplit
    budget: Budget
    rows: dict[str, int]
    label_counts: dict[str, int]
    """Training rows per raw label value."""
    summaries: dict[str, Any]
    fingerprint: str
    folder: Path
    notes: list[str] = field(default_factory=list)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def training_rows(chunks: Iterable[Dataset], split_plan: StreamSplit, drop: list[str]) -> Iterator[Dataset]:
    """The training rows of each chunk (columns in ``drop`` left out)."""
    for chunk in chunks:
        keep = np.flatnonzero(split_plan.assign(chunk.records) == TRAIN)
        if len(keep):
            part = chunk.take(keep)
            part.records = part.records.drop(columns=[c for c in drop if c in part.records.columns])
            yield part


def _chunks(host: Host, task: Task, request: Any, batch_rows: int) -> Chunks:
    return chunks_of(host, task.name, request.data, request.label, request.adapter, request.options, batch_rows)


def _times(chunks: Chunks, request: Any, batch_rows: int) -> Callable[[str], Any]:
    """Read one column for the time cuts: straight from the files when the adapter passes it through
    unchanged (checked on the first chunk), else through the adapter."""
    from aiaas.dataplane.stream import FORMATS, frames

    def read(column: str) -> Any:
        source = str(request.data)
        try:
            direct = frames(source, batch_rows, [column])
            first = next(direct)
        except (UserError, StopIteration):
            yield from chunks.column(column)
            return
        through = next(chunks.column(column))
        same = len(through) <= len(first[column]) and np.array_equal(
            numeric_time(through), numeric_time(first[column].iloc[: len(through)]), equal_nan=True)
        if not same or Path(source).suffix.lower() not in (*FORMATS, ""):
            yield from chunks.column(column)
            return
        yield first[column]
        yield from (frame[column] for frame in direct)

    return read


@dataclass
class Tally:
    """What one pass finds in the rows it reads: each split's sample, the training rows' label
    counts and preprocessor summaries, the fingerprint. Tallies of parts merge into the tally of the
    whole (``merge``), so workers can each read some files and the driver merges what they found."""

    plan: StreamSplit
    sample_rows: int
    preprocessors: dict[str, Any]
    options: dict[str, Any]
    samples: tuple[BottomK, BottomK, BottomK] = ()  # type: ignore[assignment]
    summaries: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    fingerprint: int = 0
    rows: int = 0

    def __post_init__(self) -> None:
        if not self.samples:
            self.samples = (BottomK(self.sample_rows), BottomK(self.sample_rows), BottomK(self.sample_rows))

    def add(self, chunk: Dataset) -> None:
        hashes = row_hashes(chunk.records, self.plan.key)
        where = self.plan.assign(chunk.records, hashes)
        keys = self.plan.keys(chunk.records, hashes)  # a group's rows share their key: the samples hold whole groups
        with np.errstate(over="ignore"):
            mixed = (hashes ^ pd.util.hash_pandas_object(chunk.labels.astype(str), index=False).to_numpy()).sum(dtype=np.uint64)
            self.fingerprint = int(np.uint64(self.fingerprint) + mixed)
        for which, sample in enumerate(self.samples):
            index = np.flatnonzero(where == which)
            if len(index):
                sample.add(chunk.take(index), keys[index])
        train_part = chunk.take(np.flatnonzero(where == TRAIN))
        if len(train_part):
            self._summarize(train_part)
        self.rows += len(chunk)

    def _summarize(self, part: Dataset) -> None:
        for key, preprocessor in self.preprocessors.items():
            summary = preprocessor.summarize(part.records, part.labels, self.options)
            self.summaries[key] = summary if key not in self.summaries else preprocessor.merge(self.summaries[key], summary)
        for value, n in part.labels.astype(str).value_counts().items():
            self.counts[value] = self.counts.get(value, 0) + int(n)

    def merge(self, other: Tally) -> None:
        for mine, theirs in zip(self.samples, other.samples):
            mine.merge(theirs)
        for key, summary in other.summaries.items():
            self.summaries[key] = summary if key not in self.summaries else self.preprocessors[key].merge(self.summaries[key], summary)
        for value, n in other.counts.items():
            self.counts[value] = self.counts.get(value, 0) + n
        self.fingerprint = (self.fingerprint + other.fingerprint) % 2**64
        self.rows += other.rows


def load_split(host: Host, task: Task, request: Any, preprocessors: dict[str, Any], progress: Progress,
               tally_elsewhere: Callable[[Tally, int], Tally] | None = None) -> tuple[Streamed, BottomK, BottomK, BottomK]:
    """The split plan, each split's sample and the preprocessors' summaries, from one pass over the
    training data (two more over one column for a time split). ``tally_elsewhere`` makes that pass
    elsewhere (on a cluster, ``aiaas.distributed``), in chunks of the given rows, and returns the merged tally."""
    budget_total = parse_size(request.max_memory)
    probe = next(iter(_chunks(host, task, request, PROBE_ROWS)), None)
    if probe is None:
        raise InvalidInput(f"{request.data}: has no rows")
    budget = Budget(budget_total, max(float(probe.records.memory_usage(deep=True).sum()) / len(probe), 8.0))
    chunks = _chunks(host, task, request, budget.chunk_rows)
    split_plan = plan(probe.records.columns, task.split, request.seed, _times(chunks, request, budget.chunk_rows))
    tally = Tally(split_plan, budget.sample_rows, preprocessors, request.options)
    bar = progress.add_task("reading", total=None, status=f"{budget.chunk_rows:,} rows a chunk; samples of at most {budget.sample_rows:,}")
    if tally_elsewhere is not None:
        tally = tally_elsewhere(tally, budget.chunk_rows)
    else:
        for chunk in chunks:
            tally.add(chunk)
            progress.update(bar, status=f"{tally.rows:,} rows read")
    progress.update(bar, total=1, completed=1, status=f"{tally.rows:,} rows read")
    split_rows = {NAMES[i]: s.seen for i, s in enumerate(tally.samples)}
    for name, n in split_rows.items():
        if n == 0:
            raise InvalidInput(f"the {name} split is empty ({split_plan.description}); the data has {tally.rows} rows")
    folder = Path(tempfile.mkdtemp(prefix="aiaas-spill-"))
    streamed = Streamed(chunks, split_plan, budget, split_rows, tally.counts, tally.summaries, f"rows:{tally.fingerprint:016x}", folder,
                        [*chunks.notes, *probe.notes])
    return streamed, *tally.samples


def class_counts(schema: LabelSchema, streamed: Streamed, column: str) -> np.ndarray | None:
    """Training rows per class, from the stream's raw label counts."""
    if schema.kind not in ("binary", "multiclass") or not streamed.label_counts:
        return None
    codes = label_codec.encode(schema, pd.Series(list(streamed.label_counts)), column)
    return np.bincount(codes, weights=list(streamed.label_counts.values()), minlength=schema.outputs).astype("int64")


def sample_note(streamed: Streamed, samples: tuple[BottomK, BottomK, BottomK]) -> str:
    held = ", ".join(f"{NAMES[i]} {len(s.records) if s.records is not None else 0:,} of {s.seen:,}" for i, s in enumerate(samples))
    return (f"out of core within {streamed.budget.total / 1024**2:,.0f} MB: models that stream trained on every training row; "
            f"the column checks and the input checks read a uniform sample of the training rows, and validation and test "
            f"are uniform samples when larger than {streamed.budget.sample_rows:,} rows ({held} rows held)")


def class_weighting(schema: LabelSchema, streamed: Streamed, column: str) -> np.ndarray | None:
    """Each class's weight from the training rows' label counts (None: the label kind takes none)."""
    counts = class_counts(schema, streamed, column)
    return None if counts is None else counts.sum() / (len(counts) * np.maximum(counts, 1))


def encode_part(part: Dataset, preprocessor: Any, state: Any, schema: LabelSchema, column: str,
                per_class: np.ndarray | None, shapes: dict[str, tuple[int, ...]]) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Training rows as model instances (a long sequence cut into windows), then model inputs,
    targets and class-balancing weights, padded to ``shapes`` (the training sample's, by input and
    ``TARGETS``) so that every chunk stacks with the others."""
    part = instances(preprocessor, part, state)
    y = label_codec.encode(schema, part.labels, column)
    weights = np.ones(len(y), dtype="float32") if per_class is None else per_class[y].astype("float32")
    x = preprocessor.transform(part.records, state)
    return {name: _padded(name, value, shapes.get(name), 0) for name, value in x.items()}, _padded(TARGETS, y, shapes.get(TARGETS), -1), weights


def _padded(name: str, values: np.ndarray, shape: tuple[int, ...] | None, fill: int) -> np.ndarray:
    """Right-padded to ``shape`` (a padded sequence's zeros, a sequence target's -1 for "not scored")."""
    if shape is None or values.shape[1:] == tuple(shape):
        return values
    if len(shape) != values.ndim - 1 or any(have > want for have, want in zip(values.shape[1:], shape)):
        what = "the targets" if name == TARGETS else f"input {name!r}"
        raise InvalidInput(f"{what} of a chunk of training rows is {values.shape[1:]} a row where the training sample's widest is "
                           f"{tuple(shape)}; raise --max-memory so the sample holds the widest rows")
    out = np.full((len(values), *shape), fill, dtype=values.dtype)
    out[tuple(slice(0, n) for n in values.shape)] = values
    return out


def spill(streamed: Streamed, preprocessor: Any, state: Any, schema: LabelSchema, column: str, drop: list[str],
          shapes: dict[str, tuple[int, ...]], progress: Progress) -> Spill:
    """The training rows encoded by a fitted preprocessor, on disk, with their targets and class weights."""
    per_class = class_weighting(schema, streamed, column)
    out = Spill(streamed.folder / f"spill-{len(list(streamed.folder.iterdir()))}", streamed.budget.chunk_rows,
                int(SHARE_TREES * streamed.budget.total))
    bar = progress.add_task("encoding", total=streamed.rows["train"], status="training rows to disk")
    for part in training_rows(streamed.chunks, streamed.plan, drop):
        out.append(*encode_part(part, preprocessor, state, schema, column, per_class, shapes))
        progress.update(bar, advance=len(part))
    out.close()
    return out


def fit_state(preprocessor: Any, key: str, streamed: Streamed, sample: Dataset, options: dict[str, Any]) -> tuple[Any, str | None]:
    """The preprocessor's state from its merged summary of every training row, or (one that does not
    merge partial states) fitted on the training sample, with a note that says so."""
    if key in streamed.summaries and hasattr(preprocessor, "finish"):
        return preprocessor.finish(streamed.summaries[key], sample.records, sample.labels, options=options), None
    return (preprocessor.fit(sample.records, sample.labels, options=options),
            f"preprocessor {key} does not merge partial states: fitted on a sample of {len(sample):,} training rows")


def summarizing(host: Host, task: Task, architectures: list[Any]) -> dict[str, Any]:
    """The run's preprocessors that can be fitted from partial states, by key."""
    out = {}
    for architecture in architectures:
        preprocessor = host.preprocessor(task, architecture)
        if hasattr(preprocessor, "summarize") and hasattr(preprocessor, "merge") and hasattr(preprocessor, "finish"):
            out[architecture.preprocessor or task.preprocessor] = preprocessor
    return out
