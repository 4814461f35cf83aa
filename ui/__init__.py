"""The web app's tabs (Gradio), one module each, over the styletransfer engine; app.py puts them together.

common: what the tabs share. image_tab, video_tab, webcam_tab: one tab each.
Nothing in styletransfer/ imports this package.
"""
