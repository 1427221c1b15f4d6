"""Load a tokenizer once and learn how it adds special tokens, so no format adds them twice."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataprep.errors import ConfigError, suggest


@dataclass
class TokenizerInfo:
    """A fast tokenizer plus what the formats need to know about it."""

    tokenizer: Any  # a transformers fast tokenizer
    name: str
    #: Ids the tokenizer puts before a text by itself (usually just BOS, or nothing).
    prefix: list[int]
    eos_id: int | None
    bos_id: int | None
    chat_template: str | None
    digest: str
    #: The tokenizer's control tokens (special added tokens), longest first: what ends a chat turn.
    controls: tuple[str, ...] = ()

    @property
    def backend(self) -> Any:
        return self.tokenizer.backend_tokenizer

    def describe(self) -> dict[str, Any]:
        tok = self.tokenizer
        return {
            "name": self.name,
            "hash": self.digest,
            "vocab_size": len(tok),
            "bos_token": tok.bos_token,
            "eos_token": tok.eos_token,
            "pad_token": tok.pad_token,
            "adds_bos": bool(self.prefix),
            "chat_template": self.chat_template is not None,
        }


def _looks_local(name: str) -> bool:
    first = Path(name).parts[0] if Path(name).parts else name
    return name.startswith((".", "/", "~")) or os.sep == "\\" and "\\" in name or Path(first).is_dir()


def _missing_path_error(name: str) -> ConfigError:
    path = Path(name).expanduser()
    parent = path.parent if str(path.parent) else Path(".")
    hint = ""
    if parent.is_dir():
        hint = suggest(path.name, [p.name for p in parent.iterdir() if p.is_dir()])
        hint = hint.replace("did you mean '", f"did you mean '{parent}/") if hint else ""
    return ConfigError(
        f"--tokenizer {name!r}: no such folder{hint or '.'} Give a folder that holds tokenizer.json "
        "(e.g. sample_data/tiny-llama) or a Hugging Face model name."
    )


def read_template(value: str | None) -> str | None:
    """A chat template given as a file path or as the template text itself."""
    if value is None:
        return None
    path = Path(value).expanduser()
    if "{" not in value and len(value) < 4096:
        if not path.is_file():
            raise ConfigError(f"--chat-template {value!r}: no such file; give a Jinja file or the template text.")
        return path.read_text(encoding="utf-8")
    return value


def load_tokenizer(name: str, chat_template: str | None = None) -> TokenizerInfo:
    """Load ``name`` (a folder or a hub model) as a fast tokenizer; errors are sentences naming it."""
    from transformers import AutoTokenizer

    if _looks_local(name) and not Path(name).expanduser().is_dir():
        raise _missing_path_error(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(Path(name).expanduser()) if _looks_local(name) else name)
    except (OSError, ValueError) as exc:
        offline = os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("TRANSFORMERS_OFFLINE") == "1"
        where = " (offline mode: only models already in the Hugging Face cache load)" if offline else ""
        raise ConfigError(
            f"--tokenizer {name!r}: cannot load it{where}: no such folder, and no tokenizer of that name; "
            f"give a folder that holds tokenizer.json (e.g. sample_data/tiny-llama) or a hub model name. ({exc})"
        ) from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError(
            f"--tokenizer {name!r} has no fast (Rust) tokenizer; convert it with "
            "transformers' convert_slow_tokenizer or use a model that ships tokenizer.json."
        )
    template = read_template(chat_template) or tokenizer.chat_template
    if isinstance(template, dict):  # several named templates: the default one is what chat models use
        template = template.get("default")
    backend = tokenizer.backend_tokenizer
    probe = "a"
    bare = backend.encode(probe, add_special_tokens=False).ids
    full = backend.encode(probe, add_special_tokens=True).ids
    prefix = full[: _find(full, bare)] if bare else []
    digest = hashlib.sha256()
    digest.update(backend.to_str().encode())
    digest.update(b"\0" + (template or "").encode())
    return TokenizerInfo(
        tokenizer=tokenizer,
        name=name,
        prefix=prefix,
        eos_id=tokenizer.eos_token_id,
        bos_id=tokenizer.bos_token_id,
        chat_template=template,
        digest=digest.hexdigest()[:16],
        controls=tuple(
            sorted(
                {t.content for t in tokenizer.added_tokens_decoder.values() if t.special}, key=lambda c: (-len(c), c)
            )
        ),
    )


def _find(haystack: list[int], needle: list[int]) -> int:
    for start in range(len(haystack) - len(needle) + 1):
        if haystack[start : start + len(needle)] == needle:
            return start
    return 0
