"""Triage at scale: failure groups, tracked bulk operations and the trash (undo)."""
