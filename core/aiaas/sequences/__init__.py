"""What sequence tasks share: an id vocabulary fitted on the training split, windows
of long sequences with the positions each window scores, and padding to the longest
sequence of a batch.

A sequence record is one row whose list-valued columns are aligned steps (a
learner's answers: ``skill``, ``correct``, ...); its label is the list of per-step
targets, ``None`` where a step is context only. The ``sequence`` label kind trains
on a ``(n, steps)`` target array in which ``-1`` marks a step that is not scored.
"""

from aiaas.sequences.padding import pad
from aiaas.sequences.vocabulary import PAD, UNKNOWN, IdVocabulary
from aiaas.sequences.windows import Window, expand, windows

__all__ = ["PAD", "UNKNOWN", "IdVocabulary", "Window", "expand", "pad", "windows"]
