"""``python -m nlayer``: the same as the ``nlayer`` command."""

import sys

from .cli import main

sys.exit(main())
