"""``python -m personagen``."""

import sys

from personagen.cli import main

sys.exit(main())
