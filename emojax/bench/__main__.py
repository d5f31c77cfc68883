"""``python -m emojax.bench [options]``: the same as ``emojax bench [options]``."""
import sys

from emojax.bench import main

sys.exit(main())
