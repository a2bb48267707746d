"""Check bookkeeping for scripts/check-charts.py: named checks, failure details, the closing count line."""

from __future__ import annotations

import traceback
from typing import Callable


class Results:
    """Counts passed and failed checks and prints each failure with its reason."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"ok   {name}")
        else:
            self.failed += 1
            print(f"FAIL {name}" + (f": {detail}" if detail else ""))
        return ok

    def run(self, name: str, fn: Callable[[], object]) -> object:
        """Runs fn; an exception counts as one failed check named `name`."""
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - every failure is reported, none crashes the run
            self.check(name, False, f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}")
            return None

    def summary(self) -> int:
        print(f"{self.passed} passed, {self.failed} failed")
        return 0 if self.failed == 0 and self.passed > 0 else 1
