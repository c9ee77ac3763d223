"""Compiled forms by the sha256 of their JSON: each deployed form version is compiled once per process."""

from __future__ import annotations

import json
import threading

from sqlalchemy.orm import Session

from engine.models import Blob
from forms import CompiledForm, compile_form


class FormRegistry:
    def __init__(self) -> None:
        self._compiled: dict[str, CompiledForm] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, sha256: str) -> CompiledForm:
        with self._lock:
            found = self._compiled.get(sha256)
        if found is not None:
            return found
        blob = session.get(Blob, sha256)
        if blob is None:
            raise LookupError(f"form {sha256} is missing from the database")
        compiled = compile_form(json.loads(blob.content))
        with self._lock:
            self._compiled[sha256] = compiled
        return compiled
