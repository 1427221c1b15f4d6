"""Trainer callbacks: save a checkpoint on Ctrl-C or SIGTERM, and a progress bar instead of raw dicts."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import Any

from transformers import TrainerCallback

log = logging.getLogger("dataprep.train")


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped training after saving a checkpoint; the same command resumes it."""

    def __init__(self, signum: int, step: int) -> None:
        super().__init__(f"{signal.Signals(signum).name} at step {step}")
        self.signum = signum
        self.step = step


class SaveOnInterrupt(TrainerCallback):
    """On SIGINT or SIGTERM, finish the optimizer step under way, save a checkpoint, then stop.

    Without it a Ctrl-C before the first ``save_steps`` loses the whole run. A second signal
    stops at once (the previous handlers are back in place after the first).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.signum = None
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}

    def _handle(self, signum: int, frame: Any) -> None:
        self.signum = signum
        self._restore()
        log.warning(
            "%s: saving a checkpoint at the end of this step, then stopping (again to stop at once)",
            signal.Signals(signum).name,
        )

    def _restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if self.signum is not None:
            control.should_save = True
            control.should_training_stop = True
        return control

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._restore()


class TrainProgress(TrainerCallback):
    """A progress bar with the latest losses on a terminal; off one, a line per evaluation.

    Replaces transformers' printer of raw ``{'loss': ...}`` dicts.
    """

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.terminal = sys.stderr.isatty()
        self.bar: Any = None
        self.loss: float | None = None
        self.val_loss: float | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.quiet or not self.terminal:
            return
        from tqdm import tqdm

        self.bar = tqdm(
            total=state.max_steps, initial=state.global_step, desc="train", unit="step", leave=False, dynamic_ncols=True
        )

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        logs = logs or {}
        if "loss" in logs:
            self.loss = float(logs["loss"])
        if "eval_loss" in logs:
            self.val_loss = float(logs["eval_loss"])
            if self.bar is None and not self.quiet:
                log.info("train: step %d/%d, %s", state.global_step, state.max_steps, self.losses())
        if self.bar is not None and self.loss is not None:
            self.bar.set_postfix_str(self.losses(), refresh=False)

    def losses(self) -> str:
        parts = [f"loss {self.loss:.4f}" if self.loss is not None else None]
        parts.append(f"val loss {self.val_loss:.4f}" if self.val_loss is not None else None)
        return ", ".join(p for p in parts if p)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
