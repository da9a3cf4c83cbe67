from fmnist.cli import main

raise SystemExit(main())
