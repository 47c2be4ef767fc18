from agentload.cli.main import main

main()
