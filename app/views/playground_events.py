"""What the Playground's model server says, and what the view shows for it: answers streaming in
(chunk, done), the model loaded and where, errors (a failed load stands behind the prompts after it),
the model unloaded or its process gone, and the run shown deleted meanwhile. A mixin of
PlaygroundView, which provides the client (`client`), the run and panel shown (`run`, `panel`), the
requests awaited (`pending`, `loaded`, `_loaded_text`, `_load_error`, `gone`), the widgets it updates
(`banner`, `status`, `back_button`, `pick_button`) and `_set_idle`."""

from __future__ import annotations

from typing import Any

from app.playground_client import describe_exit
from spark_trainer.disk import gb


class PlaygroundEventsMixin:
    def _on_event(self, message: dict[str, Any]) -> None:
        if self.gone is not None:
            return  # late answers from the process stopped when the run went: it has been said
        event, rid = message.get("event"), message.get("id")
        what = self.pending.get(rid)
        if event in ("chunk", "done") and what is None:
            return  # an answer for the run shown before: cancelled when it went
        if event == "chunk" and self.panel is not None:
            self.panel.on_chunk(message.get("variant", "tuned"), message.get("text", ""))
        elif event == "loaded":
            self.pending.pop(rid, None)
            source = message.get("source", {})
            device = "CPU" if self.client.device == "cpu" else f"GPU {self.client.device}"
            self._loaded_text = f"Loaded on {device} · {gb(int(message.get('memory_bytes', 0)))}"
            if self.loaded is not None and self._shows(self.loaded[0]):
                self.status.setText(self._loaded_text)
                if self.panel is not None:
                    self.panel.set_model(source.get("label", ""), message)
        elif event == "done":
            self.pending.pop(rid, None)
            if self.panel is not None:
                self.panel.on_done(message.get("variant", "tuned"), message.get("output", {}))
            note = (message.get("output") or {}).get("note")
            if note:  # the answer capped to fit the model's context, a chat's oldest turns left out
                self.banner.show_message(note[:1].upper() + note[1:] + ".", "warning")
        elif event == "error" and message.get("run_gone") and self._shows(message.get("run")):
            self._run_gone()
        elif event == "error":
            self.pending.pop(rid, None)
            text = message.get("message", "the model server failed")
            if what == "load":
                self.loaded = None
                self.status.setText("Not loaded")
                self._load_error = text
            elif self._load_error is not None:  # not the server's "no model is loaded": the load's reason
                text = self._load_error
            self.banner.show_message(text, "error")
            if self.panel is not None and what != "load":
                self.panel.on_error(what, text)
        elif event == "unloaded" and message.get("run_gone") and self._shows(message.get("run")):
            self._run_gone()
        elif event == "unloaded":  # the server's reason in words; "shutdown" is this app's own Unload
            why = "" if message.get("reason", "shutdown") in ("", "shutdown") else f" ({message['reason']})"
            self._forget(f"Unloaded{why}. It loads again with the next prompt.")
        elif event == "exited":
            text = describe_exit(message)
            self.banner.show_message(text, "error")
            self._end_answers(text)
            self._forget("Not loaded")
        if not self.pending:
            self._set_idle()

    def _shows(self, run_id: Any) -> bool:
        return self.run is not None and run_id == self.run.id

    def _run_gone(self) -> None:
        """The run shown was deleted: say so where its answers were going, stop its model process
        (a load that failed left it running), and send nothing more for it."""
        assert self.run is not None
        self.gone = self.run.id
        text = f"Run {self.run.id} was deleted; pick another run to try."
        self._load_error = text  # what a late answer to a prompt sent before it says
        self.banner.show_message(text, "warning")
        self._end_answers(text)
        self.client.stop()
        self.back_button.setText("← Runs")
        self.pick_button.show()
        self._forget("Run deleted")

    def _end_answers(self, text: str, *, failed: bool = True) -> None:
        """The answers still awaited will not come: say `text` in their boxes (not "Generating…")."""
        if self.panel is not None:
            for variant in {what for what in self.pending.values() if what != "load"}:
                self.panel.on_error(variant, text, failed=failed)

    def _forget(self, status: str) -> None:
        self.loaded = None
        self.pending.clear()
        self.status.setText(status)
        self._set_idle()
