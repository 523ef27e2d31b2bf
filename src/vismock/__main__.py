import sys

from vismock.cli import main

sys.exit(main())
