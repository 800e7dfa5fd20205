"""`python -m prospector ...`: the same as the `prospector` command."""

import sys

from prospector.cli import main

sys.exit(main())
