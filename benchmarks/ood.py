"""Input checks on real data: can a model tell ordinary held-out inputs from clearly foreign ones?

    .venv/bin/python benchmarks/ood.py [--verticals finance,retail,healthcare,education] [--epochs 3]

For each vertical, one model is trained on its real data set (the same files and
options as ``benchmarks/quality.py``; a quick architecture, since the checks do not
depend on which model wins). Its held-out test split is the ordinary inputs; the
foreign ones are made for the vertical:
- finance (bank-marketing): test rows with their columns swapped (every numeric
  column's values moved to another numeric column, every categorical to another
  categorical: a client that sends fields in the wrong order), and test rows with
  one numeric value set far outside its range (a hundred times the column's
  largest size, positive or negative). Rows whose
  columns are shuffled independently across rows (each value plausible, the
  combination not) are reported separately: the hard case.
- retail (clothing reviews): reviews written in eight other languages, and texts of
  emoji or symbols only.
- healthcare (PneumoniaMNIST): noise images, colour photographs (scikit-learn's and
  matplotlib's sample photos, and crops of them), the same photos in grayscale, and
  pydicom's bundled CT and MR files (refused by the task's DICOM check).
- education (ASSISTments): histories on skills of another curriculum, and histories
  of implausible length or accuracy.

Printed per vertical and kind: the detector's ROC-AUC (novelty of foreign against
ordinary test inputs; a flag the check is definite about ranks highest), the share
of foreign inputs flagged, and the share of ordinary test and validation inputs
flagged. The aim is ROC-AUC >= 0.95 with no more than 2% of ordinary inputs flagged.
Then what the checks cost: milliseconds per row to answer 256 test rows in one batch
with them and without them (best of three), as a ratio.
"""

from __future__ import annotations

import argparse
import base64
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import DATA, VERTICALS  # noqa: E402

ARCHITECTURES = {"finance": "gbdt", "retail": "tfidf-linear", "healthcare": "resnet18", "education": "skill-history"}

FOREIGN_REVIEWS = [
    # German
    "Das Kleid ist wunderschön, aber leider viel zu klein ausgefallen. Ich musste es zurückschicken.",
    "Der Stoff fühlt sich billig an und die Nähte lösen sich schon nach dem ersten Waschen.",
    "Sehr bequem und die Farbe ist genau wie auf dem Bild. Ich würde es wieder kaufen.",
    "Leider völlig enttäuscht, die Qualität ist miserabel und der Schnitt sitzt überhaupt nicht.",
    # French
    "La robe est magnifique et tombe parfaitement, je la recommande à toutes mes amies.",
    "Tissu de mauvaise qualité, la couleur a déteint dès le premier lavage. Très déçue.",
    "Taille beaucoup trop grande, j'ai dû la renvoyer. Le service client était aimable.",
    "Joli pull, bien chaud et doux, mais les manches sont un peu longues pour moi.",
    # Spanish
    "El vestido es precioso pero la talla es muy pequeña, tuve que devolverlo.",
    "La tela es de muy mala calidad y se rompió después de dos lavados. No lo recomiendo.",
    "Me encanta esta blusa, es cómoda, fresca y el color es exactamente como en la foto.",
    "Los pantalones llegaron con un defecto en la costura, muy decepcionada con la compra.",
    # Italian
    "Il vestito è bellissimo ma la taglia è troppo piccola, purtroppo l'ho dovuto restituire.",
    "Tessuto scadente e colore diverso dalla foto. Non lo ricomprerei.",
    "Maglione morbidissimo e caldo, lo indosso tutti i giorni. Consigliato!",
    # Portuguese
    "O vestido é lindo, mas o tamanho veio muito pequeno e o tecido é fino demais.",
    "Adorei a blusa, muito confortável e a cor é igual à da foto. Recomendo.",
    "Péssima qualidade, a costura abriu na primeira vez que usei.",
    # Dutch
    "De jurk is prachtig maar valt erg klein. Ik heb hem helaas teruggestuurd.",
    "Slechte kwaliteit stof, na één keer wassen zat er al een gat in.",
    # Japanese
    "このワンピースはとても可愛いですが、サイズが小さすぎました。返品しました。",
    "生地が薄くて安っぽいです。写真と色が全然違いました。",
    "着心地がよくて毎日着ています。とても気に入りました。",
    # Chinese
    "这件裙子很漂亮，但是尺码偏小，只好退货了。",
    "面料质量很差，洗了一次就起球了，非常失望。",
    "穿着很舒服，颜色和图片一样，推荐购买。",
    # Russian
    "Платье очень красивое, но размер оказался слишком маленьким, пришлось вернуть.",
    "Ткань ужасного качества, после первой стирки всё село. Не рекомендую.",
    "Очень удобная кофта, ношу каждый день, цвет как на фото.",
    # Polish
    "Sukienka jest piękna, ale rozmiar jest za mały. Niestety musiałam ją zwrócić.",
    "Materiał bardzo słabej jakości, szwy puściły po pierwszym praniu.",
    # Turkish
    "Elbise çok güzel ama beden küçük geldi, iade etmek zorunda kaldım.",
    "Kumaşı çok kalitesiz, ilk yıkamada rengi soldu. Tavsiye etmem.",
]
SYMBOLS = ["😀😀😀", "👍👍", "😡😡😡😡", "❤️❤️❤️", "🔥💯", "!!!!!!", "???", "...", "***** *****", "#$%&@", "1234567890", ":) :) :)",
           "¯\\_(ツ)_/¯", "-----", "👗👗👠", "💩", "🙄🙄", "$$$", "10/10", "☆☆☆☆☆"]


