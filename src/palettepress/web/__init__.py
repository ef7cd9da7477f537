"""The local web app: ``palettepress serve`` (install extra ``web``).

A single page to compress one image interactively, served by Starlette on this
computer; see :mod:`palettepress.web.app`.
"""
