"""Run every benchmark script in this folder, one after another, each printing its own figures."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    print(f"machine: {platform.machine()} · {platform.processor() or '?'} · python {platform.python_version()} · "
          f"{__import__('os').cpu_count()} cores")
    failed = 0
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n=== {script.name}", flush=True)
        r = subprocess.run([sys.executable, str(script)], cwd=HERE.parent)
        failed += r.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
