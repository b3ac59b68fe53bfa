"""edgekit.quantize"""
