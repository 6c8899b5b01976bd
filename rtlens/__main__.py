from rtlens.cli import main

main()
