"""The Reuters-21578 SGML files made into the single-label set of newswires
that Keras' ``reuters.npz`` was made from.

The distribution is 22 ``reut2-*.sgm`` files (latin-1) of ``<REUTERS>``
elements, each with its topics, title and body. The single-label set keeps
the newswires that have a topic, labels each by its first topic, and drops
the topics with fewer than 10 such newswires.
"""

import glob
import html
import os
import re

import numpy as np

from .errors import UserError

_REUTERS = re.compile(r"<REUTERS\b[^>]*>(.*?)</REUTERS>", re.S)
_TOPICS = re.compile(r"<TOPICS>(.*?)</TOPICS>", re.S)
_D = re.compile(r"<D>(.*?)</D>", re.S)
_TITLE = re.compile(r"<TITLE>(.*?)</TITLE>", re.S)
_BODY = re.compile(r"<BODY>(.*?)</BODY>", re.S)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _sgml_text(match):
    if not match:
        return ""
    return _CONTROL.sub(" ", html.unescape(match.group(1))).strip()


_OPENING = re.compile(r"<REUTERS\b")


def parse_reuters_sgml(text, path="the file"):
    """``(topics, title, body)`` of every ``<REUTERS>`` element of one file;
    a file with an element left open (cut off mid-newswire) is refused,
    rather than read without its last newswire."""
    (opened, closed) = (len(_OPENING.findall(text)), text.count("</REUTERS>"))
    if opened != closed:
        raise UserError(f"{path} is damaged: {opened} <REUTERS> element(s) opened, "
                        f"{closed} closed (a file cut off mid-newswire?)")
    docs = []
    for element in _REUTERS.finditer(text):
        inner = element.group(1)
        topics = _TOPICS.search(inner)
        topics = [t.strip() for t in _D.findall(topics.group(1))] if topics else []
        docs.append((topics, _sgml_text(_TITLE.search(inner)),
                     _sgml_text(_BODY.search(inner))))
    return docs


def reuters_single_label(docs, min_count=10):
    """The single-label set: newswires with a topic, labelled by their first
    topic, topics with fewer than ``min_count`` such newswires dropped.
    Returns ``(texts, labels, topic_names)``, text = title + body."""
    labelled = [(topics[0], f"{title}\n{body}") for (topics, title, body) in docs if topics]
    counts = {}
    for (topic, _) in labelled:
        counts[topic] = counts.get(topic, 0) + 1
    topic_names = sorted(t for (t, n) in counts.items() if n >= min_count)
    ids = {t: i for (i, t) in enumerate(topic_names)}
    kept = [(text, ids[topic]) for (topic, text) in labelled if topic in ids]
    return ([t for (t, _) in kept], np.array([i for (_, i) in kept], dtype="int64"),
            topic_names)


def load_single_label(folder, min_count=10):
    """The single-label set of the ``.sgm`` files in ``folder`` (or in its
    sub-folders), in file order: ``(texts, labels, topic_names)``."""
    def sgm_files(pattern):
        # (a folder named like a .sgm file is not one)
        return sorted(p for p in glob.glob(os.path.join(folder, pattern)) if os.path.isfile(p))

    files = sgm_files("*.sgm") or sgm_files(os.path.join("*", "*.sgm"))
    if not files:
        raise UserError(f"--dataset {folder!r} holds no Reuters-21578 .sgm file")
    docs = []
    for path in files:
        try:
            with open(path, encoding="latin-1") as f:
                text = f.read()
        except OSError as error:
            raise UserError(f"{path} cannot be read: {error.strerror}") from None
        docs.extend(parse_reuters_sgml(text, path))
    (texts, labels, topic_names) = reuters_single_label(docs, min_count)
    if len(topic_names) < 2:
        raise UserError(f"--dataset {folder!r}: fewer than two topics with {min_count} "
                        f"or more newswires")
    return (texts, labels, topic_names)
