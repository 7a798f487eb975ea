"""The row formats causal-LM trains on, how a dataset's format is told, and how each row becomes one of
the three shapes the recipe encodes: `text`, `prompt` + `completion`, or chat `messages`.

A dataset's format is decided once, from how many rows fill each field (the counts stored with an
ingested dataset, `recipes.fit.DataFacts`, or the same counts taken over the rows read): the first of
`FORMATS` whose fields some row fills. Every row must then be of that format; a row that is not is a
one-line error naming its file and line. `mixed` reads each row by its own fields instead (the first
format it has), as runs did before this setting existed; `auto` decides `mixed` for a dataset whose
rows are of several formats (the first format's fields on only some rows, another format's on others).

ShareGPT `conversations` become chat `messages` (trained through the tokenizer's chat template).
Instruction rows (Alpaca, Dolly, question/answer, prompt/response) become prompt/completion: the
instruction (and input) through a prompt template, the answer as the completion. The classic Alpaca
template is the default, so that a base model without a chat template trains, and answers later, the
way the Alpaca-style datasets were written for; `recipe_config.prompt_template` changes it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_trainer.errors import BadInput
from spark_trainer.manifest_fields import is_filled

# Each format and the fields it needs on a row, in the order `auto` tries them.
FORMATS: dict[str, tuple[str, ...]] = {
    "text": ("text",),
    "prompt-completion": ("prompt", "completion"),
    "messages": ("messages",),
    "sharegpt": ("conversations",),
    "alpaca": ("instruction", "output"),
    "dolly": ("instruction", "response"),
    "question-answer": ("question", "answer"),
    "prompt-response": ("prompt", "response"),
}
LIST_FIELDS = ("messages", "conversations")  # the other fields are text
# Instruction formats: (instruction field, optional input field or None, answer field).
INSTRUCTION_FIELDS: dict[str, tuple[str, str | None, str]] = {
    "alpaca": ("instruction", "input", "output"),
    "dolly": ("instruction", "context", "response"),
    "question-answer": ("question", None, "answer"),
    "prompt-response": ("prompt", None, "response"),
}
CHAT_FORMATS = ("messages", "sharegpt")
CHAT_ROLES = ("system", "developer", "user", "assistant", "tool", "ipython")  # what chat templates render
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "model": "assistant", "system": "system"}

# The Alpaca templates (tatsu-lab/stanford_alpaca), with and without an input.
ALPACA_TEMPLATE = ("Below is an instruction that describes a task, paired with an input that provides further "
                   "context. Write a response that appropriately completes the request.\n\n"
                   "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n")
ALPACA_TEMPLATE_NO_INPUT = ("Below is an instruction that describes a task. Write a response that appropriately "
                            "completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n")


def fields_read(fmt: str) -> list[str]:
    """The fields a format reads: ['instruction', 'optional input', 'output']."""
    if fmt in INSTRUCTION_FIELDS:
        instruction, extra, answer = INSTRUCTION_FIELDS[fmt]
        return [instruction, *([f"optional {extra}"] if extra else []), answer]
    return list(FORMATS.get(fmt, ()))


def describe(fmt: str) -> str:
    """'alpaca (instruction, optional input, output)': a format and the fields it reads."""
    fields = fields_read(fmt)
    return f"{fmt} ({', '.join(fields)})" if fields and fields != [fmt] else fmt


def field_counts(rows: Iterable[Mapping[str, Any]]) -> tuple[Counter[str], int]:
    """(rows filling each field, rows): the counts ingestion keeps (`manifest_fields`), over records."""
    counts: Counter[str] = Counter()
    total = 0
    for row in rows:
        total += 1
        counts.update(str(k) for k, v in row.items() if is_filled(v))
    return counts, total


def detect(counts: Mapping[str, int], rows: int) -> str | None:
    """The format of a dataset of `rows` rows filling fields `counts` times: the first of `FORMATS`
    whose every field some row fills; `mixed` when not every row fills that one's fields and another
    format's are filled too (rows of several formats); None when no format's fields are."""
    found = [fmt for fmt, fields in FORMATS.items() if all(counts.get(f, 0) > 0 for f in fields)]
    if not found:
        return None
    every_row = all(counts.get(f, 0) >= rows for f in FORMATS[found[0]])
    return found[0] if every_row or len(found) == 1 else "mixed"


def no_format_reason(fields: str) -> str:
    known = "; ".join(describe(f) for f in FORMATS)
    return f"its records match no causal-LM format ({known}); fields: {fields}"


def uses_template(fmt: str) -> bool:
    """Rows of `fmt` are trained through the prompt template (so trying the model wraps prompts in it)."""
    return fmt in INSTRUCTION_FIELDS


@dataclass(frozen=True)
class PromptTemplate:
    """How an instruction (and its input) becomes the prompt: `{instruction}` and `{input}` are filled
    in as they are (no other braces are read, so a template may hold JSON)."""

    with_input: str = ALPACA_TEMPLATE
    no_input: str = ALPACA_TEMPLATE_NO_INPUT

    @classmethod
    def of(cls, template: str | None, no_input: str | None) -> PromptTemplate:
        """The run's templates: the Alpaca pair by default; a custom `template` serves rows without an
        input too (with `{input}` empty) unless `no_input` is given."""
        if template is None:
            return cls(ALPACA_TEMPLATE, no_input or ALPACA_TEMPLATE_NO_INPUT)
        return cls(template, no_input or template)

    def prompt(self, instruction: str, input_text: str = "") -> str:
        chosen = self.with_input if input_text.strip() else self.no_input
        return chosen.replace("{instruction}", instruction).replace("{input}", input_text)


def row_format(data: Mapping[str, Any]) -> str | None:
    """The first format whose fields this row has, with the right types (`mixed` reads rows so)."""
    for fmt in FORMATS:
        if not _missing(data, fmt):
            return fmt
    return None


def _missing(data: Mapping[str, Any], fmt: str) -> list[str]:
    return [f for f in FORMATS[fmt] if not (isinstance(data.get(f), list) if f in LIST_FIELDS else _is_text(data.get(f)))]


def _is_text(value: Any) -> bool:
    """A text field's value: text, or a number (an answer of `4`, read as "4"); not a bool or NaN."""
    return isinstance(value, str) or (isinstance(value, (int, float)) and not isinstance(value, bool) and value == value)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def to_trainable(data: Mapping[str, Any], fmt: str, source: str, template: PromptTemplate,
                 why: str = "") -> dict[str, Any]:
    """`data` as {"text"}, {"prompt", "completion"} or {"messages"}, read as `fmt` (`mixed`: by its own
    fields). Raises BadInput naming `source` (file:line) when the row is not of that format; `why` says
    where the format came from ("detected from the dataset's fields")."""
    if fmt == "mixed":
        found = row_format(data)
        if found is None:
            keys = ", ".join(sorted(map(str, data))) or "none"
            raise BadInput(f"{source}: row matches no causal-LM format (recipe_config.format: mixed reads "
                           f"text, prompt/completion, messages, conversations, instruction/output...); "
                           f"its keys are: {keys}")
        fmt = found
    missing = _missing(data, fmt)
    if missing:
        keys = ", ".join(sorted(map(str, data))) or "none"
        said = f"format {fmt}: {', '.join(fields_read(fmt))}{'; ' + why if why else ''}"
        absent = [m for m in missing if data.get(m) is None]
        wrong = "; ".join(f"{m!r} is {type(data[m]).__name__}, not {'a list' if m in LIST_FIELDS else 'text'}"
                          for m in missing if m not in absent)
        if not absent:
            raise BadInput(f"{source}: row's {wrong} ({said})")
        raise BadInput(f"{source}: row has no {' or '.join(repr(m) for m in absent)} "
                       f"{'field' if len(absent) == 1 else 'fields'} ({said}); its keys are: {keys}"
                       f"{'; ' + wrong if wrong else ''}")
    if fmt in ("text", "prompt-completion"):
        return {k: _text(data[k]) for k in FORMATS[fmt]}
    if fmt == "messages":
        return {"messages": _chat_messages(data["messages"], source)}
    if fmt == "sharegpt":
        return {"messages": _sharegpt_messages(data["conversations"], source)}
    instruction, extra, answer = INSTRUCTION_FIELDS[fmt]
    input_text = data.get(extra) if extra else None
    if isinstance(input_text, float) and input_text != input_text:  # NaN: an empty cell
        input_text = None
    if input_text is not None and not _is_text(input_text):
        raise BadInput(f"{source}: '{extra}' must be text, got {type(input_text).__name__}")
    return {"prompt": template.prompt(_text(data[instruction]), _text(input_text) if input_text is not None else ""),
            "completion": _text(data[answer])}


