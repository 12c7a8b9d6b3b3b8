"""Where the bundled content and static files are.

In a source checkout they are the top-level folders; an installed wheel carries them
inside the package under ``_bundled``.
"""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def bundled_root() -> Path:
    bundled = PACKAGE_DIR / "_bundled"
    return bundled if bundled.is_dir() else PACKAGE_DIR.parent
