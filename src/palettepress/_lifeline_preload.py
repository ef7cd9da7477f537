"""Imported by the batch's fork server before anything else: it ends with the batch."""

from ._lifeline import bind_to_parent

bind_to_parent()
