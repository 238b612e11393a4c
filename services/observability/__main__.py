from services.observability.server import main

main()
