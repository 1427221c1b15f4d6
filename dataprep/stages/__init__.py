"""Stage registry.

Every module under ``dataprep/stages/`` that defines a stage decorates it with
:func:`register`; the registry imports them all on first use, so adding a stage
is adding one file.
"""

from __future__ import annotations

import importlib
import pkgutil

from dataprep.stages.base import RecordStage, SourceStage, Stage, StageConfig, StageContext

_REGISTRY: dict[str, type[Stage]] = {}
_DISCOVERED = False
#: Packages outside dataprep.stages that also hold stages (the trainer lives in ``train/``).
EXTRA_STAGE_MODULES: list[str] = []


def register(cls: type[Stage]) -> type[Stage]:
    """Class decorator that makes a stage available to the CLI and to pipelines."""
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls:
        raise RuntimeError(f"two stages are called {cls.name!r}: {existing} and {cls}")
    _REGISTRY[cls.name] = cls
    return cls


def _defines_stage(module: pkgutil.ModuleInfo) -> bool:
    """Whether a module's source registers a stage, read without importing it.

    Helper modules (k-means in torch, trafilatura's extraction) are imported only by
    the stage that needs them, when it runs, so `dataprep --help` starts in well
    under a second instead of loading torch.
    """
    spec = module.module_finder.find_spec(module.name)  # type: ignore[union-attr]
    origin = getattr(spec, "origin", None)
    if not origin or not origin.endswith(".py"):
        return True
    with open(origin, encoding="utf-8") as handle:
        return "@register" in handle.read()


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    for module in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
        if not module.ispkg and not _defines_stage(module):
            continue
        importlib.import_module(module.name)
    for name in EXTRA_STAGE_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def registry() -> dict[str, type[Stage]]:
    """All stages by name, in alphabetical order."""
    _discover()
    return dict(sorted(_REGISTRY.items()))


def get_stage(name: str) -> type[Stage]:
    return registry()[name]


__all__ = ["RecordStage", "SourceStage", "Stage", "StageConfig", "StageContext", "get_stage", "register", "registry"]
