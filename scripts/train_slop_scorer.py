"""Retrain filter-slop's sentence scorer from its hand-written sentences.

    python scripts/train_slop_scorer.py [--check]

Reads dataprep/stages/filters/scorer/sentences.tsv and writes scorer/weights.npz
next to it. Training is deterministic: the same sentences give the same weights.
``--check`` retrains in memory and fails if the shipped weights differ, e.g.
after someone edited the sentences and forgot to retrain. It also prints the
5-fold cross-validated accuracy on the sentences.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from dataprep.stages.filters.slop_scorer import SENTENCES, WEIGHTS, C, featurize, read_sentences, save, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="Compare with the shipped weights; write nothing.")
    args = parser.parse_args()
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    labels, sentences = read_sentences()
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    model = LogisticRegression(C=C, max_iter=5000, class_weight="balanced")
    features = featurize(sentences)
    accuracy = cross_val_score(model, features[:, np.unique(features.indices)], labels, cv=folds)
    print(f"{len(sentences)} sentences from {SENTENCES.name}; 5-fold accuracy {accuracy.mean():.3f}")
    arrays = train()
    if args.check:
        with np.load(WEIGHTS) as shipped:
            same = all(np.array_equal(shipped[k], arrays[k]) for k in arrays) and set(shipped) == set(arrays)
        if not same:
            sys.exit(f"{WEIGHTS} is not what {SENTENCES.name} trains; run python scripts/train_slop_scorer.py")
        print(f"{WEIGHTS.name} matches the sentences")
        return
    save(arrays)
    print(f"wrote {WEIGHTS} ({len(arrays['columns'])} weighted features)")


if __name__ == "__main__":
    main()
