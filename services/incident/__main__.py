from services.incident.server import main

main()
