"""A complete keyring backend keeping secrets in a JSON file named by $SPARK_TEST_KEYRING_FILE, so
separate `spark-trainer` processes share one keyring as they share the desktop's (selected with
PYTHON_KEYRING_BACKEND=tests.cli.file_keyring.FileKeyring)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class FileKeyring(KeyringBackend):
    priority = 1.0

    @property
    def _path(self) -> Path:
        return Path(os.environ["SPARK_TEST_KEYRING_FILE"])

    def _read(self) -> dict[str, str]:
        return json.loads(self._path.read_text()) if self._path.exists() else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._read().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        self._path.write_text(json.dumps({**self._read(), f"{service}/{username}": password}))

    def delete_password(self, service: str, username: str) -> None:
        items = self._read()
        if items.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError("not set")
        self._path.write_text(json.dumps(items))
