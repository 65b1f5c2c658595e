"""``python -m dealreg.cli``: the ``dealreg`` command (how ``dealreg up --processes`` starts
its children)."""

import sys

from dealreg.cli import main

sys.exit(main())
