from services.itsm.server import main

main()
