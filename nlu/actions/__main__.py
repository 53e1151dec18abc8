from nlu.actions.server import main

main()
