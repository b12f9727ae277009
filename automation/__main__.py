"""``python -m automation``: see :mod:`automation.cli`."""

import sys

from automation.cli import main

sys.exit(main())
