"""edgekit.emulator"""
