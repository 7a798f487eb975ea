"""A stand-in for the desktop app holding a playground model: a real QCoreApplication and a real
PlaygroundClient load a run's model (and, with `generate`, start a long answer), print the server's
pid, then wait to be killed. Usage: python -m tests.app.playground_holder HOME RUN_ID [generate]"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication

from app.playground_client import PlaygroundClient


def main() -> None:
    home, run_id, mode = Path(sys.argv[1]), int(sys.argv[2]), (sys.argv[3:] or ["idle"])[0]
    app = QCoreApplication([])
    client = PlaygroundClient(home)

    def on_event(message: dict) -> None:
        if message.get("event") == "ready":
            print(f"pid {message['pid']}", flush=True)
        elif message.get("event") == "loaded":
            print("loaded", flush=True)
            if mode == "generate":
                client.request("generate", variant="tuned", inputs={"prompt": "Count up from 20:"},
                               settings={"max_new_tokens": 8192, "temperature": 1.0})
        elif message.get("event") == "chunk" and mode == "generate":
            print("chunk", flush=True)

    client.event.connect(on_event)
    client.start("cpu")
    client.request("load", run=run_id, checkpoint="last")
    app.exec()


if __name__ == "__main__":
    main()
