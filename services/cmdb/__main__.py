from services.cmdb.server import main

main()
