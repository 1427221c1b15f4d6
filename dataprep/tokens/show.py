"""``dataprep show-tokens``: see which tokens a model is trained on.

The view axolotl users rely on to catch prompt-masking bugs: each sequence printed as
text, trained tokens in green, masked ones (label -100) in red, and a yellow ``|``
where a packed sequence starts a new example. ``--raw`` prints ``(token, label)``
pairs instead. Without colours (a pipe, a file, ``NO_COLOR``), masked runs are put
between ``[[`` and ``]]`` so the view still says what is trained.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from dataprep.errors import InputError
from dataprep.tokens.examples import IGNORE
from dataprep.tokens.tokenizer import load_tokenizer


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


def _pieces(tokenizer: Any, ids: list[int]) -> list[str]:
    """Each token as the text it stands for (special tokens by name)."""
    special = set(tokenizer.all_special_ids)
    tokens = tokenizer.convert_ids_to_tokens(ids)
    return [tok if i in special else tokenizer.convert_tokens_to_string([tok]) for i, tok in zip(ids, tokens)]


def render(tokenizer: Any, row: dict[str, Any], color: bool = True) -> Text:
    """One sequence as text: trained tokens green, masked red, example starts marked."""
    ids, labels = row["input_ids"], row["labels"]
    positions = row.get("position_ids")
    text = Text()
    masked_open = False
    for n, (piece, label) in enumerate(zip(_pieces(tokenizer, ids), labels)):
        if positions is not None and n and positions[n] == 0:
            if masked_open and not color:
                text.append("]]")
                masked_open = False
            text.append(" | ", style="bold yellow")
        masked = label == IGNORE
        if not color and masked != masked_open:
            text.append("[[" if masked else "]]")
            masked_open = masked
        shown = piece.replace("\n", "\\n\n")
        text.append(shown, style="red" if masked else "green")
    if masked_open and not color:
        text.append("]]")
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
