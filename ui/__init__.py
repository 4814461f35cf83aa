"""The web app's tabs (Gradio), one module each, over the styletransfer engine; app.py puts them together.

common: what the tabs share. image_tab, video_tab, webcam_tab, learn: one tab each.
jobs: the image tab's work (instant, fast result, Gatys previews). learned: the style lists
that grow as paintings are learned. api: the endpoints for gradio_client.
browser_runtime (+ browser_webcam.js): the webcam painted in the visitor's browser.
Nothing in styletransfer/ imports this package.
"""
