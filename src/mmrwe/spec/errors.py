"""The error raised for a study spec with problems: every problem, not only the first.

Issue codes of the spec (stable, like the validator's MMV codes):

========  ==============================================================
code      problem
========  ==============================================================
MMS001    unknown key (with the nearest valid name, or the table it belongs to)
MMS002    wrong type (a string where a number is expected, ...)
MMS003    a value that is not one of the allowed values
MMS004    a number outside the allowed range
MMS005    a required key is missing
MMS006    a reference to a name the spec does not define
MMS007    keys that cannot go together, or a key that needs another
MMS008    a choice `mmrwe init` left open (several candidates written as a list)
MMS009    a value that is not usable (a date format without %, an unknown encoding)
MMS010    wrong shape: a value where a table or an array of tables is expected
========  ==============================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mmrwe.core.errors import Issue, SpecError


class InvalidSpecError(SpecError):
    """A study spec with one or more problems; ``issues`` holds all of them.

    ``what``, ``where`` and ``fix`` are those of the first issue (so code written for a
    single :class:`SpecError` keeps working); ``str()`` lists every issue. ``partial`` is
    the spec as far as it could be read (each wrong value replaced by its default), or
    None: ``mmrwe validate`` checks the data against it, so that one run lists the spec's
    problems and the data's.
    """

    def __init__(self, issues: Sequence[Issue], partial: Any = None):
        if not issues:
            raise ValueError("InvalidSpecError needs at least one issue")
        self.issues = tuple(issues)
        self.partial = partial
        first = self.issues[0]
        super().__init__(first.what, where=first.where, fix=first.fix or None)

    def __str__(self) -> str:
        n = len(self.issues)
        head = f"the study spec has {n} problem{'s' if n != 1 else ''}"
        return "\n".join([head, *(i.format() for i in self.issues)])
