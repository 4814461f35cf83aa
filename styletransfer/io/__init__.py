"""The edges where user data becomes engine data and back: image files (images.py), frames
and their conversions (frames.py), video containers with their sound (media.py)."""
