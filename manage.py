#!/usr/bin/env python
"""Django's command-line utility for Scalpel."""

import os
import sys
from pathlib import Path

# The Django project package lives in platform/config. platform/ itself is not a package
# (it would shadow the standard library's `platform`), so its folder is the one path entry.
sys.path.insert(0, str(Path(__file__).resolve().parent / "platform"))


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
