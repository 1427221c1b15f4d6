"""A small labelled corpus for the diversity tests: two-sentence texts on eight distinct topics.

Texts are built from topic phrase lists with a seeded generator, so each is unique and the
topic labels are known; :func:`near_copies` makes the kind of copies scraped data is full of.
"""

from __future__ import annotations

import atexit
import functools
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np

TOPICS: dict[str, dict[str, list[str]]] = {
    "cooking": {
        "subject": [
            "The risotto",
            "A sourdough loaf",
            "This tomato sauce",
            "The roast chicken",
            "A pot of lentil soup",
        ],
        "claim": [
            "needs a low simmer and constant stirring",
            "tastes better with fresh garlic and basil",
            "should rest before you slice it",
            "burns quickly if the pan is too hot",
            "keeps in the fridge for three days",
        ],
        "tip": [
            "Season with salt at the end.",
            "Use a heavy cast iron pan.",
            "Preheat the oven to two hundred degrees.",
            "Add a splash of white wine to deglaze.",
            "Knead the dough for ten minutes.",
        ],
    },
    "astronomy": {
        "subject": ["Jupiter", "The Andromeda galaxy", "A red dwarf star", "Saturn's rings", "The Orion nebula"],
        "claim": [
            "is visible through a small telescope on clear nights",
            "formed billions of years ago from collapsing gas",
            "orbits far beyond the asteroid belt",
            "emits most of its light in the infrared",
            "was photographed in detail by the space probe",
        ],
        "tip": [
            "Let your eyes adapt to the dark for twenty minutes.",
            "Check the lunar phase before observing.",
            "A star chart helps you find it near the horizon.",
            "Light pollution hides faint galaxies.",
            "Binoculars show the moons as tiny dots.",
        ],
    },
    "football": {
        "subject": ["The striker", "Our goalkeeper", "The home team", "The midfield", "The referee"],
        "claim": [
            "scored twice in the second half of the match",
            "kept a clean sheet against the league leaders",
            "pressed high and won the ball back quickly",
            "showed a red card after the penalty",
            "struggled on the muddy pitch during the cup final",
        ],
        "tip": [
            "The coach changed the formation at half time.",
            "Fans sang in the stadium until the final whistle.",
            "The transfer window closes next week.",
            "Offside decisions were checked by video.",
            "The league table is tight at the top.",
        ],
    },
    "programming": {
        "subject": ["This Python function", "The SQL query", "Our REST API", "The unit test", "The compiler"],
        "claim": [
            "raises an exception when the list is empty",
            "runs slowly because it lacks an index",
            "returns a JSON error for invalid tokens",
            "fails on the continuous integration server",
            "reports a type error in the generic class",
        ],
        "tip": [
            "Add logging before you refactor the module.",
            "Use a debugger to step through the loop.",
            "Pin the dependency versions in the lock file.",
            "Write a regression test for the bug.",
            "Profile the code to find the hot path.",
        ],
    },
    "gardening": {
        "subject": [
            "The tomato plants",
            "My rose bush",
            "The vegetable bed",
            "Young lettuce seedlings",
            "The apple tree",
        ],
        "claim": [
            "need compost and regular watering in summer",
            "should be pruned in late winter",
            "suffer from aphids on the new leaves",
            "grow best in full sun and well drained soil",
            "were damaged by frost last spring",
        ],
        "tip": [
            "Mulch keeps the soil moist and stops weeds.",
            "Plant marigolds nearby to deter pests.",
            "Water at the roots early in the morning.",
            "Rotate crops every season.",
            "Test the soil acidity with a kit.",
        ],
    },
    "finance": {
        "subject": [
            "A fixed rate mortgage",
            "Your pension fund",
            "An index fund",
            "Credit card debt",
            "The savings account",
        ],
        "claim": [
            "charges interest that compounds every month",
            "lowers fees compared with active managers",
            "protects you when the central bank raises rates",
            "should be paid off before you invest",
            "offers tax relief on yearly contributions",
        ],
        "tip": [
            "Keep an emergency fund of three months of expenses.",
            "Compare the annual percentage rate of each loan.",
            "Diversify across bonds and shares.",
            "Check your credit score before applying.",
            "Set up an automatic monthly transfer.",
        ],
    },
    "medicine": {
        "subject": [
            "The antibiotic",
            "A flu vaccine",
            "High blood pressure",
            "The asthma inhaler",
            "Type two diabetes",
        ],
        "claim": [
            "must be taken for the full course prescribed by the doctor",
            "reduces the risk of serious illness in older patients",
            "often has no symptoms until it damages the heart",
            "relieves wheezing within a few minutes",
            "can be managed with diet, exercise and insulin",
        ],
        "tip": [
            "Ask the pharmacist about side effects.",
            "Measure your blood sugar every morning.",
            "Book a check up with your general practitioner.",
            "Keep a record of every dose.",
            "Seek urgent care if the chest pain spreads.",
        ],
    },
    "music": {
        "subject": ["The violin concerto", "Her jazz trio", "The guitar solo", "This piano sonata", "The choir"],
        "claim": [
            "modulates into a minor key in the slow movement",
            "improvised over a walking bass line",
            "was recorded live in a single take",
            "needs careful pedalling in the fast passages",
            "sang in four part harmony at the concert",
        ],
        "tip": [
            "Practise scales slowly with a metronome.",
            "Tune the strings before every rehearsal.",
            "Listen to several recordings of the score.",
            "Record yourself to hear the phrasing.",
            "Warm up your voice with humming.",
        ],
    },
}


