"""filter-slop's sentence scorer: a small linear model for sentences that pass the cheap cues.

Phrase lists and families only catch the wordings someone wrote down. The scorer
reads the sentences that hold a cue (``phrases/cues.txt``: "sorry", "assistant",
"I cannot", "respectful"...) and no phrase, and says how likely each is a refusal
or an AI disclaimer. It is word 1-3-grams and character 3-5-grams, hashed
(scikit-learn's ``HashingVectorizer``), into a multinomial logistic regression,
trained on the hand-written sentences in ``scorer/sentences.tsv`` (none of them
from third-party data). ``scripts/train_slop_scorer.py`` retrains it; the same
sentences give the same weights.

Only features seen in training can have a weight, so the model is fitted on
those columns alone and ``scorer/weights.npz`` stores just them. scikit-learn is imported when a scorer is built.
"""

from __future__ import annotations

import functools
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dataprep.errors import ConfigError

SCORER_DIR = Path(__file__).with_name("scorer")
SENTENCES = SCORER_DIR / "sentences.tsv"
WEIGHTS = SCORER_DIR / "weights.npz"
LABELS = ("clean", "refusal", "ai-disclaimer")
#: Hashed features per analyzer (words, characters); collisions are rare at this size.
N_FEATURES = 2**18
#: Inverse regularisation strength; chosen by cross-validation on the training sentences.
C = 3.0


def read_sentences(path: Path = SENTENCES) -> tuple[list[str], list[str]]:
    """(labels, sentences) from a ``LABEL<TAB>SENTENCE`` file; # lines are comments."""
    labels, sentences = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        label, sep, sentence = line.partition("\t")
        if not sep or label not in LABELS or not sentence.strip():
            raise ConfigError(f"{path}:{number}: expected LABEL<TAB>SENTENCE with LABEL one of {', '.join(LABELS)}.")
        labels.append(label)
        sentences.append(sentence.strip())
    return labels, sentences


def _vectorizers() -> tuple[Any, Any]:
    from sklearn.feature_extraction.text import HashingVectorizer

    common = {"n_features": N_FEATURES, "alternate_sign": False, "norm": None, "lowercase": False}
    # Apostrophes stay inside words ("i'm", "can't") so contractions are single tokens.
    words = HashingVectorizer(analyzer="word", ngram_range=(1, 3), token_pattern=r"[\w']+", **common)
    chars = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), **common)
    return words, chars


def featurize(sentences: Sequence[str]) -> Any:
    """Sparse features of folded sentences: words then characters, the whole row L2-normalised."""
    from scipy.sparse import hstack
    from sklearn.preprocessing import normalize

    from dataprep.stages.filters.slop import fold

    folded = [fold(s) for s in sentences]
    words, chars = _vectorizers()
    return normalize(hstack([words.transform(folded), chars.transform(folded)]).tocsr())


def train(path: Path = SENTENCES) -> dict[str, np.ndarray]:
    """Fit the model on the labelled sentences; the arrays that ``weights.npz`` holds."""
    from sklearn.linear_model import LogisticRegression

    labels, sentences = read_sentences(path)
    features = featurize(sentences)
    # A feature no training sentence has gets a zero weight anyway: fit on the ones they have.
    columns = np.unique(features.indices).astype(np.int32)
    model = LogisticRegression(C=C, max_iter=5000, class_weight="balanced")
    model.fit(features[:, columns], labels)
    return {
        "classes": np.array(model.classes_, dtype=str),
        "columns": columns,
        "coef": model.coef_.astype(np.float32),
        "intercept": model.intercept_.astype(np.float32),
    }


def save(arrays: dict[str, np.ndarray], path: Path = WEIGHTS) -> None:
    """Write the arrays as an .npz with fixed timestamps, so the same weights give the same bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.save(buffer, arrays[name], allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buffer.getvalue())


class SentenceScorer:
    """Probability that each sentence is a refusal or an AI disclaimer."""

    def __init__(self, path: Path = WEIGHTS) -> None:
        try:
            with np.load(path, allow_pickle=False) as weights:
                self.classes = [str(c) for c in weights["classes"]]
                self.columns = weights["columns"]
                self.coef = weights["coef"].astype(np.float64)
                self.intercept = weights["intercept"].astype(np.float64)
        except (OSError, KeyError, ValueError) as exc:
            raise ConfigError(
                f"{path}: cannot read the scorer's weights ({exc}); run scripts/train_slop_scorer.py."
            ) from exc

    def score(self, sentences: Sequence[str]) -> list[tuple[str, float]]:
        """For each sentence, the likelier of refusal and ai-disclaimer, and its probability."""
        if not sentences:
            return []
        logits = featurize(sentences)[:, self.columns] @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        refusal, disclaimer = self.classes.index("refusal"), self.classes.index("ai-disclaimer")
        out = []
        for row in probs:
            best = refusal if row[refusal] >= row[disclaimer] else disclaimer
            out.append((self.classes[best], round(float(row[refusal] + row[disclaimer]), 4)))
        return out


@functools.lru_cache(maxsize=2)
def load_scorer(path: Path = WEIGHTS) -> SentenceScorer:
    """The shipped scorer, read once per process."""
    return SentenceScorer(path)
