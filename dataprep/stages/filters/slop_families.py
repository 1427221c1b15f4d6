# ruff: noqa: E501 -- a table of regexes reads better one family to a line
"""Phrase families with slots: what a fixed phrase list cannot spell out.

A family is a regular expression over one folded sentence (lower case, straight
quotes, single spaces) with slots for the words that vary: "as a helpful,
respectful and honest assistant" and "as a friendly and knowledgeable AI" are
one family with a run of adjectives in the middle. Families run only on
sentences that hold a cue (``phrases/cues.txt``), after the phrase lists, so
their cost does not grow with the size of the corpus' clean part.

``opening`` families only count in the first two sentences of a response:
"I'm sorry, but ..." opens a refusal, while in the middle of a drafted email it
is part of the task.
"""

from __future__ import annotations

import re
from typing import NamedTuple


class Family(NamedTuple):
    name: str
    category: str
    pattern: re.Pattern[str]
    opening: bool = False


# Words an assistant uses to describe its own manner (the slot of the self-description families).
MANNER = (
    r"(?:helpful|respectful|honest|harmless|responsible|safe|friendly|polite|caring|humble|trustworthy|reliable|"
    r"ethical|knowledgeable|positive|unbiased|socially unbiased|supportive|compassionate|considerate|courteous)"
)
# The same, and the words that say what kind of assistant (only before "assistant" or "helper").
MANNER_WIDE = (
    rf"(?:{MANNER}|virtual|digital|ai|ai-powered|text-based|conversational|personal ai|simple|mere|patient|kind)"
)
# Roles that are an AI whatever adjectives come before them.
AI_ROLE = (
    r"(?:ai|a\.i\.|artificial intelligence|(?:ai |large |neural |text-based |conversational )?language model|llm|"
    r"chatbot|chat bot|ai assistant|ai model|virtual assistant|digital assistant|computer program|machine|bot)"
)
# A run of up to five adjectives or nouns before a role ("a friendly, knowledgeable and patient"),
# never a function word, so "as a result of the assistant" does not read as one.
_WORD = r"(?!(?:a|an|of|the|for|in|on|to|with|by|from|at|my|your|his|her|their|our|its|this|that|who|which|result)\b)[a-z-]+"
ANY_RUN = rf"(?:{_WORD}(?:,? and |, | )){{0,5}}"
_AND = r"(?:,? and |, | )"
# Human jobs and things that follow "AI" or "machine" without the speaker being one.
_NOT_SELF = (
    r"(?! ?(?:learning|translation|researcher|engineer|developer|scientist|company|startup|product|tool|expert|"
    r"enthusiast|ethicist|art|artist|generated|-generated|powered|-powered|system|industry|technology|field|"
    r"shop|operator|gun|readable|code|vision|model (?:of|for)))"
)
_TOPIC = r"(?:question|premise|assumption|assumptions|information|term|topic|request|prompt|statement|phrase)"


def _family(name: str, category: str, pattern: str, opening: bool = False) -> Family:
    return Family(name, category, re.compile(pattern), opening)


