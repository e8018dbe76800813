from firebrick.cli import main

raise SystemExit(main())
