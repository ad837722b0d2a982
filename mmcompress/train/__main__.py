"""`python -m mmcompress.train ...`: the same as `mmcompress train ...`."""

import sys

from . import main

sys.exit(main(sys.argv[1:]))
