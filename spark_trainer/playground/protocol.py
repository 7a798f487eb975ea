"""The serving worker's wire format: one JSON object per line, UTF-8, on stdin and stdout.

Client to server (`op`):
  {"op": "load", "id": 1, "run": 7, "checkpoint": "last"}
  {"op": "generate", "id": 2, "variant": "tuned" | "base", "inputs": {...}, "settings": {...}}
  {"op": "cancel", "id": 2}              stop request 2 (queued or running) as soon as possible
  {"op": "shutdown"}                      unload and exit (closing stdin does the same)

Server to client (`event`):
  {"event": "ready", "pid": 123, "device": "cpu"}
  {"event": "loaded", "id": 1, "source": {...}, "kind": "text-generation", "memory_bytes": N, "seconds": S, ...}
  {"event": "chunk", "id": 2, "variant": "tuned", "text": "new text"}   (streamed, many)
  {"event": "done", "id": 2, "variant": "tuned", "output": {...}}
  {"event": "error", "id": 2, "message": "one line", "bad_input": true}
  {"event": "error", "id": 1, "message": "no run 12", "bad_input": true, "run": 12, "run_gone": true}
  {"event": "unloaded", "reason": "idle for 600 s" | "run 12 needs GPU 0" | "shutdown", "run": 12 | null,
   "run_gone": false}                     (then it exits)

`run_gone` is true when the run asked for (a load's error) or held (`unloaded`, whose `run` is the
run whose model it held) no longer exists: it was deleted, so loading it again cannot work.

A causal-LM `done`'s output has `finish_reason` "eos", "length" (max_new_tokens), "stop", "cancelled"
or "context" (the answer capped to fit the model's context; see `context`), `prompt_tokens`, and a
`note` (one line for the user) when it was capped or a chat's oldest turns (`inputs.history`) were
left out. A prompt that alone fills the context is an `error` with bad_input true; the model stays loaded.

Every request gets exactly one `done`, `loaded` or `error` answer (a cancelled one gets `done`
with finish_reason "cancelled"), so a client can count what is still outstanding.
"""

from __future__ import annotations

import json
from typing import Any

OPS = ("load", "generate", "cancel", "shutdown")


class ProtocolError(ValueError):
    """A line that is not a valid request."""


def encode(message: dict[str, Any]) -> bytes:
    return (json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def decode(line: bytes | str) -> dict[str, Any]:
    """One request or event; raises ProtocolError for anything that is not a JSON object with an op or event."""
    try:
        message = json.loads(line)
    except ValueError as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message must be a JSON object")
    if "op" in message and message["op"] not in OPS:
        raise ProtocolError(f"unknown op {message['op']!r}; ops are: {', '.join(OPS)}")
    if "op" not in message and "event" not in message:
        raise ProtocolError("a message needs an 'op' (request) or an 'event' (answer)")
    return message
