"""Randomized cases run through BrainChip's ``akida`` engine and through neuroemu, compared.

:mod:`emu.crosscheck.akida_cases` draws Akida v1 models, :mod:`emu.crosscheck.akida_v2_cases`
Akida 2.0 graphs; both need the ``akida`` package and load it on first use.
"""

__all__: list[str] = []