def _chat_messages(messages: list[Any], source: str) -> list[Any]:
    """A `messages` row's turns, checked: each a {'role', 'content'} of text with a chat role. A typo in a
    role ("assistent") would leave the row without a turn to learn, so it would train on the prompt."""
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("content"), str) or not isinstance(m.get("role"), str):
            raise BadInput(f"{source}: messages[{i}] needs 'role' and 'content' strings")
        if m["role"] not in CHAT_ROLES:
            meant = SHAREGPT_ROLES.get(m["role"].strip().lower())
            hint = f" ({m['role']!r} is ShareGPT's word; a messages row says {meant!r})" if meant else ""
            raise BadInput(f"{source}: messages[{i}] has role {m['role']!r}, not a chat role "
                           f"({', '.join(CHAT_ROLES)}){hint}")
    return messages


def _sharegpt_messages(turns: list[Any], source: str) -> list[dict[str, str]]:
    messages = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or not isinstance(turn.get("from"), str) or not isinstance(turn.get("value"), str):
            raise BadInput(f"{source}: conversations[{i}] needs 'from' and 'value' strings (ShareGPT)")
        role = SHAREGPT_ROLES.get(turn["from"].strip().lower())
        if role is None:
            raise BadInput(f"{source}: conversations[{i}] is from {turn['from']!r}, not a ShareGPT role "
                           f"({', '.join(SHAREGPT_ROLES)})")
        messages.append({"role": role, "content": turn["value"]})
    return messages


def example_prompt(fmt: str, template: PromptTemplate) -> str:
    """What the model card shows: a prompt of the run's format, as the model was trained on it."""
    if uses_template(fmt):
        return template.prompt("Name three primary colours.")
    return ""


def run_format(recipe_config: Mapping[str, Any], data_path: Path | None) -> str:
    """The format a run read its rows as: its frozen `recipe_config.format` (submit freezes the one
    `auto` found); for a run still saying `auto` (queued without submit's check, as a cluster job is),
    found again from its dataset at `data_path`, and `mixed` (no prompt template) when that is gone."""
    fmt = str(recipe_config.get("format", "mixed"))
    if fmt != "auto":
        return fmt
    if data_path is None or not Path(data_path).exists():
        return "mixed"
    from spark_trainer.training.data import read_records

    try:
        counts, rows = field_counts(r.data for r in read_records(Path(data_path), 0.0))
    except BadInput:
        return "mixed"
    return detect(counts, rows) or "mixed"