def auroc(ordinary: np.ndarray, foreign: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.r_[np.zeros(len(ordinary)), np.ones(len(foreign))], np.r_[ordinary, foreign]))


def ranked(pipeline: Any, records: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """(score for ranking, flagged, reasons): novelty, with definite flags above every novelty."""
    from aiaas.novelty.base import Sample

    finding = pipeline.guard.check(Sample(records.reset_index(drop=True), pipeline))
    return np.minimum(finding.ranking(), 1e12), finding.flagged, finding.reasons


# -- foreign inputs per vertical -------------------------------------------------------


def finance_foreign(test: pd.DataFrame, rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    numeric = [c for c in test.columns if pd.api.types.is_numeric_dtype(test[c]) and not pd.api.types.is_bool_dtype(test[c])]
    categorical = [c for c in test.columns if c not in numeric]
    swapped = test.copy()
    for group in (numeric, categorical):
        if len(group) > 1:
            for a, b in zip(group, np.roll(group, 1)):
                swapped[a] = test[b].to_numpy()
    far = test.copy()
    columns = rng.choice(numeric, len(far))
    for i, c in enumerate(columns):  # a hundred times the column's largest size, above or below
        extreme = (float(test[c].abs().max()) + 1) * 100
        far.iloc[i, far.columns.get_loc(c)] = extreme if i % 2 else -extreme
    shuffled = test.copy()
    for c in shuffled.columns:
        shuffled[c] = rng.permutation(shuffled[c].to_numpy())
    return {"swapped columns": swapped, "values out of range": far, "shuffled across rows (hard)": shuffled}


def retail_foreign(test: pd.DataFrame, rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    def frame(texts: list[str]) -> pd.DataFrame:
        rows = test.sample(len(texts), replace=True, random_state=0).reset_index(drop=True).copy()
        rows["text"] = texts
        if "title" in rows:
            rows["title"] = ""
        return rows

    return {"other languages": frame(FOREIGN_REVIEWS), "emoji or symbols only": frame(SYMBOLS)}


def _image_rows(pipeline: Any, files: list[tuple[str, bytes]]) -> pd.DataFrame:
    from aiaas.vision.schemas import ImageInstance

    instances = [ImageInstance.model_validate({"image": base64.b64encode(data).decode(), "filename": name}) for name, data in files]
    return pd.DataFrame(pipeline.rows_from(instances))


def _png(pixels: np.ndarray) -> bytes:
    from aiaas.vision.decode import encode_png

    return encode_png(pixels)


def _photos() -> list[np.ndarray]:
    from PIL import Image
    from sklearn.datasets import load_sample_images

    import matplotlib

    photos = list(load_sample_images().images)
    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if hopper.exists():
        photos.append(np.asarray(Image.open(hopper).convert("RGB")))
    crops = []
    rng = np.random.default_rng(0)
    for photo in photos:
        h, w = photo.shape[:2]
        for _ in range(10):
            side = int(rng.integers(min(h, w) // 4, min(h, w)))
            y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
            crops.append(np.asarray(Image.fromarray(photo[y:y + side, x:x + side]).resize((64, 64))))
    return photos + crops


def healthcare_foreign(pipeline: Any, rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    import pydicom.data

    noise = [("uniform.png", _png(rng.integers(0, 256, (28, 28), dtype=np.uint8))) for _ in range(20)]
    noise += [("gaussian.png", _png(np.clip(rng.normal(128, 40, (64, 64)), 0, 255).astype(np.uint8))) for _ in range(20)]
    noise += [("colour-noise.png", _png(rng.integers(0, 256, (28, 28, 3), dtype=np.uint8))) for _ in range(10)]
    photos = _photos()
    colour = [(f"photo{i}.png", _png(p)) for i, p in enumerate(photos)]
    gray = [(f"gray-photo{i}.png", _png(np.asarray(p.mean(axis=2), dtype=np.uint8))) for i, p in enumerate(photos)]
    dicoms = [(name, Path(pydicom.data.get_testdata_file(name)).read_bytes()) for name in ("CT_small.dcm", "MR_small.dcm")]
    return {"noise": _image_rows(pipeline, noise), "colour photos": _image_rows(pipeline, colour),
            "grayscale photos (hard)": _image_rows(pipeline, gray), "CT and MR DICOM": _image_rows(pipeline, dicoms)}


def education_foreign(test: pd.DataFrame, rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    other = test.copy()
    other["skill"] = [[f"other-course-{s}" for s in seq] for seq in other["skill"]]
    odd = test.copy()
    lengths = [len(seq) for seq in test["skill"]]
    long = int(np.max(lengths)) * 5
    odd["skill"] = [list(rng.choice(seq, long)) if len(seq) else seq for seq in test["skill"]]
    odd["correct"] = [[int(i % 2 == 0)] * long if len(seq) else [] for i, seq in enumerate(test["skill"])]
    odd["item"] = [[None] * long if len(seq) else [] for seq in test["skill"]]
    return {"another curriculum's skills": other, "implausible histories": odd}


def cost(pipeline: Any, records: pd.DataFrame, repeats: int = 3) -> tuple[float, float]:
    """Milliseconds per row to answer a batch with the input checks and without them (best of ``repeats``)."""
    import time

    guard, timings = pipeline.guard, {}
    batch = records.head(256).reset_index(drop=True)
    try:
        for name, g in (("with", guard), ("without", None)):
            pipeline.guard = g
            best = float("inf")
            for _ in range(repeats):
                fresh = batch.copy()  # a new frame each time: no cached model inputs
                started = time.perf_counter()
                pipeline.answers(fresh, explain=False, refuse=False)
                best = min(best, time.perf_counter() - started)
            timings[name] = 1000 * best / len(batch)
    finally:
        pipeline.guard = guard
    return timings["with"], timings["without"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--verticals", default="finance,retail,healthcare,education")
    parser.add_argument("--epochs", type=int, default=3, help="epochs for a model that trains by epochs (healthcare)")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()

    from aiaas.plugins import get_host
    from aiaas.registry import Registry
    from aiaas.testing import isolated_home
    from aiaas.training import TrainRequest, load_split, train
    from aiaas.versions import load_version

    rows, costs = [], []
    for name in [v for v in args.verticals.split(",") if v]:
        task_name, file, label, options, *_ = VERTICALS[name]
        path = args.data / file
        if not path.exists():
            print(f"{name}: {path} is missing; skipped")
            continue
        rng = np.random.default_rng(0)
        with tempfile.TemporaryDirectory() as folder, isolated_home(Path(folder) / "home"):
            host, registry = get_host(), Registry.from_settings()
            request = TrainRequest(task_name, path, architecture=ARCHITECTURES[name], label=label, options=dict(options),
                                   epochs=args.epochs if name == "healthcare" else None)
            result = train(host, registry, request)
            pipeline = load_version(host, registry, task_name, result.version.version)
            task = host.task(task_name)
            data = load_split(host, task, request, screens_columns=task.preprocessor == "tabular")
            test = data.test.records.reset_index(drop=True)
            ordinary, ordinary_flagged, ordinary_reasons = ranked(pipeline, test)
            top = int(np.argmax(ordinary))
            print(f"{name}: the most unusual ordinary test input has novelty {ordinary[top]:.3g} "
                  f"(threshold {pipeline.guard.threshold:.3g}): {ordinary_reasons[top]}", flush=True)
            foreign = {"finance": lambda: finance_foreign(test, rng), "retail": lambda: retail_foreign(test, rng),
                       "healthcare": lambda: healthcare_foreign(pipeline, rng), "education": lambda: education_foreign(test, rng)}[name]()
            summary = pipeline.guard.summary()
            timed = cost(pipeline, test)
            costs.append((name, *timed))
            for kind, records in foreign.items():
                score, flagged, reasons = ranked(pipeline, records)
                example = next((r for r in reasons if r), [""])[0]
                rows.append((name, kind, len(records), auroc(ordinary, score), float(flagged.mean()), float(ordinary_flagged.mean()),
                             summary["validation_flagged"], example))
                print(f"{name} / {kind}: ROC-AUC {rows[-1][3]:.3f}, foreign flagged {rows[-1][4]:.1%}; e.g. {example!r}", flush=True)

    print("\n| vertical | foreign inputs | n | ROC-AUC | foreign flagged | ordinary test flagged | ordinary validation flagged |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, kind, n, auc, flagged, test_flagged, val_flagged, _ in rows:
        print(f"| {name} | {kind} | {n} | {auc:.3f} | {flagged:.1%} | {test_flagged:.1%} | {val_flagged:.1%} |")
    print("\n| vertical | ms per row answered with the checks | without | ratio |")
    print("| --- | --- | --- | --- |")
    for name, with_checks, without in costs:
        print(f"| {name} | {with_checks:.3f} | {without:.3f} | {with_checks / without:.2f} |")
    print("\nA reason each kind was flagged with:")
    for name, kind, *_, example in rows:
        print(f"- {name} / {kind}: {example}")


if __name__ == "__main__":
    main()
