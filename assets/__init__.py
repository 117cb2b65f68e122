"""Bundled assets: fonts (with their licences). Package `pyrtc.assets`."""
