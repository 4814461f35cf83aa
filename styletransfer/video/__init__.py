"""Video: the loop that stylises a file (stylize.py), optical flow (flow.py) and the blender
that steadies frames along it (blend.py), and live camera streams (webcam.py)."""
