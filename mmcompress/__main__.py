"""``python -m mmcompress``: the same command line as the ``mmcompress`` script."""

from mmcompress.cli import main

raise SystemExit(main())
