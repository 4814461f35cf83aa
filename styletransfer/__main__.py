import sys

from styletransfer.cli import main

sys.exit(main())
