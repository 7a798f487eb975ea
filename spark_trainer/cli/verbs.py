"""Optional verbs for the commands whose bare form already acts: `settings list` is `settings`,
`recipes show causal-lm` is `recipes causal-lm`, `gpus list` is `gpus`, as `list` and `show` are
subcommands in every other group (project, dataset, exp, run, sweep)."""

from __future__ import annotations

from collections.abc import Sequence

from spark_trainer.errors import BadInput


def strip_verb(command: str, words: Sequence[str], verbs: dict[str, int], bare_most: int, usage: str) -> list[str]:
    """The words after an optional leading verb. A verb takes exactly its count of words, the bare form
    up to `bare_most`; anything else is one line naming the whole `usage`."""
    verb = words[0] if words and words[0] in verbs else None
    rest = list(words[1:] if verb else words)
    if (len(rest) != verbs[verb]) if verb else (len(rest) > bare_most):
        raise BadInput(f"{' '.join([command, *words])}: expected `{usage}`")
    return rest