FAMILIES: tuple[Family, ...] = (
    # "As a helpful, respectful and honest assistant, ...", "as an honest and caring business consultant".
    _family("self-description", "ai-disclaimer", rf"\b(?:as|being) an? (?:{MANNER}{_AND}){{1,4}}{MANNER}\b"),
    # "As a large language model", "I am but a humble AI", "being a conversational chatbot".
    _family(
        "self-as-ai",
        "ai-disclaimer",
        rf"\b(?:as|being|i'm|i am|i'm just|i am just|i'm only|i am only|i am but|i'm still|i am still|i'm merely) an? {ANY_RUN}{AI_ROLE}\b{_NOT_SELF}",
    ),
    _family(
        "self-as-assistant",
        "ai-disclaimer",
        rf"\b(?:as|being|i'm|i am|i am but|i'm just|i am just|i'm only|i am only) an? (?:{MANNER_WIDE}{_AND}){{1,5}}(?:assistant|helper|guide|companion)\b",
    ),
    _family(
        "named-ai",
        "ai-disclaimer",
        rf"\b(?:my name is [a-z]+,? (?:and )?i'm|you can call me|i'm called|i am called) an? {ANY_RUN}{AI_ROLE}\b",
    ),
    _family(
        "made-by",
        "ai-disclaimer",
        rf"\b(?:i'm|i am) an? {ANY_RUN}(?:{AI_ROLE}|assistant|model) (?:trained|created|developed|made|built|designed|programmed) by\b",
    ),
    _family(
        "still-improving",
        "ai-disclaimer",
        r"\bi(?:'m| am) (?:constantly|always|continuously) (?:improving|learning|being updated)\b",
    ),
    _family(
        "no-inner-life",
        "ai-disclaimer",
        r"\bi (?:do not|don't|cannot|can't) (?:have|hold|form|experience|feel) (?:(?:personal|subjective) (?:opinions?|beliefs|preferences|feelings|emotions|experiences?|views|tastes)|opinions|beliefs|emotions|feelings|consciousness|self-awareness|a (?:physical )?body)\b",
    ),
    _family(
        "no-ability", "ai-disclaimer", r"\bi (?:do not|don't) have (?:the )?(?:ability|capability|capacity|means) to\b"
    ),
    _family(
        "no-access",
        "ai-disclaimer",
        r"\bi (?:do not|don't|cannot|can't|am unable to|'m unable to|am not able to|'m not able to) (?:have )?(?:access|browse|search the|see|view|watch|hear|listen to|open)\b(?: (?:to )?(?:the )?(?:internet|web|real-time|current|live|images?|pictures?|videos?|audio|files?|links?|urls?|websites?|specific|external|databases?|a database|attachments?))",
    ),
    _family(
        "while-i-cannot",
        "ai-disclaimer",
        r"\b(?:while|although|though) i (?:cannot|can't|am unable to|'m unable to|am not able to) (?:access|browse|provide|verify|give)\b",
    ),
    # A preamble that promises a manner of answering instead of answering.
    _family(
        "manner-preamble",
        "ai-disclaimer",
        r"\bi(?:'m| am) here to (?:help|assist|answer|provide|guide|support)\b[^.!?]{0,80}?\b(?:safe(?:ly)?|respectful(?:ly)?|honest(?:ly)?|harmless|ethical(?:ly)?|unbiased|positive)\b",
    ),
    _family(
        "manner-goal",
        "ai-disclaimer",
        r"\b(?:my goal is|my aim is|my purpose is|i strive|i aim|i will strive|i'll strive|i will make sure|i'll make sure|i want to make sure|i will ensure|i'll ensure) (?:to )?[^.!?]{0,80}?\b(?:safe|respectful|socially unbiased|harmless|ethical standards|positive in nature)\b",
    ),
    _family(
        "manner-ensure",
        "ai-disclaimer",
        r"\bto ensure (?:that )?my (?:response|responses|answer|answers|reply) (?:is|are|remain|stay)\b",
    ),
    _family(
        "no-harmful-content",
        "ai-disclaimer",
        r"\bi (?:will not|won't|do not|don't|never) provide (?:any )?(?:harmful|unethical|racist|sexist|toxic|dangerous|illegal|false)\b",
    ),
    # "Pointing out" that the question is flawed, instead of (or before) answering it.
    _family(
        "point-out",
        "ai-disclaimer",
        rf"\b(?:i (?:want|would like|have|must|need|should|feel the need) to|i'd like to|i must|let me|i will|i'll|allow me to) (?:gently |respectfully |kindly |just |first |also )?(?:point out|clarify|mention|note|remind you|address|emphasize|emphasise)\b[^.!?]{{0,120}}?\b(?:{_TOPIC}|not (?:entirely |quite |factually )?(?:accurate|coherent|correct|possible|appropriate|true)|(?:does not|doesn't) make sense|respectful|sensitiv|harmful|offensive)",
    ),
    _family(
        "point-out-that",
        "ai-disclaimer",
        r"\b(?:i (?:want|would like|have|must|need) to|i'd like to|i must) (?:gently |respectfully |kindly |just )?point out that\b",
    ),
    _family("i-notice", "ai-disclaimer", rf"\bi notice (?:that )?(?:the|your|this) {_TOPIC}\b"),
    _family(
        "flawed-question",
        "refusal",
        rf"\b(?:the|your|this) (?:{_TOPIC})s? (?:as stated |you(?:'ve)? provided |provided )?(?:is not|isn't|does not|doesn't|are not|aren't) (?:factually )?(?:coherent|make sense|sufficient|enough)\b",
    ),
    _family(
        "not-possible",
        "refusal",
        r"\b(?:it is|it's) (?:not possible|impossible|difficult|hard) (?:for me )?to (?:determine|answer|say|know|tell|calculate|provide)\b[^.!?]{0,80}?\bwithout (?:more|additional|further|any|knowing)\b",
    ),
    _family(
        "moral-preamble",
        "ai-disclaimer",
        r"\bit(?:'s| is) important to (?:approach|treat|discuss|handle) (?:this|the|such|these) (?:topic|subject|question|matter|issue)s? with (?:sensitivity|respect|care|empathy)\b",
    ),
    _family(
        "remind-respect", "refusal", r"\bi (?:must|have to|need to|would like to|want to) remind you (?:that|to)\b"
    ),
    # A refusal in the middle of an otherwise useful answer.
    _family(
        "cannot-do",
        "refusal",
        r"\b(?:unfortunately,? |sadly,? |however,? )?i (?:cannot|can't|can not|am unable to|'m unable to|am not able to|'m not able to|won't be able to) (?:provide|give|write|create|implement|determine|calculate|solve|answer|share|list|offer|suggest|recommend|generate|produce|complete|fulfill|fulfil|verify|confirm|identify|predict|translate|draw|compose|accurately|comply|do that|do this)\b(?![^.!?]*\benough\b)",
    ),
    _family(
        "cannot-tell", "refusal", r"\bi (?:cannot|can't|can not) tell you (?:what|which|whether|if|who|where|when)\b"
    ),
    _family(
        "not-a-professional",
        "ai-disclaimer",
        r"\bi(?:'m| am) not an? (?:lawyer|doctor|physician|medical professional|financial advisor|therapist|licensed|qualified|certified|legal expert)\b",
    ),
    _family(
        "unfamiliar",
        "refusal",
        r"^i(?:'m| am) not (?:familiar with|sure (?:what|which)[^.!?]{0,60}\b(?:you(?:'re| are)? (?:asking|referring|mean|talking)|referring to))",
        opening=True,
    ),
    _family(
        "sorry-but",
        "refusal",
        r"^(?:i'm |i am )?(?:so |very |really |truly )?(?:sorry|i apologi[sz]e|apologies|my apologies)(?:,? but\b|, i (?:don't|do not|can't|cannot|am not|'m not|am unable|'m unable)\b)",
        opening=True,
    ),
    _family(
        "please-provide",
        "refusal",
        r"\b(?:please|could you(?: please)?|can you(?: please)?) (?:provide|share|give|tell)(?: me)? (?:more|the|additional|some) (?:details|context|information|text|article|document|specifics)\b",
        opening=True,
    ),
)


def family_hits(sentence: str, first: bool, families: tuple[Family, ...] = FAMILIES) -> Family | None:
    """The first of ``families`` that matches a folded sentence (``first``: it opens the response)."""
    for family in families:
        if family.opening and not first:
            continue
        if family.pattern.search(sentence):
            return family
    return None
