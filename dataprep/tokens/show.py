"""``dataprep show-tokens``: see which tokens a model is trained on.

The view axolotl users rely on to catch prompt-masking bugs: each sequence printed as
text, trained tokens in green, masked ones (label -100) in red, and a yellow ``|``
where a packed sequence starts a new example. ``--raw`` prints ``(token, label)``
pairs instead. Without colours (a pipe, a file, ``NO_COLOR``), masked runs are put
between ``[[`` and ``]]`` so the view still says what is trained.

``--verify`` prints instead what tokenize's verification found: the counts by kind, and
the first mismatches with the training and the inference tokens side by side.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from dataprep.errors import InputError
from dataprep.tokens.examples import IGNORE
from dataprep.tokens.tokenizer import load_tokenizer
from dataprep.tokens.verify import pieces as _pieces


def _dataset(path: Path) -> Any:
    from datasets import load_from_disk

    if not (path / "state.json").exists() and not (path / "dataset_dict.json").exists():
        hint = ""
        if (path / "train" / "state.json").exists():
            hint = f"; did you mean {path / 'train'}?"
        raise InputError(f"{path}: not a tokenized split (no state.json){hint or '; give OUT/train of tokenize.'}")
    dataset = load_from_disk(str(path))
    if "input_ids" not in dataset.column_names:
        raise InputError(f"{path}: has no input_ids column; give a split written by `dataprep tokenize`.")
    return dataset


def _tokenizer_name(path: Path, given: str | None) -> str:
    if given:
        return given
    saved = path.parent / "tokenizer"
    if (saved / "tokenizer.json").exists() or (saved / "tokenizer_config.json").exists():
        return str(saved)
    stats = path.parent / "stats.json"
    if stats.exists():
        name = json.loads(stats.read_text(encoding="utf-8")).get("extra", {}).get("tokenizer", {}).get("name")
        if name:
            return name
    raise InputError(f"{path}: no tokenizer saved beside it ({saved}); name one with --tokenizer.")


def token_runs(tokenizer: Any, row: dict[str, Any]) -> list[tuple[str, bool, bool]]:
    """One sequence as (text, masked, starts a packed example) runs of tokens; the report
    colours them as :func:`render` does."""
    positions = row.get("position_ids")
    runs: list[tuple[str, bool, bool]] = []
    for n, (piece, label) in enumerate(zip(_pieces(tokenizer, row["input_ids"]), row["labels"])):
        starts = positions is not None and n > 0 and positions[n] == 0
        masked = label == IGNORE
        if runs and not starts and runs[-1][1] == masked:
            runs[-1] = (runs[-1][0] + piece, masked, runs[-1][2])
        else:
            runs.append((piece, masked, starts))
    return runs


def render(tokenizer: Any, row: dict[str, Any], color: bool = True) -> Text:
    """One sequence as text: trained tokens green, masked red, example starts marked."""
    text = Text()
    for piece, masked, starts in token_runs(tokenizer, row):
        if starts:
            text.append(" | ", style="bold yellow")
        shown = piece.replace("\n", "\\n\n")
        if color:
            text.append(shown, style="red" if masked else "green")
        else:
            text.append(f"[[{shown}]]" if masked else shown)
    return text


def show_tokens(path: Path, count: int, raw: bool = False, tokenizer: str | None = None) -> None:
    dataset = _dataset(Path(path))
    tok = load_tokenizer(_tokenizer_name(Path(path), tokenizer)).tokenizer
    console = Console(highlight=False)
    if not console.is_terminal:  # piped: the text's own lines, not a wrap at 80 columns
        console = Console(highlight=False, soft_wrap=True)
    color = console.color_system is not None
    if not raw:
        legend = "green: trained, red: masked (-100)" if color else "[[masked (-100)]], the rest trained"
        console.print(Text(f"{path}: {len(dataset)} sequences; {legend}", style="bold"))
    for index in range(min(count, len(dataset))):
        row = dataset[index]
        trained = sum(1 for label in row["labels"] if label != IGNORE)
        examples = len(row["seq_lengths"]) if "seq_lengths" in row else 1
        console.print(
            Text(
                f"--- sequence {index}: {len(row['input_ids'])} tokens, {trained} trained, "
                f"{examples} example{'s' if examples != 1 else ''}",
                style="bold cyan",
            )
        )
        if raw:
            pieces = _pieces(tok, row["input_ids"])
            for piece, label in zip(pieces, row["labels"]):
                console.print(Text(f"({piece!r}, {label})"))
        else:
            console.print(render(tok, row, color))


def show_mismatches(path: Path, count: int) -> None:
    """The verification counts of a tokenize folder and its first ``count`` mismatches, side by side."""
    from dataprep.stages.tokenize import MISMATCHES_FILE

    folder = Path(path)
    if not (folder / MISMATCHES_FILE).exists() and (folder.parent / MISMATCHES_FILE).exists():
        folder = folder.parent  # a split folder was given
    found = folder / MISMATCHES_FILE
    if not found.exists():
        raise InputError(
            f"{folder}: no {MISMATCHES_FILE}; give the output folder of `dataprep tokenize` run without --no-verify."
        )
    console = Console(highlight=False)
    stats_path = folder / "stats.json"
    verify = json.loads(stats_path.read_text(encoding="utf-8")).get("extra", {}).get("verify") or {}
    if verify:
        fixed = ", ".join(f"{k} {v}" for k, v in verify["fixed"].items() if v) or "none"
        rejected = ", ".join(f"{k} {v}" for k, v in verify["rejected"].items() if v) or "none"
        what = f"{folder}: {verify['records']} records verified against the inference rendering"
        console.print(Text(what, "bold"), soft_wrap=True)
        console.print(f"fixed by construction: {fixed}", soft_wrap=True)
        console.print(f"rejected: {rejected}", soft_wrap=True)
    entries = [json.loads(line) for line in found.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not entries:
        console.print(
            Text("no mismatches: every example starts with its inference prompt's tokens", "green"), soft_wrap=True
        )
        return
    for entry in entries[:count]:
        console.print(
            Text(f"--- {entry['kind']}: record {entry['id']} ({entry['source']})", "bold cyan"), soft_wrap=True
        )
        console.print(entry["detail"], soft_wrap=True, markup=False)
        if "position" not in entry:
            continue
        table = Table("token", "training", "inference", show_edge=False)
        training, inference = entry["training"], entry["inference"]
        for n in range(max(len(training), len(inference))):
            at = entry["start"] + n
            cells = [_cell(side, n) for side in (training, inference)]
            style = "bold red" if at == entry["position"] else None
            table.add_row(f"{'>' if at == entry['position'] else ' '}{at}", *cells, style=style)
        console.print(table)
    if len(entries) > count:
        console.print(f"... {len(entries) - count} more in {found} (-n to show more; all in rejects.jsonl)")


def _cell(side: list[list[Any]], n: int) -> str:
    if n >= len(side):
        return "-"
    token_id, piece = side[n]
    return f"{piece!r} ({token_id})"
