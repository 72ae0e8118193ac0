"""`python -m bluegreen ...`: see bluegreen.cli."""

import sys

from bluegreen.cli import main

sys.exit(main())