def labelled_texts(per_topic: int = 25, seed: int = 0) -> list[tuple[str, str]]:
    """``(topic, text)`` pairs, ``per_topic`` distinct texts per topic, in a shuffled order."""
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    for topic, parts in TOPICS.items():
        combos = [(s, c, t) for s in parts["subject"] for c in parts["claim"] for t in parts["tip"]]
        for subject, claim, tip in rng.sample(combos, per_topic):
            out.append((topic, f"{subject} {claim}. {tip}"))
    rng.shuffle(out)
    return out


FUNCTION_WORDS = ["the", "a", "of", "in", "to", "is", "with", "for", "and", "on", "at", "your", "my", "our", "this"]


def near_copies(text: str, rng: random.Random) -> list[str]:
    """Three copies of ``text``: case changed, punctuation changed, one word changed.

    The changed word is a function word swapped for another (``the`` -> ``a``), the kind of
    edit a re-post or a light rewrite makes; replacing a content word changes what a text
    is about, which is no longer a near copy.
    """
    words = text.split()
    spots = [i for i, word in enumerate(words) if word.lower() in FUNCTION_WORDS] or [len(words) - 1]
    spot = rng.choice(spots)
    words[spot] = rng.choice([w for w in FUNCTION_WORDS if w != words[spot].lower()])
    punctuated = text[:-1] + "!" if rng.random() < 0.5 else text.replace(". ", ", ", 1)
    return [text.upper() if rng.random() < 0.5 else text.lower(), punctuated, " ".join(words)]


# One embedding cache per test session: the ONNX export happens once, and never in ~/.cache.
CACHE_DIR = Path(tempfile.mkdtemp(prefix="dataprep-test-cache-"))
atexit.register(shutil.rmtree, CACHE_DIR, True)


@functools.lru_cache(maxsize=1)
def fixture_vectors(copies_of: int = 60) -> tuple[list[str], list[str], np.ndarray, int]:
    """Topics, texts and default-model vectors of the labelled texts followed by near-copies.

    The first ``n_originals`` rows are the originals; then three copies of each of the
    first ``copies_of`` originals, in the order of :func:`near_copies`.
    """
    from dataprep.stages.diversity.encoder import load_encoder

    data = labelled_texts()
    rng = random.Random(0)
    topics = [t for t, _ in data]
    texts = [x for _, x in data]
    copies = [c for text in texts[:copies_of] for c in near_copies(text, rng)]
    vectors = load_encoder(cache_dir=CACHE_DIR).encode(texts + copies)
    return topics, texts + copies, vectors, len(texts)


@functools.lru_cache(maxsize=1)
def tiny_static_settings() -> dict:
    """``STATIC_DISTILL`` for a small static model: the full distillation's settings, on a
    vocabulary cut down to the tokens of this fixture's phrases (and every single letter, digit
    and punctuation mark, so any text still tokenizes), with 64 PCA dimensions.

    A few hundred forward passes instead of 30,000, so distilling takes seconds. Each kept
    token's vector is the one the full distillation computes; the PCA and the SIF weights are
    fitted on the smaller vocabulary.
    """
    import re
    import string

    from transformers import AutoTokenizer

    from dataprep.stages.diversity import encoder

    tokenizer = AutoTokenizer.from_pretrained(encoder.resolve_model(encoder.DEFAULT_MODEL))
    phrases = [p for parts in TOPICS.values() for group in parts.values() for p in group] + FUNCTION_WORDS
    keep = {t for p in phrases for t in tokenizer.tokenize(p)} | set(tokenizer.all_special_tokens)
    chars = string.ascii_lowercase + string.digits + string.punctuation
    keep |= set(chars) | {f"##{c}" for c in chars}
    # model2vec removes the tokens this matches: all but those kept.
    pattern = "(?!(?:" + "|".join(re.escape(t) for t in sorted(keep)) + ")$)"
    return {**encoder.STATIC_DISTILL, "pca_dims": 64, "token_remove_pattern": pattern}


@functools.lru_cache(maxsize=1)
def fixture_static_model() -> Path:
    """A small static (model2vec) model distilled from the default model here, offline, by the
    code ``--backend static`` runs, with :func:`tiny_static_settings`; its folder."""
    from unittest import mock

    from dataprep.stages.diversity import encoder

    path = encoder.resolve_model(encoder.DEFAULT_MODEL)
    with mock.patch.dict(encoder.STATIC_DISTILL, tiny_static_settings()):
        return encoder._distilled("tiny-minilm", path, CACHE_DIR / "static" / "tiny-minilm")
