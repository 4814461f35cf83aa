"""The one exception type for problems a user can cause and fix."""


class StyleTransferError(Exception):
    """A bad input or setting. The message says what went wrong and what to do.

    The CLI prints it as one line and exits non-zero; the app shows it in the page.
    Anything else that escapes is a bug.
    """
