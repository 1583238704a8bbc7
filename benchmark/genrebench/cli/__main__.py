"""``python -m genrebench.cli``: the ``genrebench`` command."""

import sys

from genrebench.cli import main

sys.exit(main())
