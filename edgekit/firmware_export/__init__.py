"""edgekit.firmware_export"""
