"""The rows of a kept list answer, rendered once per language.

A list answer kept by `idm.directory.fresh` is the very same object on every reload until the
directory changes (and for at most a minute). Its rows' HTML is then the same too, and rendering
fifty rows of labels, local times and names is most of what such a page costs once the directory
is no longer read. So the rows are kept beside the answer they were rendered from: the key is
the answer object itself (held here, so its identity cannot pass to another object while kept)
and the page's language. A new answer, after any write, is rendered afresh. Nothing crosses
identities: an answer is already kept per identity, and its rows carry nothing else of the
request. The names in the rows (units, people) are as fresh as the answer: at most a minute old.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from flask import render_template
from markupsafe import Markup

from webui.filters import lang

MAX_KEPT = 128
_kept: OrderedDict[tuple[int, str], tuple[object, Markup]] = OrderedDict()
_lock = threading.Lock()


def rows(answer: object, template: str, **context: Any) -> Markup:
    """`template` rendered with `context` for `answer`, from the last time if it was the same
    answer in the same language."""
    key = (id(answer), lang())
    with _lock:
        hit = _kept.get(key)
        if hit is not None and hit[0] is answer:
            _kept.move_to_end(key)
            return hit[1]
    html = Markup(render_template(template, **context))  # noqa: S704 - the template escapes
    with _lock:
        _kept[key] = (answer, html)
        _kept.move_to_end(key)
        while len(_kept) > MAX_KEPT:
            _kept.popitem(last=False)
    return html
