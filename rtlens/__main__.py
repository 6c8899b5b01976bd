from rtlens.cli import run

run()
