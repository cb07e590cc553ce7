import sys

from oncall_console.cli import main

sys.exit(main())
