"""edgekit.data"""
